"""Tests for wslearn.backoff: the reconnection delay generator."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.backoff import Backoff


def take(backoff: Backoff, n: int, seed: int = 0) -> list[float]:
    return list(itertools.islice(backoff.delays(random.Random(seed)), n))


def test_defaults_match_the_reference_socketio_client() -> None:
    backoff = Backoff()
    assert (backoff.initial, backoff.factor, backoff.maximum) == (1.0, 2.0, 5.0)
    assert backoff.jitter == 0.5
    assert backoff.attempts is None


def test_without_jitter_delays_double_then_stay_at_the_cap() -> None:
    assert take(Backoff(jitter=0), 6) == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_without_jitter_other_parameters_give_their_exact_sequence() -> None:
    backoff = Backoff(initial=0.1, factor=3, maximum=2.0, jitter=0)
    assert take(backoff, 5) == pytest.approx([0.1, 0.3, 0.9, 2.0, 2.0])


def test_a_factor_of_one_keeps_the_delay_constant() -> None:
    assert take(Backoff(initial=0.5, factor=1, maximum=0.5, jitter=0), 4) == [0.5] * 4


def test_jittered_delays_stay_within_their_band_and_under_the_cap() -> None:
    delays = take(Backoff(), 200, seed=3)
    base = [min(2.0**n, 5.0) for n in range(200)]
    for delay, b in zip(delays, base, strict=True):
        assert b * 0.5 <= delay <= min(b * 1.5, 5.0)


def test_jitter_actually_varies_the_delays() -> None:
    firsts = [take(Backoff(), 1, seed=seed)[0] for seed in range(10)]
    assert len(set(firsts)) == 10


def test_unlimited_attempts_never_run_out() -> None:
    assert len(take(Backoff(), 10_000)) == 10_000


def test_attempts_limits_the_number_of_delays() -> None:
    assert len(list(Backoff(attempts=5).delays())) == 5


def test_zero_attempts_yields_nothing() -> None:
    assert list(Backoff(attempts=0).delays()) == []


def test_the_same_seed_gives_the_same_sequence() -> None:
    assert take(Backoff(), 20, seed=42) == take(Backoff(), 20, seed=42)
    assert take(Backoff(), 20, seed=42) != take(Backoff(), 20, seed=43)


def test_each_call_without_a_seed_gets_its_own_randomness() -> None:
    runs = {tuple(itertools.islice(Backoff().delays(), 5)) for _ in range(5)}
    assert len(runs) == 5


def test_twenty_clients_reconnecting_at_once_are_spread_out() -> None:
    # 20 clients lose the same server at the same moment: their first attempts must
    # not land together. Under fixed seeds this check is deterministic.
    firsts = sorted(take(Backoff(), 1, seed=seed)[0] for seed in range(20))
    assert min(firsts) >= 0.5 and max(firsts) <= 1.5
    assert max(firsts) - min(firsts) > 0.5  # they use most of the 1 s band
    assert statistics.pstdev(firsts) > 0.15  # uniform on 1 s has a deviation of 0.29
    # No more than 4 of the 20 share any 100 ms slot.
    slots = [int(d * 10) for d in firsts]
    assert max(slots.count(s) for s in set(slots)) <= 4


def test_clients_at_the_cap_are_still_spread_out() -> None:
    tenth = [take(Backoff(), 10, seed=seed)[9] for seed in range(20)]
    below_cap = [d for d in tenth if d < 5.0]
    assert len(below_cap) >= 5
    assert max(below_cap) - min(below_cap) > 0.5


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"initial": 0}, "initial must be > 0"),
        ({"initial": -1}, "initial must be > 0"),
        ({"factor": 0.5}, "factor must be >= 1"),
        ({"initial": 2, "maximum": 1}, "maximum must be >= initial"),
        ({"jitter": -0.1}, "jitter must be between 0 and 1"),
        ({"jitter": 1.5}, "jitter must be between 0 and 1"),
        ({"attempts": -1}, "attempts must be None"),
        ({"attempts": 2.5}, "attempts must be None"),
        ({"attempts": True}, "attempts must be None"),
        ({"maximum": float("inf")}, "maximum must be finite"),
        ({"initial": float("nan")}, "initial must be finite"),
        ({"factor": "2"}, "factor must be a number"),
    ],
)
def test_bad_arguments_are_refused_with_a_message_saying_what_is_allowed(
    kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        Backoff(**kwargs)  # type: ignore[arg-type]


policies = st.builds(
    lambda initial, factor, extra, jitter: Backoff(initial, factor, initial + extra, jitter),
    initial=st.floats(min_value=1e-3, max_value=100),
    factor=st.floats(min_value=1, max_value=10),
    extra=st.floats(min_value=0, max_value=1000),
    jitter=st.floats(min_value=0, max_value=1),
)


@given(policy=policies, seed=st.integers(min_value=0, max_value=2**32))
def test_every_delay_is_between_zero_and_the_maximum(policy: Backoff, seed: int) -> None:
    for delay in take(policy, 60, seed=seed):
        assert 0 <= delay <= policy.maximum


@given(policy=policies)
def test_without_jitter_delays_never_decrease(policy: Backoff) -> None:
    delays = take(Backoff(policy.initial, policy.factor, policy.maximum, 0), 60)
    assert delays == sorted(delays)
    assert delays[0] == policy.initial
