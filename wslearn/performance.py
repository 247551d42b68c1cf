"""Measurements behind notebook 08: compression and binary payloads, without sockets.

Everything here runs websockets' sans-I/O protocol objects or the Socket.IO codec
in memory, so the figures are the work itself: no network, no event loop. Bytes are
exact and repeatable; CPU times are ``time.process_time`` and vary from run to run,
so compare them with each other (ratios), never with fixed numbers.

- :func:`chat_message` builds a Socket.IO chat event of a given size, with the
  repeated keys and English words real chat traffic has.
- :func:`measure_compression` sends messages through a server-side extension
  (none, stock deflate, or a :class:`~wslearn.compression.Compression`) and reports
  bytes per message and CPU per message.
- :func:`measure_binary` compares a bytes payload sent as a Socket.IO binary
  attachment with the same bytes as base64 inside JSON.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from .compression import Compression, ThresholdDeflate
from .packets import Decoder, Packet, PacketType, encode

__all__ = [
    "BinaryFigure",
    "CompressionFigure",
    "chat_message",
    "measure_binary",
    "measure_compression",
    "server_extension",
]

_TEXT = (
    "hello there how are you doing today I think we should meet at the cafe near the "
    "station after work maybe around six if that works for you let me know what you "
    "think about the new design it looks great but the colours could be a bit warmer"
)
_WORDS = _TEXT.split(" ")


def chat_message(size: int, seed: int = 0) -> str:
    """A Socket.IO ``receive-message`` event frame of exactly ``size`` characters.

    The text is ASCII, so characters and UTF-8 bytes are the same count.

    Raises:
        ValueError: ``size`` is too small to hold the event's fixed fields.
    """
    rng = random.Random(seed)
    head = f'42["receive-message",{{"roomId":"general","user":"user{rng.randrange(100)}",'
    head += f'"sentAt":{1_700_000_000_000 + rng.randrange(10**6)},"message":"'
    tail = '"}]'
    room = size - len(head) - len(tail)
    if room < 0:
        raise ValueError(f"a chat message needs at least {len(head) + len(tail)} bytes")
    words: list[str] = []
    length = -1  # no space before the first word
    while length < room:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return head + " ".join(words)[:room] + tail


def server_extension(setting: Compression | str | None) -> Extension | None:
    """The extension a server ends up with after negotiating with a default client.

    Args:
        setting: None for no compression, ``"deflate"`` for websockets' default
            (12-bit windows, memory level 5, context takeover, no threshold), or a
            :class:`~wslearn.compression.Compression`.
    """
    if setting is None:
        return None
    if setting == "deflate":
        return PerMessageDeflate(False, False, 12, 12, {"memLevel": 5})
    if not isinstance(setting, Compression):
        raise ValueError(f"expected None, 'deflate' or a Compression, got {setting!r}")
    return ThresholdDeflate(
        setting.client_no_context_takeover,
        setting.server_no_context_takeover,
        setting.client_max_window_bits,
        setting.server_max_window_bits,
        setting.compress_settings,
        threshold=setting.threshold,
        lazy=setting.lazy,
    )


@dataclass(frozen=True)
class CompressionFigure:
    """What one kind of message cost with one setting.

    Attributes:
        label: the setting's name.
        size: the message size in bytes, before compression.
        count: how many messages were sent.
        bytes_per_message: the average payload on the wire (frame headers excluded).
        cpu_us_per_message: process CPU per message, in microseconds.
        compressed: how many of the messages went out with RSV1 set.
    """

    label: str
    size: int
    count: int
    bytes_per_message: float
    cpu_us_per_message: float
    compressed: int

    @property
    def ratio(self) -> float:
        """Bytes on the wire over bytes sent (1.0: no saving)."""
        return self.bytes_per_message / self.size


def measure_compression(
    settings: dict[str, Compression | str | None],
    sizes: Sequence[int] = (100, 2048, 65536),
    count: int = 1000,
    clock: Callable[[], float] = time.process_time,
) -> list[CompressionFigure]:
    """Send ``count`` chat messages of each size through each setting's encoder.

    Each (setting, size) pair gets a fresh extension, as a new connection would,
    and different messages of that size (a new seed each), so context takeover
    has recent messages to refer to, as in a real chat.

    Args:
        settings: label -> setting, as for :func:`server_extension`.
        sizes: message sizes in bytes.
        count: messages per (setting, size).
        clock: the CPU clock (seconds).

    Returns:
        One figure per (setting, size), settings in the given order.
    """
    figures: list[CompressionFigure] = []
    for size in sizes:
        messages = [chat_message(size, seed).encode() for seed in range(count)]
        for label, setting in settings.items():
            extension = server_extension(setting)
            total = compressed = 0
            start = clock()
            for message in messages:
                frame = Frame(Opcode.TEXT, message)
                if extension is not None:
                    frame = extension.encode(frame)
                total += len(frame.data)
                compressed += frame.rsv1
            elapsed = clock() - start
            figures.append(
                CompressionFigure(
                    label, size, count, total / count, elapsed / count * 1e6, compressed
                )
            )
    return figures


@dataclass(frozen=True)
class BinaryFigure:
    """One payload size sent two ways: a binary attachment, or base64 in JSON.

    Attributes:
        size: the payload in bytes.
        attachment_bytes: bytes on the wire as a Socket.IO binary event (the text
            header frame plus the raw attachment).
        base64_bytes: bytes on the wire as a JSON event carrying base64 text.
        attachment_encode_us, attachment_decode_us, base64_encode_us,
        base64_decode_us: CPU per message, microseconds, encode and decode.
    """

    size: int
    attachment_bytes: int
    base64_bytes: int
    attachment_encode_us: float
    attachment_decode_us: float
    base64_encode_us: float
    base64_decode_us: float

    @property
    def overhead(self) -> float:
        """How many times more bytes base64 takes than the attachment."""
        return self.base64_bytes / self.attachment_bytes


def _frame_bytes(frames: Sequence[str | bytes]) -> int:
    return sum(len(f.encode() if isinstance(f, str) else f) for f in frames)


def _timed(fn: Callable[[], Any], repeat: int, clock: Callable[[], float]) -> tuple[Any, float]:
    result: Any = None
    start = clock()
    for _ in range(repeat):
        result = fn()
    return result, (clock() - start) / repeat * 1e6


def measure_binary(
    sizes: Sequence[int] = (100, 1024, 16_384, 262_144),
    repeat: int = 50,
    clock: Callable[[], float] = time.process_time,
) -> list[BinaryFigure]:
    """Encode and decode a bytes payload as an attachment and as base64 JSON.

    Args:
        sizes: payload sizes in bytes (random bytes, as an image or a file is).
        repeat: encodes and decodes per measurement.
        clock: the CPU clock (seconds).
    """
    rng = random.Random(1)
    figures = []
    for size in sizes:
        payload = rng.randbytes(size)
        as_bytes = Packet(PacketType.EVENT, "/", ["file", {"name": "a.bin", "data": payload}])

        def base64_packet(payload: bytes = payload) -> Packet:
            text = base64.b64encode(payload).decode("ascii")
            return Packet(PacketType.EVENT, "/", ["file", {"name": "a.bin", "data": text}])

        def encode_attachment(packet: Packet = as_bytes) -> list[str | bytes]:
            return encode(packet)

        def encode_base64() -> list[str | bytes]:
            return encode(base64_packet())

        attach_frames, attach_enc = _timed(encode_attachment, repeat, clock)
        b64_frames, b64_enc = _timed(encode_base64, repeat, clock)

        def decode_all(frames: list[str | bytes]) -> Any:
            decoder, result = Decoder(), None
            for frame in frames:
                result = decoder.feed(frame)
            return result

        def decode_attachment(frames: list[str | bytes] = attach_frames) -> Any:
            return decode_all(frames)

        back, attach_dec = _timed(decode_attachment, repeat, clock)
        assert back.data[1]["data"] == payload

        def decode_base64(frames: list[str | bytes] = b64_frames) -> bytes:
            packet = decode_all(frames)
            return base64.b64decode(packet.data[1]["data"])

        back64, b64_dec = _timed(decode_base64, repeat, clock)
        assert back64 == payload
        figures.append(
            BinaryFigure(
                size,
                _frame_bytes(attach_frames),
                _frame_bytes(b64_frames),
                attach_enc,
                attach_dec,
                b64_enc,
                b64_dec,
            )
        )
    return figures
