"""Rate limits that forget idle users: GCRA and an evicting table of keys (pure).

The guide's limiter keeps a list of timestamps per user in a map that only grows: a
user who sends once stays in it forever, and every anonymous user shares one key.
This one keeps **one number per key** and forgets a key as soon as forgetting it
changes nothing.

GCRA, the generic cell rate algorithm, is a token bucket written as one time, the
*theoretical arrival time* (TAT) of the next event at the sustained rate. With an
interval ``T = period / count`` between events and a tolerance ``burst - 1`` intervals
ahead::

    allowed      if  tat - (burst - 1) * T  <=  now        then  tat = max(tat, now) + T
    retry after  tat - (burst - 1) * T - now   seconds, when refused

A key whose TAT is in the past has a full bucket: it behaves exactly like a key never
seen, so the table drops it. :class:`KeyedLimiter` keeps keys in order of last use;
the least recently used key is within ``burst * T`` seconds of having a full bucket,
so every key idle that long is swept out (a little at every check, or all at once
with :meth:`KeyedLimiter.sweep`), and the table compacts its storage when it has
shrunk to a quarter of its peak. A hard cap on the number of keys bounds memory even
while they are all active: at the cap the least recently used key is forgotten
(counted in :attr:`KeyedLimiter.forced_out`).

Time is always passed in as ``now`` (seconds, any monotonic origin).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["GCRA", "Decision", "KeyedLimiter", "Rate"]


@dataclass(frozen=True)
class Rate:
    """``count`` events per ``period`` seconds, with bursts of up to ``burst``.

    Attributes:
        count: events allowed per period, sustained.
        period: the period, in seconds.
        burst: events allowed at once after a quiet spell (default: ``count``).

    Raises:
        ValueError: a count, period or burst that is not positive.
    """

    count: int
    period: float = 1.0
    burst: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"count must be a positive int, got {self.count!r}")
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"period must be a positive number of seconds, got {self.period!r}")
        if self.burst is not None and (not isinstance(self.burst, int) or self.burst < 1):
            raise ValueError(f"burst must be a positive int or None, got {self.burst!r}")

    @property
    def interval(self) -> float:
        """Seconds between two events at the sustained rate."""
        return self.period / self.count

    @property
    def capacity(self) -> int:
        """The largest burst."""
        return self.count if self.burst is None else self.burst


@dataclass(frozen=True)
class Decision:
    """The answer for one event.

    Attributes:
        allowed: whether the event may go ahead.
        retry_after: seconds until one more event would be allowed (0 when allowed).
    """

    allowed: bool
    retry_after: float = 0.0


class GCRA:
    """The rate check for one key's TAT: no table, no state of its own.

    Args:
        rate: the limit.
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.interval = rate.interval
        self.tolerance = (rate.capacity - 1) * rate.interval

    def check(self, tat: float | None, now: float) -> tuple[Decision, float | None]:
        """Decide one event.

        Args:
            tat: the key's theoretical arrival time, None for a key not seen (or
                forgotten, which is the same).
            now: the current time.

        Returns:
            The decision and the key's new TAT (unchanged when refused).
        """
        current = now if tat is None else max(tat, now)
        earliest = current - self.tolerance
        if earliest > now:
            return Decision(False, earliest - now), tat
        return Decision(True), current + self.interval


class KeyedLimiter:
    """A GCRA limit per key (user, address, ...), in a table that forgets idle keys.

    Args:
        rate: the limit every key gets.
        max_keys: the hard cap on keys remembered at once.

    Raises:
        ValueError: ``max_keys`` below 1.
    """

    _SWEEP_PER_CHECK = 2  # amortised: every key is inserted once and removed once
    _COMPACT_FROM = 1024  # below this peak, compacting is not worth the copy

    def __init__(self, rate: Rate, *, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys!r}")
        self.gcra = GCRA(rate)
        self.max_keys = max_keys
        self.forced_out = 0
        """Keys forgotten at the hard cap while their bucket was not yet full."""
        self._tats: OrderedDict[Hashable, float] = OrderedDict()
        self._peak = 0

    def __len__(self) -> int:
        return len(self._tats)

    def __repr__(self) -> str:
        rate = self.gcra.rate
        return (
            f"<KeyedLimiter {rate.count}/{rate.period:g}s burst={rate.capacity} "
            f"keys={len(self)}/{self.max_keys}>"
        )

    @property
    def rate(self) -> Rate:
        """The limit each key gets."""
        return self.gcra.rate

    def check(self, key: Hashable, now: float) -> Decision:
        """Decide one event of ``key`` at ``now`` and remember what it used."""
        self._sweep(now, self._SWEEP_PER_CHECK)
        tats = self._tats
        decision, tat = self.gcra.check(tats.get(key), now)
        if decision.allowed and tat is not None:
            if key in tats:
                tats.move_to_end(key)
            elif len(tats) >= self.max_keys:
                _, oldest = tats.popitem(last=False)
                if oldest > now:
                    self.forced_out += 1
            tats[key] = tat
            self._peak = max(self._peak, len(tats))
        return decision

    def sweep(self, now: float) -> int:
        """Forget every key whose bucket is full again at ``now``; return how many."""
        return self._sweep(now, None)

    def forget(self, key: Hashable) -> None:
        """Drop one key (e.g. when its user is deleted)."""
        self._tats.pop(key, None)

    def _sweep(self, now: float, limit: int | None) -> int:
        tats = self._tats
        removed = 0
        # Least recently used first: once the front is still busy, so is every later key
        # but for the few a burst put ahead, which a later sweep gets.
        while tats and (limit is None or removed < limit):
            key = next(iter(tats))
            if tats[key] > now:
                break
            del tats[key]
            removed += 1
        if self._peak >= self._COMPACT_FROM and len(tats) * 4 <= self._peak:
            # A dict keeps its largest table after deletions: copy it to give memory back.
            self._tats = OrderedDict(tats)
            self._peak = len(self._tats)
        return removed
