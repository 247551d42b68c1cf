"""Memory of two rate limiters after many one-off users, measured with tracemalloc.

Usage: python tools/bench_ratelimit.py [--users 100000] [--json]

The guide's limiter keeps a list of timestamps per user in a map that never forgets
a user; wslearn's :class:`~wslearn.ratelimit.KeyedLimiter` keeps one number per user
and forgets a user as soon as its bucket is full again. Both get the same load: each
of ``--users`` users sends one message, all within a second, then a minute passes and
one regular user, there from the start, sends one more (the moment the guide's
limiter would have its chance to clean up, and does not). Memory is what tracemalloc
counts as allocated by each limiter's structures, against the bytes it held with only
the regular user in it (``start``).

The time between the phases is simulated (the clocks are parameters), so the run
takes about a second and the figures do not depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from wslearn.ratelimit import KeyedLimiter, Rate

WINDOW = 60.0  # seconds: ten messages a minute, the guide's numbers
LIMIT = 10


class GuideLimiter:
    """The guide's limiter, in Python: a list of recent times per user, kept forever."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.requests: dict[str, list[float]] = {}

    def allow(self, user: str, now: float) -> bool:
        recent = [t for t in self.requests.get(user, []) if now - t < self.window]
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        self.requests[user] = recent
        return True

    def __len__(self) -> int:
        return len(self.requests)


def _allocated() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(
    make: Callable[[], Any], allow: Callable[[Any, str, float], bool], users: int
) -> dict[str, int]:
    """Run the load on one limiter; return bytes and entries at each phase."""
    tracemalloc.start()
    try:
        limiter = make()
        allow(limiter, "regular", 0.0)  # one regular user, there before and after
        start = _allocated()
        names = [f"user-{n}" for n in range(users)]  # made before, so not counted
        base = _allocated()
        for n, name in enumerate(names):
            allow(limiter, name, n / users)  # everyone within one second
        peak = _allocated() - base + start
        peak_entries = len(limiter)
        allow(limiter, "regular", 1.0 + WINDOW)  # a minute later, one more message
        if isinstance(limiter, KeyedLimiter):
            limiter.sweep(1.0 + WINDOW)
        after = _allocated() - base + start  # the names still alive: only the tables differ
        del names
        return {
            "start_bytes": start,
            "peak_bytes": peak,
            "after_bytes": after,
            "peak_entries": peak_entries,
            "after_entries": len(limiter),
        }
    finally:
        tracemalloc.stop()


def run(users: int) -> dict[str, dict[str, int]]:
    """Both limiters under the same load."""
    return {
        "guide": measure(GuideLimiter, lambda lim, user, now: lim.allow(user, now), users),
        "wslearn": measure(
            lambda: KeyedLimiter(Rate(LIMIT, WINDOW), max_keys=1_000_000),
            lambda lim, user, now: lim.check(user, now).allowed,
            users,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="one-off users")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.users)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{args.users:,} one-off users, then a minute later one more message")
    print(f"{'limiter':<10}{'start':>12}{'peak':>14}{'after':>14}{'entries after':>16}")
    for name, row in figures.items():
        print(
            f"{name:<10}{row['start_bytes']:>12,}{row['peak_bytes']:>14,}"
            f"{row['after_bytes']:>14,}{row['after_entries']:>16,}"
        )
    for name, row in figures.items():
        print(f"{name}: {held(row):.3%} of what the load added is still held a minute later")
    return 0


def held(row: dict[str, int]) -> float:
    """The share of the bytes the load added that the limiter still holds after it."""
    return (row["after_bytes"] - row["start_bytes"]) / (row["peak_bytes"] - row["start_bytes"])


if __name__ == "__main__":
    sys.exit(main())
