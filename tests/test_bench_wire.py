"""Tests for wslearn.bench.wire: the load generator's bytes, checked against websockets
and python-socketio, which parse them as real peers would."""

from __future__ import annotations

import json
from collections.abc import Generator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from socketio import packet as sio_packet
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode
from websockets.http11 import Request
from websockets.streams import StreamReader

from wslearn.bench.wire import (
    EVENT_SIZE,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    SOCKETIO_PATH,
    WireError,
    client_frame,
    mask,
    parse_open,
    socketio_event,
    split_frames,
    split_http_response,
    upgrade_request,
)


def ws_parse(data: bytes, *, masked: bool) -> WsFrame:
    """Parse one frame with websockets' own parser, which must use every byte."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser: Generator[None, None, WsFrame] = WsFrame.parse(reader.read_exact, mask=masked)
    try:
        next(parser)
    except StopIteration as done:
        assert not reader.buffer
        frame: WsFrame = done.value
        return frame
    raise AssertionError("websockets wanted more bytes")


def server_frame(opcode: WsOpcode, payload: bytes) -> bytes:
    return WsFrame(opcode, payload).serialize(mask=False)


@given(st.binary(max_size=70_000))
def test_masking_twice_gives_the_payload_back(payload: bytes) -> None:
    assert mask(mask(payload)) == payload


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_websockets_reads_a_client_frame_of_any_length_form(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    frame = ws_parse(client_frame(OP_TEXT, payload), masked=True)
    assert frame.opcode is WsOpcode.TEXT and frame.fin and frame.data == payload


def test_split_frames_finds_each_server_frame_and_keeps_a_partial_one() -> None:
    first = server_frame(WsOpcode.TEXT, b"2")
    second = server_frame(WsOpcode.BINARY, b"x" * 300)
    third = server_frame(WsOpcode.PING, b"abcd")
    data = first + second + third
    frames, used = split_frames(data[:-2])
    assert [(op, data[a:b]) for op, a, b in frames] == [(OP_TEXT, b"2"), (OP_BINARY, b"x" * 300)]
    assert used == len(first + second)
    frames, used = split_frames(data, used)
    assert [(op, data[a:b]) for op, a, b in frames] == [(OP_PING, b"abcd")]
    assert used == len(data)


@pytest.mark.parametrize("size", [126, 70_000])
def test_split_frames_waits_for_an_extended_length_header(size: int) -> None:
    data = server_frame(WsOpcode.BINARY, bytes(size))
    assert split_frames(data[:3]) == ([], 0)
    assert split_frames(data[:-1]) == ([], 0)
    frames, used = split_frames(data)
    assert frames == [(OP_BINARY, len(data) - size, len(data))] and used == len(data)


def test_split_frames_refuses_masked_and_fragmented_frames() -> None:
    with pytest.raises(WireError, match="masked"):
        split_frames(WsFrame(WsOpcode.TEXT, b"hi").serialize(mask=True))
    with pytest.raises(WireError, match="fragmented"):
        split_frames(WsFrame(WsOpcode.TEXT, b"hi", fin=False).serialize(mask=False))
    with pytest.raises(WireError, match="fragmented"):
        split_frames(WsFrame(WsOpcode.CONT, b"hi").serialize(mask=False))


def test_a_close_frame_is_found_like_any_other() -> None:
    data = server_frame(WsOpcode.CLOSE, b"\x03\xe8bye")
    assert split_frames(data) == ([(OP_CLOSE, 2, len(data))], len(data))


@pytest.mark.parametrize("event", ["echo", "fanout"])
def test_the_bench_event_is_exactly_116_bytes_and_python_socketio_decodes_it(event: str) -> None:
    text = socketio_event(event)
    assert len(text) == EVENT_SIZE == 116
    assert text.startswith(b"42")
    decoded = sio_packet.Packet(encoded_packet=text.decode()[1:])
    assert decoded.packet_type == sio_packet.EVENT
    assert decoded.data[0] == event and isinstance(decoded.data[1]["text"], str)
    # Re-encoded compactly, as every server under test does, it is the same bytes.
    assert "42" + json.dumps(decoded.data, separators=(",", ":")) == text.decode()


def test_an_event_too_small_for_its_name_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        socketio_event("a-long-event-name", 10)


def test_websockets_accepts_the_upgrade_request() -> None:
    reader = StreamReader()
    reader.feed_data(upgrade_request("127.0.0.1", 8000, SOCKETIO_PATH))
    parser = Request.parse(reader.read_line)
    with pytest.raises(StopIteration) as done:
        next(parser)
    request: Request = done.value.value
    assert request.path == SOCKETIO_PATH
    assert request.headers["Upgrade"] == "websocket"
    assert request.headers["Host"] == "127.0.0.1:8000"
    assert "Sec-WebSocket-Extensions" not in request.headers  # no compression offered


def test_split_http_response_waits_for_the_blank_line_then_returns_the_rest() -> None:
    head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    assert split_http_response(head[:-2]) is None
    assert split_http_response(head + b"\x81\x012") == (101, b"\x81\x012")
    assert split_http_response(b"HTTP/1.1 400 Bad Request\r\n\r\nno") == (400, b"no")
    with pytest.raises(WireError, match="not an HTTP response"):
        split_http_response(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_parse_open_reads_the_handshake_and_refuses_other_packets() -> None:
    info = parse_open(b'0{"sid":"abc","pingInterval":25000,"pingTimeout":20000}')
    assert info["pingInterval"] == 25000
    for bad in (b"40", b"0{not json", b"0[1]"):
        with pytest.raises(WireError):
            parse_open(bad)
