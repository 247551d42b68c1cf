"""Tests for wslearn.bench.stats: percentiles, medians with spread, ratios, verdicts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.bench.stats import (
    LOWER_IS_BETTER,
    judge_heartbeat,
    per_10k,
    percentile,
    ratio,
    summarize,
)

values = st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200)


def test_percentiles_are_nearest_rank_so_each_one_was_measured() -> None:
    data = list(range(1, 101))  # 1..100
    assert percentile(data, 50) == 50
    assert percentile(data, 99) == 99
    assert percentile(data, 100) == 100
    assert percentile(data, 0) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order does not matter


@given(values, st.floats(min_value=0, max_value=100))
def test_a_percentile_is_one_of_the_values_and_grows_with_q(data: list[float], q: float) -> None:
    assert percentile(data, q) in data
    assert percentile(data, q) <= percentile(data, min(100.0, q + 1))


def test_percentile_refuses_no_values_and_q_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="0-100"):
        percentile([1.0], 101)


def test_cpu_per_10k_scales_to_ten_thousand_messages() -> None:
    assert per_10k(0.5, 50_000) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="positive"):
        per_10k(1.0, 0)


def test_a_summary_has_the_median_range_and_half_range_spread() -> None:
    summary = summarize([10.0, 12.0, 11.0])
    assert (summary.median, summary.low, summary.high, summary.n) == (11.0, 10.0, 12.0, 3)
    assert summary.spread == pytest.approx(1 / 11)
    assert summarize([5.0]).spread == 0.0
    with pytest.raises(ValueError, match="no repetitions"):
        summarize([])


@given(values)
def test_the_median_lies_within_the_range(data: list[float]) -> None:
    summary = summarize(data)
    assert summary.low <= summary.median <= summary.high


def test_a_ratio_divides_by_the_reference_and_is_none_without_one() -> None:
    assert ratio(0.571, 0.180) == pytest.approx(3.172, rel=1e-3)
    assert ratio(1.0, 0.0) is None
    assert ratio(math.nan, 1.0) is None


def test_every_table_figure_says_which_way_is_better() -> None:
    assert LOWER_IS_BETTER["echo_cpu_per_10k"] and not LOWER_IS_BETTER["echo_msgs_per_s"]
    assert LOWER_IS_BETTER["idle_kib_per_conn"] and LOWER_IS_BETTER["latency_p50_us"]


def test_a_run_with_pings_on_time_and_every_dead_peer_dropped_passes() -> None:
    verdict = judge_heartbeat([0.01, -0.002, 0.4], [2.1, 2.9], 0, tolerance=1.0, bound=3.0)
    assert verdict.passed
    assert (verdict.pings_late, verdict.dead_dropped, verdict.dead_total) == (0, 2, 2)
    assert verdict.max_lateness == 0.4 and verdict.max_drop_delay == 2.9


@pytest.mark.parametrize(
    ("lateness", "drops", "live_dropped", "why"),
    [
        ([0.1, 1.5], [2.0], 0, "a late ping"),
        ([0.1], [3.5], 0, "a dead peer dropped too late"),
        ([0.1], [None], 0, "a dead peer never dropped"),
        ([0.1], [2.0], 1, "a live peer dropped"),
        ([], [2.0], 0, "no ping seen at all"),
    ],
)
def test_each_broken_promise_fails_the_run(
    lateness: list[float], drops: list[float | None], live_dropped: int, why: str
) -> None:
    verdict = judge_heartbeat(lateness, drops, live_dropped, tolerance=1.0, bound=3.0)
    assert not verdict.passed, why


def test_a_dead_peer_never_dropped_is_counted_but_has_no_delay() -> None:
    verdict = judge_heartbeat([0.0], [None, 1.0], 0, tolerance=1.0, bound=3.0)
    assert (verdict.dead_dropped, verdict.dead_total, verdict.max_drop_delay) == (1, 2, 1.0)
