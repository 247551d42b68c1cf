"""What an eavesdropper reads: one direction of a captured ``ws://`` stream (pure).

Give :func:`read_capture` the bytes a relay saw go one way (for instance everything a
:class:`~wslearn.proxy.LinkProxy` passed to its ``on_bytes`` callback for one
connection) and it returns what anyone on the path could read: the HTTP upgrade
request or response, then every message, unmasked and decompressed::

    capture = read_capture(upstream_bytes)
    capture.head        # 'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1 ...'
    capture.messages    # ['40{"token":"eyJ..."}', '42["send-message",...]', ...]

Neither masking (a fixed key sent in the clear in every frame) nor compression
(permessage-deflate) hides anything. Under TLS the same bytes are records of
ciphertext: there is no HTTP head to find, and :func:`read_capture` says so.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from .exceptions import FrameError
from .frames import Opcode, decode_frame

__all__ = ["Capture", "read_capture"]

_DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692: removed by the sender, put back to inflate


@dataclass(frozen=True)
class Capture:
    """What one direction of a connection reveals.

    Attributes:
        head: the HTTP request or response before the frames, or "" when the stream
            does not start with HTTP (TLS, or not a WebSocket at all).
        messages: the text of each message (binary ones as ``bytes``), in order.
        readable: False when nothing in the stream could be read.
    """

    head: str
    messages: list[str | bytes] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return bool(self.head)


def read_capture(stream: bytes) -> Capture:
    """Read one direction of a captured ``ws://`` connection, as an eavesdropper would.

    Compressed messages are inflated with one shared window per direction (the
    default of permessage-deflate, context takeover). A stream cut in the middle of
    a frame yields the messages before the cut.

    Args:
        stream: the bytes, in order, from the first one of the connection.

    Returns:
        The capture; ``head`` is "" when the stream is not HTTP (e.g. TLS).
    """
    end = stream.find(b"\r\n\r\n")
    if end < 0 or not stream[:1].isalpha():  # HTTP starts with a method or "HTTP"
        return Capture("")
    head = stream[:end].decode("latin-1")
    messages: list[str | bytes] = []
    inflater = zlib.decompressobj(wbits=-15)
    position, parts, compressed, kind = end + 4, b"", False, Opcode.TEXT
    while position < len(stream):
        try:
            frame, used = decode_frame(stream[position:], allow_rsv=True)
        except FrameError:
            break  # cut mid-frame: what came before is all there is
        position += used
        if frame.opcode.is_control:
            continue
        if frame.opcode is not Opcode.CONT:
            parts, compressed, kind = b"", frame.rsv1, frame.opcode
        parts += frame.payload
        if not frame.fin:
            continue
        data = inflater.decompress(parts + _DEFLATE_TAIL) if compressed else parts
        messages.append(data.decode("utf-8", "replace") if kind is Opcode.TEXT else data)
    return Capture(head, messages)
