"""Tests for wslearn.performance_lessons: right answers pass, the stubs' do not."""

from __future__ import annotations

from wslearn.performance_lessons import (
    check_base64_size,
    check_local_targets,
    check_should_compress,
)
from wslearn.rooms import ALL


def test_the_base64_check_tells_the_padding_apart() -> None:
    assert check_base64_size(lambda n: 4 * ((n + 2) // 3)).passed
    wrong = check_base64_size(lambda n: n * 4 // 3)
    assert not wrong.passed
    assert "✘ 1 bytes -> 4 characters: expected 4, got 1" in repr(wrong)


def test_the_threshold_check_counts_bytes_not_characters() -> None:
    assert check_should_compress(lambda m, t: len(m.encode()) >= t).passed
    assert not check_should_compress(lambda m, t: len(m) >= t).passed
    assert not check_should_compress(lambda m, t: len(m.encode()) > t).passed  # off by one


def test_the_local_targets_check_needs_rooms_and_both_exclusions() -> None:
    def right(rooms_of, rooms, except_rooms, except_sids):  # type: ignore[no-untyped-def]
        return {
            sid
            for sid, joined in rooms_of.items()
            if (rooms is ALL or joined & rooms)
            and not joined & except_rooms
            and sid not in except_sids
        }

    def no_exclusions(rooms_of, rooms, except_rooms, except_sids):  # type: ignore[no-untyped-def]
        return {s for s, joined in rooms_of.items() if rooms is ALL or joined & rooms}

    assert check_local_targets(right).passed
    missed = check_local_targets(no_exclusions)
    assert not missed.passed and "a room but the muted" in repr(missed)


def test_a_check_that_raises_reports_the_exception_instead_of_failing_the_cell() -> None:
    broken = check_should_compress(lambda m, t: 1 / 0)  # type: ignore[arg-type,return-value]
    assert not broken.passed and "raised ZeroDivisionError" in repr(broken)
