"""The guide's application-level heartbeat, on a wslearn server and client.

Engine.IO already has a heartbeat: the server sends ``2``, the client answers ``3``,
and a peer that misses its pong is closed within ``pingInterval + pingTimeout``
(:class:`~wslearn.heartbeat.PingSchedule`). The guide adds a second one on top, made
of ordinary events, which is what an application does when it wants to see
liveness itself (or when a transport has no heartbeat)::

    beats = AppHeartbeatMonitor(server.of("/"), interval=30)

    @server.on("connect")
    def on_connect(socket):
        beats.watch(socket)          # "ping" every interval; silent -> disconnected

    answer_app_pings(client)         # on the client: "ping" -> "pong"
    ...
    beats.stop()                     # before server.stop()

At every tick the server checks that the client answered since the previous tick;
if it did, it sends a new ``ping`` event, otherwise it disconnects the socket the
way the guide does (a kick: DISCONNECT is sent, so a live client does not
reconnect; a half-open one never hears it). Detection takes one to two intervals.
The decisions are :class:`~wslearn.heartbeat.AppHeartbeat`'s; this module only
holds the timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .client import Client
from .heartbeat import AppHeartbeat, HeartbeatAction
from .namespace import Namespace, Socket

__all__ = ["AppHeartbeatMonitor", "answer_app_pings"]

logger = logging.getLogger("wslearn.server")


class AppHeartbeatMonitor:
    """Application-level ping/pong for the sockets of one namespace.

    Registers the ``pong_event`` handler on the namespace; call :meth:`watch` for
    each socket (from your ``connect`` handler) and :meth:`stop` before stopping the
    server.

    Args:
        namespace: the namespace whose sockets are watched (``server.of("/")``).
        interval: seconds between ticks (the guide uses 30).
        ping_event: the event the server sends at each tick.
        pong_event: the event the client answers with.
        on_drop: called with each socket dropped for not answering.

    Raises:
        ValueError: interval is not a positive number of seconds.
    """

    def __init__(
        self,
        namespace: Namespace,
        interval: float,
        *,
        ping_event: str = "ping",
        pong_event: str = "pong",
        on_drop: Callable[[Socket], object] | None = None,
    ) -> None:
        AppHeartbeat(interval, 0.0)  # validates the interval now, not at the first watch
        self.namespace = namespace
        self.interval = interval
        self.ping_event = ping_event
        self.on_drop = on_drop
        self.dropped: list[str] = []
        """Ids of the sockets dropped for silence, oldest first."""
        self._beats: dict[str, AppHeartbeat] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        namespace.on(pong_event)(self._pong)

    def __repr__(self) -> str:
        return f"<AppHeartbeatMonitor {self.namespace.name} every {self.interval:g} s>"

    @property
    def watching(self) -> int:
        """How many sockets are being watched now."""
        return len(self._tasks)

    def watch(self, socket: Socket) -> None:
        """Start the heartbeat of one socket; it ends when the socket disconnects."""
        if socket.id in self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._beats[socket.id] = AppHeartbeat(self.interval, loop.time())
        task = loop.create_task(self._beat(socket))
        self._tasks[socket.id] = task
        task.add_done_callback(lambda _: self._forget(socket.id))

    def stop(self) -> None:
        """Stop every heartbeat (sockets stay connected)."""
        for task in list(self._tasks.values()):
            task.cancel()

    def _forget(self, sid: str) -> None:
        self._tasks.pop(sid, None)
        self._beats.pop(sid, None)

    def _pong(self, socket: Socket, *args: Any) -> None:
        beat = self._beats.get(socket.id)
        if beat is not None:
            beat.pong(asyncio.get_running_loop().time())

    async def _beat(self, socket: Socket) -> None:
        loop = asyncio.get_running_loop()
        beat = self._beats[socket.id]
        while socket.connected:
            await asyncio.sleep(max(0.0, beat.next_wakeup(loop.time()) - loop.time()))
            if not socket.connected:
                return
            action = beat.tick(loop.time())
            if action is HeartbeatAction.SEND_PING:
                await socket.emit(self.ping_event)
            elif action is HeartbeatAction.CLOSE:
                logger.info("socket %s missed an application ping: disconnecting", socket.id)
                self.dropped.append(socket.id)
                await socket.disconnect(close=True)
                if self.on_drop is not None:
                    self.on_drop(socket)
                return


def answer_app_pings(
    client: Client, *, namespace: str = "/", ping_event: str = "ping", pong_event: str = "pong"
) -> Callable[..., object]:
    """Make a client answer every ``ping`` event with a ``pong`` event.

    The pong is sent only on the live connection (never buffered): a pong queued
    during an outage would answer a ping of a connection that no longer exists.

    Returns:
        The listener, to pass to ``client.off(ping_event, listener)``.
    """

    async def answer(*_: Any) -> None:
        await client.emit_now(pong_event, namespace=namespace)

    client.on(ping_event, answer, namespace=namespace)
    return answer
