"""wslearn.ratelimit: GCRA decisions stepped by hand, and a table of keys that
forgets idle users, stays under its cap and gives its memory back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.ratelimit import GCRA, Decision, KeyedLimiter, Rate


def test_a_rate_knows_its_interval_and_burst() -> None:
    assert Rate(10, 60.0).interval == 6.0
    assert Rate(10, 60.0).capacity == 10
    assert Rate(2, 1.0, burst=5).capacity == 5


@pytest.mark.parametrize(
    "bad",
    [
        {"count": 0},
        {"count": True},
        {"count": 1.5},
        {"count": 1, "period": 0},
        {"count": 1, "period": float("inf")},
        {"count": 1, "burst": 0},
    ],
)
def test_a_rate_that_is_not_positive_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rate(**bad)  # type: ignore[arg-type]


def test_a_burst_passes_then_the_next_waits_one_interval() -> None:
    gcra = GCRA(Rate(2, 1.0, burst=3))  # one event every 0.5 s, three at once
    tat: float | None = None
    for _ in range(3):
        decision, tat = gcra.check(tat, now=100.0)
        assert decision == Decision(True)
    decision, after = gcra.check(tat, now=100.0)
    assert decision == Decision(False, 0.5)
    assert after == tat  # a refusal uses nothing up
    decision, _ = gcra.check(tat, now=100.5)
    assert decision.allowed


def test_the_sustained_rate_is_kept_over_a_long_run() -> None:
    gcra = GCRA(Rate(10, 1.0))
    tat: float | None = None
    allowed = 0
    for step in range(10_000):  # 100 attempts a second for 100 s
        decision, tat = gcra.check(tat, now=step / 100)
        allowed += decision.allowed
    assert 1000 <= allowed <= 1000 + 10  # the rate, plus the first burst


@given(st.lists(st.floats(min_value=0, max_value=0.3), min_size=1, max_size=200))
def test_no_window_of_one_period_holds_more_than_rate_plus_burst(gaps: list[float]) -> None:
    rate = Rate(5, 1.0, burst=5)
    gcra = GCRA(rate)
    tat: float | None = None
    now, times = 0.0, []
    for gap in gaps:
        now += gap
        decision, tat = gcra.check(tat, now)
        if decision.allowed:
            times.append(now)
        else:
            assert decision.retry_after > 0
    for start in times:
        in_window = [t for t in times if start <= t < start + rate.period]
        assert len(in_window) <= rate.count + rate.capacity


def test_keys_are_limited_independently() -> None:
    limiter = KeyedLimiter(Rate(1, 10.0))
    assert limiter.check("alice", 0.0).allowed
    assert not limiter.check("alice", 1.0).allowed
    assert limiter.check("bob", 1.0).allowed
    assert limiter.check("alice", 1.0).retry_after == pytest.approx(9.0)


def test_an_idle_key_is_forgotten_exactly_when_forgetting_changes_nothing() -> None:
    limiter = KeyedLimiter(Rate(1, 10.0))
    limiter.check("alice", 0.0)
    assert limiter.sweep(9.9) == 0 and len(limiter) == 1
    assert limiter.sweep(10.0) == 1 and len(limiter) == 0
    assert limiter.check("alice", 10.0).allowed  # as if never seen


def test_a_hundred_thousand_one_off_users_leave_an_empty_table() -> None:
    limiter = KeyedLimiter(Rate(10, 60.0), max_keys=200_000)
    for user in range(100_000):  # all within one second
        assert limiter.check(f"user-{user}", now=user * 1e-5).allowed
    assert len(limiter) == 100_000  # each one is remembered while its bucket refills
    limiter.sweep(now=1.0 + 6.0)  # one interval (60 s / 10) after the last
    assert len(limiter) == 0
    assert limiter.forced_out == 0


def test_checks_alone_sweep_idle_keys_out_without_an_explicit_sweep() -> None:
    limiter = KeyedLimiter(Rate(1, 1.0))
    for user in range(1000):
        limiter.check(user, now=0.0)
    for step in range(600):  # one regular user, long after the crowd left
        limiter.check("regular", now=10.0 + step)
    assert len(limiter) == 1


def test_the_hard_cap_forgets_the_least_recently_used_key_and_counts_it() -> None:
    limiter = KeyedLimiter(Rate(1, 60.0), max_keys=3)
    for user in ("a", "b", "c", "d"):
        limiter.check(user, now=0.0)
    assert len(limiter) == 3
    assert limiter.forced_out == 1
    assert limiter.check("a", now=0.0).allowed  # "a" was forgotten: a fresh bucket
    assert not limiter.check("d", now=0.0).allowed


def test_the_table_compacts_its_storage_after_shrinking() -> None:
    limiter = KeyedLimiter(Rate(1, 1.0))
    for user in range(5000):
        limiter.check(user, now=0.0)
    before = limiter._tats  # the dict that grew to 5000 keys
    limiter.sweep(now=5.0)
    assert len(limiter) == 0 and limiter._tats is not before


def test_a_forgotten_key_and_a_bad_max_keys() -> None:
    limiter = KeyedLimiter(Rate(1, 60.0))
    limiter.check("a", 0.0)
    limiter.forget("a")
    assert limiter.check("a", 0.0).allowed
    assert repr(limiter) == "<KeyedLimiter 1/60s burst=1 keys=1/100000>"
    with pytest.raises(ValueError, match="max_keys"):
        KeyedLimiter(Rate(1), max_keys=0)


def test_the_benchmark_measures_the_guides_limiter_keeping_every_user_and_ours_none() -> None:
    tool = Path(__file__).resolve().parent.parent / "tools" / "bench_ratelimit.py"
    result = subprocess.run(
        [sys.executable, str(tool), "--users", "100000", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(result.stdout)
    guide, ours = figures["guide"], figures["wslearn"]
    assert (guide["after_entries"], ours["after_entries"]) == (100_001, 1)
    assert ours["peak_entries"] == 100_001  # it did remember them all while they were busy
    added = ours["peak_bytes"] - ours["start_bytes"]
    assert added > 1_000_000
    assert ours["after_bytes"] - ours["start_bytes"] < 0.01 * added  # memory came back
    assert guide["after_bytes"] - guide["start_bytes"] > 0.99 * (
        guide["peak_bytes"] - guide["start_bytes"]
    )
