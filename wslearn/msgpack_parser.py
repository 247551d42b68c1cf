"""A MessagePack Socket.IO parser, compatible with ``socket.io-msgpack-parser``.

The default parser writes each Socket.IO packet as JSON text, with bytes pulled out
into binary attachments. This one writes each packet as **one binary WebSocket
frame**: the packet object ``{"type", "data", "nsp", "id"}`` encoded with
MessagePack, bytes included in place (MessagePack has a binary type)::

    42/chat,7["send-message",{"text":"hi"}]               JSON parser, one text frame
    84 a4 type 02 a4 data 92 ... a3 nsp a5 /chat a2 id 07   MessagePack, one binary frame

Both ends must use the same parser: ``Server(parser=MSGPACK_PARSER)`` with
``Client(parser=MSGPACK_PARSER)``, or Node's ``socket.io`` /
``socket.io-client`` created with ``{parser: require("socket.io-msgpack-parser")}``.

What the reference implementation (``notepack.io`` underneath) does, and so this:

- packet types are 0 to 4 only: events and acks carrying bytes stay EVENT and ACK
  (there are no BINARY_* types and no attachments);
- a JavaScript ``undefined`` is the extension type 0 with one zero byte; it decodes
  to ``None``, like ``null``. (A one-byte ``ArrayBuffer`` holding 0 looks the same
  and decodes to ``None`` too.)
- a browser's ``ArrayBuffer`` is the extension type 0 with the raw bytes; it
  decodes to ``bytes``, like a Node ``Buffer`` (MessagePack ``bin``);
- keys the receiver does not know (the Node client adds ``options``) are ignored.

Needs the ``msgpack`` package: ``pip install wslearn[msgpack]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import PacketError, UsageError
from .packets import EnginePacket, Frame, Packet, PacketType

try:
    import msgpack
except ImportError:  # an optional extra
    msgpack = None

__all__ = ["MSGPACK_PARSER", "MsgPackDecoder", "MsgPackParser"]

_MAX_ID = 2**53 - 1  # what a JavaScript number holds exactly
_ARRAY_BUFFER = 0  # notepack's extension type for ArrayBuffer and for undefined


def _require_msgpack() -> Any:
    if msgpack is None:
        raise UsageError(
            "the MessagePack parser needs the msgpack package: pip install 'wslearn[msgpack]'"
        )
    return msgpack


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _ARRAY_BUFFER:
        raise ValueError(f"unsupported MessagePack extension type {code}")
    if data == b"\x00":
        return None  # undefined
    return data


def _normal_type(kind: PacketType) -> PacketType:
    if kind is PacketType.BINARY_EVENT:
        return PacketType.EVENT
    if kind is PacketType.BINARY_ACK:
        return PacketType.ACK
    return kind


def _check(packet: Packet) -> str | None:
    """What is wrong with ``packet`` for the Socket.IO protocol, or None."""
    kind, data = packet.type, packet.data
    if not packet.namespace.startswith("/") or "," in packet.namespace:
        return "namespace must start with '/' and contain no comma"
    if packet.id is not None and (isinstance(packet.id, bool) or not isinstance(packet.id, int)):
        return "ack id must be an integer"
    if packet.id is not None and not 0 <= packet.id <= _MAX_ID:
        return "ack id out of range"
    if kind is PacketType.EVENT:
        if not isinstance(data, list | tuple) or not data or not isinstance(data[0], str):
            return "EVENT data must be [name, *args] with a string name"
    elif kind is PacketType.ACK:
        if packet.id is None:
            return "ACK needs the id it acknowledges"
        if not isinstance(data, list | tuple):
            return "ACK data must be a list"
    elif kind is PacketType.CONNECT:
        if data is not None and not isinstance(data, Mapping):
            return "CONNECT data must be a map"
    elif kind is PacketType.CONNECT_ERROR:
        if not isinstance(data, Mapping | str):
            return "CONNECT_ERROR data must be a map or a string"
    elif kind is PacketType.DISCONNECT and data is not None:
        return "DISCONNECT carries no data"
    control = (PacketType.CONNECT, PacketType.DISCONNECT, PacketType.CONNECT_ERROR)
    if kind in control and packet.id is not None:
        return f"{kind.name} carries no ack id"
    return None


class MsgPackDecoder:
    """Decodes the binary frames of one connection; every frame is a whole packet."""

    def __init__(self) -> None:
        self._msgpack = _require_msgpack()

    def feed(self, frame: Frame) -> EnginePacket | Packet | None:
        """Decode one Engine.IO MESSAGE frame.

        Raises:
            PacketError: a text frame (the peer uses another parser), bytes that are
                not MessagePack, or a packet that breaks the protocol.
        """
        if isinstance(frame, str):
            raise PacketError(
                "text frame on a MessagePack connection: both ends must use the same parser",
                frame,
            )
        data = bytes(frame)
        try:
            obj = self._msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, timestamp=0)
        except (ValueError, TypeError, RecursionError) as exc:  # msgpack errors are ValueError
            raise PacketError(f"not a MessagePack packet ({exc})", data) from None
        if not isinstance(obj, dict):
            raise PacketError("a MessagePack packet must be a map", data)
        kind, namespace, packet_id = obj.get("type"), obj.get("nsp"), obj.get("id")
        if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind <= 4:
            raise PacketError("invalid packet type", data)
        if not isinstance(namespace, str):
            raise PacketError("invalid namespace", data)
        packet = Packet(PacketType(kind), namespace, obj.get("data"), packet_id)
        problem = _check(packet)
        if problem is not None:
            raise PacketError(problem, data)
        if packet.type is PacketType.EVENT or packet.type is PacketType.ACK:
            packet = Packet(packet.type, namespace, list(packet.data), packet_id)
        return packet


class MsgPackParser:
    """The Socket.IO parser of ``socket.io-msgpack-parser`` (see the module docstring).

    Raises:
        UsageError: the ``msgpack`` package is not installed.
    """

    def __init__(self) -> None:
        self._msgpack = _require_msgpack()

    def __repr__(self) -> str:
        return "MsgPackParser()"

    def encode(self, packet: Packet) -> list[Frame]:
        """One binary frame holding the MessagePack-encoded packet.

        Raises:
            ValueError: the packet breaks the protocol, or its data holds something
                MessagePack cannot encode.
        """
        packet = Packet(_normal_type(packet.type), packet.namespace, packet.data, packet.id)
        problem = _check(packet)
        if problem is not None:
            raise ValueError(problem)
        obj: dict[str, Any] = {"type": int(packet.type)}
        if packet.data is not None:
            obj["data"] = packet.data
        obj["nsp"] = packet.namespace
        if packet.id is not None:
            obj["id"] = packet.id
        try:
            frame: bytes = self._msgpack.packb(obj, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"cannot encode the packet with MessagePack: {exc}") from None
        return [frame]

    def decoder(self) -> MsgPackDecoder:
        """A new decoder for one connection."""
        return MsgPackDecoder()


MSGPACK_PARSER = MsgPackParser() if msgpack is not None else None
"""The parser to pass as ``parser=``; None when ``msgpack`` is not installed."""
