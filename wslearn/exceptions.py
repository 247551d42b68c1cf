"""One error tree for everything wslearn raises.

::

    WslearnError
    ├── ProtocolError            the peer broke a protocol rule (remote fault)
    │   ├── HandshakeError       an HTTP upgrade request or response is malformed
    │   ├── FrameError           a WebSocket frame cannot be decoded
    │   └── PacketError          an Engine.IO / Socket.IO packet is malformed
    ├── UsageError               wslearn was called the wrong way (local fault)
    │   └── KernelLoopError      blocking asyncio call inside a running event loop
    ├── RoomLimitError           a room name too long, or a socket in too many rooms
    ├── ConnectRefusedError      the server answered CONNECT with CONNECT_ERROR
    ├── EventRefusedError        event middleware refused an incoming event
    ├── TokenError               a JSON Web Token was refused (missing, forged, expired...)
    ├── NotConnectedError        an emit needs a connection and there is none
    ├── AckTimeoutError          no acknowledgement arrived in time (also a TimeoutError)
    ├── QueueFullError           the offline queue is full and refuses new messages
    ├── ConnectFailedError       the client could not reach the server (also a ConnectionError)
    └── MessageDroppedError      a queued message was dropped before the server acked it

Remote faults (:class:`ProtocolError`) close the offending connection and nothing
else. Local faults (:class:`UsageError`) mean the calling code must change; their
message says how.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeoutError",
    "ConnectFailedError",
    "ConnectRefusedError",
    "EventRefusedError",
    "FrameError",
    "HandshakeError",
    "KernelLoopError",
    "MessageDroppedError",
    "NotConnectedError",
    "PacketError",
    "ProtocolError",
    "QueueFullError",
    "RoomLimitError",
    "TokenError",
    "UsageError",
    "WslearnError",
]


class WslearnError(Exception):
    """Base class of every exception raised by wslearn."""


class ProtocolError(WslearnError):
    """The peer sent something the protocol does not allow."""


class HandshakeError(ProtocolError):
    """An HTTP upgrade request or response is malformed or refused."""


class FrameError(ProtocolError):
    """A WebSocket frame cannot be decoded."""


class PacketError(ProtocolError):
    """An Engine.IO or Socket.IO packet is malformed.

    Attributes:
        reason: what is wrong, in a few words.
        data: the offending input, shortened for display.
    """

    def __init__(self, reason: str, data: str | bytes | None = None) -> None:
        self.reason = reason
        self.data = data
        super().__init__(reason)

    def __str__(self) -> str:
        if self.data is None:
            return self.reason
        shown = self.data
        if len(shown) > 60:
            shown = shown[:57] + ("..." if isinstance(shown, str) else b"...")  # type: ignore[operator]
        return f"{self.reason}: {shown!r}"


class UsageError(WslearnError):
    """wslearn was called in a way it does not support; the message says what to do."""


class KernelLoopError(UsageError, RuntimeError):
    """A blocking asyncio entry point was called while an event loop is running."""


class RoomLimitError(WslearnError, ValueError):
    """A socket cannot join that room: a name that is too long (or not a string),
    or a socket already in as many rooms as the server allows."""


class ConnectRefusedError(WslearnError):
    """The server refused a namespace CONNECT with a CONNECT_ERROR packet.

    Attributes:
        message: the server's ``message`` field.
        data: the server's optional ``data`` field.
        namespace: the namespace that was refused.
    """

    def __init__(self, message: str, data: Any = None, namespace: str = "/") -> None:
        self.message = message
        self.data = data
        self.namespace = namespace
        super().__init__(message)

    def __str__(self) -> str:
        return f"connection to namespace {self.namespace!r} refused: {self.message}"


class EventRefusedError(WslearnError):
    """Raised by event middleware to refuse an incoming event; the handler never runs.

    The client is told, never left in silence: with an ack id it gets the ack
    ``[{"error": {"message": message, **details}}]``, else an ``error`` event
    ``{"message": message, "event": name, **details}``.

    Attributes:
        message: what was wrong, for the client's user.
        details: extra JSON fields for the client, e.g. ``field="roomId"`` or
            ``retryAfter=1.5``.
    """

    def __init__(self, message: str, **details: Any) -> None:
        self.message = message
        self.details = details
        super().__init__(message)

    def __str__(self) -> str:
        return f"event refused: {self.message}"


class TokenError(WslearnError):
    """A JSON Web Token was refused by :mod:`wslearn.auth`.

    The message never contains the token, so it is safe to log and to show.

    Attributes:
        reason: the reason class, one of :class:`wslearn.claims.TokenProblem`
            (``"missing"``, ``"expired"``, ``"bad signature"``, ...).
        message: what was wrong, in a sentence.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(reason, message)

    def __str__(self) -> str:
        return f"token refused ({self.reason}): {self.message}"


class NotConnectedError(WslearnError):
    """An operation needs a live connection and there is none."""


class AckTimeoutError(WslearnError, TimeoutError):
    """No acknowledgement arrived within the timeout.

    Attributes:
        event: the event that asked for the acknowledgement.
        timeout: the timeout in seconds.
    """

    def __init__(self, event: str, timeout: float) -> None:
        self.event = event
        self.timeout = timeout
        super().__init__(event, timeout)

    def __str__(self) -> str:
        return f"no acknowledgement for {self.event!r} within {self.timeout:g} s"


class QueueFullError(WslearnError):
    """The offline queue is at capacity and its policy refuses new messages.

    Attributes:
        capacity: the queue's bound.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        super().__init__(capacity)

    def __str__(self) -> str:
        return (
            f"the offline queue is full ({self.capacity} messages); wait for the "
            "connection to come back, or use the 'drop-oldest' overflow policy"
        )


class ConnectFailedError(WslearnError, ConnectionError):
    """The client could not open a Socket.IO connection to the server.

    The WebSocket could not be opened, the server did not answer in time, or it
    closed the connection during the handshake. A refusal by the server's
    application is a :class:`ConnectRefusedError` instead.

    Attributes:
        url: the URL the client tried.
        reason: what went wrong, in a few words.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(url, reason)

    def __str__(self) -> str:
        return (
            f"could not connect to {self.url}: {self.reason}; check that the server "
            "is running and that the URL and port are right"
        )


class MessageDroppedError(WslearnError):
    """A queued message left the outbox without an acknowledgement.

    The ``"drop-oldest"`` policy pushed it out, or it can never be sent (larger
    than the server's maxPayload).

    Attributes:
        entry_id: the message's id.
        why: what happened to it, in a few words.
    """

    def __init__(self, entry_id: str, why: str) -> None:
        self.entry_id = entry_id
        self.why = why
        super().__init__(entry_id, why)

    def __str__(self) -> str:
        return f"message {self.entry_id} was dropped before the server acked it: {self.why}"
