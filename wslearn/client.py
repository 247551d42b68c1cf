"""A Socket.IO v5 client over the WebSocket transport, on asyncio.

It speaks the same wire protocol as the reference clients, so any Socket.IO v5
server is a peer (python-socketio, Node's socket.io, or :class:`wslearn.Server`)::

    client = Client("http://127.0.0.1:8000", auth={"token": "abc"})

    @client.on("receive-message")
    def show(message):
        ...

    await client.connect()
    await client.emit("send-message", {"roomId": "r1", "message": "hi"})
    reply = await client.call("join-room", "r1")   # waits for the server's ack
    await client.disconnect()

What happens underneath, in order:

1. Open ``ws://host/socket.io/?EIO=4&transport=websocket`` and read the Engine.IO
   OPEN packet (``0{"sid":..,"pingInterval":..}``).
2. Send a CONNECT (``40{auth}``) per namespace; the server answers with the
   namespace's sid (``40{"sid":..}``) or refuses (``44{"message":..}``).
3. Answer every ping ``2`` with a pong ``3``. Hearing nothing for pingInterval +
   pingTimeout means the server is gone: close and reconnect.
4. When the transport drops, wait a :class:`~wslearn.backoff.Backoff` delay and try
   again, buffering emits meanwhile. A kick (``41``), a refusal or
   :meth:`Client.disconnect` end the connection for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias, TypeVar, overload

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ._emitter import Emitter, Listener, call_listener
from ._session import (
    Buffered,
    ClientState,
    NamespaceState,
    SendBuffer,
    Session,
    ack_data,
    socketio_url,
)
from .backoff import Backoff
from .exceptions import (
    AckTimeoutError,
    ConnectFailedError,
    ConnectRefusedError,
    NotConnectedError,
    PacketError,
    UsageError,
)
from .heartbeat import SilenceWatch
from .packets import EnginePacket, EngineType, Frame, Packet, PacketType, decode_open, encode

__all__ = ["Auth", "Client", "ClientState", "FrameListener", "StateListener"]

_log = logging.getLogger("wslearn.client")

AuthData: TypeAlias = Mapping[str, Any]
Auth: TypeAlias = (
    AuthData | Callable[[], AuthData | None] | Callable[[], Awaitable[AuthData | None]] | None
)
"""The CONNECT payload: a dict, or a function (sync or async) called at every attempt."""

FrameListener: TypeAlias = Callable[[str, Frame, float], object]
"""Called as ``fn(direction, frame, at)``: ``"sent"``/``"received"``, the frame, epoch time."""

StateListener: TypeAlias = Callable[[ClientState], object]
"""Called with the new state at every state change."""

L = TypeVar("L", bound=Listener)

#: Events about the connection as a whole, fired whatever namespace they are asked on.
MANAGER_EVENTS = frozenset({"reconnect_attempt", "reconnect", "reconnect_failed"})
_RESERVED = MANAGER_EVENTS | {"connect", "connect_error", "disconnect"}


class Client:
    """A Socket.IO client that reconnects, buffers while offline and tracks acks.

    Args:
        url: the server, e.g. ``"http://127.0.0.1:8000"`` (or ``ws://``). No path.
        auth: the CONNECT payload: a dict, or a function (sync or async) returning
            one, called afresh at every connection attempt (fresh tokens).
        namespaces: the namespaces to connect to, all on one WebSocket.
        reconnection: the delays between reconnection attempts; ``None`` never
            reconnects.
        connect_timeout: seconds for one whole attempt: WebSocket, OPEN, CONNECTs.
        headers: extra HTTP headers for the WebSocket handshake.
        path: the server's endpoint path.
        max_buffered: how many emits are kept while reconnecting.
        close_timeout: seconds to wait for the server to acknowledge a close.
        max_size: the largest message accepted from the server, in bytes.

    Raises:
        ValueError: a malformed URL or namespace.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: Auth = None,
        namespaces: tuple[str, ...] | list[str] = ("/",),
        reconnection: Backoff | None = Backoff(),  # noqa: B008 - frozen, safe to share
        connect_timeout: float = 20.0,
        headers: Mapping[str, str] | None = None,
        path: str = "socket.io",
        max_buffered: int = 1000,
        close_timeout: float = 2.0,
        max_size: int | None = 16 * 2**20,
    ) -> None:
        self.url = url
        self.ws_url = socketio_url(url, path)
        if isinstance(namespaces, str) or not namespaces:
            raise ValueError("namespaces must be a non-empty tuple such as ('/', '/chat')")
        for name in namespaces:
            if not isinstance(name, str) or not name.startswith("/") or "," in name:
                raise ValueError(f"a namespace starts with '/' and has no comma: {name!r}")
        self.reconnection = reconnection
        self.connect_timeout = connect_timeout
        self.close_timeout = close_timeout
        self._auth = auth
        self._headers = dict(headers or {})
        self._max_size = max_size
        self._namespaces = {name: NamespaceState(name, Emitter(_log)) for name in namespaces}
        self._manager = Emitter(_log)
        self._state = ClientState.DISCONNECTED
        self._ever_connected = False
        self._session: Session | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[int, tuple[str, asyncio.Future[list[Any]]]] = {}
        self._next_ack = 0
        self._buffer = SendBuffer(max_buffered)
        self._frame_listeners: list[FrameListener] = []
        self._state_listeners: list[StateListener] = []

    def __repr__(self) -> str:
        return f"<Client {self.url} {self._state.value}>"

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The current :class:`ClientState`."""
        return self._state

    @property
    def connected(self) -> bool:
        """True while the client is CONNECTED."""
        return self._state is ClientState.CONNECTED

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces this client connects to."""
        return tuple(self._namespaces)

    @property
    def sid(self) -> str | None:
        """The socket id of ``"/"`` (or of the first namespace), None when not connected."""
        name = "/" if "/" in self._namespaces else next(iter(self._namespaces))
        return self._namespaces[name].sid

    def get_sid(self, namespace: str = "/") -> str | None:
        """The socket id the server gave ``namespace``, None when not connected."""
        return self._ns(namespace).sid

    @property
    def buffered(self) -> int:
        """How many emits wait for the connection to come back."""
        return len(self._buffer)

    def clear_buffer(self) -> int:
        """Forget the emits waiting for the connection; return how many there were."""
        return self._buffer.clear()

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(new_state)`` synchronously at every state change."""
        self._state_listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        """Stop calling ``listener``; does nothing if it was not added."""
        if listener in self._state_listeners:
            self._state_listeners.remove(listener)

    def add_frame_listener(self, listener: FrameListener) -> None:
        """Call ``listener(direction, frame, at)`` for every WebSocket message.

        ``direction`` is ``"sent"`` or ``"received"``, ``frame`` a str (text) or
        bytes (binary), ``at`` the time in seconds since the epoch. It runs
        synchronously in the client's loop: keep it quick.
        """
        self._frame_listeners.append(listener)

    def remove_frame_listener(self, listener: FrameListener) -> None:
        """Stop calling ``listener``; does nothing if it was not added."""
        if listener in self._frame_listeners:
            self._frame_listeners.remove(listener)

    def _set_state(self, state: ClientState) -> None:
        if state is self._state:
            return
        self._state = state
        for listener in tuple(self._state_listeners):
            call_listener(listener, (state,), _log)

    def _frame(self, direction: str, frame: Frame) -> None:
        if self._frame_listeners:  # cheap when nobody watches
            at = time.time()
            for listener in tuple(self._frame_listeners):
                call_listener(listener, (direction, frame, at), _log)

    # -- listeners ---------------------------------------------------------------------

    @overload
    def on(
        self, event: str, handler: None = None, *, namespace: str = "/"
    ) -> Callable[[L], L]: ...

    @overload
    def on(self, event: str, handler: L, *, namespace: str = "/") -> L: ...

    def on(
        self, event: str, handler: L | None = None, *, namespace: str = "/"
    ) -> L | Callable[[L], L]:
        """Register a listener for ``event``; without ``handler``, use as a decorator.

        Listeners may be sync or async and receive the event's arguments. When the
        server asks for an ack, the first listener's return value is sent back:
        ``None`` as no arguments, a tuple as its items, anything else as one.

        Reserved events: ``connect``, ``disconnect`` (reason), ``connect_error``
        (the :class:`ConnectRefusedError` or :class:`ConnectFailedError`), and, for
        the whole connection whatever the namespace, ``reconnect_attempt``
        (attempt number), ``reconnect`` (attempts it took), ``reconnect_failed``.
        """
        emitter = self._manager if event in MANAGER_EVENTS else self._ns(namespace).emitter
        if handler is None:
            return emitter.on(event)
        return emitter.on(event, handler)

    def off(self, event: str, handler: Listener | None = None, *, namespace: str = "/") -> None:
        """Remove ``handler`` from ``event``, or all its listeners when None."""
        emitter = self._manager if event in MANAGER_EVENTS else self._ns(namespace).emitter
        emitter.off(event, handler)

    def on_any(self, handler: L, *, namespace: str = "/") -> L:
        """Register a catch-all listener, called as ``handler(event, *args)`` for
        every event the server sends (reserved events excluded). Its result is not
        used for acks."""
        return self._ns(namespace).emitter.on_any(handler)

    def off_any(self, handler: Listener | None = None, *, namespace: str = "/") -> None:
        """Remove one catch-all listener, or all of them when None."""
        self._ns(namespace).emitter.off_any(handler)

    def _ns(self, namespace: str) -> NamespaceState:
        try:
            return self._namespaces[namespace]
        except KeyError:
            raise UsageError(
                f"this client does not connect to namespace {namespace!r}; create it "
                f"with Client(url, namespaces=({', '.join(map(repr, self._namespaces))}, "
                f"{namespace!r}))"
            ) from None

    def _fire(self, emitter: Emitter, event: str, *args: Any) -> None:
        for awaitable in emitter.emit(event, *args):
            self._spawn(awaitable)

    def _spawn(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(_logged(awaitable))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sending -----------------------------------------------------------------------

    async def emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send an event. While reconnecting it is buffered and sent on reconnect.

        Raises:
            NotConnectedError: before ``connect()``, after ``disconnect()``, after a
                kick or refusal.
            QueueFullError: reconnecting, and the buffer is full.
            ValueError: the arguments cannot be sent (e.g. NaN, a reserved name).
        """
        await self._send(self._event(event, args, namespace, None))

    async def call(
        self,
        event: str,
        *args: Any,
        timeout: float = 5.0,  # noqa: ASYNC109 - an ack timeout, not a call deadline
        namespace: str = "/",
    ) -> list[Any]:
        """Send an event and wait for the server's acknowledgement.

        Returns:
            The ack's arguments (``[]`` when the server acked with none).

        Raises:
            AckTimeoutError: no ack within ``timeout`` seconds.
            NotConnectedError, QueueFullError, ValueError: as for :meth:`emit`;
                NotConnectedError also when the connection ends for good meanwhile.
        """
        ack_id = self._next_ack
        self._next_ack += 1
        packet = self._event(event, args, namespace, ack_id)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending[ack_id] = (namespace, future)
        try:
            async with asyncio.timeout(timeout):
                await self._send(packet)
                return await future
        except TimeoutError:
            raise AckTimeoutError(event, timeout) from None
        finally:
            self._pending.pop(ack_id, None)

    def _event(self, event: str, args: tuple[Any, ...], namespace: str, ack: int | None) -> Packet:
        if not isinstance(event, str) or not event:
            raise ValueError(f"an event name is a non-empty str, got {event!r}")
        if event in _RESERVED:
            raise ValueError(f"{event!r} is a reserved event name; choose another one")
        self._ns(namespace)
        return Packet(PacketType.EVENT, namespace, [event, *args], ack)

    async def _send(self, packet: Packet) -> None:
        frames = encode(packet)  # bad data fails here, before anything is queued
        ns = self._namespaces[packet.namespace]
        self._check_can_send(ns)
        session = self._session
        if session is not None and session.live and ns.connected:
            try:
                async with session.lock:
                    await self._write(session, frames)
                return
            except ConnectionClosed:
                pass  # lost under our feet: buffer it, the reconnection will send it
        self._buffer.put(Buffered(ns.name, frames))

    def _check_can_send(self, ns: NamespaceState) -> None:
        state = self._state
        if state in (ClientState.CONNECTED, ClientState.RECONNECTING) and ns.active:
            return
        if state is ClientState.CLOSED:
            why = "the client was closed by disconnect()"
        elif state is ClientState.CONNECTING:
            why = "connect() has not finished yet"
        elif not self._ever_connected:
            why = "the client never connected"
        elif not ns.active:
            why = f"the server disconnected namespace {ns.name!r} (a kick)"
        else:
            why = "the connection ended (kick, refusal, or reconnection gave up)"
        raise NotConnectedError(f"cannot send: {why}; await client.connect() first")

    async def _write(self, session: Session, frames: list[Frame]) -> None:
        for frame in frames:
            await session.ws.send(frame)
            self._frame("sent", frame)

    async def _ack(self, session: Session, namespace: str, ack_id: int, value: Any) -> None:
        if inspect.isawaitable(value):
            value = await value
        if session is not self._session or not session.live:
            return  # acks belong to the session that asked; the server forgot it
        frames = encode(Packet(PacketType.ACK, namespace, ack_data(value), ack_id))
        try:
            async with session.lock:
                await self._write(session, frames)
        except ConnectionClosed:
            pass

    # -- connecting --------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the server and to every namespace.

        Raises:
            ConnectRefusedError: the server refused a namespace (no reconnection).
            ConnectFailedError: the server could not be reached in time.
            UsageError: the client is already connected or connecting.
        """
        if self._state in (
            ClientState.CONNECTING,
            ClientState.CONNECTED,
            ClientState.RECONNECTING,
        ):
            raise UsageError(
                f"the client is already {self._state.value}; call disconnect() before "
                "connecting again"
            )
        for ns in self._namespaces.values():
            ns.active = True
        self._set_state(ClientState.CONNECTING)
        try:
            session = await self._establish()
        except BaseException:
            if self.state is ClientState.CONNECTING:  # not closed by disconnect() meanwhile
                self._set_state(ClientState.DISCONNECTED)
            raise
        self._supervisor = asyncio.create_task(self._supervise(session))

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def _auth_data(self) -> dict[str, Any] | None:
        value: Any = self._auth
        if callable(value):
            value = value()
            if inspect.isawaitable(value):
                value = await value
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TypeError(f"auth must be a dict or a function returning one, got {value!r}")
        return dict(value)

    async def _establish(self) -> Session:
        """Open one WebSocket and connect every active namespace, or raise."""
        auth = await self._auth_data()
        active = [ns for ns in self._namespaces.values() if ns.active]
        session: Session | None = None
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    ws = await ws_connect(
                        self.ws_url,
                        additional_headers=self._headers,
                        open_timeout=None,  # the surrounding timeout covers everything
                        close_timeout=self.close_timeout,
                        ping_interval=None,  # Engine.IO has its own heartbeat
                        max_size=self._max_size,
                    )
                    try:
                        first = await ws.recv()
                        self._frame("received", first)
                        session = Session(ws, decode_open(first), [ns.name for ns in active])
                    finally:
                        if session is None:
                            ws.transport.abort()
                    session.reader = asyncio.create_task(self._read(session))
                    for ns in active:
                        await self._write(
                            session, encode(Packet(PacketType.CONNECT, ns.name, auth))
                        )
                    await asyncio.wait(
                        (session.settled, session.reader), return_when=asyncio.FIRST_COMPLETED
                    )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                raise ConnectFailedError(self.url, _describe(exc)) from exc
            except (ConnectionClosed, PacketError) as exc:
                raise ConnectFailedError(self.url, f"bad handshake ({exc})") from exc
            if not session.settled.done():
                reason = session.reader.result()
                raise ConnectFailedError(self.url, f"closed during the handshake ({reason})")
            if session.refusals:
                raise session.refusals[0]
        except BaseException as exc:
            if session is not None:
                await self._abandon(session, polite=isinstance(exc, ConnectRefusedError))
            if isinstance(exc, ConnectFailedError):
                for ns in active:
                    self._fire(ns.emitter, "connect_error", exc)
            raise
        await self._go_live(session, active)
        return session

    async def _go_live(self, session: Session, active: list[NamespaceState]) -> None:
        async with session.lock:
            session.live = True
            self._session = session
            self._ever_connected = True
            self._set_state(ClientState.CONNECTED)
            # If the transport drops mid-flush the reader sees it too and the
            # supervisor reconnects; what was not sent stays buffered.
            with contextlib.suppress(ConnectionClosed):
                await self._flush(session)
        # From here on, synchronously: events queued during the handshake come out
        # first and in order, before any event the reader receives next.
        session.ready = True
        for ns in active:
            if ns.connected:
                self._fire(ns.emitter, "connect")
                inbox, ns.inbox = ns.inbox, []
                for packet in inbox:
                    self._dispatch(session, ns, packet)

    async def _flush(self, session: Session) -> None:
        while (item := self._buffer.peek()) is not None:
            if not self._namespaces[item.namespace].connected:
                self._buffer.pop()
                _log.warning("dropped a buffered emit: namespace %s is gone", item.namespace)
                continue
            await self._write(session, item.frames)
            self._buffer.pop()

    async def _abandon(self, session: Session, *, polite: bool) -> None:
        """Close a session that never went live."""
        reader = session.reader
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        for ns in self._namespaces.values():
            ns.connected, ns.sid, ns.inbox = False, None, []
        await _close(session, polite=polite)

    # -- receiving ---------------------------------------------------------------------

    async def _read(self, session: Session) -> str:
        """Receive until the transport ends; return the disconnect reason."""
        loop = asyncio.get_running_loop()
        info = session.info
        watch = SilenceWatch(info.ping_interval / 1000, info.ping_timeout / 1000, loop.time())
        reason = "transport close"
        while True:
            try:
                async with asyncio.timeout_at(watch.deadline):
                    frame = await session.ws.recv()
            except TimeoutError:
                reason = "ping timeout"
                break
            except ConnectionClosed:
                break
            watch.heard(loop.time())
            self._frame("received", frame)
            try:
                item = session.decoder.feed(frame)
                outcome = None if item is None else await self._handle(session, item)
            except PacketError as exc:
                _log.warning("closing the connection: the server sent a bad packet (%s)", exc)
                reason = "parse error"
                break
            except ConnectionClosed:
                break
            if outcome is not None:
                reason = outcome
                break
        session.live = False
        await _close(session, polite=reason in ("io server disconnect", "transport close"))
        return reason

    async def _handle(self, session: Session, item: EnginePacket | Packet) -> str | None:
        """React to one packet; return a disconnect reason when the session ends."""
        if isinstance(item, EnginePacket):
            if item.type is EngineType.PING:
                probe = item.data if isinstance(item.data, str) else ""
                async with session.lock:
                    await self._write(session, ["3" + probe])
            elif item.type is EngineType.CLOSE:
                return "transport close"
            return None
        ns = self._namespaces.get(item.namespace)
        if ns is None or not ns.active:
            _log.debug("ignored a packet for namespace %s", item.namespace)
            return None
        kind = item.type
        if kind is PacketType.CONNECT:
            sid = item.data.get("sid") if isinstance(item.data, dict) else None
            if not isinstance(sid, str):
                raise PacketError("the CONNECT reply has no sid (not a Socket.IO v5 server?)")
            if not session.settled.done():
                ns.sid, ns.connected = sid, True
                session.answered(ns.name)
        elif kind is PacketType.CONNECT_ERROR:
            data = item.data
            if isinstance(data, str):  # python-socketio's form for an unknown namespace
                error = ConnectRefusedError(data, None, ns.name)
            else:
                error = ConnectRefusedError(
                    str(data.get("message", "")), data.get("data"), ns.name
                )
            if not session.settled.done():
                session.refusals.append(error)
                session.answered(ns.name)
            self._fire(ns.emitter, "connect_error", error)
        elif kind is PacketType.DISCONNECT:
            if ns.connected:
                ns.connected, ns.active, ns.sid = False, False, None
                self._fail_pending(ns.name, "the server disconnected this namespace")
                self._fire(ns.emitter, "disconnect", "io server disconnect")
            if not any(n.connected for n in self._namespaces.values()):
                return "io server disconnect"
        elif kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
            if session.ready:
                self._dispatch(session, ns, item)
            else:
                ns.inbox.append(item)
        else:  # ACK, BINARY_ACK
            entry = self._pending.get(item.id) if item.id is not None else None
            if entry is not None and entry[0] == ns.name and not entry[1].done():
                entry[1].set_result(item.args)
            else:
                _log.debug("ignored an ack for unknown id %s on %s", item.id, ns.name)
        return None

    def _dispatch(self, session: Session, ns: NamespaceState, packet: Packet) -> None:
        """Call the listeners of one event; synchronous so events keep their order."""
        event, args = packet.event or "", tuple(packet.args)
        for awaitable in ns.emitter.emit_any(event, *args):
            self._spawn(awaitable)
        listeners = ns.emitter.listeners(event)
        if not listeners:
            _log.debug("no listener for event %r on %s", event, ns.name)
        first_ok, first = not listeners, None
        for index, listener in enumerate(listeners):
            ok, result = call_listener(listener, args, _log)
            if index == 0:
                first_ok, first = ok, result
            elif ok and inspect.isawaitable(result):
                self._spawn(result)
        if packet.id is not None and first_ok:
            self._spawn(self._ack(session, ns.name, packet.id, first))
        elif inspect.isawaitable(first):
            self._spawn(first)
        # A listener that raised sends no ack: the server's own timeout reports it.

    def _fail_pending(self, namespace: str | None, why: str) -> None:
        for ns_name, future in list(self._pending.values()):
            if (namespace is None or ns_name == namespace) and not future.done():
                future.set_exception(NotConnectedError(f"no ack will come: {why}"))

    # -- staying connected -------------------------------------------------------------

    async def _supervise(self, session: Session) -> None:
        """Own the connection after connect(): watch it, reconnect, or wind down."""
        while True:
            assert session.reader is not None
            try:
                reason = await session.reader
            except Exception:  # a bug in the reader must not leave the client stuck
                _log.exception("the receive loop failed")
                reason = "transport close"
            self._session = None
            lost = [ns for ns in self._namespaces.values() if ns.connected]
            for ns in lost:
                ns.connected, ns.sid = False, None
            retry = (
                reason != "io server disconnect"
                and self.reconnection is not None
                and any(ns.active for ns in self._namespaces.values())
            )
            if not retry:
                self._wind_down(ClientState.DISCONNECTED, f"the connection ended ({reason})")
            else:
                self._set_state(ClientState.RECONNECTING)
            for ns in lost:
                self._fire(ns.emitter, "disconnect", reason)
            if not retry:
                return
            next_session = await self._reconnect()
            if next_session is None:
                return
            session = next_session

    async def _reconnect(self) -> Session | None:
        assert self.reconnection is not None
        attempt = 0
        for delay in self.reconnection.delays():
            await asyncio.sleep(delay)
            attempt += 1
            self._fire(self._manager, "reconnect_attempt", attempt)
            try:
                session = await self._establish()
            except ConnectRefusedError:
                self._wind_down(ClientState.DISCONNECTED, "the server refused the reconnection")
                return None
            except ConnectFailedError as exc:
                _log.info("reconnection attempt %d failed: %s", attempt, exc)
                continue
            except Exception:
                _log.exception("reconnection attempt %d failed", attempt)
                continue
            self._fire(self._manager, "reconnect", attempt)
            return session
        self._fire(self._manager, "reconnect_failed")
        self._wind_down(ClientState.DISCONNECTED, "reconnection gave up")
        return None

    def _wind_down(self, state: ClientState, why: str) -> None:
        self._set_state(state)
        self._fail_pending(None, why)

    # -- disconnecting -----------------------------------------------------------------

    async def disconnect(self) -> None:
        """Leave every namespace, close the connection and stop every task.

        No reconnection follows. Emits buffered while reconnecting stay buffered
        (see :attr:`buffered`) and go out at the next :meth:`connect`.
        """
        was_active = self._state in (
            ClientState.CONNECTING,
            ClientState.CONNECTED,
            ClientState.RECONNECTING,
        )
        if was_active:
            self._set_state(ClientState.CLOSED)
        current = asyncio.current_task()
        supervisor, self._supervisor = self._supervisor, None
        session, self._session = self._session, None
        if supervisor is not None and supervisor is not current and not supervisor.done():
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        if session is not None and session.reader is not None and session.reader is not current:
            session.reader.cancel()
            await asyncio.gather(session.reader, return_exceptions=True)
        lost = [ns for ns in self._namespaces.values() if ns.connected]
        if session is not None:
            session.live = False
            try:
                for ns in lost:
                    await self._write(session, encode(Packet(PacketType.DISCONNECT, ns.name)))
            except ConnectionClosed:
                pass
            await _close(session, polite=True)
        self._fail_pending(None, "disconnect() was called")
        earlier = {task for task in self._tasks if task is not current}
        for task in earlier:
            task.cancel()
        for ns in lost:
            ns.connected, ns.sid = False, None
            self._fire(ns.emitter, "disconnect", "io client disconnect")
        await asyncio.gather(*earlier, return_exceptions=True)
        # Give the disconnect listeners just started a moment to finish, then stop them.
        later = {task for task in self._tasks if task is not current}
        if later:
            await asyncio.wait(later, timeout=self.close_timeout)
            for task in later:
                task.cancel()
            await asyncio.gather(*later, return_exceptions=True)


async def _logged(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:
        _log.exception("an async listener raised")
        return None


async def _close(session: Session, *, polite: bool) -> None:
    """Close the WebSocket: a closing handshake if the peer is alive, else an abort."""
    if polite:
        try:
            await session.ws.close()
            return
        except Exception:  # the peer vanished meanwhile: fall through to the abort
            _log.debug("closing handshake failed", exc_info=True)
    session.ws.transport.abort()
    await session.ws.wait_closed()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__
