"""Tests for wslearn.frames: frame anatomy, checked against websockets' own codec."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ProtocolError as WebsocketsProtocolError
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode
from websockets.streams import StreamReader

from wslearn.exceptions import FrameError, UsageError
from wslearn.frames import (
    Frame,
    Opcode,
    apply_mask,
    close_payload,
    decode_frame,
    encode_frame,
    explain_frame,
    format_explanation,
    frame_size,
    parse_close_payload,
)

MASK = b"\x37\xfa\x21\x3d"
BOUNDARIES = [0, 1, 125, 126, 127, 65535, 65536, 70000]


def ws_parse(data: bytes, *, mask: bool) -> WsFrame:
    """Parse ``data`` with websockets' parser; it must consume every byte."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser: Generator[None, None, WsFrame] = WsFrame.parse(reader.read_exact, mask=mask)
    try:
        next(parser)
    except StopIteration as done:
        assert not reader.buffer, "websockets left bytes unread"
        frame: WsFrame = done.value
        return frame
    raise AssertionError("websockets wanted more bytes")


def test_masked_hello_is_the_rfc_example() -> None:
    data = encode_frame(Frame(True, Opcode.TEXT, b"Hello"), mask=MASK)
    assert data == bytes.fromhex("818537fa213d7f9f4d5158")


def test_unmasked_hello_is_the_rfc_example() -> None:
    assert encode_frame(Frame(True, Opcode.TEXT, b"Hello")) == bytes.fromhex("810548656c6c6f")


def test_a_fragmented_text_message_decodes_as_the_rfc_shows() -> None:
    data = bytes.fromhex("010348656c80026c6f")
    first, used = decode_frame(data)
    second, rest = decode_frame(data[used:])
    assert (first.fin, first.opcode, first.payload) == (False, Opcode.TEXT, b"Hel")
    assert (second.fin, second.opcode, second.payload) == (True, Opcode.CONT, b"lo")
    assert used + rest == len(data)


@pytest.mark.parametrize("length", BOUNDARIES)
@pytest.mark.parametrize("mask", [None, MASK])
def test_every_length_form_round_trips_at_its_boundaries(length: int, mask: bytes | None) -> None:
    frame = Frame(True, Opcode.BINARY, bytes(range(256)) * (length // 256) + bytes(length % 256))
    data = encode_frame(frame, mask)
    header = 2 + (0 if length <= 125 else 2 if length <= 65535 else 8) + (4 if mask else 0)
    assert len(data) == header + length
    assert data[1] & 0x7F == (length if length <= 125 else 126 if length <= 65535 else 127)
    assert frame_size(data) == len(data)
    assert decode_frame(data) == (frame, len(data))


@pytest.mark.parametrize("opcode", list(Opcode))
@pytest.mark.parametrize("mask", [None, MASK])
def test_every_opcode_round_trips(opcode: Opcode, mask: bytes | None) -> None:
    frame = Frame(True, opcode, b"\x03\xe8ok")
    assert decode_frame(encode_frame(frame, mask)) == (frame, 10 if mask else 6)


def test_decode_leaves_the_bytes_of_the_next_frame_alone() -> None:
    data = encode_frame(Frame(True, Opcode.PING, b"a")) + encode_frame(Frame(True, Opcode.PONG))
    ping, used = decode_frame(data)
    pong, _ = decode_frame(data[used:])
    assert (ping.opcode, pong.opcode, used) == (Opcode.PING, Opcode.PONG, 3)


frames = st.builds(
    Frame,
    fin=st.just(True),
    opcode=st.sampled_from([Opcode.TEXT, Opcode.BINARY, Opcode.CONT]),
    payload=st.binary(max_size=70000),
) | st.builds(
    Frame,
    fin=st.just(True),
    opcode=st.sampled_from([Opcode.CLOSE, Opcode.PING, Opcode.PONG]),
    payload=st.binary(max_size=125),
)
masks = st.none() | st.binary(min_size=4, max_size=4)


@given(frame=frames, mask=masks)
def test_any_frame_round_trips(frame: Frame, mask: bytes | None) -> None:
    assert decode_frame(encode_frame(frame, mask)) == (frame, len(encode_frame(frame, mask)))


@given(data=st.binary(max_size=300), mask=st.binary(min_size=4, max_size=4))
def test_masking_twice_gives_the_data_back(data: bytes, mask: bytes) -> None:
    assert apply_mask(apply_mask(data, mask), mask) == data


def test_apply_mask_refuses_a_key_that_is_not_four_bytes() -> None:
    with pytest.raises(UsageError, match="exactly 4 bytes, got 3"):
        encode_frame(Frame(True, Opcode.TEXT, b"x"), mask=b"abc")


# --- cross-checks with websockets' own frame code, both directions -------------------


@given(frame=frames, mask=masks)
def test_websockets_parses_our_bytes_to_the_same_frame(frame: Frame, mask: bytes | None) -> None:
    theirs = ws_parse(encode_frame(frame, mask), mask=mask is not None)
    assert (theirs.fin, int(theirs.opcode), bytes(theirs.data)) == (
        frame.fin,
        frame.opcode,
        frame.payload,
    )


@given(frame=frames, masked=st.booleans())
def test_we_decode_websockets_bytes_to_the_same_frame(frame: Frame, masked: bool) -> None:
    theirs = WsFrame(WsOpcode(frame.opcode), frame.payload, fin=frame.fin)
    data = theirs.serialize(mask=masked)
    assert decode_frame(data, require_mask=masked) == (frame, len(data))


@pytest.mark.parametrize("length", BOUNDARIES)
@pytest.mark.parametrize("masked", [False, True])
def test_both_codecs_write_identical_unmasked_bytes_and_agree_on_masked_ones(
    length: int, masked: bool
) -> None:
    payload = b"\xa5" * length
    theirs = WsFrame(WsOpcode.BINARY, payload).serialize(mask=masked)
    # websockets picks a random key; reuse it so the bytes can be compared exactly.
    key = theirs[len(theirs) - length - 4 : len(theirs) - length] if masked else None
    assert encode_frame(Frame(True, Opcode.BINARY, payload), key) == theirs


def test_websockets_and_we_both_refuse_a_reserved_opcode() -> None:
    data = b"\x83\x00"
    with pytest.raises(WebsocketsProtocolError, match="invalid opcode"):
        ws_parse(data, mask=False)
    with pytest.raises(FrameError, match="reserved opcode 0x3"):
        decode_frame(data)


# --- what decode refuses, and why ------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "needs 2 bytes, got 0"),
        (b"\x81", "needs 2 bytes, got 1"),
        (b"\x81\x05Hel", "needs 7 bytes, got 5"),
        (b"\x82\x7e\x01", "needs 4 bytes, got 3"),
        (b"\x81\x85\x37\xfa", "needs 11 bytes, got 4"),
        (b"\x8b\x00", "reserved opcode 0xB"),
        (b"\xc1\x00", "RSV bits are set"),
        (b"\x09\x00", "PING frame cannot be fragmented"),
        (b"\x88\x7e\x00\x7e" + bytes(126), "at most 125 bytes, not 126"),
        (b"\x82\x7e\x00\x05" + bytes(5), "length 5 uses the 16-bit form"),
        (b"\x82\x7f" + (65535).to_bytes(8, "big") + bytes(65535), "length 65535 uses the 64"),
        (b"\x82\x7f" + (1 << 63).to_bytes(8, "big"), "most significant bit"),
        (b"\x82\x7f\x00", "needs 10 bytes, got 3"),
        (b"\x88\x7e\x01\x00", "at most 125 bytes, not 256"),
    ],
)
def test_decode_refuses_bad_frames_and_says_why(data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode_frame(data)


def test_header_faults_are_reported_before_the_payload_arrives() -> None:
    # A peer must not wait for 2**63 bytes, nor for a control frame it will refuse anyway.
    with pytest.raises(FrameError, match="most significant bit"):
        decode_frame(b"\x82\x7f\x80" + bytes(7))
    with pytest.raises(FrameError, match="cannot be fragmented"):
        decode_frame(b"\x08\x05")


def test_rsv_bits_are_reported_when_an_extension_allows_them() -> None:
    frame, _ = decode_frame(b"\xc1\x00", allow_rsv=True)
    assert (frame.rsv1, frame.rsv2, frame.rsv3) == (True, False, False)


def test_require_mask_enforces_each_side_of_the_rule() -> None:
    masked = encode_frame(Frame(True, Opcode.TEXT, b"hi"), MASK)
    plain = encode_frame(Frame(True, Opcode.TEXT, b"hi"))
    assert decode_frame(masked, require_mask=True)[0].payload == b"hi"
    with pytest.raises(FrameError, match="from a client must be masked"):
        decode_frame(plain, require_mask=True)
    with pytest.raises(FrameError, match="from a server must not be masked"):
        decode_frame(masked, require_mask=False)


def test_a_frame_built_from_a_plain_int_gets_its_opcode_enum() -> None:
    assert Frame(True, 1, b"").opcode is Opcode.TEXT  # type: ignore[arg-type]
    with pytest.raises(FrameError, match="reserved opcode 3"):
        Frame(True, 3)  # type: ignore[arg-type]


def test_frame_size_grows_as_the_header_arrives() -> None:
    data = encode_frame(Frame(True, Opcode.BINARY, bytes(300)), MASK)
    sizes = [frame_size(data[:n]) for n in (0, 1, 2, 3, 4, 8)]
    assert sizes == [2, 2, 8, 8, 308, 308]


# --- close frames ---------------------------------------------------------------------


def test_close_payload_round_trips_and_matches_websockets() -> None:
    payload = close_payload(1001, "going away")
    assert payload == b"\x03\xe9going away"
    assert parse_close_payload(payload) == (1001, "going away")
    from websockets.frames import Close

    assert Close.parse(payload) == Close(1001, "going away")


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"\x03", "cannot be 1 byte"), (b"\x03\xe8\xff", "not valid UTF-8")],
)
def test_parse_close_payload_refuses_malformed_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse_close_payload(payload)


def test_an_empty_close_payload_has_no_code() -> None:
    assert parse_close_payload(b"") == (None, "")


@pytest.mark.parametrize(("code", "reason"), [(999, ""), (5000, ""), (1000, "x" * 124)])
def test_close_payload_refuses_bad_codes_and_long_reasons(code: int, reason: str) -> None:
    with pytest.raises(UsageError):
        close_payload(code, reason)


# --- explaining a frame ---------------------------------------------------------------


def test_explain_frame_names_every_byte_of_a_masked_text_frame() -> None:
    data = encode_frame(Frame(True, Opcode.TEXT, b"Hello"), MASK)
    rows = explain_frame(data)
    assert [row.field for row in rows] == ["10000001", "10000101", "mask", "payload"]
    assert b"".join(row.raw for row in rows) == data
    assert [row.offset for row in rows] == [0, 1, 2, 6]
    assert "opcode=0x1 TEXT" in rows[0].meaning
    assert rows[1].meaning == "MASK=1 length=5"
    assert rows[3].meaning == "masked; unmasked: 'Hello'"


def test_explain_frame_shows_the_extended_length_and_close_code() -> None:
    long_rows = explain_frame(encode_frame(Frame(True, Opcode.BINARY, bytes(70000))))
    assert long_rows[1].meaning.endswith("(64-bit length follows)")
    assert (long_rows[2].field, long_rows[2].meaning) == ("length", "payload length 70000")
    close_rows = explain_frame(encode_frame(Frame(True, Opcode.CLOSE, close_payload(1000))))
    assert close_rows[-1].meaning == "close code 1000, reason ''"


def test_format_explanation_writes_one_line_per_row_under_a_header() -> None:
    rows = explain_frame(b"\x89\x00")
    text = format_explanation(rows)
    assert text.splitlines()[0].split() == ["offset", "bytes", "field", "meaning"]
    assert text.splitlines()[1].split()[:3] == ["0", "89", "10001001"]
    assert len(text.splitlines()) == 1 + len(rows)


def test_explain_frame_shows_printable_control_payloads_as_bytes_and_others_as_hex() -> None:
    assert explain_frame(b"\x89\x02hi")[-1].meaning == "b'hi'"
    assert explain_frame(b"\x82\x02\x00\xff")[-1].meaning == "00 ff"
