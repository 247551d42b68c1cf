"""A link you can break on purpose: a metered TCP relay on loopback.

:class:`LinkProxy` sits between a client and a server. The client connects to the
proxy, the proxy connects to the server, and every byte is copied across, counted per
direction and per connection. On the way it can simulate the faults real networks
have::

    client ──► LinkProxy (127.0.0.1, port 0) ──► server
                 │ counts bytes   c→s / s→c
                 │ set_latency()  one-way delay, order kept
                 │ pause()        half-open link: sockets open, nothing moves
                 │ cut()          every relayed connection reset (RST)
                 │ down() / up()  cable unplugged: cut, and new connections refused
                 │ block_websocket  HTTP passes, WebSocket upgrades are refused (403)

The link's state is one of :class:`LinkState`; the allowed moves between states are
in :data:`TRANSITIONS`, in one place, so a notebook can print them.

Paused data is **held and delivered on resume**, like TCP retransmitting after a
short outage. The hold is bounded (``max_held`` bytes per direction per connection):
once it is full the proxy stops reading, the kernel buffers fill up, and the sender's
writes eventually block, which is TCP flow control doing what it does on a stalled
link. Nothing is ever discarded while a connection lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from ._service import Service
from .exceptions import UsageError

__all__ = [
    "TRANSITIONS",
    "ConnectionStats",
    "LinkProxy",
    "LinkState",
    "LinkStats",
]

_CHUNK = 65536


class LinkState(enum.Enum):
    """What the link is doing now."""

    STOPPED = "stopped"  # not listening (before start() or after stop())
    UP = "up"  # forwarding, with the configured latency
    PAUSED = "paused"  # connections open, nothing forwarded (half-open link)
    DOWN = "down"  # connections cut, new ones refused (cable unplugged)


#: (state, action) -> next state. Repeating an action that is already in effect is a
#: no-op; any other pair raises :class:`~wslearn.exceptions.UsageError`.
TRANSITIONS: dict[tuple[LinkState, str], LinkState] = {
    (LinkState.STOPPED, "start"): LinkState.UP,
    (LinkState.UP, "pause"): LinkState.PAUSED,
    (LinkState.PAUSED, "resume"): LinkState.UP,
    (LinkState.UP, "down"): LinkState.DOWN,
    (LinkState.PAUSED, "down"): LinkState.DOWN,
    (LinkState.DOWN, "up"): LinkState.UP,
    (LinkState.PAUSED, "up"): LinkState.UP,
    (LinkState.UP, "stop"): LinkState.STOPPED,
    (LinkState.PAUSED, "stop"): LinkState.STOPPED,
    (LinkState.DOWN, "stop"): LinkState.STOPPED,
}


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    """Bytes relayed on one connection.

    Attributes:
        id: connection number, counting from 1 for the proxy's lifetime.
        client_to_server: bytes delivered to the server.
        server_to_client: bytes delivered to the client.
        open: whether the connection is still relayed.
        ended: how it ended: ``"closed"`` (both sides finished), ``"cut"`` (by the
            proxy), ``"reset"`` (a peer vanished); ``None`` while open.
    """

    id: int
    client_to_server: int
    server_to_client: int
    open: bool
    ended: str | None


@dataclass(frozen=True, slots=True)
class LinkStats:
    """A snapshot of the proxy's counters since start or the last reset.

    Attributes:
        client_to_server: bytes delivered to the server, all connections.
        server_to_client: bytes delivered to clients, all connections.
        accepted: connections relayed.
        refused: connections refused (link down, or too many open).
        upstream_failures: connections closed because the server could not be reached.
        held: bytes read but not yet delivered (delayed or paused), right now.
        connections: the open connections, then the most recently ended ones.
    """

    client_to_server: int
    server_to_client: int
    accepted: int
    refused: int
    upstream_failures: int
    held: int
    connections: tuple[ConnectionStats, ...]

    @property
    def total(self) -> int:
        """Bytes delivered in both directions."""
        return self.client_to_server + self.server_to_client

    @property
    def open(self) -> int:
        """How many connections are being relayed right now."""
        return sum(1 for c in self.connections if c.open)


@dataclass(eq=False)
class _Direction:
    """One way of one relayed connection: a bounded queue of timestamped chunks."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    chunks: deque[tuple[float, bytes]] = field(default_factory=deque)
    held: int = 0
    delivered: int = 0
    eof: bool = False
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


@dataclass(eq=False)
class _Relay:
    id: int
    task: asyncio.Task[None]
    up: _Direction | None = None  # client -> server
    down: _Direction | None = None  # server -> client
    ended: str | None = None

    def snapshot(self) -> ConnectionStats:
        return ConnectionStats(
            id=self.id,
            client_to_server=self.up.delivered if self.up else 0,
            server_to_client=self.down.delivered if self.down else 0,
            open=self.ended is None,
            ended=self.ended,
        )


async def _first_head(reader: asyncio.StreamReader) -> bytes:
    """Read a request head (bounded); what came instead, if it is not one."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError:
        return await reader.read(_CHUNK)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close abruptly: SO_LINGER 0 makes the kernel send RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class LinkProxy(Service):
    """A TCP relay on 127.0.0.1 that counts bytes and breaks on request.

    Example::

        async with LinkProxy("127.0.0.1", server_port) as link:
            ws = await connect(link.url("/"))     # through the proxy
            link.set_latency(0.2)                  # 200 ms each way
            link.pause()                           # half-open: only heartbeats notice
            link.resume()                          # held data delivered, in order
            await link.down()                      # unplug: cut and refuse
            link.up()                              # plug back in
            print(link.stats().total)

    While paused, new connections are still accepted (the kernel would complete the
    TCP handshake anyway) but carry nothing until resume(), so a client's opening
    handshake waits, as it would on a stalled network.

    Args:
        target_host: the server's host (loopback in this project).
        target_port: the server's port.
        max_held: bytes a direction of one connection may hold while delayed or paused
            before the proxy stops reading from the sender.
        max_connections: open connections beyond this are refused (reset).
        history: how many ended connections :meth:`stats` keeps listing.
    """

    kind = "link proxy"
    """How :mod:`wslearn.kernel` lists it (``await kernel.start(link, name="link")``)."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        max_held: int = 1 << 20,
        max_connections: int = 256,
        history: int = 64,
    ) -> None:
        if max_held < 1 or max_connections < 1 or history < 0:
            raise ValueError("max_held and max_connections must be >= 1, history >= 0")
        self.target_host = target_host
        self.target_port = target_port
        self.host = "127.0.0.1"
        self.max_held = max_held
        self.max_connections = max_connections
        self._state = LinkState.STOPPED
        self._latency = 0.0
        self._port: int | None = None
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()  # set while UP: writers may deliver
        self._relays: dict[int, _Relay] = {}
        self._ended: deque[ConnectionStats] = deque(maxlen=history)
        self._next_id = 1
        self._callbacks: list[Callable[[LinkState], None]] = []
        self.block_websocket = False
        """Refuse HTTP requests that ask for a WebSocket upgrade (403), as some
        corporate proxies do, while plain HTTP (long-polling) passes. Set it before
        the connections it should affect; it reads each new connection's first
        request head, so use it with HTTP clients only."""
        self.blocked = 0
        """How many WebSocket upgrades :attr:`block_websocket` refused."""
        self._taps: list[Callable[[str, bytes], None]] = []
        self._zero_counters()

    def _zero_counters(self) -> None:
        self._c2s = 0
        self._s2c = 0
        self._accepted = 0
        self._refused = 0
        self._upstream_failures = 0

    # -- observable state --------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """The link's current :class:`LinkState`."""
        return self._state

    @property
    def latency(self) -> float:
        """Added one-way delay in seconds, applied to each direction."""
        return self._latency

    @property
    def port(self) -> int:
        """The port the proxy listens on; raises UsageError before start()."""
        if self._port is None:
            raise UsageError("the proxy is not listening: call `await proxy.start()` first")
        return self._port

    def url(self, path: str = "/", scheme: str = "ws") -> str:
        """The address of ``path`` on the target, as reached through the proxy."""
        return f"{scheme}://{self.host}:{self.port}{path}"

    def on_change(self, callback: Callable[[LinkState], None]) -> Callable[[], None]:
        """Call ``callback(new_state)`` after every state change.

        Callbacks run synchronously in the method that changed the state, after the
        change is complete (a widget can bind to them). Latency is a plain property
        and does not notify. Returns a function that unsubscribes the callback.
        """
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def on_bytes(self, callback: Callable[[str, bytes], None]) -> Callable[[], None]:
        """Call ``callback(direction, data)`` with every chunk the link delivers.

        ``direction`` is ``"client_to_server"`` or ``"server_to_client"``: what an
        observer on the wire would read (the plain HTTP and frames of ``ws://``, only
        ciphertext under TLS). The callback runs in the relay and must not raise or
        block. Returns a function that unsubscribes it.
        """
        self._taps.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._taps.remove(callback)

        return unsubscribe

    def _move(self, action: str) -> bool:
        """Apply ``action``; False if it is already in effect. Raises UsageError."""
        new = TRANSITIONS.get((self._state, action))
        if new is None:
            if _ALREADY.get(action) == self._state:
                return False
            raise UsageError(
                f"cannot {action}() while the link is {self._state.value}; "
                + _HINTS.get(self._state, "")
            )
        self._state = new
        if new is LinkState.UP:
            self._flowing.set()
        else:
            self._flowing.clear()
        return True

    def _notify(self) -> None:
        for callback in list(self._callbacks):
            callback(self._state)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._state is not LinkState.STOPPED

    async def start(self) -> Self:
        """Listen on 127.0.0.1, port chosen by the system. Returns the proxy."""
        if self._state is not LinkState.STOPPED:
            raise UsageError("the proxy is already running: stop() it before start()")
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self._port = self._server.sockets[0].getsockname()[1]
        self._move("start")
        self._notify()
        return self

    async def stop(self) -> None:
        """Stop listening and reset every relayed connection. Safe to call twice."""
        if self._state is LinkState.STOPPED:
            return
        self._move("stop")
        assert self._server is not None
        self._server.close()
        await self._cut_all()
        await self._server.wait_closed()
        self._server = None
        self._notify()

    # -- faults ------------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every chunk by ``seconds`` in each direction, keeping order.

        Applies to data read from now on; data already queued keeps its delay.

        Raises:
            ValueError: if ``seconds`` is negative or not finite.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"latency must be a finite number of seconds >= 0, not {seconds}")
        self._latency = float(seconds)

    def pause(self) -> None:
        """Stop forwarding both ways; sockets stay open and data is held."""
        if self._move("pause"):
            self._notify()

    def resume(self) -> None:
        """Forward again after pause(); held data is delivered first, in order."""
        if self._move("resume"):
            self._notify()

    async def cut(self) -> int:
        """Reset every relayed connection now; new ones are still accepted.

        Returns:
            how many connections were cut.
        """
        if self._state is LinkState.STOPPED:
            raise UsageError("the proxy is not running: nothing to cut")
        return await self._cut_all()

    async def down(self) -> None:
        """Unplug the cable: cut every connection and refuse new ones until up()."""
        if self._move("down"):
            await self._cut_all()
            self._notify()

    def up(self) -> None:
        """Plug the cable back in (also ends a pause): forward and accept again."""
        if self._move("up"):
            self._notify()

    async def _cut_all(self) -> int:
        relays = list(self._relays.values())
        for relay in relays:
            relay.ended = "cut"
            relay.task.cancel()
        await asyncio.gather(*(r.task for r in relays), return_exceptions=True)
        return len(relays)

    # -- counters ----------------------------------------------------------------

    def stats(self) -> LinkStats:
        """A frozen snapshot of the counters."""
        live = [r.snapshot() for r in self._relays.values()]
        held = sum(d.held for r in self._relays.values() for d in (r.up, r.down) if d)
        return LinkStats(
            client_to_server=self._c2s,
            server_to_client=self._s2c,
            accepted=self._accepted,
            refused=self._refused,
            upstream_failures=self._upstream_failures,
            held=held,
            connections=(*live, *reversed(self._ended)),
        )

    def reset_stats(self) -> None:
        """Zero every counter, forget ended connections; open ones count from zero."""
        self._zero_counters()
        self._ended.clear()
        for relay in self._relays.values():
            for d in (relay.up, relay.down):
                if d is not None:
                    d.delivered = 0

    # -- relaying ----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._state is LinkState.DOWN or len(self._relays) >= self.max_connections:
            self._refused += 1
            _reset(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        relay = _Relay(id=self._next_id, task=task)
        self._next_id += 1
        self._relays[relay.id] = relay
        self._accepted += 1
        upstream: asyncio.StreamWriter | None = None
        try:
            first = b""
            if self.block_websocket:
                first = await _first_head(reader)
                if b"\r\nupgrade: websocket" in first.lower():
                    self.blocked += 1
                    body = b"WebSocket upgrades are blocked on this link\n"
                    writer.write(
                        b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n"
                        b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(body), body)
                    )
                    relay.ended = "closed"
                    return
            try:
                up_reader, upstream = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                self._upstream_failures += 1
                relay.ended = "reset"
                return
            relay.up = _Direction(reader, upstream)
            if first:
                relay.up.chunks.append((asyncio.get_running_loop().time(), first))
                relay.up.held += len(first)
            relay.down = _Direction(up_reader, writer)
            try:
                async with asyncio.TaskGroup() as group:
                    for d in (relay.up, relay.down):
                        group.create_task(self._read_loop(d))
                        group.create_task(self._write_loop(d, relay.up is d))
                relay.ended = "closed"
            except* OSError:
                relay.ended = "reset"
        except asyncio.CancelledError:
            # cut() cancels this task on purpose; any other cancellation propagates.
            if relay.ended != "cut":
                raise
        finally:
            # Closing is abrupt unless both sides already finished cleanly.
            for w in (writer, upstream):
                if w is None:
                    continue
                if relay.ended == "closed":
                    w.close()
                else:
                    _reset(w)
            del self._relays[relay.id]
            self._ended.append(relay.snapshot())

    async def _read_loop(self, d: _Direction) -> None:
        loop = asyncio.get_running_loop()
        while True:
            async with d.changed:
                # Bounded hold: stop reading (TCP pushes back) while the queue is full.
                await d.changed.wait_for(lambda: d.held < self.max_held)
            data = await d.reader.read(min(_CHUNK, self.max_held - d.held))
            async with d.changed:
                if not data:
                    d.eof = True
                else:
                    d.chunks.append((loop.time() + self._latency, data))
                    d.held += len(data)
                d.changed.notify_all()
            if not data:
                return

    async def _write_loop(self, d: _Direction, to_server: bool) -> None:
        loop = asyncio.get_running_loop()
        while True:
            async with d.changed:
                await d.changed.wait_for(lambda: bool(d.chunks) or d.eof)
                if not d.chunks:
                    break
                deadline, data = d.chunks[0]
            # Wait for both the link to be up and the chunk's delay to pass;
            # a pause during the delay is seen on the next turn of this loop.
            await self._flowing.wait()
            remaining = deadline - loop.time()
            if remaining > 0:
                await asyncio.sleep(remaining)
                continue
            # Count before drain(): once the peer can read the bytes, they are counted.
            d.writer.write(data)
            for tap in self._taps:
                tap("client_to_server" if to_server else "server_to_client", data)
            d.chunks.popleft()
            d.held -= len(data)
            d.delivered += len(data)
            if to_server:
                self._c2s += len(data)
            else:
                self._s2c += len(data)
            async with d.changed:
                d.changed.notify_all()
            await d.writer.drain()
        await self._flowing.wait()
        if d.writer.can_write_eof():
            d.writer.write_eof()


_ALREADY = {
    "pause": LinkState.PAUSED,
    "resume": LinkState.UP,
    "down": LinkState.DOWN,
    "up": LinkState.UP,
}

_HINTS = {
    LinkState.STOPPED: "call `await proxy.start()` first",
    LinkState.DOWN: "call up() to plug the link back in",
    LinkState.UP: "",
    LinkState.PAUSED: "call resume() first",
}
