"""Reconnection delays as a pure generator.

When a connection drops, a client should not hammer the server with reconnection
attempts, and a thousand clients that lost the same server should not all come back
in the same millisecond. :class:`Backoff` describes the waiting policy; its
:meth:`Backoff.delays` generator yields one delay per attempt. The generator never
sleeps: the asyncio layer does ``await asyncio.sleep(delay)`` between attempts, and a
notebook can simply print or plot the numbers.

The defaults are those of the reference Socket.IO client: first delay 1 s, doubling,
capped at 5 s, each delay randomised by ±50 %, unlimited attempts.

Example::

    >>> import random
    >>> from wslearn.backoff import Backoff
    >>> list(Backoff(jitter=0, attempts=5).delays())
    [1.0, 2.0, 4.0, 5.0, 5.0]
    >>> gen = Backoff().delays(random.Random(7))  # seeded: reproducible
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """A reconnection policy: exponential delays, capped, randomised, maybe bounded.

    Attempt ``n`` (counting from 0) has the base delay
    ``min(initial * factor**n, maximum)``. Jitter then draws the actual delay
    uniformly from ``[base * (1 - jitter), base * (1 + jitter)]`` and caps the draw at
    ``maximum`` again, so **no delay ever exceeds maximum** and callers can rely on it.
    Near the cap, about half of the draws therefore land exactly on ``maximum`` and the
    other half spread below it. (The reference client jitters the uncapped value,
    which at later attempts always lands on the cap: every client then retries on the
    same beat. Jittering the capped value keeps the spread.)

    Attributes:
        initial: first delay in seconds (> 0).
        factor: growth per attempt (>= 1; 1 means a constant delay).
        maximum: cap in seconds (>= initial).
        jitter: relative randomisation in [0, 1]; 0 gives exact, predictable delays.
        attempts: how many delays to yield; ``None`` for unlimited, 0 for none.

    Raises:
        ValueError: when an argument is outside the range given above.
    """

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 5.0
    jitter: float = 0.5
    attempts: int | None = None

    def __post_init__(self) -> None:
        for name in ("initial", "factor", "maximum", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"Backoff.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"Backoff.{name} must be finite, got {value!r}")
        if self.initial <= 0:
            raise ValueError(f"Backoff.initial must be > 0 seconds, got {self.initial!r}")
        if self.factor < 1:
            raise ValueError(
                f"Backoff.factor must be >= 1 (1 keeps the delay constant), got {self.factor!r}"
            )
        if self.maximum < self.initial:
            raise ValueError(
                f"Backoff.maximum must be >= initial ({self.initial!r}), got {self.maximum!r}"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(
                f"Backoff.jitter must be between 0 and 1 (0.5 means ±50 %), got {self.jitter!r}"
            )
        if self.attempts is not None and (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or self.attempts < 0
        ):
            raise ValueError(
                "Backoff.attempts must be None (unlimited) or an integer >= 0, "
                f"got {self.attempts!r}"
            )

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Yield the delay to wait before each reconnection attempt.

        Args:
            rng: source of randomness for the jitter. Pass ``random.Random(seed)`` for
                a reproducible sequence; by default each call gets its own generator
                seeded by the operating system, so clients do not share a sequence.

        Returns:
            An iterator of delays in seconds, each in ``[0, maximum]``. It stops after
            ``attempts`` delays, or never when ``attempts`` is ``None``: wait the
            delay, try to connect, and ask for the next delay only if that failed.
        """
        rng = rng if rng is not None else random.Random()
        base = min(self.initial, self.maximum)
        count = 0
        while self.attempts is None or count < self.attempts:
            if self.jitter:
                low = base * (1 - self.jitter)
                high = base * (1 + self.jitter)
                delay = min(rng.uniform(low, high), self.maximum)
            else:
                delay = base
            yield delay
            count += 1
            # Grow from the capped value: it never overflows however long this runs.
            base = min(base * self.factor, self.maximum)
