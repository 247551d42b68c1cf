"""The client's bookkeeping: its states, its URL, its send buffer, its sessions.

These are the small pieces :class:`wslearn.client.Client` is made of, kept apart so
the client module reads as the story of a connection. Only :class:`Session` holds
asyncio objects; the rest is plain data.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._client_transports import ClientTransport
from ._emitter import Emitter
from .exceptions import QueueFullError
from .packets import Frame, OpenInfo, Packet, Parser

__all__ = [
    "Buffered",
    "ClientState",
    "NamespaceState",
    "SendBuffer",
    "Session",
    "ack_data",
    "socketio_url",
]

_log = logging.getLogger("wslearn.client")


class ClientState(enum.Enum):
    """Where a :class:`~wslearn.client.Client` stands, for code and for UIs.

    ::

        DISCONNECTED --connect()--> CONNECTING --> CONNECTED
        CONNECTED --transport lost--> RECONNECTING --> CONNECTED
        CONNECTED --kick, refusal, gave up--> DISCONNECTED
        any --disconnect()--> CLOSED

    ``connect()`` may be called again from DISCONNECTED and CLOSED.
    """

    DISCONNECTED = "disconnected"
    """Not connected and not trying: never connected, kicked, refused, or gave up."""
    CONNECTING = "connecting"
    """``connect()`` is opening the first connection."""
    CONNECTED = "connected"
    """Every namespace is connected; emits go straight to the wire."""
    RECONNECTING = "reconnecting"
    """The transport was lost; waiting for a backoff delay or trying again. Emits
    are buffered."""
    CLOSED = "closed"
    """``disconnect()`` was called."""


def socketio_url(url: str, path: str = "socket.io") -> str:
    """Turn a server URL into the Engine.IO WebSocket endpoint.

    ``http://127.0.0.1:8000`` becomes
    ``ws://127.0.0.1:8000/socket.io/?EIO=4&transport=websocket``; query parameters
    of ``url`` are kept.

    Raises:
        ValueError: the scheme is not http, https, ws or wss, the host is missing,
            or the URL has a path (namespaces go in ``namespaces=``, the endpoint
            path in ``path=``).
    """
    parts = urlsplit(url)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    scheme = schemes.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"the URL must start with http://, https://, ws:// or wss://: {url!r}")
    if not parts.hostname:
        raise ValueError(f"the URL has no host: {url!r}")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"the URL should have no path, got {parts.path!r}: pass a namespace as "
            "namespaces=('/chat',) and a custom endpoint as path='...'"
        )
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("EIO", "transport")]
    query += [("EIO", "4"), ("transport", "websocket")]
    endpoint = "/" + path.strip("/") + "/"
    return urlunsplit((scheme, parts.netloc, endpoint, urlencode(query), ""))


def ack_data(value: Any) -> list[Any]:
    """The ACK arguments for a listener's return value.

    ``None`` acknowledges with no arguments, a tuple with its items, anything else
    with itself as the one argument.
    """
    if value is None:
        return []
    if isinstance(value, tuple):
        return list(value)
    return [value]


@dataclass(frozen=True)
class Buffered:
    """One emit waiting for the connection: its namespace and its encoded frames."""

    namespace: str
    frames: list[Frame]


class SendBuffer:
    """Emits made while the connection is down, kept in order up to ``capacity``.

    This is the one place the client buffers; the reliable outbox (ids, acks,
    exactly-once) replaces it later.

    Args:
        capacity: the most emits kept; one more raises QueueFullError.
    """

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError(f"the send buffer needs room for at least one emit, got {capacity}")
        self.capacity = capacity
        self._items: deque[Buffered] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Buffered) -> None:
        """Keep ``item`` after the others.

        Raises:
            QueueFullError: the buffer already holds ``capacity`` emits.
        """
        if len(self._items) >= self.capacity:
            raise QueueFullError(self.capacity)
        self._items.append(item)

    def peek(self) -> Buffered | None:
        """The oldest emit, left in place until :meth:`pop` (it may fail to send)."""
        return self._items[0] if self._items else None

    def pop(self) -> Buffered:
        """Remove and return the oldest emit, once it was sent."""
        return self._items.popleft()

    def clear(self) -> int:
        """Forget every buffered emit; return how many there were."""
        count = len(self._items)
        self._items.clear()
        return count


@dataclass(eq=False)
class NamespaceState:
    """One namespace the client connects to.

    Attributes:
        name: the namespace, e.g. ``"/"`` or ``"/chat"``.
        emitter: its listeners.
        sid: the id the server gave this namespace's socket, while connected.
        connected: the server accepted the CONNECT in the current session.
        active: False once the server kicked it: it is not reconnected.
        inbox: events that arrived before the session was ready, in order.
        pid: the server's private session id (connection state recovery), if any.
        offset: the last event offset received while ``pid`` was set.
        recovered: the last CONNECT resumed the previous session (same sid and
            rooms, missed events replayed).
    """

    name: str
    emitter: Emitter
    sid: str | None = None
    connected: bool = False
    active: bool = True
    inbox: list[Packet] = field(default_factory=list)
    pid: str | None = None
    offset: str | None = None
    recovered: bool = False


class Session:
    """One Engine.IO session of a client, from the OPEN packet to its close.

    Attributes:
        transport: what carries it now (WebSocket, or polling until an upgrade).
        info: the server's OPEN packet.
        decoder: turns received frames into packets.
        lock: held while a packet's frames are written, so attachments stay together.
        waiting: namespaces whose CONNECT is unanswered.
        refusals: CONNECT_ERRORs received during the handshake.
        settled: done once every namespace was answered.
        live: emits go straight to the wire.
        ready: received events are dispatched at once instead of kept in the inbox.
        reader: the task receiving frames; its result is the disconnect reason.
        websocket_failed: a WebSocket failed while this session was opened (no upgrade
            is tried then).
        callbacks: ack callbacks of :meth:`Client.emit_now`, by ack id; they are
            forgotten with the session, since acks never cross connections.
    """

    def __init__(
        self, transport: ClientTransport, info: OpenInfo, namespaces: list[str], parser: Parser
    ) -> None:
        self.transport = transport
        self.info = info
        self.decoder = parser.decoder()
        self.lock = asyncio.Lock()
        self.waiting = set(namespaces)
        self.refusals: list[Any] = []
        self.settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.live = False
        self.ready = False
        self.reader: asyncio.Task[str] | None = None
        self.callbacks: dict[int, Callable[..., object]] = {}
        self.websocket_failed = False

    async def close(self, *, polite: bool) -> None:
        """Close the transport: a closing handshake if the peer is alive, else at once."""
        await self.transport.close(polite=polite)

    def answered(self, namespace: str) -> None:
        """Record the server's answer to one CONNECT; settle when all are in."""
        self.waiting.discard(namespace)
        if not self.waiting and not self.settled.done():
            self.settled.set_result(None)
