"""Tests for wslearn.msgpack_parser: bytes in, packets out, no socket.

Where a test spells bytes by hand they are what notepack.io (the encoder under
socket.io-msgpack-parser) writes for the same packet.
"""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.exceptions import PacketError
from wslearn.msgpack_parser import MSGPACK_PARSER, MsgPackParser
from wslearn.packets import Packet, PacketType

assert MSGPACK_PARSER is not None
PARSER: MsgPackParser = MSGPACK_PARSER


def decode(frame: bytes | str) -> Packet:
    packet = PARSER.decoder().feed(frame)
    assert isinstance(packet, Packet)
    return packet


def test_an_event_is_one_binary_frame_holding_the_packet_map() -> None:
    [frame] = PARSER.encode(Packet(PacketType.EVENT, "/chat", ["hi", {"n": 1}], 7))
    assert isinstance(frame, bytes)
    assert msgpack.unpackb(frame) == {"type": 2, "data": ["hi", {"n": 1}], "nsp": "/chat", "id": 7}


def test_bytes_stay_in_place_as_msgpack_bin_and_the_type_stays_event_or_ack() -> None:
    data = ["file", {"name": "a", "parts": [b"\x00\x01", {"deep": b"\xff"}]}]
    [frame] = PARSER.encode(Packet(PacketType.BINARY_EVENT, "/", data))
    assert msgpack.unpackb(frame)["type"] == 2  # no BINARY_EVENT in this parser
    assert b"\xc4\x02\x00\x01" in frame  # bin 8, two bytes
    back = decode(frame)
    assert back == Packet(PacketType.EVENT, "/", data)
    [ack] = PARSER.encode(Packet(PacketType.BINARY_ACK, "/", [b"ok"], 3))
    assert decode(ack) == Packet(PacketType.ACK, "/", [b"ok"], 3)


def test_absent_fields_are_left_out_of_the_map() -> None:
    [connect] = PARSER.encode(Packet(PacketType.CONNECT, "/"))
    assert msgpack.unpackb(connect) == {"type": 0, "nsp": "/"}
    [disconnect] = PARSER.encode(Packet(PacketType.DISCONNECT, "/chat"))
    assert msgpack.unpackb(disconnect) == {"type": 1, "nsp": "/chat"}


def test_what_the_node_client_sends_decodes_options_and_undefined_included() -> None:
    # notepack: {type: 0, data: undefined, nsp: "/"} (a CONNECT without auth); the
    # undefined is the fixext 1 of type 0.
    connect = b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/"
    assert decode(connect) == Packet(PacketType.CONNECT, "/")
    # An emit from socket.io-client carries an "options" key; a Buffer is bin, an
    # ArrayBuffer (from a browser) the ext 8 of type 0.
    event = (
        b"\x84\xa4type\x02\xa4data\x93\xa2up\xc4\x02ab\xc7\x03\x00xyz"
        b"\xa7options\x81\xa8compress\xc3\xa3nsp\xa1/"
    )
    assert decode(event) == Packet(PacketType.EVENT, "/", ["up", b"ab", b"xyz"])


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        ({"type": 5, "nsp": "/", "data": ["x"]}, "invalid packet type"),
        ({"type": True, "nsp": "/", "data": ["x"]}, "invalid packet type"),
        ({"type": 2, "data": ["x"]}, "invalid namespace"),
        ({"type": 2, "nsp": "/", "data": []}, "EVENT data"),
        ({"type": 2, "nsp": "/", "data": [1]}, "EVENT data"),
        ({"type": 2, "nsp": "/", "data": "x"}, "EVENT data"),
        ({"type": 3, "nsp": "/", "data": []}, "ACK needs the id"),
        ({"type": 3, "nsp": "/", "data": {}, "id": 1}, "ACK data must be a list"),
        ({"type": 0, "nsp": "/", "data": [1]}, "CONNECT data must be a map"),
        ({"type": 1, "nsp": "/", "data": 1}, "DISCONNECT carries no data"),
        ({"type": 4, "nsp": "/", "data": 5}, "CONNECT_ERROR data"),
        ({"type": 2, "nsp": "/", "data": ["x"], "id": "1"}, "ack id must be an integer"),
        ({"type": 2, "nsp": "/", "data": ["x"], "id": 2**60}, "ack id out of range"),
        ({"type": 0, "nsp": "/", "id": 1}, "CONNECT carries no ack id"),
        ({"type": 2, "nsp": "chat", "data": ["x"]}, "namespace must start with '/'"),
    ],
)
def test_packets_that_break_the_protocol_raise_packet_error_naming_the_problem(
    obj: dict[str, object], says: str
) -> None:
    with pytest.raises(PacketError, match=says):
        decode(msgpack.packb(obj))


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ('42["x"]', "text frame on a MessagePack connection"),
        (b"\xc1", "not a MessagePack packet"),
        (b"\x92\x01", "not a MessagePack packet"),  # truncated
        (msgpack.packb({"type": 2}) + b"\x00", "not a MessagePack packet"),  # extra data
        (msgpack.packb([2, "/"]), "must be a map"),
        (msgpack.packb({1: 2}), "not a MessagePack packet"),  # non-string key
        (b"\xd6\x05abcd", "extension type 5"),
        (b"\x91" * 5000 + b"\xc0", "not a MessagePack packet"),  # too deep
    ],
)
def test_garbage_raises_packet_error_and_never_anything_else(
    frame: bytes | str, says: str
) -> None:
    with pytest.raises(PacketError, match=says):
        decode(frame)


def test_unsendable_packets_raise_value_error_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="EVENT data"):
        PARSER.encode(Packet(PacketType.EVENT, "/", []))
    with pytest.raises(ValueError, match="cannot encode"):
        PARSER.encode(Packet(PacketType.EVENT, "/", ["x", object()]))
    with pytest.raises(ValueError, match="cannot encode"):
        PARSER.encode(Packet(PacketType.EVENT, "/", ["x", 2**70]))


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    name=st.text(min_size=1),
    args=st.lists(json_like, max_size=4),
    namespace=st.sampled_from(["/", "/chat", "/a-b"]),
    ack=st.none() | st.integers(0, 2**53 - 1),
)
def test_every_event_survives_a_round_trip(
    name: str, args: list[object], namespace: str, ack: int | None
) -> None:
    packet = Packet(PacketType.EVENT, namespace, [name, *args], ack)
    [frame] = PARSER.encode(packet)
    assert decode(frame) == packet


def test_the_decoder_keeps_no_state_between_frames() -> None:
    decoder = PARSER.decoder()
    frames = [PARSER.encode(Packet(PacketType.EVENT, "/", ["n", i]))[0] for i in range(3)]
    assert [decoder.feed(f) for f in frames] == [
        Packet(PacketType.EVENT, "/", ["n", i]) for i in range(3)
    ]


async def test_a_wslearn_client_and_server_both_on_msgpack_exchange_nested_bytes() -> None:
    from wslearn.client import Client
    from wslearn.server import Server

    server = await Server(parser=PARSER).start()
    seen: list[object] = []

    @server.on("upload")
    async def upload(socket, meta):  # type: ignore[no-untyped-def]
        seen.append(meta)
        await socket.emit("thumb", {"png": b"\x89PNG", "sizes": [1, 2]})
        return [len(p) for p in meta["parts"]]

    client = Client(server.url, reconnection=None, parser=PARSER)
    thumbs: list[object] = []
    client.on("thumb", thumbs.append)
    try:
        await client.connect()
        meta = {"parts": [b"ab", {"x": b"\x00"}["x"]], "name": "f"}
        assert await client.call("upload", meta) == [[2, 1]]
        for _ in range(100):
            if thumbs:
                break
            await asyncio.sleep(0.01)
    finally:
        await client.disconnect()
        await server.stop()
    assert seen == [meta]
    assert thumbs == [{"png": b"\x89PNG", "sizes": [1, 2]}]
