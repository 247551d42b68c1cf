"""The arithmetic of the benchmark: percentiles, medians with spread, ratios, verdicts.

No I/O and no clock: the load generator and the runner hand in numbers they measured.

A **ratio** is always ``server / raw websockets`` for the same figure measured in the
same run. For costs (CPU per message, latency, memory) above 1.0 means more expensive
than raw websockets; for throughputs below 1.0 means slower. :data:`LOWER_IS_BETTER`
says which figures are costs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LOWER_IS_BETTER",
    "HeartbeatVerdict",
    "Summary",
    "judge_heartbeat",
    "per_10k",
    "percentile",
    "ratio",
    "summarize",
]

# Figure name -> True when a smaller value is better.
LOWER_IS_BETTER: dict[str, bool] = {
    "echo_msgs_per_s": False,
    "echo_cpu_per_10k": True,
    "fanout_deliveries_per_s": False,
    "fanout_cpu_per_10k": True,
    "idle_kib_per_conn": True,
    "latency_p50_us": True,
    "latency_p99_us": True,
}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank: a value that was measured.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside 0-100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0-100, got {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def per_10k(cpu_seconds: float, count: int) -> float:
    """CPU seconds per 10,000 messages.

    Raises:
        ValueError: ``count`` is not positive.
    """
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    return cpu_seconds * 10_000 / count


@dataclass(frozen=True, slots=True)
class Summary:
    """Repetitions of one figure: the median and the range around it.

    Attributes:
        median: the median of the repetitions.
        low: the smallest.
        high: the largest.
        n: how many repetitions.
    """

    median: float
    low: float
    high: float
    n: int

    @property
    def spread(self) -> float:
        """Half the range as a share of the median: 0.03 reads "within ±3 %"."""
        if self.median == 0:
            return 0.0
        return (self.high - self.low) / 2 / abs(self.median)


def summarize(values: Sequence[float]) -> Summary:
    """The :class:`Summary` of some repetitions.

    Raises:
        ValueError: there are none.
    """
    if not values:
        raise ValueError("no repetitions to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def ratio(value: float, reference: float) -> float | None:
    """``value / reference``, or None when the reference is zero or not a number."""
    if reference == 0 or math.isnan(reference) or math.isnan(value):
        return None
    return value / reference


@dataclass(frozen=True, slots=True)
class HeartbeatVerdict:
    """Whether a many-connection run kept its heartbeat promises.

    Attributes:
        pings_late: pings to live clients that arrived more than the tolerance late.
        max_lateness: the latest ping, in seconds after its schedule.
        dead_dropped: dead peers the server closed within the bound.
        dead_total: peers that stopped answering.
        max_drop_delay: seconds from a dead peer's last answer to its close.
        live_dropped: clients that kept answering but were closed anyway.
        passed: every ping on time, every dead peer dropped in time, no live one.
    """

    pings_late: int
    max_lateness: float
    dead_dropped: int
    dead_total: int
    max_drop_delay: float
    live_dropped: int
    passed: bool


def judge_heartbeat(
    lateness: Sequence[float],
    drop_delays: Sequence[float | None],
    live_dropped: int,
    *,
    tolerance: float,
    bound: float,
) -> HeartbeatVerdict:
    """Judge a many-connection run against its schedule.

    Args:
        lateness: for each ping a live client received, seconds after its schedule
            (its previous answer plus the ping interval; negative when early).
        drop_delays: for each dead peer, seconds from its last answer to the close,
            or None if the server never closed it.
        live_dropped: live clients the server closed.
        tolerance: how late a ping may be (the goal says 1 s).
        bound: how long a dead peer may stay (ping interval + ping timeout + slack).
    """
    late = sum(1 for value in lateness if value > tolerance)
    dropped = [delay for delay in drop_delays if delay is not None]
    in_time = sum(1 for delay in dropped if delay <= bound)
    max_drop = max(dropped) if dropped else math.nan
    passed = late == 0 and bool(lateness) and in_time == len(drop_delays) and live_dropped == 0
    return HeartbeatVerdict(
        pings_late=late,
        max_lateness=max(lateness) if lateness else math.nan,
        dead_dropped=in_time,
        dead_total=len(drop_delays),
        max_drop_delay=max_drop,
        live_dropped=live_dropped,
        passed=passed,
    )
