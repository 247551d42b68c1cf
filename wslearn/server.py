"""A Socket.IO v5 server (Engine.IO v4, HTTP long-polling and WebSocket) on asyncio.

::

    server = Server()

    @server.on("join-room")
    async def join_room(socket: Socket, room_id: str) -> None:
        socket.join(room_id)
        await socket.to(room_id).emit("user-joined", socket.id)

    await server.start()          # 127.0.0.1, a free port
    print(server.url)             # give this to any Socket.IO client, as it is
    ...
    await server.stop()

The endpoint is ``/socket.io/``. Both transports are offered by default, so the
official clients connect with their default options: they open a session with HTTP
long-polling, then upgrade it to WebSocket (``transports=`` chooses what is offered).
Requests are answered with a plain HTTP error and a body that says what to change:

======  ============================================================================
400     ``EIO`` is not ``4``, a transport that is not offered, an unknown ``sid``,
        a method the transport does not use, overlapping polls (see
        :mod:`wslearn._longpoll`); the body is ``{"code": N, "message": "..."}``
403     ``origins`` is set and the ``Origin`` header is not in it
404     the path is not ``/socket.io/`` (with ``static=`` set, such paths are
        answered by :mod:`wslearn.static` instead: files, 404 or 405)
408     a request body that did not arrive within ``http_timeout``
413     a request body over ``max_payload``
414     431 an oversized request line or head (:mod:`wslearn.httpparse`)
429     ``max_connections_per_address`` is set and that address has that many
        sessions already
======  ============================================================================

Origin policy, for WebSocket and polling alike: by default (``origins=None``) every
origin is accepted, and polling responses carry ``Access-Control-Allow-Origin: *``:
the guide's ``cors: {origin: "*"}``. With an allow-list, other sites get 403 and
allowed ones get their origin echoed back (with ``Access-Control-Allow-Credentials``
when ``cors_credentials=True``, for pages that send cookies). A request with no
``Origin`` header at all is accepted while ``allow_missing_origin=True`` (the default):
browsers always send the header, so its absence means a command-line or server-side
client, which an ``Origin`` check could not stop anyway. Set it to False to refuse
them too.

Once connected, see :mod:`wslearn._engine` for the close codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl as ssl_module
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Self, TypeVar, overload

from websockets.extensions.base import ServerExtensionFactory

from ._engine import EngineSession
from ._http import HttpConnection
from ._outgoing import Outgoing
from ._service import Service
from ._websocket import WebSocketTransport
from .adapters import Adapter, InMemoryAdapter
from .broadcast import BroadcastOperator, Sent
from .compression import Compression
from .exceptions import UsageError
from .namespace import EventMiddleware, Middleware, Namespace
from .packets import JSON_PARSER, Frame, Parser
from .recovery import RecoveryStore
from .rooms import (
    ALL,
    DEFAULT_MAX_ROOM_NAME_LENGTH,
    DEFAULT_MAX_ROOMS_PER_SOCKET,
    Everyone,
    RoomRegistry,
)
from .static import StaticFiles

__all__ = ["DEFAULT_MAX_BUFFERED_BYTES", "ENDPOINT", "TRANSPORTS", "Server"]

logger = logging.getLogger("wslearn.server")

ENDPOINT = "/socket.io/"
TRANSPORTS = ("polling", "websocket")
"""The transports a server can offer, in the order clients try them."""
DEFAULT_MAX_BUFFERED_BYTES = 4 * 2**20
"""Unread bytes one client may leave on the server before it is dropped (4 MiB)."""
T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])


class Server(Service):
    """A Socket.IO-compatible server: namespaces, rooms, middleware, acks, broadcast.

    Times are in seconds (the OPEN packet carries them in milliseconds).

    Args:
        ping_interval: seconds between a pong and the next ping (reference 25).
        ping_timeout: seconds a client has to answer a ping (reference 20).
        max_payload: the largest message accepted, in bytes: a bigger WebSocket
            message closes the connection with 1009, a bigger POST body gets 413.
        connect_timeout: seconds a new session has to CONNECT to a namespace
            (reference 45).
        origins: allowed values of the ``Origin`` header, or None for any.
        allow_missing_origin: with ``origins`` set, accept requests that carry no
            ``Origin`` header (command-line clients). See the module docstring.
        cors_credentials: let pages of allowed origins send cookies with polling
            requests (``Access-Control-Allow-Credentials: true``).
        max_connections_per_address: refuse (HTTP 429) new sessions from an IP
            address that already has this many (WebSocket or polling alike); None
            for no cap.
        max_buffered_bytes: unread bytes one client may leave on the server (what
            the socket could not send yet, or what waits for its next poll). Past
            it the client counts as too slow and is closed with 1008; others are
            never slowed down by it.
        max_pending_events: event handlers of one client running at the same time
            (async handlers that are waiting); past it, that client's further
            packets are not read until one finishes.
        close_timeout: seconds a closing handshake may take before the TCP
            connection is aborted.
        http_timeout: seconds a client has to send a complete HTTP request head,
            and then its body, and that an idle keep-alive connection stays open.
        transports: what is offered: ``("polling", "websocket")`` (both, the
            default, as the reference server), or one of them.
        recovery_window: keep a dropped socket's state and the events it missed
            for this many seconds, for connection state recovery (see
            :mod:`wslearn.recovery`); None (default) turns it off and the CONNECT
            reply carries no ``pid``. With it on, events sent without an ack carry
            an offset as their last argument. Middleware runs before a session is
            restored: it sees a new id, and a recovered socket gets the saved
            ``data`` back in place of what middleware stored.
        parser: how Socket.IO packets are encoded (:data:`~wslearn.packets.JSON_PARSER`,
            the reference parser, by default); clients must use the same one.
        adapter: who else receives a broadcast: :class:`~wslearn.adapters.InMemoryAdapter`
            (this process only) by default, or one that links several processes.
        static: serve files next to the endpoint: URL prefix to folder, e.g.
            ``{"/": "page"}`` (GET and HEAD; see :mod:`wslearn.static`). Without it
            every other path is a 404.
        ssl: serve TLS with this server-side context (``https://`` and ``wss://``;
            :attr:`url` says so), e.g. ``ssl.create_default_context(Purpose.CLIENT_AUTH)``
            with ``load_cert_chain(...)``. None serves plain ``http://`` and ``ws://``.
        path: the endpoint path.
        compression: permessage-deflate settings (see :mod:`wslearn.compression`),
            or None (default) to decline compression. Off by default, as in Node's
            socket.io since v3: a chat server's messages are mostly small, where
            deflate saves few bytes and costs CPU on every message; and a
            connection that negotiated it keeps zlib state (tens of KiB) for its
            whole life, however idle. Turn it on for large, repetitive payloads,
            with ``Compression()``: messages under its threshold (1024 bytes) go
            out uncompressed, and the server keeps no compressor between messages.
            A broadcast is compressed once for all recipients whose negotiated
            parameters match (see :func:`wslearn.compression.sharing_key`).
        max_room_name_length: the longest room name, in code points: the room
            registry refuses longer ones to any code (RoomLimitError), and the room
            rules of :mod:`wslearn.room_rules` tell clients so.
        max_rooms_per_socket: how many rooms a socket may be in besides its own:
            a bound on what one client can make the server hold, enforced the same
            two ways.

    Raises:
        UsageError: a setting is out of range (the message says which).
    """

    def __init__(
        self,
        *,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_payload: int = 1_000_000,
        connect_timeout: float = 45.0,
        origins: Sequence[str] | None = None,
        allow_missing_origin: bool = True,
        cors_credentials: bool = False,
        max_connections_per_address: int | None = None,
        max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        max_pending_events: int = 64,
        close_timeout: float = 5.0,
        http_timeout: float = 10.0,
        transports: Sequence[str] = TRANSPORTS,
        recovery_window: float | None = None,
        parser: Parser = JSON_PARSER,
        adapter: Adapter | None = None,
        static: Mapping[str, str | os.PathLike[str]] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        path: str = ENDPOINT,
        max_room_name_length: int = DEFAULT_MAX_ROOM_NAME_LENGTH,
        max_rooms_per_socket: int = DEFAULT_MAX_ROOMS_PER_SOCKET,
        compression: Compression | None = None,
    ) -> None:
        for name, value in [
            ("ping_interval", ping_interval),
            ("ping_timeout", ping_timeout),
            ("connect_timeout", connect_timeout),
            ("close_timeout", close_timeout),
            ("http_timeout", http_timeout),
            ("max_payload", max_payload),
            ("max_buffered_bytes", max_buffered_bytes),
            ("max_pending_events", max_pending_events),
            ("max_room_name_length", max_room_name_length),
            ("max_rooms_per_socket", max_rooms_per_socket),
        ]:
            if isinstance(value, bool) or not value > 0:
                raise UsageError(f"{name} must be positive, got {value!r}")
        if max_connections_per_address is not None and max_connections_per_address < 1:
            raise UsageError("max_connections_per_address must be at least 1, or None")
        offered = tuple(transports) if not isinstance(transports, str) else (transports,)
        if not offered or any(t not in TRANSPORTS for t in offered):
            raise UsageError(f"transports must name 'polling' and/or 'websocket', got {offered}")
        if not path.startswith("/"):
            raise UsageError(f"the endpoint path starts with '/', got {path!r}")
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.connect_timeout = connect_timeout
        self.origins = None if origins is None else tuple(origins)
        self.allow_missing_origin = allow_missing_origin
        self.cors_credentials = cors_credentials
        self.max_connections_per_address = max_connections_per_address
        self.max_buffered_bytes = max_buffered_bytes
        self.max_pending_events = max_pending_events
        self.close_timeout = close_timeout
        self.http_timeout = http_timeout
        self.transports = tuple(t for t in TRANSPORTS if t in offered)
        self.path = path if path.endswith("/") else path + "/"
        self.ssl = ssl
        self.max_room_name_length = max_room_name_length
        self.max_rooms_per_socket = max_rooms_per_socket
        self.compression = compression

        self.parser = parser
        self.adapter = InMemoryAdapter() if adapter is None else adapter
        self.recovery = None if recovery_window is None else RecoveryStore(recovery_window)
        self.static = None if static is None else StaticFiles(static)
        # The registry holds the limits for any join (server code included); the room
        # rules of wslearn.room_rules read the same numbers to refuse clients politely.
        self.registry = RoomRegistry(max_rooms_per_socket, max_room_name_length)
        self.namespaces: dict[str, Namespace] = {"/": Namespace(self, "/")}
        self.sessions: dict[str, EngineSession] = {}
        self.stopping = False
        self._http: set[HttpConnection] = set()
        self._websockets: set[WebSocketTransport] = set()
        self._per_address: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Server | None = None
        self._all_closed: asyncio.Future[None] | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.url if self._listener is not None else "not started"
        return f"<Server {where} sessions={len(self.sessions)}>"

    @property
    def connections(self) -> list[EngineSession]:
        """The open Engine.IO sessions (one per connected client), any transport."""
        return list(self.sessions.values())

    # -- namespaces and handlers --------------------------------------------------

    def of(self, name: str) -> Namespace:
        """The namespace called ``name``, created on first use.

        Raises:
            UsageError: the name does not start with ``/`` or contains a comma.
        """
        if not name.startswith("/") or "," in name:
            raise UsageError(f"a namespace starts with '/' and has no comma, got {name!r}")
        if name not in self.namespaces:
            self.namespaces[name] = Namespace(self, name)
        return self.namespaces[name]

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...

    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: H | None = None) -> Callable[[H], H] | H:
        """Register a handler on the main namespace ``"/"`` (see :meth:`Namespace.on`):
        ``@server.on("x")`` or ``server.on("x", fn)``."""
        if handler is None:
            return self.namespaces["/"].on(event)
        return self.namespaces["/"].on(event, handler)

    def use(self, middleware: Middleware) -> Middleware:
        """Add connect middleware to the main namespace ``"/"``."""
        return self.namespaces["/"].use(middleware)

    def use_event(self, middleware: EventMiddleware) -> EventMiddleware:
        """Add event middleware to ``"/"`` (see :meth:`Namespace.use_event`)."""
        return self.namespaces["/"].use_event(middleware)

    def to(self, room: str) -> BroadcastOperator:
        """Start a broadcast to a room of ``"/"`` (a socket id targets one socket)."""
        return self.namespaces["/"].to(room)

    def except_(self, room: str) -> BroadcastOperator:
        """Start a broadcast to everyone on ``"/"`` but the members of ``room``."""
        return self.namespaces["/"].except_(room)

    def emit(self, event: str, *args: Any) -> Sent:
        """Send an event to every socket connected to ``"/"`` (``await`` optional)."""
        return self.namespaces["/"].emit(event, *args)

    # -- lifecycle ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on.

        Raises:
            UsageError: the server is not started.
        """
        if self._port is None:
            raise UsageError("the server is not started; await server.start() first")
        return self._port

    @property
    def url(self) -> str:
        """The URL to give a Socket.IO client, e.g. ``http://127.0.0.1:8000``
        (``https://`` when the server was given an ``ssl`` context)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self.ssl is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._listener is not None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Listen on ``host:port`` (port 0 picks a free port; read :attr:`port`).

        Raises:
            UsageError: the server is already running.
            OSError: the address is in use or cannot be bound.
        """
        if self._listener is not None:
            raise UsageError(f"the server is already running at {self.url}; stop() it first")
        self.stopping = False
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: HttpConnection(self), host, port, ssl=self.ssl, reuse_address=True
        )
        self._listener = listener
        self._host = host
        self._port = listener.sockets[0].getsockname()[1]
        try:
            await self.adapter.start(self)
        except BaseException:
            listener.close()
            await listener.wait_closed()
            self._listener = self._port = None
            raise
        logger.info("serving Socket.IO at %s", self.url)
        return self

    async def stop(self) -> None:
        """Close every session (1001 and no DISCONNECT: clients reconnect) and stop.

        Handlers still running after ``close_timeout`` are cancelled. Calling it on a
        stopped server does nothing.
        """
        listener = self._listener
        if listener is None:
            return
        self.stopping = True
        # Stop accepting first. Not with close() alone: asyncio makes the transport of
        # an accepted connection in a task, and one that runs after close() fails and
        # leaves the socket open and unanswered (a polling client's next GET then hangs
        # until its ping timeout). So stop reading the listening sockets, let those
        # tasks attach their connections (closed below like any other), then close.
        loop = asyncio.get_running_loop()
        for sock in listener.sockets:
            with contextlib.suppress(Exception):  # a loop without readers for it
                loop.remove_reader(sock.fileno())
        for _ in range(3):  # the accept task, then connection_made
            await asyncio.sleep(0)
        listener.close()
        self._all_closed = asyncio.get_running_loop().create_future()
        for session in list(self.sessions.values()):
            session.shutdown()
        for connection in list(self._http):
            connection.shutdown()
        if self._websockets or self._http:
            try:
                async with asyncio.timeout(self.close_timeout + 0.5):
                    await self._all_closed
            except TimeoutError:  # closing handshakes abort themselves; this is a backstop
                logger.warning("some connections did not close in time: aborting them")
                for websocket in list(self._websockets):
                    websocket.abort()
                for connection in list(self._http):
                    connection.abort()
        await listener.wait_closed()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.close_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            async with asyncio.timeout(self.close_timeout):
                await self.adapter.stop()
        except TimeoutError:
            logger.error("the adapter did not stop within close_timeout")
        self._listener = None
        self._port = None
        self._all_closed = None
        logger.info("server stopped")

    async def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ready: Callable[[Server], object] | None = None,
    ) -> None:
        """Start (unless running), serve until SIGINT or SIGTERM, then stop cleanly.

        For scripts and services; in a notebook the server already keeps serving
        after ``await server.start()``. Signal handlers are installed first, in the
        main thread of a loop that supports them (elsewhere it serves until the task
        is cancelled); cancelling it stops the server too.

        Args:
            host: the address to bind, when the server is not running yet.
            port: the port, likewise (0 picks a free one).
            ready: called once the server listens and the signals are handled, e.g.
                to print :attr:`url`: a signal sent after it is a clean stop.

        Raises:
            OSError: the address cannot be bound (nothing is left running).
        """
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        installed: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
                installed.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or a loop without signal support
        try:
            if not self.running:
                await self.start(host, port)
            if ready is not None:
                ready(self)
            await stop.wait()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
            await self.stop()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run a coroutine in a task the server keeps until it ends (or stop())."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    # -- delivery -----------------------------------------------------------------

    def deliver(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: frozenset[str] | Everyone,
        except_rooms: frozenset[str] = frozenset(),
        except_sids: frozenset[str] = frozenset(),
    ) -> int:
        """Send encoded frames to this server's matching sockets; never waits.

        The frames are UTF-8 encoded (and framed for WebSocket) once for everyone.
        Adapters call it to deliver a broadcast locally (see :mod:`wslearn.adapters`).

        Returns:
            How many sockets the frames were sent to.

        Raises:
            ValueError: a text frame is not valid Unicode (nobody was sent anything).
        """
        nsp = self.namespaces.get(namespace)
        if nsp is None:
            return 0
        outgoing = Outgoing(frames)
        sockets = nsp.sockets
        if rooms is not ALL and len(rooms) == 1 and not except_rooms:
            (room,) = rooms
            members: Any = self.registry.members_view(namespace, room)
            if except_sids:
                members = [sid for sid in members if sid not in except_sids]
        else:
            members = self.registry.targets(namespace, rooms, except_rooms, except_sids)
        count = 0
        for sid in members:
            socket = sockets.get(sid)
            if socket is not None:
                socket._conn.send(outgoing)
                count += 1
        return count

    # -- sessions -----------------------------------------------------------------

    def cors_headers(self, origin: str | None) -> list[tuple[str, str]] | None:
        """The CORS headers for a request from ``origin``, or None if it is refused."""
        if origin is None:
            if self.origins is not None and not self.allow_missing_origin:
                return None
            return []
        if self.origins is None:
            if not self.cors_credentials:
                return [("Access-Control-Allow-Origin", "*")]
        elif origin not in self.origins:
            return None
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.cors_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def websocket_extensions(self) -> list[ServerExtensionFactory]:
        """The WebSocket extensions the server accepts: permessage-deflate when
        ``compression`` is set, else none."""
        return [] if self.compression is None else [self.compression.server_factory()]

    def refuse_new_session(self, address: str) -> str | None:
        """Why a new session from ``address`` is refused right now, or None."""
        if self.stopping:
            return "Service Unavailable: the server is stopping"
        cap = self.max_connections_per_address
        if cap is not None and self._per_address[address] >= cap:
            logger.warning("refused a session from %s: cap of %d", address, cap)
            return f"Too Many Requests: at most {cap} sessions per address"
        return None

    def _session_started(self, session: EngineSession) -> None:
        self.sessions[session.sid] = session
        self._per_address[session.address] += 1

    def _session_ended(self, session: EngineSession) -> None:
        if self.sessions.pop(session.sid, None) is None:
            return
        self._per_address[session.address] -= 1
        if self._per_address[session.address] <= 0:
            del self._per_address[session.address]

    def _transport_closed(self) -> None:
        """A WebSocket connection ended; the stop may be waiting for the last one."""
        waiter = self._all_closed
        if waiter is not None and not waiter.done() and not self._websockets and not self._http:
            waiter.set_result(None)
