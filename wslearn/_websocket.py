"""The WebSocket transport of the server: websockets' sans-I/O protocol on asyncio.

Once the opening handshake succeeds, the TCP connection's asyncio protocol becomes a
:class:`WebSocketTransport`. It feeds received bytes to websockets'
:class:`~websockets.server.ServerProtocol` (frame parsing, masking, the closing
handshake, pong replies, size limits) and hands complete messages to its
:class:`~wslearn._engine.EngineSession`. Sending writes to the socket at once: an
uncompressed packet is written as frame bytes built once per broadcast
(:attr:`Outgoing.wire <wslearn._engine.Outgoing.wire>`), as ``websockets.broadcast``
does; a connection with an extension goes through the protocol.

Why not websockets' own asyncio server: it hands non-upgrade requests to
``process_request`` without their bodies (long-polling POSTs need them), and its
per-connection tasks and queues cost more than the Socket.IO layer above. The
sans-I/O protocol is public API; this module only drives it.

Every byte a client makes the server hold is bounded: unread output past
``max_buffered_bytes`` drops the reader (1008), and while the socket's write buffer
is above asyncio's high-water mark nothing more is read from that client, so a peer
that sends pings (or anything) and never reads stops being read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from websockets.frames import Frame, Opcode
from websockets.protocol import SEND_EOF, State
from websockets.server import ServerProtocol
from websockets.typing import BytesLike

from ._engine import CLOSE_INVALID_DATA, CLOSE_POLICY, EngineSession
from ._outgoing import Outgoing
from .compression import sharing_key
from .namespace import DisconnectReason

if TYPE_CHECKING:
    from .server import Server

__all__ = ["WebSocketTransport"]

logger = logging.getLogger("wslearn.server")

_MAX_REASON = 120  # a close reason must fit in 123 bytes
_UPGRADE_TIMEOUT = 10.0  # seconds from the upgrade request to "5" (as the reference)


class WebSocketTransport(asyncio.Protocol):
    """One WebSocket connection, open, serving one Engine.IO session.

    Args:
        server: the server.
        transport: the asyncio transport (TCP, or TLS) the handshake arrived on.
        ws: websockets' protocol, after ``send_response`` of the 101.
        session: the session it carries, or None while it is probed for an upgrade
            of ``upgrade_of``.
        upgrade_of: the polling session this connection wants to take over.
    """

    name = "websocket"

    def __init__(
        self,
        server: Server,
        transport: asyncio.Transport,
        ws: ServerProtocol,
        session: EngineSession | None = None,
        upgrade_of: EngineSession | None = None,
    ) -> None:
        self.server = server
        self.session = session
        self._probing = upgrade_of
        self._transport = transport
        self._ws = ws
        self._plain = not ws.extensions  # frames can be written as prepared bytes
        # With permessage-deflate and no context takeover on our side, what we send
        # does not depend on this connection: a broadcast is compressed once per key.
        self._key = sharing_key(ws.extensions[0]) if len(ws.extensions) == 1 else None
        self._limit = server.max_buffered_bytes
        self._loop = asyncio.get_running_loop()
        self._fragments: bytearray | None = None
        self._fragment_text = False
        self._closing = False
        self._overflowed = False
        self._write_paused = False
        self._read_paused_by_session = False
        self._timer: asyncio.TimerHandle | None = None
        if upgrade_of is not None:
            self._timer = self._loop.call_later(_UPGRADE_TIMEOUT, self._upgrade_late)
        server._websockets.add(self)

    def __repr__(self) -> str:
        sid = self.session.sid if self.session else "upgrading"
        return f"<WebSocketTransport {sid}>"

    # -- asyncio.Protocol -------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        events = ws.events_received()
        self._flush()
        for frame in events:
            if not isinstance(frame, Frame):
                continue  # the handshake's Request was taken before this protocol ran
            opcode = frame.opcode
            if frame.fin and (opcode is Opcode.TEXT or opcode is Opcode.BINARY):
                self._message(opcode is Opcode.TEXT, frame.data)
            elif opcode is Opcode.CONT:
                self._continue(frame)
            elif opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                self._fragments = bytearray(frame.data)
                self._fragment_text = opcode is Opcode.TEXT
        if ws.state is not State.OPEN and not self._closing:
            self._closing = True  # the peer (or a protocol error) started the close
            self._timer = self._loop.call_later(self.server.close_timeout, self._abort)

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.server._websockets.discard(self)
        self.server._transport_closed()
        close = self._ws.close_rcvd
        clean = exc is None and close is not None and close.code in (1000, 1001)
        reason = DisconnectReason.TRANSPORT_CLOSE if clean else DisconnectReason.TRANSPORT_ERROR
        if self.session is not None:
            self.session.transport_lost(self, reason)
        elif self._probing is not None:
            self._probing.transport_lost(self, reason)
            self._probing = None

    def pause_writing(self) -> None:
        self._write_paused = True
        self._transport.pause_reading()
        self._check_buffer()

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._read_paused_by_session and not self._transport.is_closing():
            self._transport.resume_reading()

    # -- receiving --------------------------------------------------------------------

    def _continue(self, frame: Frame) -> None:
        if self._fragments is None:
            return  # the protocol already failed the connection for this
        self._fragments += frame.data
        if frame.fin:
            data, self._fragments = bytes(self._fragments), None
            self._message(self._fragment_text, data)

    def _message(self, text: bool, data: BytesLike) -> None:
        if self._closing:
            return
        if text:
            try:
                message: str | bytes = bytes(data).decode()
            except UnicodeDecodeError as exc:
                self._fail_data(f"invalid UTF-8 at position {exc.start}")
                return
        else:
            message = data if type(data) is bytes else bytes(data)
        session = self.session
        if session is not None:
            session.receive(message)
        else:
            self._probe(message)

    def _fail_data(self, reason: str) -> None:
        if self.session is not None:
            self.session.fail(CLOSE_INVALID_DATA, reason, DisconnectReason.PARSE_ERROR)
        else:
            self.close(CLOSE_INVALID_DATA, reason)

    # -- the upgrade from polling ------------------------------------------------------

    def _probe(self, message: str | bytes) -> None:
        polling = self._probing
        if polling is None or polling.closed:
            self.close(1000, "")
            return
        if message == "2probe":
            self._write_frame("3probe")
            release = getattr(polling.transport, "release_with_noop", None)
            if release is not None:
                release()  # the client is waiting for its pending poll to end
        elif message == "5":
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._probing = None
            self.session = polling
            polling.complete_upgrade(self)
        else:
            logger.info("session %s: upgrade abandoned (got %r)", polling.sid, message[:20])
            self._probing = None
            polling.abandon_upgrade()
            self.close(1002, "expected 2probe then 5 during the upgrade")

    def _upgrade_late(self) -> None:
        self._timer = None
        polling = self._probing
        if polling is not None:
            polling.abandon_upgrade()
            self._probing = None
        self.close(CLOSE_POLICY, "upgrade not completed in time")

    # -- sending ------------------------------------------------------------------------

    def send(self, outgoing: Outgoing) -> None:
        """Write one packet's frames now (dropped once closing or overflowed)."""
        if self._closing or self._overflowed:
            return
        if self._plain:
            self._transport.write(outgoing.wire)
        else:
            ws = self._ws
            frames = outgoing.encoded if self._key is None else outgoing.deflated(self._key)
            for text, data in frames:
                if text:
                    ws.send_text(data)
                else:
                    ws.send_binary(data)
            self._flush()
        if self._write_paused:
            self._check_buffer()

    def _write_frame(self, text: str) -> None:
        if self._ws.state is State.OPEN:
            self._ws.send_text(text.encode())
            self._flush()

    def _check_buffer(self) -> None:
        size = self._transport.get_write_buffer_size()
        if size <= self._limit or self._overflowed:
            return
        self._overflowed = True  # nothing more is written; the close runs next
        sid = self.session.sid if self.session else "?"
        logger.warning(
            "session %s: %d bytes unread (max_buffered_bytes is %d), closing it (1008)",
            sid,
            size,
            self._limit,
        )
        self._loop.call_soon(self._drop_slow_reader)

    def _drop_slow_reader(self) -> None:
        reason = "too much unread: client too slow"
        if self.session is not None:
            self.session.fail(CLOSE_POLICY, reason, DisconnectReason.SLOW_CLIENT)
        else:
            self.close(CLOSE_POLICY, reason)
        # Nothing more is written; the close frame waits behind the unread bytes, and
        # close_timeout later the TCP connection is aborted if they are still unread.

    def _flush(self) -> None:
        for data in self._ws.data_to_send():
            if data is SEND_EOF or not data:
                self._transport.close()  # after the buffered bytes, if any
            else:
                self._transport.write(data)

    # -- closing ------------------------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; abort the TCP connection after close_timeout."""
        if self._closing:
            return
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self._ws.state is State.OPEN:
            self._ws.send_close(code, reason[:_MAX_REASON])
            self._flush()
        self._timer = self._loop.call_later(self.server.close_timeout, self._abort)

    def _abort(self) -> None:
        self._timer = None
        self._transport.abort()

    def abort(self) -> None:
        """Drop the TCP connection now (a server stop that waited long enough)."""
        self._transport.abort()

    @property
    def buffered_bytes(self) -> int:
        """Bytes written that the socket has not sent yet."""
        return self._transport.get_write_buffer_size()

    def pause_reading(self) -> None:
        """The session asks for no more frames for now (too many handlers running)."""
        self._read_paused_by_session = True
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        """The session can take frames again."""
        self._read_paused_by_session = False
        if not self._write_paused and not self._transport.is_closing():
            self._transport.resume_reading()

    async def drained(self) -> None:
        """Wait until the socket's write buffer is empty (polled: closing is rare)."""
        # asyncio has no "drained" event for a transport without pause_writing.
        while self._transport.get_write_buffer_size() and not self._transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
