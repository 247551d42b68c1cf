"""A Socket.IO v5 server (Engine.IO v4, WebSocket transport) on ``websockets``.

::

    server = Server()

    @server.on("join-room")
    async def join_room(socket: Socket, room_id: str) -> None:
        socket.join(room_id)
        await socket.to(room_id).emit("user-joined", socket.id)

    await server.start()          # 127.0.0.1, a free port
    print(server.url)             # give this to a Socket.IO client
    ...
    await server.stop()

The endpoint is ``/socket.io/`` with ``EIO=4&transport=websocket`` in the query; only
the WebSocket transport is offered, so clients must be told to use it (in
python-socketio, ``transports=["websocket"]``). Before the WebSocket handshake the
server answers with a plain HTTP error and a body that says what to change:

======  ============================================================================
404     the path is not ``/socket.io/`` (with ``static=`` set, such paths are
        answered by :mod:`wslearn.static` instead: files, 404 or 405)
400     ``EIO`` is not ``4``, ``transport`` is not ``websocket``, or a ``sid`` asks
        to resume a session (long-polling upgrades are not supported)
403     ``origins`` is set and the ``Origin`` header is not in it (websockets)
429     ``max_connections_per_address`` is set and that address is at the cap
======  ============================================================================

Origin policy: by default (``origins=None``) every origin is accepted, like the
guide's ``cors: {origin: "*"}``. With an allow-list, browsers from other sites get 403;
a request with no ``Origin`` header at all is accepted while
``allow_missing_origin=True`` (the default): browsers always send the header, so its
absence means a command-line or server-side client (websockets, python-socketio),
which an ``Origin`` check could not stop anyway. Set it to False to refuse them too.

Once connected, see :mod:`wslearn._connection` for the close codes.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import os
import ssl as ssl_module
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Self, TypeVar, overload
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server as WebSocketServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Origin

from ._connection import Connection
from ._service import Service
from .adapters import Adapter, InMemoryAdapter
from .broadcast import BroadcastOperator
from .compression import Compression
from .exceptions import UsageError
from .namespace import EventMiddleware, Middleware, Namespace
from .packets import JSON_PARSER, Frame, Parser
from .recovery import RecoveryStore
from .rooms import Everyone, RoomRegistry
from .static import StaticFiles

__all__ = ["ENDPOINT", "Server"]

logger = logging.getLogger("wslearn.server")

ENDPOINT = "/socket.io/"
T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])


class Server(Service):
    """A Socket.IO-compatible server: namespaces, rooms, middleware, acks, broadcast.

    Times are in seconds (the OPEN packet carries them in milliseconds).

    Args:
        ping_interval: seconds between a pong and the next ping (reference 25).
        ping_timeout: seconds a client has to answer a ping (reference 20).
        max_payload: the largest message accepted, in bytes; bigger ones close the
            connection with 1009.
        connect_timeout: seconds a new connection has to CONNECT to a namespace
            (reference 45).
        origins: allowed values of the ``Origin`` header, or None for any.
        allow_missing_origin: with ``origins`` set, accept requests that carry no
            ``Origin`` header (command-line clients). See the module docstring.
        max_connections_per_address: refuse (HTTP 429) further connections from an
            IP address that already has this many; None for no cap.
        outgoing_queue_size: packets queued for one client before it counts as too
            slow and is closed with 1008.
        max_pending_events: events of one connection handled at the same time;
            more wait before the connection reads further.
        close_timeout: seconds a closing handshake may take before the TCP
            connection is aborted.
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
        max_room_name_length: the longest room name, in code points, a client may
            ask for (see :mod:`wslearn.room_rules`).
        max_rooms_per_socket: how many rooms a socket may be in besides its own,
            when a client asks to join (see :mod:`wslearn.room_rules`).
        ssl: serve TLS with this server-side context (``wss://``; :attr:`url` is
            then ``https://``), e.g. ``ssl.create_default_context(Purpose.CLIENT_AUTH)``
            with ``load_cert_chain(...)``. None serves plain ``ws://``.
        compression: permessage-deflate settings (see :mod:`wslearn.compression`),
            or None (default) to decline compression. Off by default, as in Node's
            socket.io since v3: a chat server's messages are mostly small, where
            deflate saves few bytes and costs CPU on every message; and a
            connection that negotiated it keeps zlib state (tens of KiB) for its
            whole life, however idle. Turn it on for large, repetitive payloads,
            with ``Compression()``: messages under its threshold (1024 bytes) go
            out uncompressed, and the server keeps no compressor between messages.
            On this transport each recipient of a broadcast compresses its copy.
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
        max_connections_per_address: int | None = None,
        outgoing_queue_size: int = 1024,
        max_pending_events: int = 64,
        close_timeout: float = 5.0,
        recovery_window: float | None = None,
        parser: Parser = JSON_PARSER,
        adapter: Adapter | None = None,
        static: Mapping[str, str | os.PathLike[str]] | None = None,
        max_room_name_length: int = 256,
        max_rooms_per_socket: int = 100,
        ssl: ssl_module.SSLContext | None = None,
        compression: Compression | None = None,
    ) -> None:
        for name, value in [
            ("ping_interval", ping_interval),
            ("ping_timeout", ping_timeout),
            ("connect_timeout", connect_timeout),
            ("close_timeout", close_timeout),
            ("max_payload", max_payload),
            ("outgoing_queue_size", outgoing_queue_size),
            ("max_pending_events", max_pending_events),
            ("max_room_name_length", max_room_name_length),
            ("max_rooms_per_socket", max_rooms_per_socket),
        ]:
            if not value > 0:
                raise UsageError(f"{name} must be positive, got {value!r}")
        if max_connections_per_address is not None and max_connections_per_address < 1:
            raise UsageError("max_connections_per_address must be at least 1, or None")
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.connect_timeout = connect_timeout
        self.origins = None if origins is None else tuple(origins)
        self.allow_missing_origin = allow_missing_origin
        self.max_connections_per_address = max_connections_per_address
        self.outgoing_queue_size = outgoing_queue_size
        self.max_pending_events = max_pending_events
        self.close_timeout = close_timeout
        self.max_room_name_length = max_room_name_length
        self.max_rooms_per_socket = max_rooms_per_socket
        self.ssl = ssl
        self.compression = compression

        self.parser = parser
        self.adapter = InMemoryAdapter() if adapter is None else adapter
        self.recovery = None if recovery_window is None else RecoveryStore(recovery_window)
        self.static = None if static is None else StaticFiles(static)
        self.registry = RoomRegistry()
        self.namespaces: dict[str, Namespace] = {"/": Namespace(self, "/")}
        self.connections: set[Connection] = set()
        self.stopping = False
        self._per_address: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ws_server: WebSocketServer | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.url if self._ws_server is not None else "not started"
        return f"<Server {where} connections={len(self.connections)}>"

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

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event to every socket connected to ``"/"``."""
        await self.namespaces["/"].emit(event, *args)

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
        scheme = "http" if self.ssl is None else "https"
        return f"{scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._ws_server is not None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Listen on ``host:port`` (port 0 picks a free port; read :attr:`port`).

        Raises:
            UsageError: the server is already running.
            OSError: the address is in use or cannot be bound.
        """
        if self._ws_server is not None:
            raise UsageError(f"the server is already running at {self.url}; stop() it first")
        origins: list[Origin | None] | None = None
        if self.origins is not None:
            origins = [Origin(origin) for origin in self.origins]
            if self.allow_missing_origin:
                origins.append(None)
        self.stopping = False
        self._ws_server = await serve(
            self._handle,
            host,
            port,
            process_request=self._check_request,
            origins=origins,
            max_size=self.max_payload,
            ping_interval=None,  # Engine.IO has its own heartbeat
            close_timeout=self.close_timeout,
            ssl=self.ssl,
            compression=None,
            extensions=None if self.compression is None else [self.compression.server_factory()],
        )
        self._host = host
        self._port = self._ws_server.sockets[0].getsockname()[1]
        try:
            await self.adapter.start(self)
        except BaseException:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = self._port = None
            raise
        logger.info("serving Socket.IO at %s", self.url)
        return self

    async def stop(self) -> None:
        """Close every connection with 1001 (no DISCONNECT: clients reconnect) and stop.

        Handlers still running after ``close_timeout`` are cancelled. Calling it on a
        stopped server does nothing.
        """
        ws_server = self._ws_server
        if ws_server is None:
            return
        self.stopping = True
        ws_server.close(close_connections=False)  # stop accepting first
        await asyncio.gather(*(conn.shutdown() for conn in list(self.connections)))
        await ws_server.wait_closed()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.close_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.adapter.stop()
        self._ws_server = None
        self._port = None
        logger.info("server stopped")

    def deliver(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: frozenset[str] | Everyone,
        except_rooms: frozenset[str] = frozenset(),
        except_sids: frozenset[str] = frozenset(),
    ) -> int:
        """Queue encoded frames for this server's matching sockets; never waits.

        Adapters call it to deliver a broadcast locally (see :mod:`wslearn.adapters`).

        Returns:
            How many sockets the frames were queued for.
        """
        nsp = self.namespaces.get(namespace)
        if nsp is None:
            return 0
        packet = tuple(frames)
        count = 0
        for sid in self.registry.targets(namespace, rooms, except_rooms, except_sids):
            socket = nsp.sockets.get(sid)
            if socket is not None:
                socket._conn.enqueue(packet)
                count += 1
        return count

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

    # -- connections --------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != ENDPOINT.rstrip("/"):
            if self.static is not None:
                return _static(self.static, request)
            return _refuse(connection, 404, f"Not Found: the Socket.IO endpoint is {ENDPOINT}")
        query = parse_qs(url.query, keep_blank_values=True)
        eio = query.get("EIO", [""])
        if eio != ["4"]:
            return _refuse(
                connection,
                400,
                "Bad Request: EIO=4 is required (Engine.IO v4 / Socket.IO v5), "
                f"got EIO={eio[0]!r}",
            )
        transport = query.get("transport", [""])
        if transport != ["websocket"]:
            return _refuse(
                connection,
                400,
                "Bad Request: only transport=websocket is served (no long-polling); "
                f"got transport={transport[0]!r}. Tell the client transports=['websocket'].",
            )
        if "sid" in query:
            return _refuse(
                connection,
                400,
                "Bad Request: resuming a session (sid=...) is not supported; "
                "open a new WebSocket connection without sid",
            )
        cap = self.max_connections_per_address
        if cap is not None and self._per_address[_address(connection)] >= cap:
            logger.warning("refused a connection from %s: cap of %d", _address(connection), cap)
            return _refuse(
                connection, 429, f"Too Many Requests: at most {cap} connections per address"
            )
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        address = _address(ws)
        self._per_address[address] += 1
        try:
            cap = self.max_connections_per_address
            if cap is not None and self._per_address[address] > cap:
                # Several handshakes raced past the HTTP check.
                await ws.close(CloseCode.TRY_AGAIN_LATER, "too many connections from this address")
                return
            conn = Connection(self, ws)
            self.connections.add(conn)
            try:
                await conn.run()
            finally:
                self.connections.discard(conn)
        finally:
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]


def _address(connection: ServerConnection) -> str:
    remote = connection.remote_address
    return str(remote[0]) if remote else ""


def _static(files: StaticFiles, request: Request) -> Response:
    """A file (or a clear 404/405) for a request that is not for the endpoint."""
    reply = files.respond(request.method, request.path)
    headers = Headers(reply.headers)
    headers["Date"] = email.utils.formatdate(usegmt=True)
    headers["Connection"] = "close"  # websockets ends the connection after any non-101
    status = http.HTTPStatus(reply.status)
    return Response(status.value, status.phrase, headers, reply.body)


def _refuse(connection: ServerConnection, status: int, text: str) -> Response:
    return connection.respond(http.HTTPStatus(status), text + "\n")
