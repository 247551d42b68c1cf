"""One packet on its way out: its frames, encoded once for every recipient (pure).

A broadcast builds one :class:`Outgoing` and hands it to every target's transport; a
WebSocket takes :attr:`Outgoing.wire` (the frame bytes, built on first use and then
shared, as ``websockets.broadcast`` shares one serialized message), a polling
session queues :attr:`Outgoing.frames` for its next response.
"""

from __future__ import annotations

from collections.abc import Sequence

from .compression import SharedMessage, SharingKey, prepare_shared
from .packets import Frame

__all__ = ["Outgoing"]


class Outgoing:
    """The frames of one packet, UTF-8 encoded once.

    Args:
        frames: the packet's frames (text, then binary attachments).

    Raises:
        ValueError: a text frame is not valid Unicode (a lone surrogate): nothing can
            send it, so the emitter hears of it before anyone is sent anything.
    """

    __slots__ = ("_shared", "_wire", "encoded", "frames", "size")

    def __init__(self, frames: Sequence[Frame]) -> None:
        self.frames = frames
        encoded: list[tuple[bool, bytes]] = []
        size = 0
        for frame in frames:
            if isinstance(frame, str):
                try:
                    data = frame.encode()
                except UnicodeEncodeError as exc:
                    raise ValueError(
                        f"cannot send text that is not valid Unicode ({exc.reason} at "
                        f"position {exc.start}): replace lone surrogates before emitting"
                    ) from None
                encoded.append((True, data))
            else:
                data = bytes(frame)
                encoded.append((False, data))
            size += len(data)
        self.encoded = encoded
        self.size = size
        self._wire: bytes | None = None
        self._shared: list[tuple[bool, SharedMessage]] | None = None

    @property
    def wire(self) -> bytes:
        """The unmasked, uncompressed WebSocket frames of the packet, as one buffer."""
        wire = self._wire
        if wire is None:
            encoded = self.encoded
            if len(encoded) == 1:  # most packets: one text frame, no attachments
                wire = _frame_bytes(*encoded[0])
            else:
                wire = b"".join([_frame_bytes(text, data) for text, data in encoded])
            self._wire = wire
        return wire

    def deflated(self, key: SharingKey) -> list[tuple[bool, SharedMessage]]:
        """The frames for connections compressing with ``key``: each compressed once
        for every connection with that key, on first use (see
        :func:`wslearn.compression.prepare_shared`)."""
        shared = self._shared
        if shared is None:
            shared = self._shared = [
                (text, prepare_shared(data, ())) for text, data in self.encoded
            ]
        for _, message in shared:
            if key not in message.compressed and len(message) >= key.threshold:
                message.compressed.update(prepare_shared(message, (key,)).compressed)
        return shared


def _frame_bytes(text: bool, data: bytes) -> bytes:
    head = 0x81 if text else 0x82  # FIN + opcode
    length = len(data)
    if length < 126:
        return bytes((head, length)) + data
    if length < 65536:
        return bytes((head, 126)) + length.to_bytes(2, "big") + data
    return bytes((head, 127)) + length.to_bytes(8, "big") + data
