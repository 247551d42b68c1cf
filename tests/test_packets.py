"""The Engine.IO / Socket.IO codec: the protocol guide's examples, round trips, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wslearn.exceptions import PacketError
from wslearn.packets import (
    DEFAULT_MAX_ATTACHMENTS,
    Decoder,
    EnginePacket,
    EngineType,
    OpenInfo,
    Packet,
    PacketType,
    decode_open,
    encode,
    encode_engine,
    encode_open,
)

CONNECT, DISCONNECT, EVENT, ACK = (
    PacketType.CONNECT,
    PacketType.DISCONNECT,
    PacketType.EVENT,
    PacketType.ACK,
)

# Every example of ../shared/protocol.md: (wire frame, the packet it stands for).
VECTORS: list[tuple[str, Packet]] = [
    ("40", Packet(CONNECT)),
    ("40{}", Packet(CONNECT, data={})),
    ('40{"token":"abc"}', Packet(CONNECT, data={"token": "abc"})),
    ("40/chat,", Packet(CONNECT, "/chat")),
    ('40/chat,{"token":"abc"}', Packet(CONNECT, "/chat", {"token": "abc"})),
    ('40{"sid":"<id>"}', Packet(CONNECT, data={"sid": "<id>"})),
    ('40/chat,{"sid":"<id>"}', Packet(CONNECT, "/chat", {"sid": "<id>"})),
    (
        '44{"message":"Not authorized"}',
        Packet(PacketType.CONNECT_ERROR, data={"message": "Not authorized"}),
    ),
    (
        '44/nope,{"message":"Invalid namespace"}',
        Packet(PacketType.CONNECT_ERROR, "/nope", {"message": "Invalid namespace"}),
    ),
    (
        '42["send-message",{"roomId":"r1","message":"hi"}]',
        Packet(EVENT, data=["send-message", {"roomId": "r1", "message": "hi"}]),
    ),
    ('42/chat,["typing",true]', Packet(EVENT, "/chat", ["typing", True])),
    ('4212["join-room","r1"]', Packet(EVENT, data=["join-room", "r1"], id=12)),
    ('4312["ok"]', Packet(ACK, data=["ok"], id=12)),
    ("4312[]", Packet(ACK, data=[], id=12)),
    ("41", Packet(DISCONNECT)),
    ("41/chat,", Packet(DISCONNECT, "/chat")),
    (
        '420["first ack id of the Node client"]',
        Packet(EVENT, data=["first ack id of the Node client"], id=0),
    ),
]


@pytest.mark.parametrize(("wire", "packet"), VECTORS, ids=[w for w, _ in VECTORS])
def test_protocol_examples_decode_to_their_packets(wire: str, packet: Packet) -> None:
    assert Decoder().feed(wire) == packet


@pytest.mark.parametrize(("wire", "packet"), VECTORS, ids=[w for w, _ in VECTORS])
def test_protocol_examples_encode_to_their_wire_form(wire: str, packet: Packet) -> None:
    assert encode(packet) == [wire]


def test_binary_event_with_one_attachment_matches_the_protocol_example() -> None:
    packet = Packet(EVENT, data=["file", b"\x00\x01\xff"])
    assert encode(packet) == ['451-["file",{"_placeholder":true,"num":0}]', b"\x00\x01\xff"]


def test_binary_event_is_reassembled_from_its_attachments() -> None:
    decoder = Decoder()
    assert decoder.feed('451-["file",{"_placeholder":true,"num":0}]') is None
    assert decoder.awaiting_attachments == 1
    packet = decoder.feed(b"\x00\x01")
    assert packet == Packet(PacketType.BINARY_EVENT, data=["file", b"\x00\x01"])
    assert decoder.awaiting_attachments == 0


def test_placeholders_nested_anywhere_are_numbered_in_order() -> None:
    packet = Packet(EVENT, "/up", ["upload", {"parts": [b"a", {"deep": b"b"}]}, b"c"], id=7)
    frames = encode(packet)
    assert frames[1:] == [b"a", b"b", b"c"]
    header = frames[0]
    assert isinstance(header, str)
    assert header.startswith("453-/up,7[")
    decoder = Decoder()
    results = [decoder.feed(frame) for frame in frames]
    assert results[:-1] == [None, None, None]
    assert results[-1] == Packet(PacketType.BINARY_EVENT, "/up", packet.data, 7)


def test_ack_with_bytes_becomes_a_binary_ack() -> None:
    frames = encode(Packet(ACK, data=[b"\x07"], id=3))
    assert frames == ['461-3[{"_placeholder":true,"num":0}]', b"\x07"]


def test_binary_type_without_bytes_is_sent_as_the_plain_type() -> None:
    assert encode(Packet(PacketType.BINARY_EVENT, data=["x", 1])) == ['42["x",1]']


def test_non_ascii_text_travels_unescaped() -> None:
    assert encode(Packet(EVENT, data=["msg", "héllo 👋"])) == ['42["msg","héllo 👋"]']


def test_event_and_args_accessors() -> None:
    packet = Packet(EVENT, data=["send-message", 1, 2])
    assert packet.event == "send-message"
    assert packet.args == [1, 2]
    assert Packet(ACK, data=["ok"], id=1).args == ["ok"]
    assert Packet(CONNECT).event is None


# python-socketio refuses a namespace it does not serve with a bare JSON string,
# 44/nope,"Unable to connect", where the v5 specification shows an object. The Node
# parser accepts both, so the decoder does too; anything else stays an error.


def test_a_connect_error_with_a_string_payload_decodes_as_a_str() -> None:
    packet = Decoder().feed('44/nope,"Unable to connect"')
    assert packet == Packet(PacketType.CONNECT_ERROR, "/nope", "Unable to connect")


def test_a_connect_error_with_an_object_payload_still_decodes_as_a_dict() -> None:
    packet = Decoder().feed('44{"message":"Not authorized","data":{"code":1}}')
    assert packet == Packet(
        PacketType.CONNECT_ERROR, "/", {"message": "Not authorized", "data": {"code": 1}}
    )


@pytest.mark.parametrize("frame", ["444", "44[1]", "44null", "44"])
def test_a_connect_error_with_any_other_payload_is_refused(frame: str) -> None:
    with pytest.raises(PacketError, match="CONNECT_ERROR payload must be a JSON object"):
        Decoder().feed(frame)


# -- Engine.IO ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "kind", "data"),
    [
        ("1", EngineType.CLOSE, ""),
        ("2", EngineType.PING, ""),
        ("3", EngineType.PONG, ""),
        ("2probe", EngineType.PING, "probe"),
        ("3probe", EngineType.PONG, "probe"),
        ("5", EngineType.UPGRADE, ""),
        ("6", EngineType.NOOP, ""),
    ],
)
def test_engine_control_packets_round_trip(wire: str, kind: EngineType, data: str) -> None:
    packet = Decoder().feed(wire)
    assert packet == EnginePacket(kind, data)
    assert encode_engine(EnginePacket(kind, data)) == wire


def test_open_packet_has_exactly_the_reference_fields() -> None:
    wire = encode_open(OpenInfo(sid="abc", ping_interval=300, ping_timeout=200, max_payload=10))
    assert wire[0] == "0"
    assert json.loads(wire[1:]) == {
        "sid": "abc",
        "upgrades": [],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 10,
    }
    assert decode_open(wire) == OpenInfo("abc", 300, 200, 10)


@pytest.mark.parametrize(
    "wire",
    ["40", '0{"upgrades":[]}', "0[]", '0{"sid":"a","pingInterval":-1}', b"0{}", "0{"],
)
def test_malformed_open_packets_are_refused(wire: str | bytes) -> None:
    with pytest.raises(PacketError):
        decode_open(wire)


# -- malformed input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("", "empty frame"),
        ("7", "unknown Engine.IO packet type"),
        ("x", "unknown Engine.IO packet type"),
        ("4", "empty Socket.IO packet"),
        ("47", "unknown Socket.IO packet type"),
        ('42{"a":1}', "non-empty JSON array"),
        ("42[]", "non-empty JSON array"),
        ('42"text"', "non-empty JSON array"),
        ("42", "non-empty JSON array"),
        ("42[1]", "name must be a string"),
        ('42abc["x"]', "not valid JSON"),
        ('42["x"', "not valid JSON"),
        ("42[NaN]", "not valid JSON"),
        ('43["x"]', "ACK without an id"),
        ('431{"a":1}', "ACK payload must be a JSON array"),
        ("40[]", "CONNECT payload must be a JSON object"),
        ("444", "CONNECT_ERROR payload must be a JSON object"),
        ('41{"a":1}', "DISCONNECT carries no payload"),
        ("401{}", "CONNECT carries no ack id"),
        ('45["x"]', "without an attachment count"),
        ('450-["x"]', "attachment count must be"),
        ('4599-["x"]', "attachment count must be"),
        ('451-["x"]', "does not match the placeholders"),
        ('451-["x",{"_placeholder":true,"num":3}]', "points past the attachments"),
        ('451-["x",{"_placeholder":true,"num":"0"}]', "must be an integer"),
        ('4299999999999999999["x"]', "ack id out of range"),
    ],
)
def test_malformed_packets_raise_a_packet_error_naming_the_problem(wire: str, reason: str) -> None:
    with pytest.raises(PacketError, match=reason):
        Decoder().feed(wire)


def test_more_attachments_than_the_limit_are_refused_before_buffering() -> None:
    placeholders = ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(11))
    with pytest.raises(PacketError, match="attachment count must be 1 to 10"):
        Decoder().feed(f'4511-["x",{placeholders}]')
    assert Decoder(max_attachments=11).feed(f'4511-["x",{placeholders}]') is None


def test_binary_frame_that_nobody_announced_is_refused() -> None:
    with pytest.raises(PacketError, match="binary frame that no packet announced"):
        Decoder().feed(b"\x01")


def test_text_frame_while_attachments_are_expected_is_refused() -> None:
    decoder = Decoder()
    decoder.feed('452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    decoder.feed(b"first")
    with pytest.raises(PacketError, match="1 binary attachment"):
        decoder.feed('42["y"]')


def test_deeply_nested_json_is_refused_not_crashing() -> None:
    with pytest.raises(PacketError, match="not valid JSON"):
        Decoder().feed("42[" * 100_000 + "]" * 100_000)


def test_nested_placeholders_at_any_depth_decode_or_raise_a_packet_error() -> None:
    # json.loads accepts deeper nesting than putting the attachments back could walk:
    # that used to escape as a RecursionError, which crashed the connection's reader.
    for depth in range(100, 3001, 100):
        header = '451-["x",' + "[" * depth + '{"_placeholder":true,"num":0}' + "]" * depth + "]"
        decoder = Decoder()
        try:
            assert decoder.feed(header) is None
        except PacketError:
            continue
        packet = decoder.feed(b"\x00")
        assert isinstance(packet, Packet) and packet.event == "x"


def test_packet_error_shortens_long_input_in_its_message() -> None:
    with pytest.raises(PacketError) as info:
        Decoder().feed("42" + "x" * 10_000)
    assert len(str(info.value)) < 120


@pytest.mark.parametrize(
    "packet",
    [
        Packet(EVENT, data=[]),
        Packet(EVENT, data=[1, 2]),
        Packet(EVENT, data="send-message"),
        Packet(ACK, data=["ok"]),
        Packet(EVENT, "chat", ["x"]),
        Packet(EVENT, "/a,b", ["x"]),
        Packet(EVENT, data=["x", float("nan")]),
        Packet(EVENT, data=["x"], id=-1),
        Packet(PacketType.CONNECT_ERROR, data={"reason": "no message"}),
        Packet(CONNECT, data={"blob": b"\x00"}),
    ],
)
def test_encoding_an_impossible_packet_raises_value_error(packet: Packet) -> None:
    with pytest.raises(ValueError):
        encode(packet)


# -- properties -----------------------------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_value = st.recursive(
    json_leaf | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
with_bytes = st.recursive(
    json_leaf | st.binary(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: k != "_placeholder"), inner, max_size=4
        )
    ),
    max_leaves=20,
)
namespaces = st.just("/") | st.from_regex(r"/[a-z0-9_\-]{1,12}", fullmatch=True)
ack_ids = st.none() | st.integers(0, 2**53 - 1)


def _attachment_count(data: Any) -> int:
    if isinstance(data, bytes):
        return 1
    if isinstance(data, list):
        return sum(_attachment_count(item) for item in data)
    if isinstance(data, dict):
        return sum(_attachment_count(value) for value in data.values())
    return 0


def _roundtrip(packet: Packet) -> Any:
    decoder = Decoder()
    results = [decoder.feed(frame) for frame in encode(packet)]
    assert all(r is None for r in results[:-1])
    return results[-1]


def _plain_type(packet: Any) -> Any:
    kinds = {PacketType.BINARY_EVENT: EVENT, PacketType.BINARY_ACK: ACK}
    return Packet(kinds.get(packet.type, packet.type), packet.namespace, packet.data, packet.id)


@given(
    name=st.text(min_size=1, max_size=30),
    args=st.lists(json_value, max_size=4),
    ns=namespaces,
    ack=ack_ids,
)
def test_any_event_decodes_to_itself(name: str, args: list[Any], ns: str, ack: int | None) -> None:
    packet = Packet(EVENT, ns, [name, *args], ack)
    assert _roundtrip(packet) == packet


@given(
    name=st.text(min_size=1, max_size=30),
    args=st.lists(with_bytes, max_size=4),
    ns=namespaces,
    ack=ack_ids,
)
def test_any_event_with_bytes_decodes_to_itself(
    name: str, args: list[Any], ns: str, ack: int | None
) -> None:
    packet = Packet(EVENT, ns, [name, *args], ack)
    assume(_attachment_count(args) <= DEFAULT_MAX_ATTACHMENTS)
    assert _plain_type(_roundtrip(packet)) == packet


@given(args=st.lists(with_bytes, max_size=4), ns=namespaces, ack=st.integers(0, 2**53 - 1))
def test_any_ack_decodes_to_itself(args: list[Any], ns: str, ack: int) -> None:
    packet = Packet(ACK, ns, args, ack)
    assume(_attachment_count(args) <= DEFAULT_MAX_ATTACHMENTS)
    assert _plain_type(_roundtrip(packet)) == packet


@given(
    auth=st.none() | st.dictionaries(st.text(max_size=8), json_value, max_size=4), ns=namespaces
)
def test_any_connect_decodes_to_itself(auth: dict[str, Any] | None, ns: str) -> None:
    packet = Packet(CONNECT, ns, auth)
    assert _roundtrip(packet) == packet


def _decode_or_refuse(wire: str) -> None:
    """Decode, or refuse with PacketError; anything decoded must survive re-encoding."""
    try:
        result = Decoder().feed(wire)
    except PacketError:
        return
    assert isinstance(result, EnginePacket | Packet) or result is None
    if isinstance(result, Packet):
        assert _plain_type(_roundtrip(_plain_type(result))) == _plain_type(result)


@given(st.text(max_size=200))
def test_arbitrary_text_either_decodes_faithfully_or_is_refused(wire: str) -> None:
    _decode_or_refuse(wire)


@given(st.text(alphabet='0123456789-/,[]{}":abc', max_size=40).map(lambda s: "4" + s))
def test_arbitrary_socketio_headers_decode_faithfully_or_are_refused(wire: str) -> None:
    _decode_or_refuse(wire)


def test_half_of_a_utf16_pair_becomes_the_replacement_character_so_it_can_be_sent_on() -> None:
    # A JavaScript client that cuts an emoji in two sends "\ud83d" alone; Python's
    # json.loads keeps it as a lone surrogate, which no UTF-8 frame can carry.
    packet = Decoder().feed('42["msg","cut \\ud83d",{"\\udc00k":["\\ude00"]}]')
    assert packet == Packet(PacketType.EVENT, "/", ["msg", "cut \ufffd", {"\ufffdk": ["\ufffd"]}])
    assert all(isinstance(frame, str) and frame.encode() for frame in encode(packet))


def test_a_whole_utf16_pair_and_an_escaped_backslash_are_left_as_they_are() -> None:
    packet = Decoder().feed('42["msg","\\ud83d\\ude00","\\\\ud83d"]')
    assert packet == Packet(PacketType.EVENT, "/", ["msg", "\U0001f600", "\\ud83d"])
