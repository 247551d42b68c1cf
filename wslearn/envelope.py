"""What server processes send each other about a broadcast: a pure codec, no I/O.

When several server processes share rooms (see :mod:`wslearn.redis_adapter`), each
broadcast is encoded once as Socket.IO frames, delivered to the local sockets, and
published to the others as one **envelope**: who sent it, on which namespace, to
which rooms minus which exclusions, and the frames themselves. A receiving process
delivers the frames unchanged to its own matching sockets, so no process decodes or
re-encodes the event::

    {"v":1,"origin":"Zx..","nsp":"/","rooms":["r1"],"except_rooms":[],
     "except_sids":[],"frames":["42[\\"m\\",\\"hi\\"]",5]}\\n<5 raw bytes>

The first line is JSON. ``rooms`` is null for "every socket of the namespace". A
text frame is a JSON string; a binary frame is its length, and its bytes follow the
newline, in order. Decoding checks everything and raises
:class:`~wslearn.exceptions.PacketError`: an envelope comes from the network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .exceptions import PacketError
from .packets import Frame
from .rooms import ALL, Everyone

__all__ = ["VERSION", "Envelope", "decode_envelope", "encode_envelope"]

VERSION = 1
"""The envelope format; processes with another version refuse each other's envelopes."""


@dataclass(frozen=True)
class Envelope:
    """One broadcast, as passed between processes.

    Attributes:
        origin: the sending process's id (a process skips its own envelopes).
        namespace: the namespace the broadcast is on.
        frames: the encoded packet, ready to send to a socket.
        rooms: the target rooms, or ALL.
        except_rooms: members of these rooms are left out.
        except_sids: these sockets are left out.
    """

    origin: str
    namespace: str
    frames: tuple[Frame, ...]
    rooms: frozenset[str] | Everyone = ALL
    except_rooms: frozenset[str] = frozenset()
    except_sids: frozenset[str] = frozenset()


def encode_envelope(envelope: Envelope) -> bytes:
    """The bytes to publish for ``envelope``."""
    binary: list[bytes] = []
    frames: list[str | int] = []
    for frame in envelope.frames:
        if isinstance(frame, str):
            frames.append(frame)
        else:
            binary.append(bytes(frame))
            frames.append(len(frame))
    head = {
        "v": VERSION,
        "origin": envelope.origin,
        "nsp": envelope.namespace,
        "rooms": None if envelope.rooms is ALL else sorted(envelope.rooms),
        "except_rooms": sorted(envelope.except_rooms),
        "except_sids": sorted(envelope.except_sids),
        "frames": frames,
    }
    line = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode()
    return line + b"\n" + b"".join(binary)


def _strings(value: Any, what: str, data: bytes) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PacketError(f"envelope {what} must be a list of strings", data)
    return frozenset(value)


def decode_envelope(data: bytes) -> Envelope:
    """Read an envelope published by another process.

    Raises:
        PacketError: the bytes are not an envelope of this version.
    """
    line, newline, rest = data.partition(b"\n")
    if not newline:
        raise PacketError("envelope without its header line", data)
    try:
        head = json.loads(line)
    except (ValueError, RecursionError):
        raise PacketError("envelope header is not JSON", data) from None
    if not isinstance(head, dict) or head.get("v") != VERSION:
        raise PacketError(f"not a version {VERSION} envelope", data)
    origin, namespace, frames = head.get("origin"), head.get("nsp"), head.get("frames")
    if not isinstance(origin, str) or not isinstance(namespace, str):
        raise PacketError("envelope without origin or namespace", data)
    if not isinstance(frames, list) or not frames:
        raise PacketError("envelope without frames", data)
    rooms: frozenset[str] | Everyone = (
        ALL if head.get("rooms") is None else _strings(head.get("rooms"), "rooms", data)
    )
    decoded: list[Frame] = []
    offset = 0
    for frame in frames:
        if isinstance(frame, str):
            decoded.append(frame)
        elif isinstance(frame, int) and not isinstance(frame, bool) and frame >= 0:
            if offset + frame > len(rest):
                raise PacketError("envelope shorter than its binary frames", data)
            decoded.append(rest[offset : offset + frame])
            offset += frame
        else:
            raise PacketError("envelope frame must be a string or a length", data)
    if offset != len(rest):
        raise PacketError("envelope longer than its binary frames", data)
    return Envelope(
        origin,
        namespace,
        tuple(decoded),
        rooms,
        _strings(head.get("except_rooms", []), "except_rooms", data),
        _strings(head.get("except_sids", []), "except_sids", data),
    )


def envelope_for(
    origin: str,
    namespace: str,
    frames: Sequence[Frame],
    rooms: frozenset[str] | Everyone,
    except_rooms: frozenset[str],
    except_sids: frozenset[str],
) -> Envelope:
    """An :class:`Envelope` from an adapter's ``broadcast`` arguments."""
    return Envelope(origin, namespace, tuple(frames), rooms, except_rooms, except_sids)
