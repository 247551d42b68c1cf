"""Rate limits on a server: per event, per connection attempt, and what abuse costs.

Built on the pure limiters of :mod:`wslearn.ratelimit` and the two middleware hooks::

    limits = EventLimits(Rate(5, 1.0, burst=10), per_event={"send-message": Rate(1, 1.0)})
    server.use_event(limits)                       # every incoming event
    server.use(ConnectLimits(Rate(5, 10.0)))       # every CONNECT attempt

Who counts as one client: the authenticated user (``socket.data["user"]``, set by
:func:`wslearn.auth.require_token`), else the IP address, see :func:`client_key`.
Anonymous users behind one address share its budget, so give them a generous one, or
put authentication first.

What the client sees:

- an event over its limit is refused with ``{"message": "rate limit exceeded: ...",
  "rule": "rate limit", "retryAfter": seconds}``: as an ``error`` event, or as the
  ack's error when it asked for an ack (see :meth:`Namespace.use_event
  <wslearn.namespace.Namespace.use_event>`); the handler does not run;
- sustained abuse (more refusals than the ``abuse`` rate allows) gets an ``error``
  event ``{"message": "disconnected: ...", "reason": "rate limit"}`` and is then
  kicked: a DISCONNECT packet, so Socket.IO clients do not reconnect by themselves
  (the server-side ``disconnect`` handler sees ``"server namespace disconnect"``);
- a CONNECT over :class:`ConnectLimits` is refused with a CONNECT_ERROR
  ``{"message": "too many connection attempts: ...", "data": {"reason": "rate
  limit", "retryAfter": seconds}}``.

``retryAfter`` is in seconds, rounded up to the millisecond.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from .auth import USER_KEY
from .exceptions import ConnectRefusedError, EventRefusedError
from .namespace import Socket
from .ratelimit import KeyedLimiter, Rate

__all__ = ["ABUSE_REASON", "ConnectLimits", "EventLimits", "client_key"]

logger = logging.getLogger("wslearn.throttle")

ABUSE_REASON = "rate limit"
"""The ``reason`` of the error event sent before an abuser is disconnected."""

KeyFunction = Callable[[Socket], str]


def client_key(socket: Socket) -> str:
    """``"user:<sub>"`` for an authenticated socket, else ``"address:<ip>"``."""
    user = socket.data.get(USER_KEY)
    if isinstance(user, str) and user:
        return "user:" + user
    return "address:" + socket.handshake.address


def _seconds(delay: float) -> float:
    return math.ceil(delay * 1000) / 1000


class EventLimits:
    """Event middleware that limits how often each client sends events.

    Args:
        default: the limit shared by every event without one of its own, or None
            for no limit on them.
        per_event: limits for single events, each counted on its own.
        abuse: how many refusals a client may collect before it is disconnected;
            None never disconnects.
        key: who counts as one client (default :func:`client_key`).
        max_keys: the hard cap on clients remembered per table.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(
        self,
        default: Rate | None = Rate(10, 1.0, burst=20),  # noqa: B008 - frozen
        *,
        per_event: Mapping[str, Rate] | None = None,
        abuse: Rate | None = Rate(20, 10.0),  # noqa: B008 - frozen
        key: KeyFunction = client_key,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = None if default is None else KeyedLimiter(default, max_keys=max_keys)
        self.per_event = {
            name: KeyedLimiter(rate, max_keys=max_keys) for name, rate in (per_event or {}).items()
        }
        self.abuse = None if abuse is None else KeyedLimiter(abuse, max_keys=max_keys)
        self.key = key
        self.clock = clock

    def tables(self) -> list[KeyedLimiter]:
        """Every table of keys this middleware keeps (to watch their sizes)."""
        tables = [*self.per_event.values()]
        for table in (self.default, self.abuse):
            if table is not None:
                tables.append(table)
        return tables

    def sweep(self) -> int:
        """Forget every idle client now; return how many entries went."""
        now = self.clock()
        return sum(table.sweep(now) for table in self.tables())

    async def __call__(self, socket: Socket, event: str, args: list[Any]) -> None:
        table = self.per_event.get(event, self.default)
        if table is None:
            return
        who, now = self.key(socket), self.clock()
        decision = table.check(who, now)
        if decision.allowed:
            return
        retry = _seconds(decision.retry_after)
        if not socket.connected:
            return  # kicked while this event waited: nobody to answer
        if self.abuse is not None and not self.abuse.check(who, now).allowed:
            logger.info("socket %s (%s): rate limit abused, disconnecting", socket.id, who)
            await socket.emit(
                "error",
                {
                    "message": "disconnected: too many events over the rate limit",
                    "reason": ABUSE_REASON,
                    "retryAfter": retry,
                },
            )
            await socket.disconnect()
            return
        rate = table.rate
        raise EventRefusedError(
            f"rate limit exceeded: at most {rate.count} {event!r} per {rate.period:g} s"
            if event in self.per_event
            else f"rate limit exceeded: at most {rate.count} events per {rate.period:g} s",
            rule="rate limit",
            retryAfter=retry,
        )


class ConnectLimits:
    """Connect middleware that limits CONNECT attempts per client.

    Args:
        rate: attempts allowed per client.
        key: who counts as one client (default :func:`client_key`: the address,
            or the user when authentication middleware ran before it).
        max_keys: the hard cap on clients remembered.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(
        self,
        rate: Rate = Rate(5, 10.0, burst=10),  # noqa: B008 - frozen
        *,
        key: KeyFunction = client_key,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = KeyedLimiter(rate, max_keys=max_keys)
        self.key = key
        self.clock = clock

    def __call__(self, socket: Socket, auth: dict[str, Any]) -> None:
        decision = self.table.check(self.key(socket), self.clock())
        if not decision.allowed:
            retry = _seconds(decision.retry_after)
            raise ConnectRefusedError(
                f"too many connection attempts: retry in {retry:g} s",
                {"reason": ABUSE_REASON, "retryAfter": retry},
            )
