"""Engine.IO v4 long-polling payloads: several packets in one HTTP body, no I/O.

Over WebSocket every Engine.IO packet is its own frame. Over HTTP long-polling a
response (server to client) or a POST body (client to server) carries several,
joined by the record separator ``\\x1e``; a binary packet travels as ``b`` followed
by its bytes in base64::

    4hello\\x1e2\\x1ebAQIDBA==     message "hello", a ping, bytes 01 02 03 04

:func:`encode_payload` turns the frames of a session's queue into such a body and
:func:`decode_payload` turns a received body back into frames (``str`` for text
packets, ``bytes`` for binary ones), the same frames the WebSocket transport gives,
so the session above never knows which transport carried them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from .exceptions import PacketError
from .packets import Frame

__all__ = ["SEPARATOR", "decode_payload", "encode_payload", "payload_size"]

SEPARATOR = "\x1e"
"""The record separator between the packets of one payload."""


def encode_payload(frames: Iterable[Frame]) -> str:
    """Join frames into one polling payload; bytes become ``b`` + base64."""
    return SEPARATOR.join(
        frame if isinstance(frame, str) else "b" + base64.b64encode(frame).decode("ascii")
        for frame in frames
    )


def payload_size(frame: Frame) -> int:
    """How many bytes ``frame`` adds to a UTF-8 payload (separator not counted)."""
    if isinstance(frame, str):
        return len(frame) if frame.isascii() else len(frame.encode("utf-8", "surrogatepass"))
    return 1 + (len(frame) + 2) // 3 * 4


def decode_payload(body: str) -> list[Frame]:
    """Split a polling payload into frames.

    Raises:
        PacketError: the body is empty, holds an empty packet, or has a ``b``
            packet that is not valid base64.
    """
    if not body:
        raise PacketError("empty polling payload")
    frames: list[Frame] = []
    for part in body.split(SEPARATOR):
        if not part:
            raise PacketError("empty packet in a polling payload")
        if part[0] == "b":
            try:
                frames.append(base64.b64decode(part[1:], validate=True))
            except (binascii.Error, ValueError):
                raise PacketError("binary packet that is not base64", part[:40]) from None
        else:
            frames.append(part)
    return frames
