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
from collections.abc import Callable, Mapping
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ._client_base import RESERVED_EVENTS, Auth, FrameListener, StateListener
from ._receiving import Receiver
from ._session import Buffered, ClientState, NamespaceState, Session
from .exceptions import (
    AckTimeoutError,
    ConnectFailedError,
    ConnectRefusedError,
    NotConnectedError,
    PacketError,
    UsageError,
)
from .packets import Frame, Packet, PacketType, decode_open

__all__ = ["Auth", "Client", "ClientState", "FrameListener", "StateListener"]

_log = logging.getLogger("wslearn.client")


class Client(Receiver):
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
        parser: how Socket.IO packets are encoded; the server must use the same one
            (:data:`~wslearn.packets.JSON_PARSER`, the reference parser, by default).
        ssl: the TLS context for an ``https://`` / ``wss://`` server, e.g. one that
            trusts your own certificate authority; None uses the system's defaults.
        compression: the permessage-deflate offer (see :mod:`wslearn.compression`);
            by default a threshold of 1024 bytes, zlib state made on first use.
            None offers no compression. The server decides whether it is used
            (:class:`wslearn.Server` declines unless told otherwise).

    Raises:
        ValueError: a malformed URL or namespace.
    """

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

    async def emit_now(
        self,
        event: str,
        *args: Any,
        namespace: str = "/",
        callback: Callable[..., object] | None = None,
    ) -> bool:
        """Send an event only if the connection is up right now; never buffer it.

        The building block for your own delivery guarantees
        (:class:`wslearn.reliable.ReliableEmitter` is built on it): nothing is kept
        for later, so the caller knows exactly what went out on which connection and
        decides itself what to send again.

        Args:
            event: the event name.
            *args: its arguments.
            namespace: the namespace to send on.
            callback: asks the server for an ack; called with the ack's arguments if
                it arrives on this same connection. If the connection ends first it is
                never called (and not kept).

        Returns:
            True once the frames were handed to the connection; False when there is
            no live connection (reconnecting, lost while writing, or its ``connect``
            listeners have not run yet): nothing was kept, send it again after the
            next ``connect`` event.

        Raises:
            NotConnectedError: before ``connect()``, after ``disconnect()``, after a
                kick or refusal.
            ValueError: the arguments cannot be sent (as for :meth:`emit`).
        """
        ack_id: int | None = None
        if callback is not None:
            ack_id = self._next_ack
            self._next_ack += 1
        packet = self._event(event, args, namespace, ack_id)
        frames = self._encode_checked(packet)
        ns = self._namespaces[namespace]
        self._check_can_send(ns)
        session = self._session
        # Not before the ``connect`` listeners ran: they decide what to send first.
        if session is None or not session.live or not session.ready or not ns.connected:
            return False
        if ack_id is not None and callback is not None:
            session.callbacks[ack_id] = callback  # dies with the session: no leak
        try:
            async with session.lock:
                await self._write(session, frames)
        except ConnectionClosed:
            if ack_id is not None:
                session.callbacks.pop(ack_id, None)
            return False
        return True

    def _event(self, event: str, args: tuple[Any, ...], namespace: str, ack: int | None) -> Packet:
        if not isinstance(event, str) or not event:
            raise ValueError(f"an event name is a non-empty str, got {event!r}")
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name; choose another one")
        self._ns(namespace)
        return Packet(PacketType.EVENT, namespace, [event, *args], ack)

    def _encode_checked(self, packet: Packet) -> list[Frame]:
        frames = self._parser.encode(packet)  # bad data fails here, before anything is queued
        if self._max_payload is not None:
            size = sum(len(f.encode()) if isinstance(f, str) else len(f) for f in frames)
            if size > self._max_payload:
                raise ValueError(
                    f"this message is {size} bytes and the server accepts at most "
                    f"{self._max_payload} (its maxPayload); send it in smaller pieces"
                )
        return frames

    async def _send(self, packet: Packet) -> None:
        frames = self._encode_checked(packet)
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

    # -- connecting --------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the server and to every namespace.

        Raises:
            ConnectRefusedError: the server refused a namespace (no reconnection).
            ConnectFailedError: the server could not be reached in time.
            NotConnectedError: :meth:`disconnect` was called before it finished.
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
        epoch = self._epoch
        auth = await self._auth_data()
        active = [ns for ns in self._namespaces.values() if ns.active]
        session: Session | None = None
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    # No ssl argument at all for wss:// without a context: the default one.
                    tls: dict[str, Any] = {} if self.ssl is None else {"ssl": self.ssl}
                    ws = await ws_connect(
                        self.ws_url,
                        additional_headers=self._headers,
                        open_timeout=None,  # the surrounding timeout covers everything
                        close_timeout=self.close_timeout,
                        ping_interval=None,  # Engine.IO has its own heartbeat
                        max_size=self._max_size,
                        **tls,
                        compression=None,  # the offer, if any, is in extensions
                        extensions=(
                            None
                            if self.compression is None
                            else [self.compression.client_factory()]
                        ),
                    )
                    try:
                        first = await ws.recv()
                        self._frame("received", first)
                        session = Session(
                            ws, decode_open(first), [ns.name for ns in active], self._parser
                        )
                    finally:
                        if session is None:
                            ws.transport.abort()
                    session.reader = asyncio.create_task(self._read(session))
                    for ns in active:
                        data = auth
                        if ns.pid is not None and ns.offset is not None:
                            # Connection state recovery: ask for the missed events.
                            data = {**(auth or {}), "pid": ns.pid, "offset": ns.offset}
                        await self._write(
                            session, self._parser.encode(Packet(PacketType.CONNECT, ns.name, data))
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
            if epoch != self._epoch:
                raise NotConnectedError("disconnect() was called while connecting")
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
            self._max_payload = session.info.max_payload
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
        await session.close(polite=polite)

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

        No reconnection follows; the state becomes CLOSED. Emits buffered while
        reconnecting stay buffered (see :attr:`buffered`) and go out at the next
        :meth:`connect`. Async ``disconnect`` listeners get ``close_timeout`` seconds
        to finish; every other task of the client is cancelled.
        """
        self._epoch += 1
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
                    await self._write(
                        session, self._parser.encode(Packet(PacketType.DISCONNECT, ns.name))
                    )
            except ConnectionClosed:
                pass
            await session.close(polite=True)
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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__
