"""Namespaces, sockets and broadcasts: the part of the server a handler sees.

A :class:`Namespace` (``server.of("/chat")``) holds event handlers and middleware. Each
client that connects to it gets a :class:`Socket`, which the handlers receive first::

    @server.on("join-room")
    async def join_room(socket: Socket, room_id: str) -> None:
        socket.join(room_id)
        await socket.to(room_id).emit("user-joined", socket.id)

A handler's return value becomes the acknowledgement when the client asked for one:
``None`` sends ``[]``, a tuple sends its items, anything else is sent as ``[value]``.
A handler (or event middleware, see :meth:`Namespace.use_event`) that raises
:class:`~wslearn.exceptions.EventRefusedError` refuses the event: the client gets the
ack ``[{"error": {...}}]`` or an ``error`` event naming it.

Sending to many sockets goes through a :class:`~wslearn.broadcast.BroadcastOperator`, an immutable
description of "who" (rooms, excluded rooms, excluded sockets) whose :meth:`emit`
encodes the packet once and sends the same frames to every member.

Handlers may be plain functions or coroutines. A plain handler runs at once, as its
packet is read, with nothing scheduled: the fastest path, and emits work from it
(``socket.emit(...)`` needs no ``await``). A coroutine handler runs in a task of its
own, so it may await (``await socket.call(...)``); on Python 3.12 and later that task
starts eagerly and costs nothing more when the handler finishes without waiting.
Handlers start in the order their packets arrived.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import itertools
import logging
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, overload

from ._outgoing import Outgoing
from .broadcast import RESERVED_EVENTS, SENT, BroadcastOperator, Sent, check_outgoing_name
from .exceptions import (
    AckTimeoutError,
    ConnectRefusedError,
    EventRefusedError,
    NotConnectedError,
    RoomLimitError,
    UsageError,
)
from .packets import Packet, PacketType
from .recovery import LoggedEvent, SavedSession
from .rooms import ALL

if TYPE_CHECKING:
    from ._engine import EngineSession
    from .server import Server

__all__ = [
    "CATCH_ALL",
    "MAX_EVENT_NAME_LENGTH",
    "DisconnectReason",
    "EventMiddleware",
    "Handshake",
    "Middleware",
    "Namespace",
    "Socket",
]

logger = logging.getLogger("wslearn.server")

Handler: TypeAlias = Callable[..., Any]
"""An event handler, sync or async: ``(socket, *args)``; its result is the ack."""
Middleware: TypeAlias = Callable[["Socket", dict[str, Any]], Any]
"""``(socket, auth) -> None``, sync or async; raise ConnectRefusedError to refuse."""
EventMiddleware: TypeAlias = Callable[["Socket", str, list[Any]], Any]
"""``(socket, event, args) -> None | list``, sync or async, run before every event's
handler: return None to pass, a list to replace the arguments, raise
:class:`~wslearn.exceptions.EventRefusedError` to refuse (see :meth:`Namespace.use_event`)."""
H = TypeVar("H", bound=Callable[..., Any])

CATCH_ALL = "*"
"""Register a handler under this name to receive events that have no handler of their
own, as ``(socket, event, *args)``."""

MAX_EVENT_NAME_LENGTH = 256
_DUNDER = re.compile(r"^__\w*__$")
_LIFECYCLE = frozenset({"connect", "disconnect", CATCH_ALL})  # registered, never sent


class DisconnectReason(enum.StrEnum):
    """Why a socket left its namespace; the ``disconnect`` handler receives it."""

    CLIENT_NAMESPACE = "client namespace disconnect"  # the client sent 41
    SERVER_NAMESPACE = "server namespace disconnect"  # socket.disconnect(): a kick
    FORCED_CLOSE = "forced close"  # socket.disconnect(close=True)
    TRANSPORT_CLOSE = "transport close"  # the WebSocket closed (or Engine.IO "1")
    TRANSPORT_ERROR = "transport error"  # TCP reset, wrong heartbeat direction
    PING_TIMEOUT = "ping timeout"  # no pong within pingTimeout
    PARSE_ERROR = "parse error"  # a malformed packet
    SLOW_CLIENT = "slow client"  # the outgoing queue overflowed
    SERVER_SHUTDOWN = "server shutting down"  # server.stop()
    TOKEN_EXPIRED = "token expired"  # wslearn.auth closed it; the client reconnects


RECOVERABLE = frozenset(
    {
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.SERVER_SHUTDOWN,
    }
)
"""Disconnect reasons after which connection state recovery keeps the socket's state
(the transport failed); a kick or a client that left on purpose starts afresh."""


@dataclass(frozen=True)
class Handshake:
    """What the client sent when it connected.

    Attributes:
        auth: the CONNECT packet's auth object (``{}`` when it sent none).
        headers: the HTTP headers of the WebSocket upgrade request.
        address: the client's IP address.
        query: the query parameters of the upgrade request (first value of each).
    """

    auth: dict[str, Any]
    headers: Mapping[str, str]
    address: str
    query: Mapping[str, str]


def event_name_problem(name: str) -> str | None:
    """Say what is wrong with an event name a client sent, or ``None`` if it is fine."""
    if len(name) > MAX_EVENT_NAME_LENGTH:
        return f"event name too long ({len(name)} characters, at most {MAX_EVENT_NAME_LENGTH})"
    if not name or not name.isprintable():
        return "event name must be non-empty printable text"
    if name in RESERVED_EVENTS or _DUNDER.match(name) or name == CATCH_ALL:
        return f"event name {name!r} is reserved"
    return None


def ack_arguments(result: Any) -> list[Any]:
    """Turn a handler's return value into the ACK's argument list."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


async def run_event_middleware(
    chain: Iterable[EventMiddleware], socket: Socket, event: str, args: list[Any]
) -> list[Any]:
    """Run event middleware in order; return the arguments the handler gets.

    Raises:
        EventRefusedError: a middleware refused the event (the rest do not run).
        UsageError: a middleware returned something that is neither None nor a list.
    """
    current = list(args)
    for middleware in chain:
        result = await call_handler(middleware, socket, event, current)
        if result is None:
            continue
        if not isinstance(result, list):
            raise UsageError(
                f"event middleware {middleware!r} returned {type(result).__name__}; "
                "return None to pass or a list of arguments to replace them"
            )
        current = result
    return current


async def refuse_event(
    socket: Socket, event: str, ack: int | None, refusal: EventRefusedError
) -> None:
    """Tell the client its event was refused: as the ack's error, or an ``error`` event."""
    tell_refused(socket, event, ack, refusal)


def tell_refused(socket: Socket, event: str, ack: int | None, refusal: EventRefusedError) -> None:
    """:func:`refuse_event`, without waiting (sending never waits)."""
    details = refusal.details
    for attempt in (details, {}):
        try:
            if ack is not None:
                error = {"message": refusal.message, **attempt}
                socket._send(Packet(PacketType.ACK, socket.namespace, [{"error": error}], ack))
            else:
                socket.emit("error", {"message": refusal.message, "event": event, **attempt})
            return
        except (TypeError, ValueError):
            # Details that cannot be sent must not leave the client in silence.
            logger.error("the refusal details of %r are not JSON; sent without them", event)


async def call_handler(handler: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async callable and return its (awaited) result."""
    result = handler(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


_EAGER = sys.version_info >= (3, 12)


@dataclass(frozen=True, slots=True)
class _Arity:
    """How many positional arguments a handler takes, and their names."""

    least: int
    most: float
    names: tuple[str, ...]

    def problem(self, count: int) -> str | None:
        """What is wrong with calling the handler with ``count`` arguments, or None."""
        if self.least <= count <= self.most:
            return None
        shown = ", ".join(self.names[1:]) + (", ..." if self.most == float("inf") else "")
        return f"it takes ({shown}), got {count - 1} {_plural(count - 1)}"


def _arity(handler: Callable[..., Any]) -> _Arity | None:
    """How many positional arguments ``handler`` takes, computed once at registration,
    so that a call with the wrong number is answered with an error event naming the
    parameters (one comparison per event). None when it cannot be known: the handler
    is then just called, and a TypeError reported as a handler failure."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins have none
        return None
    least, most, names = 0, 0.0, []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            most += 1
            names.append(parameter.name)
            if parameter.default is parameter.empty:
                least += 1
        elif parameter.kind is parameter.VAR_POSITIONAL:
            most = float("inf")
        elif parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            return None
    return _Arity(least, most, tuple(names))


def _plural(count: float) -> str:
    return "argument" if count == 1 else "arguments"


class SocketState(enum.Enum):
    """Where a socket is in its life."""

    CONNECTING = "connecting"  # middleware and connect handler are running
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class Socket:
    """One client's presence in one namespace.

    Attributes:
        id: this socket's id (also the name of its private room).
        namespace: the namespace name, e.g. ``"/"`` or ``"/chat"``.
        data: a dict for your own per-socket data (user name, ...).
        handshake: what the client sent when it connected.
    """

    def __init__(self, namespace: Namespace, connection: EngineSession, handshake: Handshake):
        self.id = secrets.token_urlsafe(15)
        self.pid: str | None = None
        """The private session id of connection state recovery (None when off)."""
        self.recovered = False
        """True when this socket took over a dropped one's id, rooms and data."""
        self.namespace = namespace.name
        self.data: dict[str, Any] = {}
        self.handshake = handshake
        self.state = SocketState.CONNECTING
        self._nsp = namespace
        self._conn = connection
        self._ack_ids = itertools.count()
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._backlog: list[Packet] = []  # events that arrived while CONNECTING
        self._restored_rooms: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.namespace} {self.state.value}>"

    @property
    def connected(self) -> bool:
        """True from the CONNECT reply until the socket leaves the namespace."""
        return self.state is not SocketState.DISCONNECTED and self.id in self._nsp.sockets

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms this socket is in, including its own."""
        return self._nsp.server.registry.rooms_of(self.namespace, self.id)

    def join(self, room: str) -> None:
        """Enter a room of this namespace (does nothing once disconnected).

        Raises:
            UsageError: called from middleware, before the socket is connected.
            RoomLimitError: the name is too long (over the registry's
                ``max_room_name_length``, 256 by default) or the socket is already in
                ``max_rooms_per_socket`` rooms (100 by default); see
                :class:`~wslearn.rooms.RoomRegistry`.
        """
        if self.state is SocketState.CONNECTING and self.id not in self._nsp.sockets:
            raise UsageError(
                f"socket {self.id} is not connected yet, so it cannot join {room!r}: "
                "join rooms in the 'connect' handler (or later), not in middleware"
            )
        if self.connected:
            self._nsp.server.registry.join(self.namespace, self.id, room)

    def leave(self, room: str) -> None:
        """Leave a room (does nothing if not in it)."""
        self._nsp.server.registry.leave(self.namespace, self.id, room)

    def emit(self, event: str, *args: Any) -> Sent:
        """Send an event to this client (dropped silently once it is disconnected).

        It is sent before this returns; ``await`` is optional (see
        :class:`~wslearn.broadcast.Sent`).

        Raises:
            ValueError: the arguments cannot be sent (not JSON, not valid Unicode).
            UsageError: the event name is reserved.
        """
        check_outgoing_name(event)
        data = [event, *args]
        store = self._nsp.server.recovery
        if store is not None and self.state is not SocketState.DISCONNECTED:
            # Fail before logging: a logged event that cannot be encoded would break
            # this socket's recovery (see BroadcastOperator.emit).
            self._nsp.server.parser.encode(Packet(PacketType.EVENT, self.namespace, data))
            now = asyncio.get_running_loop().time()
            data = store.log(self.namespace, frozenset({self.id}), data, now)
        self._send(Packet(PacketType.EVENT, self.namespace, data))
        return SENT

    def emit_error(self, message: str, **details: Any) -> Sent:
        """Send the ``error`` event: ``{"message": message, **details}``."""
        return self.emit("error", {"message": message, **details})

    def to(self, room: str) -> BroadcastOperator:
        """Broadcast to a room, leaving this socket out (as ``socket.to`` in Socket.IO)."""
        return BroadcastOperator(self._nsp, frozenset({room}), except_sids=frozenset({self.id}))

    @property
    def broadcast(self) -> BroadcastOperator:
        """Broadcast to every socket of the namespace except this one."""
        return BroadcastOperator(self._nsp, ALL, except_sids=frozenset({self.id}))

    # The timeout is the ack deadline, part of the call (as Socket.IO's emitWithAck).
    async def call(self, event: str, *args: Any, timeout: float = 5.0) -> list[Any]:  # noqa: ASYNC109
        """Emit an event and wait for the client's acknowledgement.

        Returns:
            The arguments the client passed to its ack callback.

        Raises:
            AckTimeoutError: no ack within ``timeout`` seconds.
            NotConnectedError: the socket is (or becomes) disconnected.
        """
        check_outgoing_name(event)
        if not self.connected:
            raise NotConnectedError(f"socket {self.id} is disconnected; cannot call {event!r}")
        ack_id = next(self._ack_ids)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            self._send(Packet(PacketType.EVENT, self.namespace, [event, *args], ack_id))
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise AckTimeoutError(event, timeout) from None
        finally:
            self._acks.pop(ack_id, None)

    async def disconnect(self, close: bool = False) -> None:
        """Kick this socket: send DISCONNECT, so the client does not reconnect.

        Args:
            close: also close the whole connection. As in the reference server,
                every namespace of this client gets its DISCONNECT first, so none
                of them reconnects (a bare close would look like a network failure).
        """
        if not close:
            self._nsp.remove(self, DisconnectReason.SERVER_NAMESPACE, notify_client=True)
            return
        self._nsp.remove(self, DisconnectReason.FORCED_CLOSE, notify_client=True)
        for socket in list(self._conn.sockets.values()):
            socket._nsp.remove(socket, DisconnectReason.FORCED_CLOSE, notify_client=True)
        await self._conn.close_after_flush()

    def _send(self, packet: Packet) -> None:
        if self.state is not SocketState.DISCONNECTED:
            self._conn.send(Outgoing(self._nsp.server.parser.encode(packet)))

    def _resolve_ack(self, ack_id: int, args: list[Any]) -> None:
        future = self._acks.pop(ack_id, None)
        if future is None:
            logger.debug(
                "socket %s: ignored ack %d, never issued or already answered", self.id, ack_id
            )
        elif not future.done():
            future.set_result(args)

    def _fail_acks(self) -> None:
        for future in self._acks.values():
            if not future.done():
                future.set_exception(NotConnectedError(f"socket {self.id} disconnected"))
        self._acks.clear()


class Namespace:
    """A namespace: its handlers, middleware and connected sockets.

    Get one with ``server.of(name)``; ``"/"`` always exists.

    Attributes:
        name: e.g. ``"/"`` or ``"/chat"``.
        server: the server it belongs to.
        sockets: the connected sockets by id.
    """

    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        self.name = name
        self.sockets: dict[str, Socket] = {}
        self._handlers: dict[str, Handler] = {}
        self._arities: dict[str, _Arity | None] = {}
        self._middleware: list[Middleware] = []
        self._event_middleware: list[EventMiddleware] = []

    def __repr__(self) -> str:
        return f"<Namespace {self.name} sockets={len(self.sockets)}>"

    @property
    def rooms(self) -> frozenset[str]:
        """The non-empty rooms of this namespace, sockets' own rooms included."""
        return self.server.registry.rooms(self.name)

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...

    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: H | None = None) -> Callable[[H], H] | H:
        """Register the handler of an event: ``@nsp.on("x")`` or ``nsp.on("x", fn)``.

        ``"connect"`` handlers get ``(socket)``, ``"disconnect"`` handlers get
        ``(socket, reason)``, ``"*"`` gets ``(socket, event, *args)`` for events with
        no handler of their own, and every other handler gets ``(socket, *args)``.

        Raises:
            UsageError: the name is one clients cannot send (reserved, too long).
        """
        problem = (
            None if event in ("connect", "disconnect", CATCH_ALL) else event_name_problem(event)
        )
        if problem:
            raise UsageError(f"cannot register a handler: {problem}")

        def register(handler: H) -> H:
            self._handlers[event] = handler
            self._arities[event] = _arity(handler)
            return handler

        return register if handler is None else register(handler)

    def use(self, middleware: Middleware) -> Middleware:
        """Add middleware run at every CONNECT, in order (usable as a decorator)."""
        self._middleware.append(middleware)
        return middleware

    def use_event(self, middleware: EventMiddleware) -> EventMiddleware:
        """Add middleware run before the handler of every incoming event, in order.

        It is called as ``middleware(socket, event, args)`` (sync or async) for every
        event with a valid name, the ones left to the ``"*"`` handler or to no
        handler at all included, and may:

        - return None: pass, the next middleware (then the handler) runs;
        - return a list: the arguments the next middleware and the handler get;
        - raise :class:`~wslearn.exceptions.EventRefusedError`: the handler never
          runs and the client is told. With an ack id it gets the ack
          ``[{"error": {"message": ..., **details}}]``, else an ``error`` event
          ``{"message": ..., "event": name, **details}``.

        Any other exception is logged and answered with an ``error`` event, as a
        failing handler is. Usable as a decorator.
        """
        self._event_middleware.append(middleware)
        return middleware

    def handler_for(self, event: str) -> Handler | None:
        """The handler registered for ``event`` itself (not ``"*"``), or None."""
        return self._handlers.get(event)

    def to(self, room: str) -> BroadcastOperator:
        """Start a broadcast to the members of ``room``."""
        return BroadcastOperator(self, frozenset({room}))

    def except_(self, room: str) -> BroadcastOperator:
        """Start a broadcast to everyone but the members of ``room``."""
        return BroadcastOperator(self, ALL, frozenset({room}))

    def emit(self, event: str, *args: Any) -> Sent:
        """Send an event to every socket of this namespace (``await`` optional)."""
        return BroadcastOperator(self).emit(event, *args)

    # -- called by the connection -------------------------------------------------

    async def connect(self, socket: Socket) -> None:
        """Run middleware, answer CONNECT, run the connect handler, then the backlog."""
        connection = socket._conn
        try:
            for middleware in self._middleware:
                await call_handler(middleware, socket, socket.handshake.auth)
        except Exception as exc:
            if socket.state is SocketState.DISCONNECTED:
                # The client left (41) or the connection closed while middleware ran:
                # nobody waits for this answer, and a late CONNECT_ERROR would be
                # taken as the answer to the client's next CONNECT.
                if not isinstance(exc, ConnectRefusedError):
                    logger.error("middleware of %s raised", self.name, exc_info=exc)
                return
            if connection.sockets.get(self.name) is socket:
                del connection.sockets[self.name]
            socket.state = SocketState.DISCONNECTED
            connection.refuse(socket, exc)
            return
        if socket.state is SocketState.DISCONNECTED:
            return  # the client left (or the connection closed) while middleware ran
        missed = self._recover(socket)
        self.sockets[socket.id] = socket
        self.server.registry.add(self.name, socket.id)
        reply = {"sid": socket.id}
        if socket.pid is not None:
            reply["pid"] = socket.pid
            for room in socket._restored_rooms:
                self.server.registry.join(self.name, socket.id, room)
        socket._send(Packet(PacketType.CONNECT, self.name, reply))
        for event in missed:  # what it missed while away, in order, before anything new
            socket._send(Packet(PacketType.EVENT, self.name, event.data))
        connection.mark_connected()
        if "connect" in self._handlers:
            await self._run(socket, "connect", self._handlers["connect"], (socket,), None)
        if socket.state is SocketState.CONNECTING:
            socket.state = SocketState.CONNECTED
            connection.start_events(socket)

    def _recover(self, socket: Socket) -> list[LoggedEvent]:
        """Give the socket a pid, or the state of the dropped socket it resumes."""
        store = self.server.recovery
        if store is None:
            return []
        auth = socket.handshake.auth
        pid, offset = auth.get("pid"), auth.get("offset")
        restored = None
        if isinstance(pid, str) and isinstance(offset, str):
            now = asyncio.get_running_loop().time()
            restored = store.restore(pid, offset, self.name, now)
        if restored is None or restored[0].sid in self.sockets:
            socket.pid = secrets.token_urlsafe(15)
            return []
        saved, missed = restored
        socket.id, socket.pid, socket.data = saved.sid, saved.pid, saved.data
        socket.recovered = True
        socket._restored_rooms = saved.rooms
        return missed

    def remove(self, socket: Socket, reason: DisconnectReason, notify_client: bool) -> None:
        """Take a socket out of the namespace and schedule its disconnect handler."""
        if socket.state is SocketState.DISCONNECTED:
            return
        store = self.server.recovery
        if store is not None and socket.pid is not None and reason in RECOVERABLE:
            now = asyncio.get_running_loop().time()
            rooms = self.server.registry.rooms_of(self.name, socket.id) - {socket.id}
            session = SavedSession(socket.pid, socket.id, self.name, rooms, socket.data, now)
            store.save(session)
        announced = self.sockets.pop(socket.id, None) is not None
        if notify_client and announced:
            socket._send(Packet(PacketType.DISCONNECT, self.name))
        socket.state = SocketState.DISCONNECTED
        if socket._conn.sockets.get(self.name) is socket:
            del socket._conn.sockets[self.name]
        socket._conn.drop_backlog(socket)
        self.server.registry.remove(self.name, socket.id)
        socket._fail_acks()
        handler = self._handlers.get("disconnect")
        if announced and handler is not None:
            args = (socket, str(reason))
            self.server.spawn(self._run(socket, "disconnect", handler, args, None))

    def handle_event(self, socket: Socket, packet: Packet) -> None:
        """Dispatch one EVENT to its handler and send the ack if one was asked for.

        A plain handler runs now; a coroutine handler gets a task (see the module
        docstring). Problems the client caused are answered with an ``error`` event.
        """
        data = packet.data
        name = data[0]
        if self._event_middleware:
            problem = event_name_problem(name)
            if problem is not None:
                shown = {} if len(name) > MAX_EVENT_NAME_LENGTH else {"event": name}
                socket.emit_error(problem, **shown)
                return
            self._in_task(socket, name, self._guarded(socket, name, data[1:], packet.id), None)
            return
        self._dispatch(socket, name, data[1:], packet.id)

    async def _guarded(self, socket: Socket, name: str, args: list[Any], ack: int | None) -> None:
        """Run the event middleware, then dispatch what it let through."""
        try:
            current = await run_event_middleware(self._event_middleware, socket, name, args)
        except EventRefusedError as refusal:
            await refuse_event(socket, name, ack, refusal)
            return
        except Exception as exc:
            logger.exception("event middleware of namespace %s raised on %r", self.name, name)
            socket.emit_error(
                f"the server could not check {name!r} ({type(exc).__name__})", event=name
            )
            return
        if socket.connected:  # a middleware may have disconnected it
            self._dispatch(socket, name, current, ack)

    def _dispatch(self, socket: Socket, name: str, payload: list[Any], ack: int | None) -> None:
        """Call the handler of an event (or ``"*"``) with its arguments."""
        key = name
        handler = self._handlers.get(name)
        if handler is None or name in _LIFECYCLE:
            problem = event_name_problem(name)
            if problem is not None:
                shown = {} if len(name) > MAX_EVENT_NAME_LENGTH else {"event": name}
                socket.emit_error(problem, **shown)
                return
            key = CATCH_ALL
            handler = self._handlers.get(CATCH_ALL)
            if handler is None:
                socket.emit_error(f"unknown event {name!r}", event=name)
                return
            args: list[Any] = [socket, name, *payload]
        else:
            args = [socket, *payload]
        arity = self._arities.get(key)
        if arity is not None and not arity.least <= len(args) <= arity.most:
            problem = arity.problem(len(args))
            socket.emit_error(f"wrong arguments for {name!r}: {problem}", event=name)
            return
        self._call(socket, name, handler, args, ack)

    def _call(
        self, socket: Socket, name: str, handler: Handler, args: list[Any], ack: int | None
    ) -> None:
        try:
            result = handler(*args)
            if result is SENT:  # a plain handler that ended with an emit
                result = None
            elif inspect.iscoroutine(result) or (
                result is not None and inspect.isawaitable(result)
            ):
                self._in_task(socket, name, result, ack)
                return
            if ack is not None:
                socket._send(Packet(PacketType.ACK, self.name, ack_arguments(result), ack))
        except Exception as exc:
            self._failed(socket, name, exc, ack)

    def _in_task(self, socket: Socket, name: str, awaitable: Any, ack: int | None) -> None:
        loop = asyncio.get_running_loop()
        socket._conn.handler_started()
        coro = self._finish(socket, name, awaitable, ack)
        if _EAGER:  # runs now, up to its first real wait
            task: asyncio.Task[None] = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]
            if task.done():
                return
        else:
            task = loop.create_task(coro)
        self.server._tasks.add(task)

    async def _finish(self, socket: Socket, name: str, awaitable: Any, ack: int | None) -> None:
        """The body of a coroutine handler's task: await it, then ack or report."""
        try:
            result = await awaitable
            if ack is not None:
                socket._send(Packet(PacketType.ACK, self.name, ack_arguments(result), ack))
        except Exception as exc:
            self._failed(socket, name, exc, ack)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self.server._tasks.discard(task)
            socket._conn.handler_done()

    def _failed(self, socket: Socket, name: str, exc: Exception, ack: int | None) -> None:
        if isinstance(exc, EventRefusedError):  # a handler may refuse as middleware does
            tell_refused(socket, name, ack, exc)
            return
        if isinstance(exc, RoomLimitError):  # the client asked for too much: say what
            tell_refused(socket, name, ack, EventRefusedError(str(exc), rule="room limit"))
            return
        logger.error("the %r handler of namespace %s raised", name, self.name, exc_info=exc)
        try:
            socket.emit_error(f"the {name!r} handler failed ({type(exc).__name__})", event=name)
        except Exception:  # the socket is gone, or the error cannot be sent: logged above
            logger.debug("could not report the failure of %r", name, exc_info=True)

    async def _run(
        self, socket: Socket, name: str, handler: Handler, args: Iterable[Any], ack: int | None
    ) -> None:
        """Run a lifecycle handler (``connect``, ``disconnect``) inside a task."""
        try:
            result = await call_handler(handler, *args)
            if ack is not None:
                socket._send(Packet(PacketType.ACK, self.name, ack_arguments(result), ack))
        except Exception as exc:
            self._failed(socket, name, exc, ack)
