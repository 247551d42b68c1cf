"""One client's Engine.IO session on the server, whatever transport carries it.

An :class:`EngineSession` is what the server knows of one client: its sid, its
sockets (one per namespace), its heartbeat and its decoder. Frames reach it from a
transport (:mod:`wslearn._websocket` or :mod:`wslearn._longpoll`) through
:meth:`EngineSession.receive`; it sends through :meth:`EngineSession.send`, which
hands the frames to the current transport at once: nothing waits, and nothing is
queued in between. A polling session may change transport once, when the client
upgrades to WebSocket (:meth:`EngineSession.complete_upgrade`).

Timers are plain loop callbacks (``call_at``), not tasks: an idle session costs a
timer handle, whatever the number of sessions.

Close codes (on WebSocket; a polling client sees its session end):

======  ============================================================================
1000    the client sent Engine.IO close (``1``), or ``socket.disconnect(close=True)``
1001    ``server.stop()``: going away, clients reconnect
1002    protocol error: malformed packet, first packet not CONNECT, a client ping
        (``2``, "invalid heartbeat direction"), an unexpected Engine.IO packet
1007    a text frame that is not UTF-8 (websockets' rule, applied here)
1008    policy: no CONNECT within ``connect_timeout``, no pong within
        ``ping_timeout``, more than ``max_buffered_bytes`` unread (a slow reader),
        binary attachments that do not follow their packet within ``ping_timeout``
1009    a message over ``max_payload``, or a binary packet whose attachments add up
        to more than ``max_payload``
======  ============================================================================
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ._outgoing import Outgoing
from .exceptions import ConnectRefusedError, PacketError
from .heartbeat import HeartbeatAction, PingSchedule
from .namespace import DisconnectReason, Handshake, Socket, SocketState
from .packets import EngineType, Frame, OpenInfo, Packet, PacketType, encode_open

if TYPE_CHECKING:
    from .server import Server

__all__ = ["EngineSession", "Outgoing", "Transport"]

logger = logging.getLogger("wslearn.server")

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


class Transport(Protocol):
    """What a session needs from the transport that carries it."""

    name: str

    def send(self, outgoing: Outgoing) -> None:
        """Send (or queue for the next poll) one packet's frames; never waits."""
        ...

    def close(self, code: int, reason: str) -> None:
        """End the transport; a WebSocket closes with ``code`` and ``reason``."""
        ...

    @property
    def buffered_bytes(self) -> int:
        """Bytes sent to this transport that the client has not taken yet."""
        ...

    def pause_reading(self) -> None:
        """Stop taking frames from the client for now (flow control)."""
        ...

    def resume_reading(self) -> None:
        """Take frames again."""
        ...


class EngineSession:
    """The server side of one Engine.IO session.

    Args:
        server: the server that accepted it.
        transport: the transport of the handshake (WebSocket or polling).
        address: the client's IP address.
        headers: the handshake request's headers.
        query: its query parameters (first value of each).
    """

    def __init__(
        self,
        server: Server,
        transport: Transport,
        address: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> None:
        self.server = server
        self.transport = transport
        self.upgrading: Transport | None = None
        self.address = address
        self.headers = headers
        self.query = dict(query)
        self.sid = secrets.token_urlsafe(15)
        self.sockets: dict[str, Socket] = {}  # by namespace name
        self.closed = False
        self._reason: DisconnectReason | None = None
        self._decoder = server.parser.decoder()
        self._loop = asyncio.get_running_loop()
        self._schedule = PingSchedule(server.ping_interval, server.ping_timeout, self._loop.time())
        self._heartbeat: asyncio.TimerHandle | None = None
        self._connect_timer: asyncio.TimerHandle | None = None
        self._attachment_timer: asyncio.TimerHandle | None = None
        self._attachment_bytes = 0
        self._seen_socketio = False
        self._running = 0  # event handlers of this session still running in tasks
        self._inbox: deque[Frame] = deque()  # frames waiting for a free handler slot
        self._reading_paused = False

    def __repr__(self) -> str:
        return f"<EngineSession {self.sid} {self.transport.name} from {self.address}>"

    @property
    def buffered_bytes(self) -> int:
        """Bytes sent to this client that it has not read yet (on the server)."""
        return self.transport.buffered_bytes

    @property
    def reason(self) -> DisconnectReason | None:
        """Why the session ended (None while it is open)."""
        return self._reason if self.closed else None

    # -- lifecycle ------------------------------------------------------------------

    def open(self, upgrades: Sequence[str]) -> None:
        """Send the OPEN packet and start the heartbeat and the connect deadline."""
        server = self.server
        info = OpenInfo(
            sid=self.sid,
            ping_interval=round(server.ping_interval * 1000),
            ping_timeout=round(server.ping_timeout * 1000),
            max_payload=server.max_payload,
            upgrades=tuple(upgrades),
        )
        self.send_frames((encode_open(info),))
        self._arm_heartbeat()
        self._connect_timer = self._loop.call_later(server.connect_timeout, self._connect_late)

    def fail(self, code: int, text: str, reason: DisconnectReason) -> None:
        """End the session: its sockets leave at once, then the transport closes."""
        if self.closed:
            return
        self._end(reason)
        self.transport.close(code, text)
        if self.upgrading is not None:
            self.upgrading.close(code, text)

    def transport_lost(self, transport: Transport, reason: DisconnectReason) -> None:
        """The current transport ended (TCP closed, or a polling client vanished)."""
        if self.closed:
            return
        if transport is self.upgrading:
            self.abandon_upgrade()  # the probe failed; polling carries on
            return
        if transport is self.transport:
            self._end(reason)
            if self.upgrading is not None:
                self.upgrading.close(CLOSE_NORMAL, "")

    def shutdown(self) -> None:
        """Close for a server stop: 1001 and no DISCONNECT, so clients reconnect."""
        self.fail(CLOSE_GOING_AWAY, "server shutting down", DisconnectReason.SERVER_SHUTDOWN)

    def _end(self, reason: DisconnectReason) -> None:
        self.closed = True
        if self._reason is None:
            self._reason = reason
        for timer in (self._heartbeat, self._connect_timer, self._attachment_timer):
            if timer is not None:
                timer.cancel()
        self.detach_all()
        self.server._session_ended(self)

    def detach_all(self) -> None:
        """Take every socket of this session out of its namespace."""
        reason = self._reason or DisconnectReason.TRANSPORT_CLOSE
        for socket in list(self.sockets.values()):
            socket._nsp.remove(socket, reason, notify_client=False)

    # -- upgrade ----------------------------------------------------------------------

    def abandon_upgrade(self) -> None:
        """The probed WebSocket went away before ``5``: polling carries on as before."""
        self.upgrading = None
        resume = getattr(self.transport, "upgrade_abandoned", None)
        if resume is not None:
            resume()

    def complete_upgrade(self, websocket: Transport) -> None:
        """The client sent ``5`` on its probed WebSocket: switch to it for good."""
        polling = self.transport
        self.transport = websocket
        self.upgrading = None
        flush = getattr(polling, "hand_over", None)
        frames: list[Outgoing] = flush() if flush is not None else []
        for outgoing in frames:  # queued while upgrading: in order, before anything new
            websocket.send(outgoing)
        if self._reading_paused:
            websocket.pause_reading()

    # -- sending ----------------------------------------------------------------------

    def send(self, outgoing: Outgoing) -> None:
        """Hand one packet to the transport; never waits."""
        if not self.closed:
            self.transport.send(outgoing)

    def send_frames(self, frames: Sequence[Frame]) -> None:
        """Encode and send the frames of one packet.

        Raises:
            ValueError: a text frame is not valid Unicode (nothing was sent).
        """
        if not self.closed:
            self.transport.send(Outgoing(frames))

    def send_packet(self, packet: Packet) -> None:
        """Encode one Socket.IO packet with the server's parser and send it."""
        self.send_frames(self.server.parser.encode(packet))

    # -- timers -------------------------------------------------------------------------

    def _arm_heartbeat(self) -> None:
        now = self._loop.time()
        self._heartbeat = self._loop.call_at(self._schedule.next_wakeup(now), self._beat)

    def _beat(self) -> None:
        if self.closed:
            return
        now = self._loop.time()
        action = self._schedule.due(now)
        if action is HeartbeatAction.SEND_PING:
            self.send_frames(("2",))
            self._schedule.ping_sent(now)
        elif action is HeartbeatAction.CLOSE:
            logger.info("session %s: no pong in time, closing", self.sid)
            self.fail(CLOSE_POLICY, "ping timeout", DisconnectReason.PING_TIMEOUT)
            return
        self._arm_heartbeat()

    def _pong(self) -> None:
        if self._schedule.pong_received(self._loop.time()):
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            self._arm_heartbeat()  # the next ping is due ping_interval after this pong

    def _connect_late(self) -> None:
        self._connect_timer = None
        if not self._seen_socketio or not any(
            s.state is not SocketState.DISCONNECTED for s in self.sockets.values()
        ):
            logger.info("session %s: no CONNECT in time, closing", self.sid)
            self.fail(
                CLOSE_POLICY,
                f"no CONNECT within {self.server.connect_timeout:g} s",
                DisconnectReason.TRANSPORT_CLOSE,
            )

    def mark_connected(self) -> None:
        """A namespace accepted this client: the connect deadline is met."""
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    # -- receiving ----------------------------------------------------------------------

    def receive(self, frame: Frame) -> None:
        """Handle one frame from the current transport, in order.

        While ``max_pending_events`` handlers are running, frames wait here (and the
        transport stops reading) until one finishes; heartbeat pongs never wait.
        """
        if self.closed:
            return
        if self._inbox or self._running >= self.server.max_pending_events:
            if frame == "3":
                self._pong()
                return
            self._inbox.append(frame)
            if not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        try:
            if isinstance(frame, str):
                head = frame[:1]
                if head == "4":
                    self._on_message(frame)
                elif head == "3":
                    self._pong()
                elif head == "2":
                    self.fail(
                        CLOSE_PROTOCOL_ERROR,
                        "invalid heartbeat direction",
                        DisconnectReason.TRANSPORT_ERROR,
                    )
                elif head == "1":
                    self.fail(CLOSE_NORMAL, "", DisconnectReason.TRANSPORT_CLOSE)
                elif head == "6":
                    pass
                elif head in ("0", "5"):
                    self.fail(
                        CLOSE_PROTOCOL_ERROR,
                        f"unexpected Engine.IO {EngineType(int(head)).name} packet",
                        DisconnectReason.PARSE_ERROR,
                    )
                else:
                    raise PacketError("unknown Engine.IO packet type", frame)
            else:
                self._on_message(frame)
        except PacketError as exc:
            logger.info("session %s: malformed packet, closing: %s", self.sid, exc)
            code = CLOSE_TOO_BIG if exc.reason.startswith("attachments add up") else None
            self.fail(code or CLOSE_PROTOCOL_ERROR, exc.reason, DisconnectReason.PARSE_ERROR)

    def _on_message(self, frame: Frame) -> None:
        if type(frame) is not str:
            self._attachment_bytes += len(frame)
            if self._attachment_bytes > self.server.max_payload:
                raise PacketError(
                    f"attachments add up to more than max_payload ({self.server.max_payload} "
                    "bytes) for one packet"
                )
        item = self._decoder.feed(frame)
        if item is None:
            if self._attachment_timer is None:  # a binary packet waits for attachments
                self._attachment_timer = self._loop.call_later(
                    self.server.ping_timeout, self._attachments_late
                )
            return
        if self._attachment_timer is not None:
            self._attachment_timer.cancel()
            self._attachment_timer = None
            self._attachment_bytes = 0
        if type(item) is not Packet:  # a parser that also reads Engine.IO packets
            raise PacketError("Engine.IO packet inside a message", frame)
        self._on_packet(item)

    def _attachments_late(self) -> None:
        self._attachment_timer = None
        self.fail(
            CLOSE_POLICY,
            "binary attachments not sent in time",
            DisconnectReason.PARSE_ERROR,
        )

    def _on_packet(self, packet: Packet) -> None:
        kind, name = packet.type, packet.namespace
        if not self._seen_socketio:
            self._seen_socketio = True
            if kind is not PacketType.CONNECT:
                raise PacketError("the first Socket.IO packet must be CONNECT")
        if kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            socket = self.sockets.get(name)
            if socket is None:
                logger.debug("session %s: event for %s, not connected there", self.sid, name)
            elif socket.state is SocketState.CONNECTED:
                socket._nsp.handle_event(socket, packet)
            elif socket.state is SocketState.CONNECTING:
                socket._backlog.append(packet)
        elif kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            socket = self.sockets.get(name)
            if socket is not None and packet.id is not None:
                socket._resolve_ack(packet.id, packet.args)
        elif kind is PacketType.CONNECT:
            self._on_connect(packet)
        elif kind is PacketType.DISCONNECT:
            socket = self.sockets.get(name)
            if socket is not None:
                socket._nsp.remove(socket, DisconnectReason.CLIENT_NAMESPACE, notify_client=False)
        else:
            raise PacketError(f"a client cannot send {kind.name}")

    def _on_connect(self, packet: Packet) -> None:
        name = packet.namespace
        if name in self.sockets:
            logger.debug("session %s: repeated CONNECT to %s ignored", self.sid, name)
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

    # -- event handlers in tasks: flow control ------------------------------------------

    def handler_started(self) -> None:
        """An event handler is running in a task (it counts against the cap)."""
        self._running += 1

    def handler_done(self, _task: object = None) -> None:
        """An event handler's task ended: handle what waited, then read again."""
        self._running -= 1
        cap = self.server.max_pending_events
        while self._inbox and self._running < cap and not self.closed:
            self._handle(self._inbox.popleft())
        if self._reading_paused and not self._inbox and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def start_events(self, socket: Socket) -> None:
        """The socket finished connecting: handle the events that waited for it."""
        backlog, socket._backlog = socket._backlog, []
        for packet in backlog:
            if socket.state is not SocketState.CONNECTED:
                break
            socket._nsp.handle_event(socket, packet)

    def drop_backlog(self, socket: Socket) -> None:
        """The socket will never connect: forget its waiting events."""
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
            self.send_packet(Packet(PacketType.CONNECT_ERROR, socket.namespace, body))
        except (TypeError, ValueError):
            logger.error("refusal data for %s is not JSON; sent without it", socket.namespace)
            body = {"message": str(body["message"])}
            self.send_packet(Packet(PacketType.CONNECT_ERROR, socket.namespace, body))

    async def close_after_flush(
        self,
        code: int = CLOSE_NORMAL,
        text: str = "closed by the server",
        reason: DisconnectReason = DisconnectReason.FORCED_CLOSE,
    ) -> None:
        """Close once what is already sent has gone out (bounded by close_timeout).

        The default is 1000, a forced close; :mod:`wslearn.auth` closes with 1008
        "token expired" so that the client reconnects with a fresh token.
        """
        drained = getattr(self.transport, "drained", None)
        if drained is not None:
            try:
                async with asyncio.timeout(self.server.close_timeout):
                    await drained()
            except TimeoutError:
                pass
        self.fail(code, text, reason)
