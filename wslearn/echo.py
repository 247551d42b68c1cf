"""Plain WebSockets, the browser's way: an echo server and a browser-shaped client.

This is the guide's "Native WebSocket API" section in Python, with no Socket.IO:

- :class:`EchoServer` answers every text message with ``"Echo: <message>"`` and
  sends binary messages back unchanged, like the guide's ``ws`` server. It keeps a
  short log of what happened instead of printing, so a notebook can show the log in
  a later cell.
- :class:`WebSocketClient` has the shape of the browser's ``WebSocket``: it starts
  connecting as soon as it is created, reports through ``open`` / ``message`` /
  ``error`` / ``close`` listeners, and has ``send``, ``close`` and ``ready_state``.
  Code written against one reads line for line like code written against the other.

Both need a running event loop: in a notebook, use top-level ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ._service import Service
from .compression import Compression
from .exceptions import NotConnectedError, UsageError

__all__ = [
    "CloseEvent",
    "EchoServer",
    "ErrorEvent",
    "MessageEvent",
    "OpenEvent",
    "ReadyState",
    "ServerEvent",
    "WebSocketClient",
]

logger = logging.getLogger(__name__)

EventName = Literal["open", "message", "error", "close"]
Listener = Callable[[Any], object]
"""A listener takes the event; it may be a plain function or a coroutine function."""

_EVENT_NAMES: tuple[EventName, ...] = ("open", "message", "error", "close")


# --- the server ----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerEvent:
    """One line of :attr:`EchoServer.log`.

    Attributes:
        kind: ``"connect"``, ``"message"`` or ``"disconnect"``.
        client: the connection's number, counting from 1 since the server started.
        data: the message received (``"message"`` only).
        code: the close code (``"disconnect"`` only; 1006 when no close frame came).
    """

    kind: Literal["connect", "message", "disconnect"]
    client: int
    data: str | bytes | None = None
    code: int | None = None

    def __str__(self) -> str:
        if self.kind == "connect":
            return f"client {self.client} connected"
        if self.kind == "message":
            return f"client {self.client} sent {_brief(self.data)}"
        return f"client {self.client} disconnected (code {self.code})"


def _brief(data: str | bytes | None, limit: int = 40) -> str:
    """A message short enough for one log line."""
    if data is None or len(data) <= limit:
        return repr(data)
    if isinstance(data, str):
        return f"{data[:limit]!r}... ({len(data)} characters)"
    return f"{len(data)} bytes ({data[:8].hex(' ')} ...)"


class EchoServer(Service):
    """A WebSocket echo server on :func:`websockets.asyncio.server.serve`.

    Args:
        host: the address to bind; loopback by default.
        port: the port to bind; 0 lets the system pick a free one.
        prefix: put before every echoed text message.
        log_size: how many :class:`ServerEvent` entries :attr:`log` keeps.
        compression: permessage-deflate settings (see :mod:`wslearn.compression`),
            or None (default) to decline it, as Node's ``ws`` server does.

    Example::

        server = await EchoServer().start()
        print(server.url)      # ws://127.0.0.1:<port>
        await server.stop()
    """

    kind: ClassVar[str] = "websocket echo"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        prefix: str = "Echo: ",
        log_size: int = 100,
        compression: Compression | None = None,
    ) -> None:
        self.host = host
        self.prefix = prefix
        self.compression = compression
        self._requested_port = port
        self._server: Server | None = None
        self._log: deque[ServerEvent] = deque(maxlen=log_size)
        self._clients = 0
        self._port = 0

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            UsageError: if the server has not been started.
        """
        if self._server is None:
            raise UsageError("the server is not running: `await server.start()` first")
        return self._port

    @property
    def url(self) -> str:
        """The ``ws://`` address clients connect to (see :attr:`port`)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def log(self) -> list[ServerEvent]:
        """The latest connects, messages and disconnects, oldest first."""
        return list(self._log)

    async def start(self) -> Self:
        """Bind and start serving; returns the server so ``await EchoServer().start()`` reads.

        Starting a running server does nothing.
        """
        if self._server is None:
            factories = None if self.compression is None else [self.compression.server_factory()]
            self._server = await serve(
                self._handle,
                self.host,
                self._requested_port,
                compression=None,
                extensions=factories,
            )
            self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close every connection (code 1001, going away) and stop listening.

        Stopping a stopped server does nothing.
        """
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<EchoServer {where}>"

    async def _handle(self, connection: ServerConnection) -> None:
        self._clients += 1
        client = self._clients
        self._log.append(ServerEvent("connect", client))
        try:
            async for message in connection:
                self._log.append(ServerEvent("message", client, message))
                reply = self.prefix + message if isinstance(message, str) else message
                # A client that sends and closes at once may be gone before the reply:
                # keep reading, so every message it sent still reaches the log.
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(reply)
        except ConnectionClosed:
            pass  # an abrupt disconnect is logged below like any other
        finally:
            self._log.append(ServerEvent("disconnect", client, code=connection.close_code))


# --- the browser-shaped client -------------------------------------------------------


class ReadyState(enum.IntEnum):
    """The browser's ``WebSocket.readyState`` values."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


@dataclass(frozen=True)
class OpenEvent:
    """The connection is open: ``send`` works from now on."""

    type: ClassVar[str] = "open"


@dataclass(frozen=True)
class MessageEvent:
    """A message arrived: ``str`` for a text frame, ``bytes`` for a binary one."""

    data: str | bytes
    type: ClassVar[str] = "message"


@dataclass(frozen=True)
class ErrorEvent:
    """Something went wrong; a ``close`` event always follows.

    Browsers hide the cause from scripts; here ``message`` says what happened.
    """

    message: str
    type: ClassVar[str] = "error"


@dataclass(frozen=True)
class CloseEvent:
    """The connection is closed.

    Attributes:
        code: the close code the peer sent, or 1006 when no close frame arrived.
        reason: the peer's close reason.
        was_clean: True when both sides exchanged close frames.
    """

    code: int
    reason: str
    was_clean: bool
    type: ClassVar[str] = "close"


@dataclass(frozen=True)
class _CloseRequest:
    code: int
    reason: str


class WebSocketClient:
    """A client shaped like the browser's ``WebSocket``.

    Creating one starts connecting at once, in the running loop. Listeners are called
    in the order events happen; a listener may be a coroutine function, in which case
    it is awaited before the next event is delivered (so do not await
    :meth:`closed` inside one). An exception in a listener is logged and kept in
    :attr:`listener_errors`; the connection carries on.

    Args:
        url: a ``ws://`` address.
        open_timeout: seconds allowed for the TCP connection and the handshake.

    Raises:
        UsageError: if no event loop is running.
    """

    def __init__(self, url: str, *, open_timeout: float = 10.0) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UsageError(
                "WebSocketClient needs a running event loop: create it in a notebook "
                "cell or inside an `async def`"
            ) from None
        self.url = url
        self.open_timeout = open_timeout
        self.listener_errors: deque[Exception] = deque(maxlen=20)
        self._state = ReadyState.CONNECTING
        self._listeners: dict[str, list[Listener]] = {name: [] for name in _EVENT_NAMES}
        self._outgoing: asyncio.Queue[str | bytes | _CloseRequest] = asyncio.Queue()
        self._opened: asyncio.Future[bool] = loop.create_future()
        self._closed: asyncio.Future[CloseEvent] = loop.create_future()
        self._failure = ""
        self._task = loop.create_task(self._run(), name=f"WebSocketClient({url})")

    @property
    def ready_state(self) -> ReadyState:
        """CONNECTING, OPEN, CLOSING or CLOSED, as in the browser."""
        return self._state

    def add_event_listener(self, name: EventName, listener: Listener) -> None:
        """Call ``listener(event)`` on every ``name`` event; adding it twice does nothing.

        Raises:
            UsageError: if ``name`` is not open, message, error or close.
        """
        listeners = self._listeners_for(name)
        if listener not in listeners:
            listeners.append(listener)

    def remove_event_listener(self, name: EventName, listener: Listener) -> None:
        """Stop calling ``listener``; removing one that is not there does nothing."""
        with contextlib.suppress(ValueError):
            self._listeners_for(name).remove(listener)

    def send(self, data: str | bytes) -> None:
        """Queue a message: ``str`` goes as a text frame, ``bytes`` as a binary one.

        Raises:
            NotConnectedError: before ``open`` or after :meth:`close` (nothing is queued).
            UsageError: if ``data`` is neither str nor bytes.
        """
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, str | bytes):
            raise UsageError(f"send() takes str or bytes, not {type(data).__name__}")
        if self._state is ReadyState.CONNECTING:
            raise NotConnectedError(
                "still connecting: send from an 'open' listener, or `await client.opened()`"
            )
        if self._state is not ReadyState.OPEN:
            raise NotConnectedError(f"the connection is {self._state.name}: nothing was sent")
        self._outgoing.put_nowait(data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake after the messages already queued.

        As in the browser, messages that arrive after this call are not delivered:
        wait for the replies you need before closing. Closing while still connecting
        abandons the connection (error, then close 1006). Closing twice does nothing.

        Raises:
            UsageError: for a code other than 1000 or 3000-4999 (the browser's rule), or
                a reason longer than 123 bytes in UTF-8.
        """
        if code != 1000 and not 3000 <= code <= 4999:
            raise UsageError(f"close code must be 1000 or 3000-4999, not {code}")
        if len(reason.encode("utf-8")) > 123:
            raise UsageError("the close reason must fit in 123 bytes of UTF-8")
        if self._state in (ReadyState.CLOSING, ReadyState.CLOSED):
            return
        if self._state is ReadyState.OPEN:
            self._outgoing.put_nowait(_CloseRequest(code, reason))
        self._state = ReadyState.CLOSING

    async def opened(self) -> None:
        """Wait for the ``open`` event.

        Raises:
            NotConnectedError: if the connection failed or was closed before opening.
        """
        if not await asyncio.shield(self._opened):
            raise NotConnectedError(f"could not open {self.url}: {self._failure}")

    async def closed(self) -> CloseEvent:
        """Wait until the ``close`` event has been delivered, and return it."""
        return await asyncio.shield(self._closed)

    async def __aenter__(self) -> WebSocketClient:
        await self.opened()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.closed()

    def __repr__(self) -> str:
        return f"<WebSocketClient {self.url} {self._state.name}>"

    def _listeners_for(self, name: str) -> list[Listener]:
        try:
            return self._listeners[name]
        except KeyError:
            raise UsageError(
                f"unknown event {name!r}: use one of {', '.join(_EVENT_NAMES)}"
            ) from None

    async def _dispatch(self, name: EventName, event: object) -> None:
        for listener in list(self._listeners[name]):  # a copy: listeners may remove themselves
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self.listener_errors.append(exc)
                logger.exception("a %r listener of %r raised", name, self)

    async def _run(self) -> None:
        try:
            await self._connect_and_receive()
        except Exception as exc:
            # A bug here must not leave anyone waiting on closed() forever.
            logger.exception("%r failed", self)
            if not self._closed.done():
                await self._finish(f"internal error: {exc!r}")

    async def _connect_and_receive(self) -> None:
        try:
            connection = await connect(self.url, open_timeout=self.open_timeout, proxy=None)
        except Exception as exc:  # refused, unreachable, bad URI, rejected handshake...
            await self._finish(f"could not connect to {self.url}: {exc}")
            return
        if self._state is ReadyState.CLOSING:  # close() was called while connecting
            await connection.close()
            await self._finish("the connection was closed before it opened")
            return
        self._state = ReadyState.OPEN
        self._opened.set_result(True)
        writer = asyncio.create_task(self._write(connection))
        try:
            await self._dispatch("open", OpenEvent())
            with contextlib.suppress(ConnectionClosed):
                async for message in connection:
                    # As in the browser: once close() is called, replies are dropped.
                    if self._state is ReadyState.OPEN:
                        await self._dispatch("message", MessageEvent(message))
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await connection.close()
        received, sent = connection.protocol.close_rcvd, connection.protocol.close_sent
        if received is None:
            await self._finish("the connection was lost without a closing handshake")
        else:
            await self._finish("", CloseEvent(received.code, received.reason, sent is not None))

    async def _write(self, connection: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                item = await self._outgoing.get()
                if isinstance(item, _CloseRequest):
                    await connection.close(item.code, item.reason)
                    return
                await connection.send(item)

    async def _finish(self, failure: str, event: CloseEvent | None = None) -> None:
        """Deliver the last events: ``error`` if ``failure``, then ``close``."""
        self._state = ReadyState.CLOSED
        if not self._opened.done():
            self._failure = failure
            self._opened.set_result(False)
        if failure:
            await self._dispatch("error", ErrorEvent(failure))
        event = event or CloseEvent(1006, "", False)
        await self._dispatch("close", event)
        self._closed.set_result(event)
