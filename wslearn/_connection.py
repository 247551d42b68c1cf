"""One client's WebSocket connection to the server: the Engine.IO layer.

A :class:`Connection` owns three tasks and a queue:

- the **reader** (:meth:`Connection.run`) decodes frames and dispatches packets;
- the **writer** sends whatever is in the bounded outgoing queue, in order;
- the **heartbeat** pings the client and closes the connection when a pong is late.

Everything that sends (an emit, a broadcast, an ack, a ping) only puts frames into
the queue, so no sender ever waits for a slow client. A client whose queue fills up
is disconnected instead of growing the server's memory.

Close codes the server uses:

======  ============================================================================
1000    the client sent Engine.IO close (``1``), or ``socket.disconnect(close=True)``
1001    ``server.stop()``: going away, clients reconnect
1002    protocol error: malformed packet, first packet not CONNECT, a client ping
        (``2``, "invalid heartbeat direction"), an unexpected Engine.IO packet
1008    policy: no CONNECT within ``connect_timeout``, no pong within
        ``ping_timeout``, outgoing queue full (the client reads too slowly), the
        token of :mod:`wslearn.auth` expired ("token expired")
1009    a message over ``max_payload`` (set by websockets' ``max_size``)
1013    over the per-address connection cap (only when several connections race
        past the HTTP check; normally the cap answers HTTP 429)
======  ============================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.frames import CloseCode

from .exceptions import ConnectRefusedError, PacketError
from .heartbeat import HeartbeatAction, PingSchedule
from .namespace import DisconnectReason, Handshake, Socket, SocketState
from .packets import (
    EnginePacket,
    EngineType,
    Frame,
    OpenInfo,
    Packet,
    PacketType,
    decode_engine,
    encode_open,
)

if TYPE_CHECKING:
    from .server import Server

logger = logging.getLogger("wslearn.server")

_MAX_REASON = 120  # a close reason must fit in 123 bytes


class Connection:
    """The server side of one Engine.IO connection over WebSocket.

    Args:
        server: the server that accepted the connection.
        ws: the websockets connection, after a successful handshake.
    """

    def __init__(self, server: Server, ws: ServerConnection) -> None:
        self.server = server
        self.ws = ws
        self.sid = secrets.token_urlsafe(15)
        self.sockets: dict[str, Socket] = {}  # by namespace name
        assert ws.request is not None  # the handshake is done when a handler runs
        url = urlsplit(ws.request.path)
        query = parse_qs(url.query, keep_blank_values=True)
        self.query = {key: values[0] for key, values in query.items()}
        self.headers = ws.request.headers
        self.address = str(ws.remote_address[0]) if ws.remote_address else ""
        self._parser = server.parser
        self._decoder = server.parser.decoder()
        self._queue: asyncio.Queue[tuple[Frame, ...]] = asyncio.Queue(server.outgoing_queue_size)
        self._slots = asyncio.Semaphore(server.max_pending_events)
        self._connected = asyncio.Event()
        self._schedule = PingSchedule(
            server.ping_interval, server.ping_timeout, asyncio.get_running_loop().time()
        )
        self._pong = asyncio.Event()  # wakes the heartbeat loop: the next ping is due
        self._reason: DisconnectReason | None = None
        self._closing = False
        self._seen_socketio = False

    def __repr__(self) -> str:
        return f"<Connection {self.sid} from {self.address}>"

    # -- lifecycle ----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it closes, then clean up every socket."""
        server = self.server
        info = OpenInfo(
            sid=self.sid,
            ping_interval=round(server.ping_interval * 1000),
            ping_timeout=round(server.ping_timeout * 1000),
            max_payload=server.max_payload,
        )
        self.enqueue((encode_open(info),))
        writer = asyncio.create_task(self._write_loop())
        watchers = [
            asyncio.create_task(self._heartbeat_loop()),
            asyncio.create_task(self._connect_deadline()),
        ]
        try:
            await self._read_loop()
        except ConnectionClosedError:
            self._set_reason(DisconnectReason.TRANSPORT_ERROR)
        finally:
            shutting_down = server.stopping
            self._set_reason(
                DisconnectReason.SERVER_SHUTDOWN
                if shutting_down
                else DisconnectReason.TRANSPORT_CLOSE
            )
            self._closing = True
            self.detach_all()
            for task in (writer, *watchers):
                task.cancel()
            await asyncio.gather(writer, *watchers, return_exceptions=True)

    async def shutdown(self) -> None:
        """Close for a server stop: code 1001 and no DISCONNECT, so clients reconnect."""
        self._set_reason(DisconnectReason.SERVER_SHUTDOWN)
        self._closing = True
        self.detach_all()
        await self._close_ws(CloseCode.GOING_AWAY, "server shutting down")

    async def close_after_flush(
        self,
        code: CloseCode = CloseCode.NORMAL_CLOSURE,
        text: str = "closed by the server",
        reason: DisconnectReason = DisconnectReason.FORCED_CLOSE,
    ) -> None:
        """Let the queued packets go out (bounded by close_timeout), then close.

        The default is 1000, a forced close; :mod:`wslearn.auth` closes with 1008
        "token expired" so that the client reconnects with a fresh token.
        """
        try:
            async with asyncio.timeout(self.server.close_timeout):
                await self._queue.join()
        except TimeoutError:
            pass
        self.fail(code, text, reason)

    def fail(self, code: CloseCode, text: str, reason: DisconnectReason) -> None:
        """Start closing the connection: sockets leave at once, the close runs in a task."""
        if self._closing:
            return
        self._closing = True
        self._set_reason(reason)
        self.detach_all()
        self.server.spawn(self._close_ws(code, text))

    def detach_all(self) -> None:
        """Take every socket of this connection out of its namespace."""
        reason = self._reason or DisconnectReason.TRANSPORT_CLOSE
        for socket in list(self.sockets.values()):
            socket._nsp.remove(socket, reason, notify_client=False)

    async def _close_ws(self, code: CloseCode, text: str) -> None:
        # websockets' close() waits for the write buffer to drain first, which never
        # happens with a peer that does not read: abort after close_timeout.
        try:
            async with asyncio.timeout(self.server.close_timeout):
                await self.ws.close(code, text[:_MAX_REASON])
        except TimeoutError:
            self.ws.transport.abort()

    def _set_reason(self, reason: DisconnectReason) -> None:
        if self._reason is None:
            self._reason = reason

    # -- sending ------------------------------------------------------------------

    def enqueue(self, frames: tuple[Frame, ...]) -> None:
        """Queue the frames of one packet; never waits. A full queue closes the client."""
        if self._closing:
            return
        try:
            self._queue.put_nowait(frames)
        except asyncio.QueueFull:
            logger.warning(
                "connection %s from %s: %d packets queued and unread, closing it (1008)",
                self.sid,
                self.address,
                self._queue.maxsize,
            )
            while not self._queue.empty():  # free the memory now, not at close
                self._queue.get_nowait()
                self._queue.task_done()
            self.fail(
                CloseCode.POLICY_VIOLATION,
                "outgoing queue full: client too slow",
                DisconnectReason.SLOW_CLIENT,
            )

    def send_packet(self, packet: Packet) -> None:
        """Encode and queue one Socket.IO packet."""
        self.enqueue(tuple(self._parser.encode(packet)))

    async def _write_loop(self) -> None:
        while True:
            frames = await self._queue.get()
            try:
                for frame in frames:
                    await self.ws.send(frame)
            except ConnectionClosed:
                return
            finally:
                self._queue.task_done()

    # -- timers -------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            action = self._schedule.due(now)
            if action is HeartbeatAction.SEND_PING:
                self.enqueue(("2",))
                self._schedule.ping_sent(now)
            elif action is HeartbeatAction.CLOSE:
                logger.info("connection %s: no pong in time, closing", self.sid)
                self.fail(
                    CloseCode.POLICY_VIOLATION, "ping timeout", DisconnectReason.PING_TIMEOUT
                )
                return
            # Sleep until the deadline, or until a pong arrives: the next ping is due
            # ping_interval after the pong, which may be sooner than the deadline.
            self._pong.clear()
            delay = max(0.0, self._schedule.next_wakeup(loop.time()) - loop.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._pong.wait()

    async def _connect_deadline(self) -> None:
        try:
            async with asyncio.timeout(self.server.connect_timeout):
                await self._connected.wait()
        except TimeoutError:
            logger.info("connection %s: no CONNECT in time, closing", self.sid)
            self.fail(
                CloseCode.POLICY_VIOLATION,
                f"no CONNECT within {self.server.connect_timeout:g} s",
                DisconnectReason.TRANSPORT_CLOSE,
            )

    def mark_connected(self) -> None:
        """Called when a namespace accepted this client: the connect deadline is met."""
        self._connected.set()

    # -- receiving ----------------------------------------------------------------

    async def _read_loop(self) -> None:
        async for frame in self.ws:
            if self._closing:
                continue  # a close is under way: nothing more is dispatched
            try:
                if isinstance(frame, str) and frame[:1] != "4":
                    item: EnginePacket | Packet | None = decode_engine(frame)
                else:
                    item = self._decoder.feed(frame)
            except PacketError as exc:
                logger.info("connection %s: malformed packet, closing: %s", self.sid, exc)
                self.fail(CloseCode.PROTOCOL_ERROR, exc.reason, DisconnectReason.PARSE_ERROR)
                continue
            if isinstance(item, EnginePacket):
                self._on_engine_packet(item)
            elif item is not None:
                await self._on_packet(item)

    def _on_engine_packet(self, packet: EnginePacket) -> None:
        kind = packet.type
        if kind is EngineType.PONG:
            if self._schedule.pong_received(asyncio.get_running_loop().time()):
                self._pong.set()
        elif kind is EngineType.PING:
            self.fail(
                CloseCode.PROTOCOL_ERROR,
                "invalid heartbeat direction",
                DisconnectReason.TRANSPORT_ERROR,
            )
        elif kind is EngineType.CLOSE:
            self.fail(CloseCode.NORMAL_CLOSURE, "", DisconnectReason.TRANSPORT_CLOSE)
        elif kind is not EngineType.NOOP:
            self.fail(
                CloseCode.PROTOCOL_ERROR,
                f"unexpected Engine.IO {kind.name} packet",
                DisconnectReason.PARSE_ERROR,
            )

    async def _on_packet(self, packet: Packet) -> None:
        kind, name = packet.type, packet.namespace
        first, self._seen_socketio = not self._seen_socketio, True
        if first and kind is not PacketType.CONNECT:
            self.fail(
                CloseCode.PROTOCOL_ERROR,
                "the first Socket.IO packet must be CONNECT",
                DisconnectReason.PARSE_ERROR,
            )
            return
        socket = self.sockets.get(name)
        if kind is PacketType.CONNECT:
            self._on_connect(packet)
        elif kind is PacketType.DISCONNECT:
            if socket is not None:
                socket._nsp.remove(socket, DisconnectReason.CLIENT_NAMESPACE, notify_client=False)
        elif kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
            if socket is None:
                logger.debug("connection %s: event for %s, not connected there", self.sid, name)
                return
            # One slot per event being handled: a flood waits here instead of
            # spawning without bound.
            await self._slots.acquire()
            if socket.state is SocketState.CONNECTING:
                socket._backlog.append(packet)
            elif socket.state is SocketState.CONNECTED:
                self._spawn_event(socket, packet)
            else:
                self._slots.release()
        elif kind in (PacketType.ACK, PacketType.BINARY_ACK):
            if socket is not None and packet.id is not None:
                socket._resolve_ack(packet.id, packet.args)
        else:
            self.fail(
                CloseCode.PROTOCOL_ERROR,
                f"a client cannot send {kind.name}",
                DisconnectReason.PARSE_ERROR,
            )

    def _on_connect(self, packet: Packet) -> None:
        name = packet.namespace
        if name in self.sockets:
            logger.debug("connection %s: repeated CONNECT to %s ignored", self.sid, name)
            return
        namespace = self.server.namespaces.get(name)
        if namespace is None:
            self.send_packet(
                Packet(PacketType.CONNECT_ERROR, name, {"message": "Invalid namespace"})
            )
            return
        auth = packet.data if isinstance(packet.data, dict) else {}
        handshake = Handshake(auth, self.headers, self.address, self.query)
        socket = Socket(namespace, self, handshake)
        self.sockets[name] = socket  # claimed now, so a repeated CONNECT is ignored
        self.server.spawn(namespace.connect(socket))

    def _spawn_event(self, socket: Socket, packet: Packet) -> None:
        task = self.server.spawn(socket._nsp.handle_event(socket, packet))
        task.add_done_callback(lambda _: self._slots.release())

    def start_events(self, socket: Socket) -> None:
        """The socket finished connecting: handle the events that waited for it."""
        backlog, socket._backlog = socket._backlog, []
        for packet in backlog:
            self._spawn_event(socket, packet)

    def drop_backlog(self, socket: Socket) -> None:
        """The socket will never connect: forget its waiting events."""
        for _ in socket._backlog:
            self._slots.release()
        socket._backlog.clear()

    def refuse(self, socket: Socket, exc: Exception) -> None:
        """Answer a CONNECT with CONNECT_ERROR after middleware raised ``exc``."""
        self.drop_backlog(socket)
        if isinstance(exc, ConnectRefusedError):
            body: dict[str, Any] = {"message": exc.message}
            if exc.data is not None:
                body["data"] = exc.data
        else:
            logger.error("middleware of %s raised", socket.namespace, exc_info=exc)
            body = {"message": "server error"}
        try:
            frames = tuple(
                self._parser.encode(Packet(PacketType.CONNECT_ERROR, socket.namespace, body))
            )
        except (TypeError, ValueError):
            logger.error("refusal data for %s is not JSON; sent without it", socket.namespace)
            body = {"message": str(body["message"])}
            frames = tuple(
                self._parser.encode(Packet(PacketType.CONNECT_ERROR, socket.namespace, body))
            )
        self.enqueue(frames)
