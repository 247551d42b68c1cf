"""RFC 6455 by hand: the anatomy of a frame.

After the handshake every message travels in frames (RFC 6455 section 5.2)::

    byte 0   FIN | RSV1 | RSV2 | RSV3 | opcode (4 bits)
    byte 1   MASK | payload length (7 bits: 0-125; 126 = a 16-bit length follows;
                                    127 = a 64-bit length follows)
    then     [2 or 8 bytes of extended length] [4-byte masking key if MASK] payload

Clients mask every frame with a fresh 4-byte key (XOR, repeated); servers never mask.
Masking is not secrecy: it stops a browser's script from choosing the exact bytes on
the wire, which could otherwise poison a caching proxy that misreads them as HTTP.

Pure functions, no I/O. Decoding is strict, as a peer without extensions must be:
reserved opcodes, RSV bits (unless ``allow_rsv``), fragmented or oversized control
frames, lengths not written in their shortest form, a 64-bit length with its top bit
set, and truncated data all raise :class:`~wslearn.exceptions.FrameError`. Mistakes
of the caller (a masking key that is not 4 bytes) raise
:class:`~wslearn.exceptions.UsageError`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .exceptions import FrameError, UsageError

__all__ = [
    "Frame",
    "FrameField",
    "Opcode",
    "apply_mask",
    "close_payload",
    "decode_frame",
    "encode_frame",
    "explain_frame",
    "format_explanation",
    "frame_size",
    "parse_close_payload",
]


# --- frames --------------------------------------------------------------------------


class Opcode(enum.IntEnum):
    """What a frame carries. 0x3-0x7 and 0xB-0xF are reserved."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """Control frames (close, ping, pong) have opcodes 0x8 and up."""
        return self >= 0x8


@dataclass(frozen=True)
class Frame:
    """One WebSocket frame, with its payload unmasked.

    Attributes:
        fin: True on the last (or only) frame of a message.
        opcode: what the payload is.
        payload: the application data.
        rsv1, rsv2, rsv3: bits reserved for extensions (RSV1 marks compression).

    Raises:
        FrameError: for a control frame that is fragmented or longer than 125 bytes.
    """

    fin: bool
    opcode: Opcode
    payload: bytes = b""
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.opcode, Opcode):
            try:
                object.__setattr__(self, "opcode", Opcode(self.opcode))
            except ValueError:
                raise FrameError(f"reserved opcode {self.opcode!r}") from None
        if self.opcode.is_control and not self.fin:
            raise FrameError(f"a {self.opcode.name} frame cannot be fragmented (FIN must be 1)")
        if self.opcode.is_control and len(self.payload) > 125:
            raise FrameError(
                f"a {self.opcode.name} frame carries at most 125 bytes, not {len(self.payload)}"
            )


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated; applying it twice undoes it.

    Raises:
        UsageError: if ``mask`` is not 4 bytes.
    """
    if len(mask) != 4:
        raise UsageError(f"a masking key is exactly 4 bytes, got {len(mask)}")
    if not data:
        return b""
    # One big-integer XOR instead of a Python loop keeps 64 KiB payloads fast.
    repeated = (mask * (len(data) // 4 + 1))[: len(data)]
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
    return mixed.to_bytes(len(data), "big")


def _length_bytes(length: int) -> tuple[int, bytes]:
    """The 7-bit length field and the extended length bytes, shortest form."""
    if length <= 125:
        return length, b""
    if length <= 0xFFFF:
        return 126, struct.pack("!H", length)
    return 127, struct.pack("!Q", length)


def encode_frame(frame: Frame, mask: bytes | None = None) -> bytes:
    """Serialize ``frame``; clients pass a 4-byte ``mask``, servers pass None.

    Args:
        frame: the frame to write.
        mask: the masking key, or None for an unmasked (server-to-client) frame.

    Raises:
        UsageError: if ``mask`` is given and is not 4 bytes.
    """
    head1 = (
        (0x80 if frame.fin else 0)
        | (0x40 if frame.rsv1 else 0)
        | (0x20 if frame.rsv2 else 0)
        | (0x10 if frame.rsv3 else 0)
        | frame.opcode
    )
    length7, extended = _length_bytes(len(frame.payload))
    head2 = length7 | (0x80 if mask is not None else 0)
    if mask is None:
        return bytes([head1, head2]) + extended + frame.payload
    return bytes([head1, head2]) + extended + mask + apply_mask(frame.payload, mask)


def frame_size(data: bytes) -> int:
    """How many bytes the frame starting at ``data`` needs, as far as ``data`` tells.

    Read until ``len(buffer) >= frame_size(buffer)``: the answer grows as more of
    the header arrives (2 bytes, then the extended length and mask, then the payload).
    """
    if len(data) < 2:
        return 2
    length7 = data[1] & 0x7F
    masked = 4 if data[1] & 0x80 else 0
    extra = {126: 2, 127: 8}.get(length7, 0)
    header = 2 + extra + masked
    if len(data) < 2 + extra:
        return header
    if extra == 2:
        (length,) = struct.unpack_from("!H", data, 2)
    elif extra == 8:
        (length,) = struct.unpack_from("!Q", data, 2)
    else:
        length = length7
    return int(header + length)


def decode_frame(
    data: bytes, *, require_mask: bool | None = None, allow_rsv: bool = False
) -> tuple[Frame, int]:
    """Decode the frame at the start of ``data``.

    Args:
        data: bytes starting with a frame; bytes after it are left alone.
        require_mask: True on a server (client frames must be masked), False on a
            client (server frames must not be), None to accept both.
        allow_rsv: accept RSV bits, as a peer that negotiated an extension does.

    Returns:
        The frame, and how many bytes of ``data`` it used.

    Raises:
        FrameError: for truncated data, a reserved opcode, unexpected RSV bits or
            masking, a length not in its shortest form, or a bad control frame.
    """
    # Header faults are reported as soon as the header is there, before the payload.
    if len(data) < 2:
        raise FrameError(f"truncated frame: it needs 2 bytes, got {len(data)}")
    head1, head2 = data[0], data[1]
    try:
        opcode = Opcode(head1 & 0x0F)
    except ValueError:
        raise FrameError(f"reserved opcode 0x{head1 & 0x0F:X}") from None
    rsv = (bool(head1 & 0x40), bool(head1 & 0x20), bool(head1 & 0x10))
    if any(rsv) and not allow_rsv:
        raise FrameError("RSV bits are set but no extension was negotiated")
    masked = bool(head2 & 0x80)
    if require_mask is not None and masked != require_mask:
        raise FrameError(
            "frames from a client must be masked"
            if require_mask
            else "frames from a server must not be masked"
        )
    length7 = head2 & 0x7F
    offset = {126: 4, 127: 10}.get(length7, 2)
    if len(data) < offset:
        raise FrameError(f"truncated frame: it needs {offset} bytes, got {len(data)}")
    if length7 == 126:
        (length,) = struct.unpack_from("!H", data, 2)
        if length <= 125:
            raise FrameError(f"length {length} uses the 16-bit form; it fits in 7 bits")
    elif length7 == 127:
        (length,) = struct.unpack_from("!Q", data, 2)
        if length >> 63:
            raise FrameError("the 64-bit length has its most significant bit set")
        if length <= 0xFFFF:
            raise FrameError(f"length {length} uses the 64-bit form; it fits in 16 bits")
    else:
        length = length7
    if opcode.is_control and not head1 & 0x80:
        raise FrameError(f"a {opcode.name} frame cannot be fragmented (FIN must be 1)")
    if opcode.is_control and length > 125:
        raise FrameError(f"a {opcode.name} frame carries at most 125 bytes, not {length}")
    needed = frame_size(data)
    if len(data) < needed:
        raise FrameError(f"truncated frame: it needs {needed} bytes, got {len(data)}")
    payload = data[offset + (4 if masked else 0) : needed]
    if masked:
        payload = apply_mask(payload, data[offset : offset + 4])
    frame = Frame(bool(head1 & 0x80), opcode, bytes(payload), *rsv)
    return frame, needed


# --- close frames --------------------------------------------------------------------


def close_payload(code: int, reason: str = "") -> bytes:
    """Build a close frame's payload: a 2-byte status code then a UTF-8 reason.

    Raises:
        UsageError: if ``code`` is outside 1000-4999 or the payload would pass 125 bytes.
    """
    if not 1000 <= code <= 4999:
        raise UsageError(f"close codes run from 1000 to 4999, not {code}")
    payload = struct.pack("!H", code) + reason.encode("utf-8")
    if len(payload) > 125:
        raise UsageError(f"the close reason is too long: {len(payload) - 2} bytes, max 123")
    return payload


def parse_close_payload(payload: bytes) -> tuple[int | None, str]:
    """Read a close frame's payload.

    Returns:
        ``(code, reason)``; ``(None, "")`` for an empty payload (no code given).

    Raises:
        FrameError: for a 1-byte payload or a reason that is not UTF-8.
    """
    if not payload:
        return None, ""
    if len(payload) == 1:
        raise FrameError("a close payload holds a 2-byte code; it cannot be 1 byte")
    (code,) = struct.unpack_from("!H", payload)
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError("the close reason is not valid UTF-8") from exc
    return code, reason


# --- explaining a frame byte by byte -------------------------------------------------


@dataclass(frozen=True)
class FrameField:
    """One row of :func:`explain_frame`: some bytes of a frame and what they mean."""

    offset: int
    raw: bytes
    field: str
    meaning: str


def _show(data: bytes, limit: int = 6) -> str:
    shown = data[:limit].hex(" ")
    return shown + (f" ... ({len(data)} bytes)" if len(data) > limit else "")


def explain_frame(data: bytes) -> list[FrameField]:
    """Decode the frame at the start of ``data`` and say what every byte means.

    Raises:
        FrameError: as :func:`decode_frame` does (masking and RSV bits are accepted).
    """
    frame, size = decode_frame(data, allow_rsv=True)
    head1, head2 = data[0], data[1]
    bits = (
        f"FIN={int(frame.fin)} RSV={int(frame.rsv1)}{int(frame.rsv2)}{int(frame.rsv3)} "
        f"opcode=0x{frame.opcode:X} {frame.opcode.name}"
    )
    masked = bool(head2 & 0x80)
    length7 = head2 & 0x7F
    rows = [
        FrameField(0, data[:1], f"{head1:08b}", bits),
        FrameField(
            1,
            data[1:2],
            f"{head2:08b}",
            f"MASK={int(masked)} length={length7}"
            + {126: " (16-bit length follows)", 127: " (64-bit length follows)"}.get(length7, ""),
        ),
    ]
    offset = 2
    if length7 >= 126:
        width = 2 if length7 == 126 else 8
        rows.append(
            FrameField(
                offset,
                data[offset : offset + width],
                "length",
                f"payload length {len(frame.payload)}",
            )
        )
        offset += width
    if masked:
        rows.append(FrameField(offset, data[offset : offset + 4], "mask", "masking key"))
        offset += 4
    body = data[offset:size]
    if body:
        if masked:
            rows.append(
                FrameField(offset, body, "payload", f"masked; unmasked: {_describe(frame)}")
            )
        else:
            rows.append(FrameField(offset, body, "payload", _describe(frame)))
    return rows


def _describe(frame: Frame) -> str:
    if frame.opcode == Opcode.CLOSE:
        code, reason = parse_close_payload(frame.payload)
        return f"close code {code}, reason {reason!r}"
    if frame.opcode == Opcode.TEXT:
        try:
            return repr(frame.payload.decode("utf-8"))
        except UnicodeDecodeError:
            return "text that is not valid UTF-8"
    if frame.payload and frame.payload.isascii() and frame.payload.decode().isprintable():
        return repr(frame.payload)
    return _show(frame.payload) or "empty"


def format_explanation(rows: list[FrameField]) -> str:
    """Lay out :func:`explain_frame` rows as a fixed-width text table."""
    lines = [f"{'offset':>6}  {'bytes':<34}  {'field':<9}  meaning"]
    for row in rows:
        lines.append(f"{row.offset:>6}  {_show(row.raw):<34}  {row.field:<9}  {row.meaning}")
    return "\n".join(lines)
