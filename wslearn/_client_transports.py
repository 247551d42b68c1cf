"""The client's two transports: WebSocket, and HTTP long-polling.

Both carry Engine.IO packets as frames (``str`` text, ``bytes`` binary) and look the
same to the session above: :meth:`send` hands frames over, :meth:`recv` returns the
next one, :meth:`close` ends the transport. When the transport is gone, both raise
:class:`TransportClosed`; a polling transport that handed its session over to a
WebSocket (the upgrade) raises :class:`TransportSwitched` once its last frames were
read, so the reader carries on with the new one.

Long-polling, as the reference client does it: a ``GET`` is always pending to receive
(the server holds it until it has packets), and packets to send go out in ``POST``
bodies, one ``POST`` at a time, several packets per body joined by ``\\x1e`` up to
the server's ``maxPayload``. Each direction has its own keep-alive connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ._httpclient import HttpChannel, HttpTransportError
from .exceptions import PacketError
from .packets import Frame
from .payloads import SEPARATOR, decode_payload, encode_payload, payload_size

__all__ = [
    "ClientTransport",
    "PollingTransport",
    "TransportClosed",
    "TransportSwitched",
    "WebSocketTransport",
    "polling_url",
]

_log = logging.getLogger("wslearn.client")


class TransportClosed(Exception):
    """The transport ended; ``reason`` says how (for the disconnect reason)."""

    def __init__(self, reason: str = "transport close") -> None:
        super().__init__(reason)
        self.reason = reason


class TransportSwitched(Exception):
    """The session moved to another transport: read from it from now on."""


class ClientTransport(Protocol):
    """What a client session needs from a transport."""

    name: str

    async def send(self, frames: Sequence[Frame]) -> None:
        """Send the frames of one packet, in order."""
        ...

    async def recv(self) -> Frame:
        """The next frame received."""
        ...

    async def close(self, *, polite: bool) -> None:
        """End the transport: a closing handshake when ``polite``, else at once."""
        ...


def polling_url(ws_url: str) -> str:
    """The polling endpoint for a WebSocket endpoint URL (same path and query)."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "transport"]
    query.append(("transport", "polling"))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))


class WebSocketTransport:
    """A WebSocket connection (websockets' client) as a transport."""

    name = "websocket"

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frames: Sequence[Frame]) -> None:
        try:
            for frame in frames:
                await self.ws.send(frame)
        except ConnectionClosed as exc:
            raise TransportClosed() from exc

    async def recv(self) -> Frame:
        try:
            return await self.ws.recv()
        except ConnectionClosed as exc:
            raise TransportClosed() from exc

    async def close(self, *, polite: bool) -> None:
        if polite:
            try:
                await self.ws.close()
                return
            except Exception:  # the peer vanished meanwhile: fall through to the abort
                _log.debug("closing handshake failed", exc_info=True)
        self.ws.transport.abort()
        await self.ws.wait_closed()


_SWITCHED = object()


class PollingTransport:
    """An Engine.IO session over HTTP long-polling.

    Args:
        url: the polling endpoint, e.g. ``http://host/socket.io/?EIO=4&transport=polling``.
        headers: extra headers for every request.
        ssl: a client TLS context for ``https``.
        max_size: the largest response accepted, in bytes.
        timeout: seconds a request may take (a held GET: pingInterval + pingTimeout).
    """

    name = "polling"

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        ssl: ssl_module.SSLContext | None,
        max_size: int,
        timeout: float,
    ) -> None:
        parts = urlsplit(url)
        self.url = url
        self.sid: str | None = None
        self.max_payload = 1_000_000
        self._target = parts.path + ("?" + parts.query if parts.query else "")
        host, port = parts.hostname or "127.0.0.1", parts.port or (443 if ssl else 80)
        self._headers = {"Accept": "*/*", **headers}
        self._get = HttpChannel(host, port, ssl=ssl, max_size=max_size)
        self._post = HttpChannel(host, port, ssl=ssl, max_size=max_size)
        self.timeout = timeout
        self._inbox: asyncio.Queue[object] = asyncio.Queue()
        self._outbox: list[Frame] = []
        self._poller: asyncio.Task[None] | None = None
        self._poster: asyncio.Task[None] | None = None
        self._closed: str | None = None
        self._pausing = False

    def _query(self) -> str:
        if self.sid is None:
            return self._target
        return f"{self._target}&sid={self.sid}"

    async def open(self) -> list[Frame]:
        """The handshake GET: the frames of its answer (the OPEN packet first).

        Raises:
            TransportClosed: the server is unreachable or refused.
        """
        return await self._poll_once()

    def start(self, sid: str, max_payload: int, early: Sequence[Frame] = ()) -> None:
        """Start receiving for session ``sid`` (after its OPEN packet); ``early`` are
        frames that came with the OPEN packet, read first."""
        self.sid = sid
        self.max_payload = max_payload
        for frame in early:
            self._inbox.put_nowait(frame)
        self._poller = asyncio.create_task(self._poll_loop())

    async def _poll_once(self) -> list[Frame]:
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self._get.request("GET", self._query(), headers=self._headers)
        except (HttpTransportError, TimeoutError) as exc:
            raise TransportClosed(f"xhr poll error ({exc or 'timeout'})") from exc
        if reply.status != 200:
            text = reply.body.decode("utf-8", "replace")[:200]
            raise TransportClosed(f"xhr poll error (HTTP {reply.status}: {text})")
        try:
            return decode_payload(reply.body.decode())
        except (UnicodeDecodeError, PacketError) as exc:
            raise TransportClosed(f"parse error ({exc})") from exc

    async def _poll_loop(self) -> None:
        try:
            while self._closed is None and not self._pausing:
                for frame in await self._poll_once():
                    self._inbox.put_nowait(frame)
        except TransportClosed as exc:
            self._end(exc.reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not leave the reader waiting forever
            _log.exception("the polling loop failed")
            self._end(f"transport error ({type(exc).__name__})")

    def _end(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
            self._inbox.put_nowait(TransportClosed(reason))

    async def send(self, frames: Sequence[Frame]) -> None:
        """Queue frames for the next POST (sent in order, one POST at a time)."""
        if self._closed is not None:
            raise TransportClosed(self._closed)
        self._outbox.extend(frames)
        if self._poster is None or self._poster.done():
            self._poster = asyncio.create_task(self._post_loop())

    async def _post_loop(self) -> None:
        while self._outbox and self._closed is None:
            batch: list[Frame] = []
            size = 0
            while self._outbox:
                cost = payload_size(self._outbox[0]) + len(SEPARATOR)
                if batch and size + cost > self.max_payload:
                    break
                batch.append(self._outbox.pop(0))
                size += cost
            body = encode_payload(batch).encode()
            headers = {**self._headers, "Content-Type": "text/plain;charset=UTF-8"}
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await self._post.request(
                        "POST", self._query(), body=body, headers=headers
                    )
            except (HttpTransportError, TimeoutError) as exc:
                self._end(f"xhr post error ({exc or 'timeout'})")
                return
            if reply.status != 200:
                self._end(f"xhr post error (HTTP {reply.status})")
                return

    async def recv(self) -> Frame:
        item = await self._inbox.get()
        if item is _SWITCHED:
            raise TransportSwitched
        if isinstance(item, TransportClosed):
            self._inbox.put_nowait(item)  # every later recv says the same
            raise item
        assert isinstance(item, str | bytes)
        return item

    async def pause(self) -> None:
        """Stop polling (for the upgrade): wait for the pending GET and POSTs to end."""
        self._pausing = True
        if self._poller is not None:
            with contextlib.suppress(Exception):
                await self._poller
        if self._poster is not None:
            with contextlib.suppress(Exception):
                await self._poster

    async def hand_over(self) -> None:
        """The upgrade is done: the reader moves on once it read what is here, and the
        HTTP connections close."""
        self._closed = "upgraded"
        self._inbox.put_nowait(_SWITCHED)
        await self._get.close()
        await self._post.close()

    def resume(self) -> None:
        """The upgrade failed after a pause: poll again."""
        if self._pausing and self._closed is None:
            self._pausing = False
            self._poller = asyncio.create_task(self._poll_loop())

    async def close(self, *, polite: bool) -> None:
        """End the session: a ``1`` (close) POST when polite, then drop the connections."""
        was_open = self._closed is None
        self._closed = self._closed or "io client disconnect"
        if polite and was_open and self.sid is not None:
            if self._poster is not None and not self._poster.done():
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.timeout):
                        await self._poster
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._post.request(
                        "POST", self._query(), body=b"1", headers=self._headers
                    )
        for task in (self._poller, self._poster):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._poller, self._poster) if t is not None), return_exceptions=True
        )
        await self._get.close()
        await self._post.close()
        self._inbox.put_nowait(TransportClosed(self._closed))
