"""Engine.IO v4 and Socket.IO v5 packets: a pure codec, no I/O.

On the WebSocket transport every Engine.IO packet is one WebSocket frame::

    text frame    <engine type digit>[payload]       "2" ping, "3" pong, "4..." message
    binary frame  raw bytes                          a Socket.IO binary attachment

A Socket.IO packet rides inside an Engine.IO message (``4``)::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

    40                              CONNECT to "/"
    40/chat,{"token":"abc"}         CONNECT to "/chat" with auth
    42["send-message",{"a":1}]      EVENT on "/"
    4212["join-room","r1"]          EVENT asking for ack 12
    4312["ok"]                      ACK 12
    451-["file",{"_placeholder":true,"num":0}]   BINARY_EVENT, one attachment follows

Use :func:`encode` to turn a :class:`Packet` into frames, :func:`encode_engine` for
Engine.IO control packets, and a :class:`Decoder` per connection to turn received
frames back into :class:`EnginePacket` and :class:`Packet` objects. Anything that
breaks the protocol raises :class:`~wslearn.exceptions.PacketError`, whose message
names what is wrong; the connection that sent it should be closed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from . import jsonwire
from .exceptions import PacketError

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "JSON_PARSER",
    "Decoder",
    "EnginePacket",
    "EngineType",
    "Frame",
    "JsonParser",
    "OpenInfo",
    "Packet",
    "PacketDecoder",
    "PacketType",
    "Parser",
    "decode_engine",
    "decode_open",
    "encode",
    "encode_engine",
    "encode_open",
]

Frame: TypeAlias = str | bytes
"""One WebSocket message: ``str`` for a text frame, ``bytes`` for a binary frame."""

DEFAULT_MAX_ATTACHMENTS = 10
"""How many binary attachments one packet may announce before it counts as abuse."""

MAX_ACK_ID = 2**53 - 1
"""The largest ack id: the largest integer a JavaScript peer represents exactly."""
MAX_TIMER_MS = 2**31 - 1
"""The largest ``pingInterval``/``pingTimeout`` accepted in an OPEN packet (about 24.8
days: the longest delay a JavaScript timer takes)."""
_MAX_ID = MAX_ACK_ID
_MAX_ID_DIGITS = len(str(MAX_ACK_ID))


class EngineType(enum.IntEnum):
    """Engine.IO packet types."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


class PacketType(enum.IntEnum):
    """Socket.IO packet types."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(frozen=True)
class EnginePacket:
    """An Engine.IO packet other than a Socket.IO message.

    Attributes:
        type: the Engine.IO packet type.
        data: the text after the type digit (``"probe"`` in ``"2probe"``), or the
            bytes of a binary Engine.IO message.
    """

    type: EngineType
    data: str | bytes = ""


@dataclass(frozen=True)
class Packet:
    """A Socket.IO packet.

    Attributes:
        type: the Socket.IO packet type. :func:`encode` turns ``EVENT`` and ``ACK``
            into their binary forms by itself when ``data`` holds bytes; a decoded
            packet keeps the type it had on the wire.
        namespace: ``"/"`` unless the packet names another namespace.
        data: the payload. EVENT: a list ``[name, *args]``. ACK: a list of the
            handler's return values. CONNECT: a dict (auth, or the server's
            ``{"sid": ...}``) or ``None``. CONNECT_ERROR: a dict with ``message``
            (a decoded one may also be a bare str, as python-socketio sends).
            DISCONNECT: ``None``. Bytes may sit anywhere inside lists and dicts.
        id: the ack id, or ``None`` when no acknowledgement is asked for.
    """

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None

    @property
    def event(self) -> str | None:
        """The event name of an EVENT packet, else ``None``."""
        if self.type in (PacketType.EVENT, PacketType.BINARY_EVENT) and self.data:
            name = self.data[0]
            return name if isinstance(name, str) else None
        return None

    @property
    def args(self) -> list[Any]:
        """The arguments of an EVENT packet (after the name) or of an ACK packet."""
        if self.type in (PacketType.EVENT, PacketType.BINARY_EVENT):
            return list(self.data[1:])
        if self.type in (PacketType.ACK, PacketType.BINARY_ACK):
            return list(self.data)
        return []


@dataclass(frozen=True)
class OpenInfo:
    """The contents of the Engine.IO OPEN packet the server sends first.

    Times are in milliseconds, as on the wire.
    """

    sid: str
    ping_interval: int = 25_000
    ping_timeout: int = 20_000
    max_payload: int = 1_000_000
    upgrades: tuple[str, ...] = field(default_factory=tuple)


# -- encoding -------------------------------------------------------------------------


def _dumps(data: Any) -> str:
    text, attachments = jsonwire.dumps(data)
    if attachments:
        raise ValueError("bytes cannot be sent here (only in EVENT and ACK payloads)")
    return text


def encode_engine(packet: EnginePacket) -> Frame:
    """Encode an Engine.IO packet as one WebSocket frame.

    A ``bytes`` payload on a MESSAGE becomes a binary frame; everything else is text.
    """
    if isinstance(packet.data, bytes):
        if packet.type is not EngineType.MESSAGE:
            raise ValueError("only MESSAGE packets can carry bytes")
        return packet.data
    return f"{int(packet.type)}{packet.data}"


def encode_open(info: OpenInfo) -> str:
    """Encode the Engine.IO OPEN packet (``0{"sid":...}``)."""
    body = {
        "sid": info.sid,
        "upgrades": list(info.upgrades),
        "pingInterval": info.ping_interval,
        "pingTimeout": info.ping_timeout,
        "maxPayload": info.max_payload,
    }
    return "0" + _dumps(body)


def decode_open(frame: Frame) -> OpenInfo:
    """Decode the Engine.IO OPEN packet a client receives first.

    Raises:
        PacketError: the frame is not a well-formed OPEN packet.
    """
    if not isinstance(frame, str) or not frame.startswith("0"):
        raise PacketError("expected the Engine.IO OPEN packet first", frame)
    body = _loads(frame[1:], frame)
    if not isinstance(body, dict) or not isinstance(body.get("sid"), str):
        raise PacketError("OPEN packet without a sid", frame)
    upgrades = body.get("upgrades", [])
    try:
        if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
            raise ValueError("upgrades must be a list of transport names")
        return OpenInfo(
            sid=body["sid"],
            ping_interval=_bounded_int("pingInterval", body.get("pingInterval", 25_000)),
            ping_timeout=_bounded_int("pingTimeout", body.get("pingTimeout", 20_000)),
            max_payload=_bounded_int("maxPayload", body.get("maxPayload", 1_000_000), MAX_ACK_ID),
            upgrades=tuple(upgrades),
        )
    except ValueError as exc:
        raise PacketError(f"OPEN packet has a bad field ({exc})", frame) from None


def _bounded_int(name: str, value: Any, most: int = MAX_TIMER_MS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
        shown = repr(value) if len(repr(value)) <= 24 else repr(value)[:20] + "..."
        raise ValueError(f"{name} must be an integer from 1 to {most}, got {shown}")
    return value


def encode(packet: Packet) -> list[Frame]:
    """Encode a Socket.IO packet as the WebSocket frames that carry it.

    Returns:
        The frames in sending order: always one text frame (with the Engine.IO
        ``4`` prefix) followed by one binary frame per attachment.

    Raises:
        ValueError: the packet cannot be represented (an EVENT without a name, a
            namespace with a comma, an ack id out of range, NaN in the payload).
    """
    kind = packet.type
    data = packet.data
    common = kind is PacketType.EVENT and packet.namespace == "/" and packet.id is None
    if common and type(data) is list and data and type(data[0]) is str:
        text, attachments = jsonwire.dumps(data)
        if not attachments:  # the common case: an event on "/", no ack, no bytes
            return ["42" + text]
    _check_outgoing(packet)
    attachments = []
    if data is None:
        text = ""
    else:
        text, attachments = jsonwire.dumps(data)
    if attachments:
        if kind is PacketType.EVENT:
            kind = PacketType.BINARY_EVENT
        elif kind is PacketType.ACK:
            kind = PacketType.BINARY_ACK
        elif kind not in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
            raise ValueError(f"{kind.name} packets cannot carry bytes")
    elif kind is PacketType.BINARY_EVENT:
        kind = PacketType.EVENT
    elif kind is PacketType.BINARY_ACK:
        kind = PacketType.ACK

    parts = ["4", str(int(kind))]
    if attachments:
        parts.append(f"{len(attachments)}-")
    if packet.namespace != "/":
        parts.append(packet.namespace + ",")
    if packet.id is not None:
        parts.append(str(packet.id))
    parts.append(text)
    frames: list[Frame] = ["".join(parts)]
    frames.extend(attachments)
    return frames


def _check_outgoing(packet: Packet) -> None:
    ns = packet.namespace
    if not ns.startswith("/") or "," in ns:
        raise ValueError(f"namespace must start with '/' and contain no comma: {ns!r}")
    if packet.id is not None and not 0 <= packet.id <= _MAX_ID:
        raise ValueError(f"ack id out of range: {packet.id}")
    kind = packet.type
    if kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
        if not isinstance(packet.data, list | tuple) or not packet.data:
            raise ValueError("an EVENT needs data = [name, *args]")
        if not isinstance(packet.data[0], str):
            raise ValueError("an EVENT's first element must be its name (a str)")
    elif kind in (PacketType.ACK, PacketType.BINARY_ACK):
        if packet.id is None:
            raise ValueError("an ACK needs the id it acknowledges")
        if not isinstance(packet.data, list | tuple):
            raise ValueError("an ACK's data must be a list")
    elif kind is PacketType.CONNECT_ERROR and (
        not isinstance(packet.data, Mapping) or "message" not in packet.data
    ):
        raise ValueError('a CONNECT_ERROR needs data = {"message": ...}')


# -- decoding -------------------------------------------------------------------------


def _loads(text: str, frame: Frame) -> Any:
    try:
        return jsonwire.loads(text)
    except (ValueError, RecursionError) as exc:
        why = str(exc) if "too large" in str(exc) or "digits" in str(exc) else ""
        raise PacketError(f"payload is not valid JSON{': ' + why if why else ''}", frame) from None


def _read_int(text: str, pos: int, max_digits: int, what: str) -> tuple[int | None, int]:
    """Read the decimal digits at ``pos``; more than ``max_digits`` is a PacketError,
    so that a peer cannot make the decoder convert a number of any length."""
    end = pos
    limit = min(len(text), pos + max_digits + 1)
    while end < limit and "0" <= text[end] <= "9":
        end += 1
    if end == pos:
        return None, pos
    if end - pos > max_digits:
        raise PacketError(f"{what} out of range (more than {max_digits} digits)", text[:40])
    return int(text[pos:end]), end


@dataclass
class _Pending:
    header: Packet
    expected: int
    received: list[bytes]
    frame: str


class Decoder:
    """Turns the frames of one connection into packets (sans-I/O).

    Feed every received WebSocket message to :meth:`feed`, in order::

        decoder = Decoder()
        for frame in frames:
            result = decoder.feed(frame)   # EnginePacket, Packet, or None

    ``None`` means a binary packet is waiting for more attachments. After a
    :class:`~wslearn.exceptions.PacketError` the connection is broken and should be
    closed: the decoder's state is no longer meaningful.

    Args:
        max_attachments: the most binary attachments one packet may announce.
    """

    def __init__(self, max_attachments: int = DEFAULT_MAX_ATTACHMENTS) -> None:
        self.max_attachments = max_attachments
        self._pending: _Pending | None = None

    @property
    def awaiting_attachments(self) -> int:
        """How many binary frames the current packet still needs."""
        if self._pending is None:
            return 0
        return self._pending.expected - len(self._pending.received)

    def feed(self, frame: Frame) -> EnginePacket | Packet | None:
        """Decode one WebSocket message.

        Returns:
            An :class:`EnginePacket` for Engine.IO control packets, a complete
            :class:`Packet` for Socket.IO messages, or ``None`` while a binary
            packet still waits for attachments.

        Raises:
            PacketError: the frame breaks the protocol; the message says how.
        """
        if isinstance(frame, bytes | bytearray | memoryview):
            return self._feed_binary(bytes(frame))
        if self._pending is not None:
            raise PacketError(
                f"text frame while {self.awaiting_attachments} binary attachment(s) "
                "were still expected",
                frame,
            )
        if frame.startswith("42["):
            # The common case, an event on "/" with no ack: straight to JSON.
            data = _loads(frame[2:], frame)
            if type(data) is list and data and type(data[0]) is str:
                return Packet(PacketType.EVENT, "/", data, None)
        if not frame:
            raise PacketError("empty frame")
        head = frame[0]
        if not ("0" <= head <= "6"):
            raise PacketError("unknown Engine.IO packet type", frame)
        kind = EngineType(int(head))
        if kind is not EngineType.MESSAGE:
            return EnginePacket(kind, frame[1:])
        packet, attachments = self._parse(frame)
        if attachments:
            self._pending = _Pending(packet, attachments, [], frame)
            return None
        return packet

    def _feed_binary(self, data: bytes) -> Packet | None:
        pending = self._pending
        if pending is None:
            raise PacketError("binary frame that no packet announced", data)
        pending.received.append(data)
        if len(pending.received) < pending.expected:
            return None
        self._pending = None
        header = pending.header
        payload = _reconstruct(header.data, pending.received, pending.frame)
        return Packet(header.type, header.namespace, payload, header.id)

    def _parse(self, frame: str) -> tuple[Packet, int]:
        text = frame[1:]  # drop the Engine.IO "4"
        if not text:
            raise PacketError("empty Socket.IO packet", frame)
        if not ("0" <= text[0] <= "6"):
            raise PacketError("unknown Socket.IO packet type", frame)
        kind = PacketType(int(text[0]))
        pos = 1

        attachments = 0
        if kind in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
            count, end = _read_int(text, pos, len(str(self.max_attachments)), "attachment count")
            if count is None or end >= len(text) or text[end] != "-":
                raise PacketError("binary packet without an attachment count", frame)
            if not 1 <= count <= self.max_attachments:
                raise PacketError(f"attachment count must be 1 to {self.max_attachments}", frame)
            attachments, pos = count, end + 1

        namespace = "/"
        if pos < len(text) and text[pos] == "/":
            comma = text.find(",", pos)
            if comma == -1:
                namespace, pos = text[pos:], len(text)
            else:
                namespace, pos = text[pos:comma], comma + 1

        ack_id, pos = _read_int(text, pos, _MAX_ID_DIGITS, "ack id")
        if ack_id is not None and ack_id > _MAX_ID:
            raise PacketError("ack id out of range", frame)

        rest = text[pos:]
        data = _loads(rest, frame) if rest else None
        packet = Packet(kind, namespace, data, ack_id)
        _check_incoming(packet, frame)
        if attachments:
            # Check the placeholders now, so a lying header fails before any binary
            # frame is buffered for it.
            _reconstruct(data, [b""] * attachments, frame)
        return packet, attachments


def _check_incoming(packet: Packet, frame: str) -> None:
    kind, data = packet.type, packet.data
    if kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
        if not isinstance(data, list) or not data:
            raise PacketError("EVENT payload must be a non-empty JSON array", frame)
        if not isinstance(data[0], str):
            raise PacketError("EVENT name must be a string", frame)
    elif kind in (PacketType.ACK, PacketType.BINARY_ACK):
        if packet.id is None:
            raise PacketError("ACK without an id", frame)
        if not isinstance(data, list):
            raise PacketError("ACK payload must be a JSON array", frame)
    elif kind is PacketType.CONNECT:
        if data is not None and not isinstance(data, dict):
            raise PacketError("CONNECT payload must be a JSON object", frame)
    elif kind is PacketType.CONNECT_ERROR:
        # python-socketio refuses an unknown namespace with a bare string
        # (44/nope,"Unable to connect"); the Node parser accepts both forms too.
        if not isinstance(data, dict | str):
            raise PacketError("CONNECT_ERROR payload must be a JSON object or string", frame)
    elif kind is PacketType.DISCONNECT and data is not None:
        raise PacketError("DISCONNECT carries no payload", frame)
    control = (PacketType.CONNECT, PacketType.DISCONNECT, PacketType.CONNECT_ERROR)
    if kind in control and packet.id is not None:
        raise PacketError(f"{kind.name} carries no ack id", frame)


def _reconstruct(data: Any, attachments: Sequence[bytes], frame: str) -> Any:
    """Put the attachments back where their placeholders stand."""
    used: set[int] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("_placeholder") is True and "num" in node:
                num = node["num"]
                if isinstance(num, bool) or not isinstance(num, int):
                    raise PacketError("placeholder num must be an integer", frame)
                if not 0 <= num < len(attachments):
                    raise PacketError("placeholder points past the attachments", frame)
                used.add(num)
                return attachments[num]
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    try:
        result = walk(data)
    except RecursionError:  # json.loads accepts a little deeper than walk() can go
        raise PacketError("payload nested too deeply", frame) from None
    if len(used) != len(attachments):
        raise PacketError("attachment count does not match the placeholders", frame)
    return result


# -- parsers --------------------------------------------------------------------------


def decode_engine(frame: str) -> EnginePacket:
    """Decode an Engine.IO control packet (any text frame that is not a MESSAGE).

    Raises:
        PacketError: the frame is empty or its type digit is unknown.
    """
    if not frame:
        raise PacketError("empty frame")
    head = frame[0]
    if not ("0" <= head <= "6"):
        raise PacketError("unknown Engine.IO packet type", frame)
    return EnginePacket(EngineType(int(head)), frame[1:])


class PacketDecoder(Protocol):
    """What a :class:`Parser` hands each connection to read Socket.IO packets."""

    def feed(self, frame: Frame) -> EnginePacket | Packet | None:
        """Decode one Engine.IO MESSAGE frame (text starting with ``4``, or bytes).

        Returns a complete packet, or ``None`` while one still waits for frames.
        (The JSON decoder also accepts Engine.IO control packets, hence
        :class:`EnginePacket`; sessions decode those with :func:`decode_engine`.)

        Raises:
            PacketError: the frame breaks the protocol.
        """
        ...


class Parser(Protocol):
    """How Socket.IO packets become WebSocket frames and back.

    The default is :data:`JSON_PARSER` (the reference parser: JSON text plus binary
    attachments). Another parser, such as a MessagePack one, changes only what a
    Socket.IO packet looks like inside an Engine.IO MESSAGE; pass it to both ends
    as ``Server(parser=...)`` and ``Client(parser=...)``.
    """

    def encode(self, packet: Packet) -> list[Frame]:
        """The frames of one packet, in sending order.

        Raises:
            ValueError: the packet cannot be represented.
        """
        ...

    def decoder(self) -> PacketDecoder:
        """A fresh decoder for one connection."""
        ...


class JsonParser:
    """The reference Socket.IO parser: :func:`encode` and :class:`Decoder`."""

    encode = staticmethod(encode)

    def decoder(self) -> Decoder:
        """A new :class:`Decoder`."""
        return Decoder()


JSON_PARSER: Parser = JsonParser()
"""The default parser."""
