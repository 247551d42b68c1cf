"""Tests for wslearn.dedup: the server applies each message id once."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn import outbox
from wslearn.dedup import Deduplicator


def test_the_first_sighting_is_new_and_a_repeat_is_a_duplicate() -> None:
    dedup = Deduplicator()
    assert dedup.check_and_remember("alice", "a1-1", now=0) is True
    assert dedup.check_and_remember("alice", "a1-1", now=1) is False
    assert dedup.check_and_remember("alice", "a1-1", now=2) is False
    assert dedup.check_and_remember("alice", "a1-2", now=3) is True


def test_the_same_id_from_two_clients_is_two_messages() -> None:
    dedup = Deduplicator()
    assert dedup.check_and_remember("alice", "m-1", now=0) is True
    assert dedup.check_and_remember("bob", "m-1", now=0) is True
    assert dedup.client_count == 2
    assert len(dedup) == 2


def test_each_client_keeps_at_most_per_key_ids_oldest_forgotten_first() -> None:
    dedup = Deduplicator(window=100, per_key=3)
    for n in range(1, 5):
        dedup.check_and_remember("alice", f"m-{n}", now=n)
    assert len(dedup) == 3
    assert dedup.check_and_remember("alice", "m-4", now=5) is False
    assert dedup.check_and_remember("alice", "m-1", now=6) is True  # pushed out


def test_a_repeat_counts_as_recent_activity() -> None:
    dedup = Deduplicator(window=100, per_key=2)
    dedup.check_and_remember("alice", "m-1", now=0)
    dedup.check_and_remember("alice", "m-2", now=1)
    dedup.check_and_remember("alice", "m-1", now=2)  # resent: keep it longest
    dedup.check_and_remember("alice", "m-3", now=3)
    assert dedup.check_and_remember("alice", "m-1", now=4) is False
    assert dedup.check_and_remember("alice", "m-2", now=5) is True


def test_the_total_bound_evicts_the_least_recently_active_client_first() -> None:
    dedup = Deduplicator(window=4, per_key=4)
    dedup.check_and_remember("quiet", "q-1", now=0)
    for n in range(1, 4):
        dedup.check_and_remember("busy", f"b-{n}", now=n)
    dedup.check_and_remember("busy", "b-4", now=4)
    assert len(dedup) == 4
    assert dedup.client_count == 1  # the quiet client's id went first
    assert dedup.check_and_remember("busy", "b-1", now=5) is False


def test_memory_stays_bounded_with_100000_distinct_clients() -> None:
    dedup = Deduplicator(window=1000, per_key=10)
    for n in range(100_000):
        assert dedup.check_and_remember(f"user-{n}", "m-1", now=n) is True
        assert len(dedup) <= 1000
    assert len(dedup) == 1000
    assert dedup.client_count == 1000
    # The most recent clients are remembered, the oldest are not.
    assert dedup.check_and_remember("user-99999", "m-1", now=100_000) is False
    assert dedup.check_and_remember("user-0", "m-1", now=100_001) is True


def test_ids_older_than_the_ttl_are_forgotten() -> None:
    dedup = Deduplicator(ttl=60)
    dedup.check_and_remember("alice", "m-1", now=0)
    assert dedup.check_and_remember("alice", "m-1", now=59) is False
    assert dedup.check_and_remember("alice", "m-1", now=59 + 60) is True


def test_clients_silent_longer_than_the_ttl_are_dropped_entirely() -> None:
    dedup = Deduplicator(ttl=10)
    for n in range(50):
        dedup.check_and_remember(f"user-{n}", "m-1", now=0)
    dedup.check_and_remember("late", "m-1", now=11)
    assert dedup.client_count == 1
    assert len(dedup) == 1


def test_forget_drops_one_client() -> None:
    dedup = Deduplicator()
    dedup.check_and_remember("alice", "m-1", now=0)
    dedup.check_and_remember("alice", "m-2", now=0)
    dedup.check_and_remember("bob", "m-1", now=0)
    assert dedup.forget("alice") == 2
    assert dedup.forget("alice") == 0
    assert len(dedup) == 1


def test_an_exported_state_survives_json_and_a_new_clock() -> None:
    dedup = Deduplicator(window=50, ttl=100, per_key=5)
    for n in range(8):
        dedup.check_and_remember("alice", f"a-{n}", now=1000 + n)
    dedup.check_and_remember("bob", "b-1", now=1010)
    state = json.loads(json.dumps(dedup.export_state(now=1010)))

    # The restarted server's monotonic clock starts near zero.
    restored = Deduplicator.restore(state, now=5.0)
    assert (restored.window, restored.ttl, restored.per_key) == (50, 100, 5)
    assert len(restored) == len(dedup) == 6
    assert restored.export_state(now=5.0) == state
    assert restored.check_and_remember("alice", "a-7", now=6) is False
    assert restored.check_and_remember("alice", "a-2", now=6) is True  # beyond per_key
    assert restored.check_and_remember("bob", "b-1", now=6) is False
    # Ages carried over: a-3 was 7 s old at export, so it expires 93 s after restore.
    assert restored.check_and_remember("alice", "a-3", now=5 + 93) is True


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"format": "something-else"},
        {"format": "wslearn.dedup/1"},
        {"format": "wslearn.dedup/1", "window": 0, "ttl": None, "per_key": 1, "clients": []},
        {"format": "wslearn.dedup/1", "window": 5, "ttl": None, "per_key": 1, "clients": [1]},
        {
            "format": "wslearn.dedup/1",
            "window": 5,
            "ttl": None,
            "per_key": 1,
            "clients": [["alice", [["m-1", -3]]]],
        },
        {
            "format": "wslearn.dedup/1",
            "window": 5,
            "ttl": None,
            "per_key": 1,
            "clients": [["alice", [[7, 0]]]],
        },
    ],
)
def test_a_corrupt_export_is_refused_with_a_clear_error(state: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Deduplicator export"):
        Deduplicator.restore(state, now=0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"window": 0}, "window must be an integer >= 1"),
        ({"per_key": -1}, "per_key must be an integer >= 1"),
        ({"ttl": 0}, "ttl must be None or a finite number of seconds > 0"),
        ({"ttl": float("inf")}, "ttl must be None or a finite"),
    ],
)
def test_bad_bounds_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Deduplicator(**kwargs)  # type: ignore[arg-type]


def test_ids_that_are_not_strings_are_refused() -> None:
    with pytest.raises(TypeError, match="must be str"):
        Deduplicator().check_and_remember("alice", 12, now=0)  # type: ignore[arg-type]


def test_the_outbox_module_re_exports_the_deduplicator() -> None:
    assert outbox.Deduplicator is Deduplicator


@given(
    events=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=30)),
        max_size=300,
    )
)
def test_within_its_bounds_it_answers_exactly_like_a_set(
    events: list[tuple[str, int]],
) -> None:
    # 8 clients x 31 ids fit in the bounds, so nothing is evicted: same as a set.
    dedup = Deduplicator(window=8 * 31, per_key=31)
    seen: set[tuple[str, int]] = set()
    for now, (client, n) in enumerate(events):
        assert dedup.check_and_remember(client, f"m-{n}", now) is ((client, n) not in seen)
        seen.add((client, n))
    assert len(dedup) == len(seen)


@given(
    events=st.lists(
        st.tuples(st.integers(min_value=0, max_value=50), st.integers(0, 50)), max_size=300
    ),
    window=st.integers(min_value=1, max_value=20),
    per_key=st.integers(min_value=1, max_value=20),
)
def test_it_never_holds_more_than_its_bounds(
    events: list[tuple[int, int]], window: int, per_key: int
) -> None:
    dedup = Deduplicator(window=window, per_key=per_key)
    for now, (client, n) in enumerate(events):
        dedup.check_and_remember(f"c{client}", f"m{n}", now)
        assert len(dedup) <= window
        assert dedup.client_count <= window
    assert all(len(ids) <= per_key for _, ids in dedup.export_state(0)["clients"])


def test_seen_answers_without_remembering() -> None:
    dedup = Deduplicator()
    assert not dedup.seen("alice", "a-1", now=0)
    assert not dedup.seen("alice", "a-1", now=0)  # asking did not remember it
    assert dedup.check_and_remember("alice", "a-1", now=0)
    assert dedup.seen("alice", "a-1", now=1)
    assert not dedup.seen("bob", "a-1", now=1)
    assert len(dedup) == 1


def test_seen_forgets_ids_older_than_the_ttl() -> None:
    dedup = Deduplicator(ttl=10)
    dedup.check_and_remember("alice", "a-1", now=0)
    assert dedup.seen("alice", "a-1", now=9.9)
    assert not dedup.seen("alice", "a-1", now=10)
    with pytest.raises(TypeError, match="must be str"):
        dedup.seen("alice", 1, now=0)  # type: ignore[arg-type]
