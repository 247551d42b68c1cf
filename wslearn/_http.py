"""The server's TCP connections: HTTP/1.1 in, then WebSocket or long-polling.

Every accepted TCP connection starts as an :class:`HttpConnection`, which reads
request heads (:mod:`wslearn.httpparse`) and routes each one:

- ``/socket.io/`` with ``transport=websocket`` and an ``Upgrade: websocket`` header:
  the opening handshake is run by websockets' sans-I/O protocol, and the connection
  becomes a :class:`~wslearn._websocket.WebSocketTransport` (a new session, or the
  upgrade of a polling session named by ``sid``);
- ``/socket.io/`` with ``transport=polling``: a handshake ``GET`` (no ``sid``)
  opens a session; ``GET`` and ``POST`` with a ``sid`` are handed to its
  :class:`~wslearn._longpoll.PollingTransport`; ``OPTIONS`` is a CORS preflight;
- any other path: the static files, if the server has any, else 404.

Connections are kept alive between requests (HTTP/1.1), one request at a time. Time
is bounded: ``http_timeout`` seconds for a request head to arrive (idle keep-alive
included) and for its body; sizes are bounded by :mod:`wslearn.httpparse` for heads
and by ``max_payload`` for bodies (413).

Errors on the Engine.IO endpoint are answered as the reference server does, with a
JSON body ``{"code": N, "message": "..."}``: 0 transport unknown, 1 session ID
unknown, 2 bad handshake method, 3 bad request, 4 forbidden, 5 unsupported protocol
version.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from websockets.http11 import Request
from websockets.server import ServerProtocol

from ._engine import EngineSession
from ._longpoll import PollingTransport
from ._websocket import WebSocketTransport
from .httpparse import HttpError, RequestHead, build_response, find_head, parse_head

if TYPE_CHECKING:
    from .server import Server

__all__ = ["HttpConnection"]

logger = logging.getLogger("wslearn.server")

_PAYLOAD_TYPE = "text/plain; charset=UTF-8"
_JSON_TYPE = "application/json"


class HttpConnection(asyncio.Protocol):
    """One accepted TCP connection while it speaks HTTP.

    Args:
        server: the server that accepted it.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.address = ""
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._head: RequestHead | None = None  # its body is still arriving
        self._poster: PollingTransport | None = None  # the polling POST being read
        self._current: RequestHead | None = None  # the request being answered
        self._cors: list[tuple[str, str]] = []
        self._waiting_on: PollingTransport | None = None  # a held GET or deferred POST
        self._closing = False

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self.server._http.add(self)
        self._arm(self.server.http_timeout)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._current is not None:  # a response is pending: hold what comes next
            if len(self._buffer) > self.server.max_payload and self._transport is not None:
                self._transport.pause_reading()
            return
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.server._http.discard(self)
        self.server._transport_closed()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for polling in (self._waiting_on, self._poster):
            if polling is not None:
                polling.request_lost(self)
        self._waiting_on = self._poster = None

    # -- reading requests ---------------------------------------------------------------

    def _process(self) -> None:
        while not self._closing and self._current is None:
            if self._head is not None:
                head = self._head
                if len(self._buffer) < head.content_length:
                    return
                body = bytes(self._buffer[: head.content_length])
                del self._buffer[: head.content_length]
                self._head = None
                self._start(head)
                poster, self._poster = self._poster, None
                if poster is not None:
                    self._waiting_on = poster
                    poster.post(self, body)
                continue
            try:
                length = find_head(self._buffer)
                if length is None:
                    return
                raw = bytes(self._buffer[:length])
                del self._buffer[:length]
                head = parse_head(raw)
            except HttpError as exc:
                self._refuse_head(exc)
                return
            if head.is_websocket_upgrade and head.method == "GET":
                self._start(head)
                self._upgrade(head)
                return
            if head.content_length:
                if head.content_length > self.server.max_payload:
                    self._start(head)
                    message = f"the body is over max_payload ({self.server.max_payload} bytes)"
                    self._error(413, 3, f"Payload Too Large: {message}", keep_alive=False)
                    return
                self._poster = self._claim_post(head)
                if self._poster is None:
                    return  # refused, and the connection closes (its body is unread)
                self._head = head
                self._arm(self.server.http_timeout)  # for the body to arrive
                continue
            self._start(head)
            self._route(head)

    def _start(self, head: RequestHead) -> None:
        self._current = head
        self._cors = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(delay, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self._head is not None:  # the body did not arrive in time
            self._start(self._head)
            self._head = None
            self._reply(
                408, b"Request Timeout: the body did not arrive in time\n", keep_alive=False
            )
        elif self._transport is not None:
            self._transport.close()

    # -- routing --------------------------------------------------------------------------

    def _route(self, head: RequestHead) -> None:
        server = self.server
        if head.path.rstrip("/") != server.path.rstrip("/"):
            if server.static is not None:
                reply = server.static.respond(head.method, head.target)
                headers = list(reply.headers.items())
                length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
                self._reply(
                    reply.status,
                    reply.body,
                    content_type=None,
                    headers=[(k, v) for k, v in headers if k.lower() != "content-length"],
                    length=length,
                )
            else:
                body = f"Not Found: the Socket.IO endpoint is {server.path}\n".encode()
                self._reply(404, body)
            return
        cors = self._check_engine(head, "polling")
        if cors is None:
            return
        self._cors = cors
        if head.method == "OPTIONS":
            self._preflight(head)
            return
        sid = head.query.get("sid")
        if sid is None:
            if head.method != "GET":
                self._error(400, 2, "Bad handshake method: open a session with GET")
                return
            self._open_polling(head)
            return
        polling = self._polling_of(sid)
        if polling is None:
            return
        if head.method == "GET":
            self._waiting_on = polling
            polling.get(self)
        else:
            self._error(400, 3, f"Bad request: {head.method} is not a polling method")

    def _check_engine(
        self, head: RequestHead, transport: str, *, keep_alive: bool = True
    ) -> list[tuple[str, str]] | None:
        """Check EIO, transport and Origin; answer and return None when refused."""
        server = self.server
        query = head.query
        if head.method == "OPTIONS" and transport == "polling":
            pass  # a preflight carries the query of the request to come; checked then
        elif query.get("EIO") != "4":
            got = query.get("EIO", "")
            self._error(
                400,
                5,
                f"Unsupported protocol version: EIO=4 is required, got EIO={got!r}",
                keep_alive=keep_alive,
            )
            return None
        elif query.get("transport") != transport or transport not in server.transports:
            offered = " or ".join(server.transports)
            got = query.get("transport", "")
            self._error(
                400,
                0,
                f"Transport unknown: this server offers {offered}, got transport={got!r}",
                keep_alive=keep_alive,
            )
            return None
        cors = server.cors_headers(head.headers.get("Origin"))
        if cors is None:
            self._error(403, 4, "Forbidden: this Origin is not allowed", keep_alive=keep_alive)
            return None
        return cors

    def _polling_of(self, sid: str, *, keep_alive: bool = True) -> PollingTransport | None:
        session = self.server.sessions.get(sid)
        transport = session.transport if session is not None else None
        if not isinstance(transport, PollingTransport) or not transport.active:
            self._error(400, 1, "Session ID unknown", keep_alive=keep_alive)
            return None
        return transport

    def _claim_post(self, head: RequestHead) -> PollingTransport | None:
        """A request with a body: only a polling POST has one. Claim the session's
        POST slot now, so that an overlapping POST is refused as the protocol says;
        any refusal closes the connection, since the body would follow."""
        self._start(head)
        server = self.server
        if head.path.rstrip("/") != server.path.rstrip("/"):
            self._reply(
                405, b"Method Not Allowed: no request body is served here\n", keep_alive=False
            )
            return None
        cors = self._check_engine(head, "polling", keep_alive=False)
        if cors is None:
            return None
        self._cors = cors
        sid = head.query.get("sid")
        if head.method != "POST" or sid is None:
            self._error(400, 2, "Bad handshake method: open a session with GET", keep_alive=False)
            return None
        polling = self._polling_of(sid, keep_alive=False)
        if polling is None or not polling.begin_post(self):
            if self._current is not None:  # begin_post answered nothing: close anyway
                self._reply(400, b"", keep_alive=False)
            return None
        self._current = None  # answered once the body is in
        return polling

    def _open_polling(self, head: RequestHead) -> None:
        server = self.server
        refusal = server.refuse_new_session(self.address)
        if refusal is not None:
            self._reply(429, (refusal + "\n").encode())
            return
        polling = PollingTransport(self._loop, server.max_buffered_bytes)
        session = EngineSession(server, polling, self.address, head.headers, head.query)
        polling.session = session
        server._session_started(session)
        upgrades = ["websocket"] if "websocket" in server.transports else []
        session.open(upgrades)
        self._waiting_on = polling
        polling.get(self)  # the OPEN packet is the answer

    def _preflight(self, head: RequestHead) -> None:
        headers = [
            *self._cors,
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Max-Age", "86400"),
        ]
        asked = head.headers.get("Access-Control-Request-Headers")
        if asked:
            headers.append(("Access-Control-Allow-Headers", asked[:1024]))
        self._reply(204, b"", content_type=None, headers=headers)

    # -- the WebSocket handshake ----------------------------------------------------------

    def _upgrade(self, head: RequestHead) -> None:
        server = self.server
        if head.path.rstrip("/") != server.path.rstrip("/"):
            self._reply(404, f"Not Found: the Socket.IO endpoint is {server.path}\n".encode())
            return
        if self._check_engine(head, "websocket") is None:
            return
        sid = head.query.get("sid")
        upgrade_of: EngineSession | None = None
        if sid is not None:
            upgrade_of = server.sessions.get(sid)
            polling = upgrade_of.transport if upgrade_of is not None else None
            if upgrade_of is None or not isinstance(polling, PollingTransport):
                self._error(400, 1, "Session ID unknown (or already upgraded)")
                return
            if upgrade_of.upgrading is not None:
                self._error(400, 3, "Bad request: this session is already upgrading")
                return
        else:
            refusal = server.refuse_new_session(self.address)
            if refusal is not None:
                self._reply(429, (refusal + "\n").encode())
                return
        transport = self._transport
        assert transport is not None
        ws = ServerProtocol(
            extensions=server.websocket_extensions(),
            max_size=server.max_payload,
            logger=logger,
        )
        ws.receive_data(head.raw)
        events = ws.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        response = ws.accept(request) if request is not None else None
        if response is None or response.status_code != 101:
            if response is not None:
                ws.send_response(response)
            for data in ws.data_to_send():
                if data:
                    transport.write(data)
            transport.close()
            self._closing = True
            return
        ws.send_response(response)
        for data in ws.data_to_send():
            transport.write(data)
        rest, self._buffer = bytes(self._buffer), bytearray()
        self._closing = True  # this object is done; the WebSocket takes over
        self.server._http.discard(self)
        self.server._transport_closed()
        if upgrade_of is not None:
            websocket = WebSocketTransport(server, transport, ws, upgrade_of=upgrade_of)
            upgrade_of.upgrading = websocket
        else:
            websocket = WebSocketTransport(server, transport, ws)
            session = EngineSession(server, websocket, self.address, head.headers, head.query)
            websocket.session = session
            server._session_started(session)
            session.open(())
        transport.set_protocol(websocket)
        if rest:
            websocket.data_received(rest)

    # -- answering ------------------------------------------------------------------------

    def respond_payload(self, payload: str) -> None:
        """Answer the held GET with a polling payload."""
        self._reply(200, payload.encode(), content_type=_PAYLOAD_TYPE, headers=self._cors)

    def respond_ok(self) -> None:
        """Answer a POST with ``ok``."""
        self._reply(200, b"ok", content_type="text/html", headers=self._cors)

    def respond_error(self, status: int, code: int, message: str) -> None:
        """Answer with an Engine.IO error body."""
        self._error(status, code, message)

    def _error(self, status: int, code: int, message: str, *, keep_alive: bool = True) -> None:
        body = json.dumps({"code": code, "message": message}).encode()
        self._reply(
            status, body, content_type=_JSON_TYPE, headers=self._cors, keep_alive=keep_alive
        )

    def _reply(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str | None = "text/plain; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
        keep_alive: bool = True,
        length: int | None = None,
    ) -> None:
        transport = self._transport
        head = self._current
        if transport is None or transport.is_closing() or head is None:
            return
        self._current = None
        self._waiting_on = None
        keep = keep_alive and head.keep_alive and self._head is None
        keep = keep and not self.server.stopping  # a stopping server keeps nothing open
        transport.write(
            build_response(
                status,
                body,
                content_type=content_type,
                headers=headers or (),
                keep_alive=keep,
                head_only=head.method == "HEAD",
                length=length,
            )
        )
        if not keep:
            self._closing = True
            transport.close()
            return
        self._arm(self.server.http_timeout)
        transport.resume_reading()
        if self._buffer:
            self._loop.call_soon(self._process)

    def _refuse_head(self, exc: HttpError) -> None:
        """Answer a head that could not be parsed, then close."""
        transport = self._transport
        self._closing = True
        if transport is not None and not transport.is_closing():
            body = (exc.message + "\n").encode()
            transport.write(build_response(exc.status, body, keep_alive=False))
            transport.close()

    def shutdown(self) -> None:
        """Close an idle or reading connection for a server stop."""
        if self._transport is not None and self._waiting_on is None:
            self._closing = True
            self._transport.close()

    def abort(self) -> None:
        """Drop the TCP connection now (a server stop that waited long enough)."""
        if self._transport is not None:
            self._transport.abort()
