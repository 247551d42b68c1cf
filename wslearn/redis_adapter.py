"""Several server processes sharing rooms through Redis pub/sub.

One process is not the end of scaling: run several, each with a
:class:`RedisAdapter` on the same Redis, and a broadcast from any of them reaches
the matching sockets in all of them::

    server = Server(adapter=RedisAdapter("redis://127.0.0.1:6379/0"))

or from the command line, one process of such a cluster each::

    python -m wslearn serve --port 3001 --redis redis://127.0.0.1:6379/0
    python -m wslearn serve --port 3002 --redis redis://127.0.0.1:6379/0

How it works: :meth:`RedisAdapter.broadcast` delivers to this process's sockets at
once, then publishes an :mod:`~wslearn.envelope` (the encoded frames plus the
targets) on one channel. Every process subscribes to it and delivers what others
published to its own matching sockets; rooms never leave their process, so a join
or a leave costs nothing across processes. A broadcast from a process with no
sockets at all (a server-side emit) reaches the others the same way.

What it does not do, on purpose:

- **No delivery guarantee.** Redis pub/sub keeps nothing: while this process cannot
  reach Redis, its broadcasts still reach its own sockets but are *dropped* for the
  others (counted in :attr:`RedisAdapter.stats`, logged, and listed in
  :attr:`RedisAdapter.events`), and what the others publish meanwhile never arrives
  here. The adapter reconnects with backoff and resubscribes; everything published
  after that flows again. For messages that must arrive, use acknowledgements and
  retries (:mod:`wslearn.reliable`) on top.
- **No sticky sessions.** A WebSocket lives on one process, so nothing is needed.
  HTTP long-polling, though, sends each request separately: behind a load
  balancer, every request of a session must reach the process that holds it
  (sticky sessions by sid or client address), or the session is unknown there.
- **No shared state.** ``socket.data``, acks and connection state recovery stay in
  the process that holds the socket.
- **No offload.** Each process still encodes its own broadcasts and writes to its
  own sockets; Redis adds one publish per broadcast and one delivery per process.

Needs the ``redis`` and ``hiredis`` packages: ``pip install wslearn[redis]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .adapters import Adapter
from .backoff import Backoff
from .envelope import decode_envelope, encode_envelope, envelope_for
from .exceptions import ConnectFailedError, PacketError, UsageError
from .packets import Frame
from .rooms import Everyone

if TYPE_CHECKING:
    from .server import Server

__all__ = ["AdapterEvent", "AdapterStats", "RedisAdapter"]

logger = logging.getLogger("wslearn.redis")

EventKind = Literal["connected", "lost", "reconnected", "dropped", "invalid"]


@dataclass(frozen=True)
class AdapterEvent:
    """Something that happened to the link with Redis.

    Attributes:
        kind: ``connected`` (first time), ``lost``, ``reconnected``, ``dropped``
            (broadcasts not published) or ``invalid`` (an envelope refused).
        at: wall-clock time (``time.time()``).
        detail: what a person needs to know, in one sentence.
        count: how many broadcasts it concerns (``dropped``), else 0.
    """

    kind: EventKind
    at: float
    detail: str
    count: int = 0


@dataclass
class AdapterStats:
    """Counters since :meth:`RedisAdapter.start`.

    Attributes:
        published: envelopes published to Redis.
        received: envelopes from other processes delivered here.
        dropped: broadcasts that reached this process's sockets only, because
            Redis was unreachable (or the publish queue was full).
        invalid: envelopes refused as malformed.
        outages: how many times the link with Redis was lost.
    """

    published: int = 0
    received: int = 0
    dropped: int = 0
    invalid: int = 0
    outages: int = 0


def _redis() -> Any:
    try:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise UsageError(
            "the Redis adapter needs the redis package: pip install 'wslearn[redis]'"
        ) from None
    return redis.asyncio, Retry(NoBackoff(), 0), Retry(NoBackoff(), 1)


class RedisAdapter(Adapter):
    """Broadcasts to every process on the same Redis channel.

    Args:
        url: the Redis server, e.g. ``redis://127.0.0.1:6379/0``.
        channel: the pub/sub channel; processes on the same channel share rooms.
        reconnection: delays between attempts to reach Redis again (no limit on
            their number: the process keeps serving its own sockets meanwhile).
        max_queued: broadcasts waiting to be published before new ones are dropped.
        max_events: how many :class:`AdapterEvent` entries :attr:`events` keeps.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        channel: str = "wslearn",
        reconnection: Backoff = Backoff(initial=0.1, maximum=2.0, jitter=0.2),  # noqa: B008
        max_queued: int = 10_000,
        max_events: int = 100,
    ) -> None:
        super().__init__()
        if reconnection.attempts is not None:
            raise UsageError("the Redis adapter reconnects forever: leave attempts=None")
        self.url = url
        self.channel = channel
        self.reconnection = reconnection
        self.id = secrets.token_urlsafe(9)
        self.stats = AdapterStats()
        self.events: deque[AdapterEvent] = deque(maxlen=max_events)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(max_queued)
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._publisher: Any = None
        self._down_since: float | None = None
        self._dropped_in_outage = 0

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<RedisAdapter {self.url} channel={self.channel!r} {state}>"

    @property
    def connected(self) -> bool:
        """True while subscribed to the channel and able to publish."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until the link with Redis is up (again)."""
        await self._connected.wait()

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, server: Server) -> None:
        """Connect, subscribe, and start relaying.

        Raises:
            ConnectFailedError: Redis cannot be reached (a cluster member must not
                start blind; later outages are survived instead).
            UsageError: the redis package is not installed.
        """
        aioredis, no_retry, one_retry = _redis()
        await super().start(server)
        self.stats = AdapterStats()
        # One retry: after an outage the pooled connection is dead; the retry opens a
        # new one instead of dropping the first broadcast after Redis came back.
        self._publisher = aioredis.Redis.from_url(
            self.url, retry=one_retry, socket_connect_timeout=2.0
        )
        try:
            await self._publisher.ping()
        except (OSError, aioredis.RedisError) as exc:
            await self._publisher.aclose()
            await super().stop()
            raise ConnectFailedError(self.url, f"Redis did not answer ({exc})") from None
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks = [
            asyncio.create_task(self._listen(aioredis, no_retry, ready)),
            asyncio.create_task(self._publish_loop(aioredis)),
        ]
        await ready  # subscribed: nothing published from now on is missed

    async def stop(self) -> None:
        """Stop relaying and close the Redis connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._connected.clear()
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None
        await super().stop()

    # -- sending --------------------------------------------------------------------

    def broadcast(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: frozenset[str] | Everyone,
        except_rooms: frozenset[str],
        except_sids: frozenset[str],
    ) -> None:
        """Deliver here now, and queue the envelope for the other processes."""
        self.server.deliver(namespace, frames, rooms, except_rooms, except_sids)
        if not self.connected:
            self._drop(1, "Redis is unreachable")
            return
        data = encode_envelope(
            envelope_for(self.id, namespace, frames, rooms, except_rooms, except_sids)
        )
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self._drop(1, f"{self._queue.maxsize} broadcasts already wait to be published")

    def _drop(self, count: int, why: str) -> None:
        self.stats.dropped += count
        if self._down_since is not None:
            self._dropped_in_outage += count
            return  # summed up in the "reconnected" event
        logger.warning("broadcast reached this process only: %s", why)
        self.events.append(AdapterEvent("dropped", time.time(), why, count))

    async def _publish_loop(self, aioredis: Any) -> None:
        while True:
            data = await self._queue.get()
            if not self.connected:
                self._drop(1, "Redis became unreachable before it was published")
                continue
            try:
                await self._publisher.publish(self.channel, data)
            except (OSError, aioredis.RedisError):
                self._drop(1, "the publish failed")
                continue
            self.stats.published += 1

    # -- receiving ------------------------------------------------------------------

    async def _listen(self, aioredis: Any, no_retry: Any, ready: asyncio.Future[None]) -> None:
        delays = self.reconnection.delays()
        while True:
            client = aioredis.Redis.from_url(self.url, retry=no_retry, socket_connect_timeout=2.0)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._up()
                if not ready.done():
                    ready.set_result(None)
                delays = self.reconnection.delays()  # a fresh sequence after success
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None and message.get("type") == "message":
                        self._on_message(message["data"])
            except (OSError, aioredis.RedisError) as exc:
                if not ready.done():  # the first subscription failed: start() says so
                    reason = f"could not subscribe ({exc})"
                    ready.set_exception(ConnectFailedError(self.url, reason))
                    return
                self._down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(next(delays))

    def _on_message(self, data: bytes) -> None:
        try:
            envelope = decode_envelope(data)
        except PacketError as exc:
            self.stats.invalid += 1
            self.events.append(AdapterEvent("invalid", time.time(), exc.reason))
            logger.warning("ignored a malformed message on channel %s: %s", self.channel, exc)
            return
        if envelope.origin == self.id:
            return  # our own broadcast: delivered locally already
        self.stats.received += 1
        self.server.deliver(
            envelope.namespace,
            envelope.frames,
            envelope.rooms,
            envelope.except_rooms,
            envelope.except_sids,
        )

    def _up(self) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self.events.append(AdapterEvent("connected", time.time(), f"subscribed to {self.url}"))
            logger.info("subscribed to %s, channel %s", self.url, self.channel)
        else:
            outage = now - self._down_since
            detail = (
                f"Redis reachable again after {outage:.1f} s; {self._dropped_in_outage} "
                "broadcast(s) from this process reached its own sockets only, and "
                "broadcasts other processes sent meanwhile were not received here"
            )
            self.events.append(
                AdapterEvent("reconnected", time.time(), detail, self._dropped_in_outage)
            )
            logger.warning(detail)
            self._down_since = None
            self._dropped_in_outage = 0
        self._connected.set()

    def _down(self, exc: BaseException) -> None:
        if self._down_since is not None:
            return  # still down: a failed reconnection attempt
        self._connected.clear()
        self._down_since = time.monotonic()
        self.stats.outages += 1
        detail = f"lost Redis at {self.url} ({exc or type(exc).__name__}); reconnecting"
        self.events.append(AdapterEvent("lost", time.time(), detail))
        logger.warning(detail)
