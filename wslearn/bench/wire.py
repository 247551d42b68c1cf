"""The bytes the load generator sends and the frames it reads, with no I/O.

The load generator plays thousands of clients at once, so it does as little per message
as it can: every frame it sends is encoded once, up front (a client must mask its
frames, and a fixed masking key is legal, so the masked bytes never change), and every
frame it receives is only split at its boundaries, not decoded::

    request = upgrade_request("127.0.0.1", 8000, SOCKETIO_PATH)
    echo = client_frame(OP_TEXT, socketio_event("echo", EVENT_SIZE))
    status, rest = split_http_response(received)   # None until the head is complete
    frames, used = split_frames(rest)              # [(opcode, start, stop), ...]

The servers under test never fragment messages this small, so a frame is a message;
:func:`split_frames` refuses fragments rather than miscounting them.
"""

from __future__ import annotations

import base64
import json

__all__ = [
    "EVENT_SIZE",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "SOCKETIO_PATH",
    "WireError",
    "client_frame",
    "mask",
    "parse_open",
    "socketio_event",
    "split_frames",
    "split_http_response",
    "upgrade_request",
]

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
SOCKETIO_PATH = "/socket.io/?EIO=4&transport=websocket"
EVENT_SIZE = 116  # bytes of the Socket.IO event every workload sends
MASK_KEY = b"\x5a\x17\xc3\x2e"  # fixed: frames are encoded once; servers do not care
# Any 16-byte value base64-encoded is a valid Sec-WebSocket-Key; servers only hash it.
CLIENT_KEY = base64.b64encode(b"wslearn-bench-16").decode()


class WireError(Exception):
    """A server sent something the load generator cannot count correctly."""


def mask(payload: bytes, key: bytes = MASK_KEY) -> bytes:
    """XOR ``payload`` with the repeating 4-byte ``key`` (RFC 6455, section 5.3)."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    number = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return number.to_bytes(len(payload), "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client-to-server frame carrying ``payload``."""
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    return head + MASK_KEY + mask(payload)


def upgrade_request(host: str, port: int, path: str) -> bytes:
    """The HTTP/1.1 request that opens a WebSocket on ``path`` (no extensions offered)."""
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {CLIENT_KEY}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode("ascii")


def split_http_response(data: bytes) -> tuple[int, bytes] | None:
    """The status code of a complete response head and the bytes after it.

    Returns:
        ``(status, rest)``, or None while the head (up to the blank line) is incomplete.

    Raises:
        WireError: the head does not start with an HTTP/1.1 status line.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    status_line = data[: data.find(b"\r\n")]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise WireError(f"not an HTTP response: {status_line[:80]!r}")
    return int(parts[1]), data[end + 4 :]


def split_frames(data: bytes | bytearray, pos: int = 0) -> tuple[list[tuple[int, int, int]], int]:
    """Find the complete server-to-client frames in ``data`` from ``pos`` on.

    Returns:
        ``([(opcode, payload_start, payload_stop), ...], consumed)``: the caller keeps
        ``data[consumed:]``, the start of a frame still arriving.

    Raises:
        WireError: a masked or fragmented frame (servers send neither here).
    """
    frames: list[tuple[int, int, int]] = []
    end = len(data)
    while end - pos >= 2:
        first, second = data[pos], data[pos + 1]
        if second & 0x80:
            raise WireError("the server masked a frame (RFC 6455 forbids it)")
        if not first & 0x80 or not first & 0x0F:
            raise WireError("a fragmented message: the load generator counts whole frames")
        length = second & 0x7F
        head = 2
        if length == 126:
            if end - pos < 4:
                break
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            head = 4
        elif length == 127:
            if end - pos < 10:
                break
            length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            head = 10
        stop = pos + head + length
        if stop > end:
            break
        frames.append((first & 0x0F, pos + head, stop))
        pos = stop
    return frames, pos


def socketio_event(event: str, size: int = EVENT_SIZE) -> bytes:
    """A Socket.IO EVENT packet ``42["event",{"text":"..."}]`` of exactly ``size`` bytes.

    The JSON is compact, as every server under test encodes it, so an echo or a
    broadcast of it has the same size on the wire for all of them.

    Raises:
        ValueError: ``size`` is too small for the event name.
    """
    empty = len(_event_text(event, ""))
    if size < empty:
        raise ValueError(f"a {event!r} event needs at least {empty} bytes, not {size}")
    filler = "".join(chr(ord("a") + i % 26) for i in range(size - empty))
    return _event_text(event, filler).encode("ascii")


def _event_text(event: str, text: str) -> str:
    return "42" + json.dumps([event, {"text": text}], separators=(",", ":"))


def parse_open(payload: bytes) -> dict[str, object]:
    """The JSON of an Engine.IO OPEN packet (``0{"sid":...,"pingInterval":...}``).

    Raises:
        WireError: the payload is not an OPEN packet.
    """
    if not payload.startswith(b"0{"):
        raise WireError(f"expected the Engine.IO OPEN packet, got {payload[:40]!r}")
    try:
        data = json.loads(payload[1:])
    except ValueError as exc:
        raise WireError(f"OPEN packet with invalid JSON: {payload[:60]!r}") from exc
    if not isinstance(data, dict):
        raise WireError(f"OPEN packet is not a JSON object: {payload[:60]!r}")
    return data
