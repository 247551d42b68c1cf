"""Tests for wslearn.heartbeat: liveness decisions with time stepped by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.exceptions import UsageError
from wslearn.heartbeat import AppHeartbeat, HeartbeatAction, PingSchedule, SilenceWatch

NOTHING, SEND_PING, CLOSE = (
    HeartbeatAction.NOTHING,
    HeartbeatAction.SEND_PING,
    HeartbeatAction.CLOSE,
)


# PingSchedule: the Engine.IO v4 server side


def test_the_first_ping_is_due_one_interval_after_opening() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=100)
    assert schedule.next_ping_at == 125
    assert schedule.deadline is None
    assert schedule.due(124.9) is NOTHING
    assert schedule.due(125) is SEND_PING
    assert schedule.next_wakeup(100) == 125


def test_after_a_ping_the_pong_is_due_within_the_timeout() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    schedule.ping_sent(25)
    assert schedule.awaiting_pong
    assert schedule.deadline == 45
    assert schedule.next_ping_at is None
    assert schedule.due(30) is NOTHING
    assert schedule.next_wakeup(30) == 45


def test_a_pong_in_time_schedules_the_next_ping_an_interval_after_it() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    schedule.ping_sent(25)
    assert schedule.pong_received(26) is True
    assert schedule.deadline is None
    assert schedule.next_ping_at == 51
    assert not schedule.is_dead(1000)  # no ping outstanding: nothing can expire


def test_a_missing_pong_makes_the_connection_dead_at_the_deadline() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    schedule.ping_sent(25)
    assert not schedule.is_dead(44.99)
    assert schedule.is_dead(45)
    assert schedule.due(45) is CLOSE


def test_a_late_pong_does_not_bring_the_connection_back() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    schedule.ping_sent(25)
    assert schedule.pong_received(46) is False
    assert schedule.is_dead(46)
    assert schedule.due(47) is CLOSE


def test_death_is_final_even_if_asked_about_an_earlier_time() -> None:
    schedule = PingSchedule(interval=1, timeout=1, now=0)
    schedule.ping_sent(1)
    assert schedule.is_dead(5)
    assert schedule.is_dead(1.5)


def test_an_unsolicited_pong_is_ignored_and_does_not_postpone_the_ping() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    assert schedule.pong_received(10) is False
    assert schedule.next_ping_at == 25


def test_sending_a_second_ping_before_the_pong_is_a_usage_error() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    schedule.ping_sent(25)
    with pytest.raises(UsageError, match="already awaiting its pong"):
        schedule.ping_sent(26)


def test_the_wakeup_is_never_in_the_past() -> None:
    schedule = PingSchedule(interval=25, timeout=20, now=0)
    assert schedule.next_wakeup(30) == 30  # overdue ping: act now
    schedule.ping_sent(30)
    schedule.is_dead(60)
    assert schedule.next_wakeup(60) == 60


@pytest.mark.parametrize(
    ("interval", "timeout", "fragment"),
    [
        (0, 20, "interval must be a finite number of seconds > 0"),
        (25, -1, "timeout must be a finite number of seconds > 0"),
        (float("inf"), 20, "interval must be a finite"),
        (25, "20", "timeout must be a number of seconds"),
    ],
)
def test_bad_intervals_and_timeouts_are_refused(
    interval: float, timeout: float, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        PingSchedule(interval, timeout, now=0)
    with pytest.raises(ValueError, match=fragment):
        SilenceWatch(interval, timeout, now=0)


def run_server_loop(
    schedule: PingSchedule, answer_delays: list[float], start: float
) -> tuple[int, float | None]:
    """Drive a schedule like the I/O layer would; return pings sent and close time."""
    now, pings = start, 0
    while pings < len(answer_delays):
        now = schedule.next_wakeup(now)
        action = schedule.due(now)
        if action is CLOSE:
            return pings, now
        assert action is SEND_PING
        schedule.ping_sent(now)
        delay = answer_delays[pings]
        pings += 1
        if delay < schedule.timeout:
            schedule.pong_received(now + delay)
            now += delay
    now = schedule.next_wakeup(now)
    return pings, (now if schedule.due(now) is CLOSE else None)


@given(
    interval=st.floats(min_value=0.01, max_value=100),
    timeout=st.floats(min_value=0.01, max_value=100),
    start=st.floats(min_value=0, max_value=1e6),
    fractions=st.lists(st.floats(min_value=0, max_value=0.99), min_size=1, max_size=30),
)
def test_a_peer_that_always_answers_in_time_is_never_dead(
    interval: float, timeout: float, start: float, fractions: list[float]
) -> None:
    schedule = PingSchedule(interval, timeout, now=start)
    pings, closed_at = run_server_loop(schedule, [f * timeout for f in fractions], start)
    assert pings == len(fractions)
    assert closed_at is None


@given(
    interval=st.floats(min_value=0.01, max_value=100),
    timeout=st.floats(min_value=0.01, max_value=100),
    answered=st.integers(min_value=0, max_value=10),
)
def test_a_peer_that_stops_answering_is_closed_exactly_one_timeout_after_the_ping(
    interval: float, timeout: float, answered: int
) -> None:
    schedule = PingSchedule(interval, timeout, now=0)
    delays = [0.0] * answered + [timeout]  # the last ping is never answered
    pings, closed_at = run_server_loop(schedule, delays, 0)
    assert pings == answered + 1
    assert closed_at is not None
    assert closed_at == pytest.approx((answered + 1) * interval + timeout)


# SilenceWatch: the Engine.IO v4 client side


def test_silence_longer_than_interval_plus_timeout_means_a_dead_server() -> None:
    watch = SilenceWatch(interval=25, timeout=20, now=0)
    assert watch.deadline == 45
    assert not watch.is_dead(44.9)
    assert watch.is_dead(45)


def test_any_packet_heard_renews_the_deadline() -> None:
    watch = SilenceWatch(interval=25, timeout=20, now=0)
    assert watch.heard(30) is True
    assert watch.last_heard == 30
    assert watch.deadline == 75
    assert not watch.is_dead(74)


def test_a_packet_after_the_deadline_does_not_revive_the_server() -> None:
    watch = SilenceWatch(interval=25, timeout=20, now=0)
    assert watch.heard(50) is False
    assert watch.is_dead(50)


def test_a_packet_with_an_older_timestamp_does_not_move_the_deadline_back() -> None:
    watch = SilenceWatch(interval=1, timeout=1, now=0)
    watch.heard(1.5)
    watch.heard(1.0)
    assert watch.last_heard == 1.5


@given(
    interval=st.floats(min_value=0.01, max_value=100),
    timeout=st.floats(min_value=0.01, max_value=100),
    gaps=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=50),
)
def test_a_server_that_pings_on_schedule_is_never_declared_dead(
    interval: float, timeout: float, gaps: list[float]
) -> None:
    watch = SilenceWatch(interval, timeout, now=0)
    now = 0.0
    for gap in gaps:  # each ping comes at most one interval after the last packet
        now += gap * interval
        assert watch.heard(now)
    assert not watch.is_dead(now + interval)


# AppHeartbeat: the guide's event-based version


def test_the_app_heartbeat_pings_at_each_tick_while_the_peer_answers() -> None:
    beat = AppHeartbeat(interval=30, now=0)
    assert beat.tick(29) is NOTHING
    assert beat.tick(30) is SEND_PING
    assert not beat.answered
    beat.pong(31)
    assert beat.answered
    assert beat.tick(60) is SEND_PING
    beat.pong(89)  # late in the interval still counts
    assert beat.tick(90) is SEND_PING


def test_the_app_heartbeat_drops_a_peer_silent_for_a_whole_interval() -> None:
    beat = AppHeartbeat(interval=30, now=0)
    assert beat.tick(30) is SEND_PING
    assert beat.tick(59) is NOTHING
    assert beat.tick(60) is CLOSE
    assert beat.dead
    beat.pong(61)
    assert beat.tick(61) is CLOSE
    assert beat.next_wakeup(61) == 61


def test_the_app_heartbeat_keeps_a_fixed_beat_and_skips_missed_ticks() -> None:
    beat = AppHeartbeat(interval=10, now=0)
    assert beat.tick(35) is SEND_PING  # the loop woke late: ticks 10, 20, 30 collapse
    assert beat.next_tick_at == 40
    assert beat.next_wakeup(36) == 40


def test_the_app_heartbeat_can_take_up_to_two_intervals_to_notice_a_dead_peer() -> None:
    # The peer answers the ping at t=30 right away, then dies at t=31. The server
    # only notices at the tick after next: 89 s of silence with a 30 s interval,
    # where Engine.IO (interval 30, timeout 20) closes at most 50 s after death.
    beat = AppHeartbeat(interval=30, now=0)
    beat.tick(30)
    beat.pong(30.5)
    assert beat.tick(60) is SEND_PING
    assert beat.tick(90) is CLOSE
    schedule = PingSchedule(interval=30, timeout=20, now=0)
    schedule.ping_sent(30)
    schedule.pong_received(30.5)
    assert schedule.due(60.5) is SEND_PING
    schedule.ping_sent(60.5)
    assert schedule.due(80.5) is CLOSE


def test_bad_app_heartbeat_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="interval must be"):
        AppHeartbeat(interval=-5, now=0)
