"""The observable side of :class:`wslearn.client.Client`: listeners, state, frames.

Everything an application or a widget registers or reads lives here: event
listeners per namespace, the connection state and its listeners, the frame log, the
socket ids. :mod:`wslearn._receiving` builds the receive loop on top, and
:mod:`wslearn.client` the connection's life (connect, reconnect, disconnect).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias, TypeVar, overload

from ._emitter import Emitter, Listener, call_listener
from ._session import ClientState, NamespaceState, SendBuffer, Session, socketio_url
from .backoff import Backoff
from .compression import Compression
from .exceptions import NotConnectedError, UsageError
from .packets import JSON_PARSER, Frame, Parser

__all__ = [
    "MANAGER_EVENTS",
    "RESERVED_EVENTS",
    "Auth",
    "ClientBase",
    "FrameListener",
    "StateListener",
]

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

CLIENT_COMPRESSION = Compression()
"""What a client offers by default: permessage-deflate, messages under 1024 bytes
sent as they are, zlib state made on first use (as the reference client offers
``perMessageDeflate: {threshold: 1024}``). The server decides whether it is used."""

MANAGER_EVENTS = frozenset({"reconnect_attempt", "reconnect", "reconnect_failed"})
"""Events about the connection as a whole, fired whatever namespace they are asked on."""

RESERVED_EVENTS = MANAGER_EVENTS | {"connect", "connect_error", "disconnect"}
"""Events the client fires itself; they cannot be emitted to the server."""


class ClientBase:
    """Listener registries and state of a client; see :class:`wslearn.client.Client`."""

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
        parser: Parser = JSON_PARSER,
        ssl: ssl_module.SSLContext | None = None,
        compression: Compression | None = CLIENT_COMPRESSION,
    ) -> None:
        self.url = url
        self.ws_url = socketio_url(url, path)
        if ssl is not None and not self.ws_url.startswith("wss://"):
            raise ValueError(
                f"ssl= is for TLS servers: give an https:// or wss:// URL, got {url!r}"
            )
        self.ssl = ssl
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
        self._parser = parser
        self.compression = compression
        self._namespaces = {name: NamespaceState(name, Emitter(_log)) for name in namespaces}
        self._manager = Emitter(_log)
        self._state = ClientState.DISCONNECTED
        self._ever_connected = False
        self._epoch = 0  # bumped by disconnect(): a connect() still running must give up
        self._max_payload: int | None = None  # the last server's maxPayload
        self._session: Session | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[int, tuple[str, asyncio.Future[list[Any]]]] = {}
        self._next_ack = 0
        self._buffer = SendBuffer(max_buffered)
        self._frame_listeners: list[FrameListener] = []
        self._state_listeners: list[StateListener] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} {self._state.value}>"

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

    @property
    def recovered(self) -> bool:
        """True when the last connection of ``"/"`` (or the first namespace) resumed
        the previous session: connection state recovery, see :mod:`wslearn.recovery`."""
        name = "/" if "/" in self._namespaces else next(iter(self._namespaces))
        return self._namespaces[name].recovered

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

    def _fail_pending(self, namespace: str | None, why: str) -> None:
        for ns_name, future in list(self._pending.values()):
            if (namespace is None or ns_name == namespace) and not future.done():
                future.set_exception(NotConnectedError(f"no ack will come: {why}"))


async def _logged(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:
        _log.exception("an async listener raised")
        return None
