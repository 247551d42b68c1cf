"""Liveness bookkeeping for ping/pong, with time passed in.

A TCP connection can die without either side noticing: a laptop lid closes, a NAT
forgets the mapping, a server process freezes. Heartbeats turn that silence into a
decision. This module holds the decisions; the asyncio layer holds the timers::

    schedule = PingSchedule(interval=25, timeout=20, now=clock())
    while True:
        action = schedule.due(clock())
        if action is HeartbeatAction.SEND_PING:
            await send("2")
            schedule.ping_sent(clock())
        elif action is HeartbeatAction.CLOSE:
            await close()
            break
        pong.clear()
        # Sleep until next_wakeup, or until a pong arrives: the next ping is due
        # interval after the pong, sooner than the deadline when timeout > interval.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pong.wait(), schedule.next_wakeup(clock()) - clock())
    # ... and the receive loop does `if schedule.pong_received(clock()): pong.set()`
    # on each "3".

Three classes:

- :class:`PingSchedule`: Engine.IO v4's server side. The server pings every
  ``interval``; the client must pong within ``timeout``; the next ping is due
  ``interval`` after the pong.
- :class:`SilenceWatch`: Engine.IO v4's client side. The client never pings; it
  declares the server dead after ``interval + timeout`` without hearing anything.
- :class:`AppHeartbeat`: the guide's application-level version, built from ordinary
  events (``"ping"`` / ``"pong"``) and a repeating tick: a peer that has not answered
  since the previous tick is dropped. It detects a dead peer between one and two
  intervals after it died, where the protocol-level schedule needs at most
  ``interval + timeout``.

A deadline is inclusive: at ``now == deadline`` the peer is already dead, so an I/O
loop that wakes up exactly at :meth:`PingSchedule.next_wakeup` always has something
to do and never spins.
"""

from __future__ import annotations

import enum
import math

from .exceptions import UsageError

__all__ = ["AppHeartbeat", "HeartbeatAction", "PingSchedule", "SilenceWatch"]


class HeartbeatAction(enum.Enum):
    """What the I/O layer should do now."""

    NOTHING = "nothing"
    SEND_PING = "send-ping"
    CLOSE = "close"


def _check_seconds(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")


class PingSchedule:
    """The server's side of Engine.IO v4 heartbeats for one connection.

    The schedule is in one of two phases: waiting to send the next ping
    (:attr:`next_ping_at` is set), or waiting for the pong (:attr:`deadline` is set).
    A pong that arrives by the deadline starts a new interval; if it does not, the
    connection is dead and stays dead.

    Args:
        interval: seconds between a pong and the next ping (the OPEN packet's
            ``pingInterval``, in seconds; reference default 25).
        timeout: seconds the client has to answer a ping (``pingTimeout``, reference
            default 20).
        now: the current time, usually when the OPEN packet was sent.

    Raises:
        ValueError: when interval or timeout is not a positive number of seconds.
    """

    def __init__(self, interval: float, timeout: float, now: float) -> None:
        _check_seconds("interval", interval)
        _check_seconds("timeout", timeout)
        self.interval = interval
        self.timeout = timeout
        self._next_ping_at: float | None = now + interval
        self._deadline: float | None = None
        self._dead = False

    def __repr__(self) -> str:
        return (
            f"PingSchedule(interval={self.interval!r}, timeout={self.timeout!r}, "
            f"next_ping_at={self._next_ping_at!r}, deadline={self._deadline!r})"
        )

    @property
    def next_ping_at(self) -> float | None:
        """When the next ping is due, or ``None`` while a pong is awaited."""
        return self._next_ping_at

    @property
    def deadline(self) -> float | None:
        """When the awaited pong is due at the latest, or ``None`` if none is awaited."""
        return self._deadline

    @property
    def awaiting_pong(self) -> bool:
        """True between a ping and its pong."""
        return self._deadline is not None

    def ping_sent(self, now: float) -> None:
        """Record that a ping just went out; the pong is now due by ``now + timeout``.

        Raises:
            UsageError: if a ping is already awaiting its pong (Engine.IO v4 sends one
                ping at a time; call :meth:`due` to know when to ping).
        """
        if self._deadline is not None:
            raise UsageError(
                "a ping is already awaiting its pong; send the next one only when "
                "due() returns SEND_PING"
            )
        self._next_ping_at = None
        self._deadline = now + self.timeout

    def pong_received(self, now: float) -> bool:
        """Record a pong from the client.

        Returns:
            True if it answered the outstanding ping in time (the next ping is then
            due ``interval`` later). False if no ping was outstanding (the pong is
            ignored: unsolicited pongs must not postpone pings) or if it came too
            late (the connection is dead and stays dead).
        """
        if self._deadline is None or self.is_dead(now):
            return False
        self._deadline = None
        self._next_ping_at = now + self.interval
        return True

    def is_dead(self, now: float) -> bool:
        """True once a pong was due and did not arrive; it never becomes False again."""
        if not self._dead and self._deadline is not None and now >= self._deadline:
            self._dead = True
        return self._dead

    def due(self, now: float) -> HeartbeatAction:
        """What to do at ``now``: NOTHING, SEND_PING, or CLOSE (the client is gone).

        This only reports; after sending the ping call :meth:`ping_sent`.
        """
        if self.is_dead(now):
            return HeartbeatAction.CLOSE
        if self._next_ping_at is not None and now >= self._next_ping_at:
            return HeartbeatAction.SEND_PING
        return HeartbeatAction.NOTHING

    def next_wakeup(self, now: float) -> float:
        """When :meth:`due` will next have something to say (never earlier than now)."""
        if self._dead:
            return now
        if self._deadline is not None:
            return max(now, self._deadline)
        if self._next_ping_at is not None:
            return max(now, self._next_ping_at)
        return now  # unreachable: one of the two is always set


class SilenceWatch:
    """The client's side of Engine.IO v4 heartbeats: silence means a dead server.

    The server pings every ``interval``, so a client that hears nothing at all (no
    ping, no message) for ``interval + timeout`` concludes the server is gone and
    reconnects. Call :meth:`heard` for every packet received.

    Args:
        interval: the server's ``pingInterval`` in seconds, from the OPEN packet.
        timeout: the server's ``pingTimeout`` in seconds, from the OPEN packet.
        now: the current time, usually when the OPEN packet arrived.

    Raises:
        ValueError: when interval or timeout is not a positive number of seconds.
    """

    def __init__(self, interval: float, timeout: float, now: float) -> None:
        _check_seconds("interval", interval)
        _check_seconds("timeout", timeout)
        self.interval = interval
        self.timeout = timeout
        self._last_heard = now
        self._dead = False

    def __repr__(self) -> str:
        return (
            f"SilenceWatch(interval={self.interval!r}, timeout={self.timeout!r}, "
            f"last_heard={self._last_heard!r})"
        )

    @property
    def last_heard(self) -> float:
        """When the server was last heard from."""
        return self._last_heard

    @property
    def deadline(self) -> float:
        """When the server counts as dead unless something arrives before."""
        return self._last_heard + self.interval + self.timeout

    def heard(self, now: float) -> bool:
        """Record that a packet arrived from the server.

        Returns:
            True if it renewed the deadline; False if the server was already declared
            dead (a packet after the deadline does not bring it back: reconnect).
        """
        if self.is_dead(now):
            return False
        self._last_heard = max(self._last_heard, now)
        return True

    def is_dead(self, now: float) -> bool:
        """True once the silence reached ``interval + timeout``; then it stays True."""
        if not self._dead and now >= self.deadline:
            self._dead = True
        return self._dead


class AppHeartbeat:
    """The guide's application-level heartbeat for one peer, as pure bookkeeping.

    Every ``interval`` the server ticks: if the peer answered the previous ping it
    sends a new ``"ping"`` event, otherwise it drops the peer. Any ``"pong"`` event
    received between two ticks counts, however late. There is no separate timeout:
    detection takes between one and two intervals.

    Args:
        interval: seconds between ticks (the guide uses 30).
        now: the current time, usually when the peer connected.

    Raises:
        ValueError: when interval is not a positive number of seconds.
    """

    def __init__(self, interval: float, now: float) -> None:
        _check_seconds("interval", interval)
        self.interval = interval
        self._next_tick_at = now + interval
        self._alive = True  # a fresh connection counts as alive until the first tick
        self._dead = False

    def __repr__(self) -> str:
        return (
            f"AppHeartbeat(interval={self.interval!r}, next_tick_at={self._next_tick_at!r}, "
            f"answered={self._alive!r})"
        )

    @property
    def next_tick_at(self) -> float:
        """When the next tick is due."""
        return self._next_tick_at

    @property
    def answered(self) -> bool:
        """True if the peer answered since the last tick (or no tick happened yet)."""
        return self._alive

    @property
    def dead(self) -> bool:
        """True once a tick found the peer silent."""
        return self._dead

    def pong(self, now: float) -> None:
        """Record a ``"pong"`` event from the peer (``now`` is kept for symmetry)."""
        if not self._dead:
            self._alive = True

    def tick(self, now: float) -> HeartbeatAction:
        """Run the tick if it is due, and say what to do.

        Returns:
            NOTHING before :attr:`next_tick_at`; otherwise CLOSE if the peer did not
            answer since the last tick (and at every later call), or SEND_PING after
            marking the peer as unanswered until its next pong.
        """
        if self._dead:
            return HeartbeatAction.CLOSE
        if now < self._next_tick_at:
            return HeartbeatAction.NOTHING
        # Keep a fixed beat like setInterval; skip beats missed while asleep.
        missed = math.floor((now - self._next_tick_at) / self.interval)
        self._next_tick_at += (missed + 1) * self.interval
        if self._next_tick_at <= now:  # float rounding must not allow a double tick
            self._next_tick_at = now + self.interval
        if not self._alive:
            self._dead = True
            return HeartbeatAction.CLOSE
        self._alive = False
        return HeartbeatAction.SEND_PING

    def next_wakeup(self, now: float) -> float:
        """When :meth:`tick` will next have something to do (never earlier than now)."""
        return now if self._dead else max(now, self._next_tick_at)
