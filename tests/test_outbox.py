"""Tests for wslearn.outbox: the offline queue that loses nothing."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from wslearn.dedup import Deduplicator
from wslearn.exceptions import QueueFullError
from wslearn.outbox import ChangeKind, Entry, Outbox, OutboxChange, Overflow


def test_entries_are_pending_in_the_order_they_were_put() -> None:
    outbox = Outbox(id_prefix="c")
    a = outbox.put("send-message", ("hi",), now=1.0)
    b = outbox.put("send-message", ("there",), now=2.0)
    c = outbox.put("typing", (True,), now=3.0)
    assert outbox.pending() == [a, b, c]
    assert len(outbox) == 3
    assert a == Entry("c-1", 1, "send-message", ("hi",), 1.0, 0)


def test_ids_are_unique_and_sequence_numbers_increase() -> None:
    outbox = Outbox()
    entries = [outbox.put("e", (i,), now=0) for i in range(500)]
    assert len({e.id for e in entries}) == 500
    assert [e.seq for e in entries] == list(range(1, 501))
    assert all(e.id == f"{outbox.id_prefix}-{e.seq}" for e in entries)


def test_two_outboxes_get_different_random_prefixes() -> None:
    assert Outbox().id_prefix != Outbox().id_prefix


def test_a_list_of_args_is_stored_as_a_tuple() -> None:
    assert Outbox().put("e", [1, 2], now=0).args == (1, 2)


def test_flushing_does_not_remove_anything() -> None:
    outbox = Outbox()
    outbox.put("e", (), now=0)
    first = outbox.pending()
    first.clear()  # a copy: the caller cannot damage the queue
    assert len(outbox.pending()) == 1
    assert len(outbox.pending()) == 1


def test_an_ack_removes_exactly_that_entry() -> None:
    outbox = Outbox()
    a, b, c = (outbox.put("e", (i,), now=0) for i in range(3))
    assert outbox.ack(b.id) is True
    assert outbox.pending() == [a, c]
    assert b.id not in outbox
    assert a.id in outbox


def test_duplicate_and_unknown_acks_return_false_without_error() -> None:
    outbox = Outbox()
    entry = outbox.put("e", (), now=0)
    assert outbox.ack(entry.id) is True
    assert outbox.ack(entry.id) is False
    assert outbox.ack("never-issued") is False
    assert len(outbox) == 0


def test_mark_sent_counts_attempts_and_keeps_the_order() -> None:
    outbox = Outbox()
    a = outbox.put("e", (1,), now=0)
    b = outbox.put("e", (2,), now=0)
    outbox.mark_sent(a.id)
    updated = outbox.mark_sent(a.id)
    assert updated is not None and updated.attempts == 2
    assert [e.id for e in outbox.pending()] == [a.id, b.id]
    assert outbox.get(a.id) == updated
    outbox.ack(a.id)
    assert outbox.mark_sent(a.id) is None


def test_refuse_raises_queue_full_and_changes_nothing() -> None:
    outbox = Outbox(capacity=2, overflow="refuse")
    kept = [outbox.put("e", (i,), now=0) for i in range(2)]
    with pytest.raises(QueueFullError, match="full \\(2 messages\\)") as info:
        outbox.put("e", (99,), now=0)
    assert info.value.capacity == 2
    assert outbox.pending() == kept
    outbox.ack(kept[0].id)
    assert outbox.put("e", (3,), now=0).seq == 3  # the refused put used up no id


def test_drop_oldest_makes_room_and_tells_the_caller_which_entry_went() -> None:
    dropped: list[Entry] = []
    outbox = Outbox(capacity=2, overflow="drop-oldest", on_drop=dropped.append)
    a, b = outbox.put("e", (1,), now=0), outbox.put("e", (2,), now=0)
    c = outbox.put("e", (3,), now=0)
    assert dropped == [a]
    assert outbox.pending() == [b, c]
    assert outbox.dropped_count == 1


def test_drop_oldest_without_a_drop_callback_is_refused() -> None:
    with pytest.raises(ValueError, match="pass on_drop="):
        Outbox(overflow=Overflow.DROP_OLDEST)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"capacity": 0}, "capacity must be an integer >= 1"),
        ({"capacity": 2.5}, "capacity must be an integer >= 1"),
        ({"overflow": "block"}, "overflow must be one of 'refuse', 'drop-oldest'"),
        ({"id_prefix": ""}, "id_prefix must be a non-empty"),
        ({"id_prefix": "a\nb"}, "id_prefix must be a non-empty printable"),
    ],
)
def test_bad_settings_are_refused_with_a_message(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Outbox(**kwargs)  # type: ignore[arg-type]


def test_bad_events_and_args_are_refused() -> None:
    outbox = Outbox()
    with pytest.raises(TypeError, match="event must be a non-empty str"):
        outbox.put("", (), now=0)
    with pytest.raises(TypeError, match="args must be a tuple or list"):
        outbox.put("e", "hello", now=0)  # type: ignore[arg-type]
    assert len(outbox) == 0


def test_listeners_hear_every_change_with_the_pending_count() -> None:
    changes: list[OutboxChange] = []
    outbox = Outbox(capacity=2, overflow="drop-oldest", on_drop=lambda e: None)
    outbox.on_change(changes.append)
    a = outbox.put("e", (1,), now=0)
    b = outbox.put("e", (2,), now=0)
    c = outbox.put("e", (3,), now=0)
    outbox.mark_sent(b.id)
    outbox.ack(b.id)
    outbox.ack(b.id)  # a repeat changes nothing, so nobody is told
    assert [(ch.kind, ch.entry.id, ch.pending) for ch in changes] == [
        (ChangeKind.QUEUED, a.id, 1),
        (ChangeKind.QUEUED, b.id, 2),
        (ChangeKind.DROPPED, a.id, 2),
        (ChangeKind.QUEUED, c.id, 2),
        (ChangeKind.SENT, b.id, 2),
        (ChangeKind.ACKED, b.id, 1),
    ]


def test_listeners_run_after_the_change_so_they_see_the_new_state() -> None:
    outbox = Outbox()
    seen: list[int] = []
    outbox.on_change(lambda change: seen.append(len(outbox)))
    outbox.put("e", (), now=0)
    assert seen == [1]


def test_a_listener_can_be_removed_even_from_inside_itself() -> None:
    outbox = Outbox()
    calls: list[str] = []

    def once(change: OutboxChange) -> None:
        calls.append("once")
        outbox.off_change(once)

    outbox.on_change(once)
    outbox.on_change(lambda change: calls.append("always"))
    outbox.put("e", (), now=0)
    outbox.put("e", (), now=0)
    assert calls == ["once", "always", "always"]
    assert outbox.off_change(once) is False


def test_the_repr_shows_the_queue_at_a_glance() -> None:
    outbox = Outbox(capacity=5, id_prefix="p")
    outbox.put("e", (), now=0)
    assert repr(outbox) == "Outbox(pending=1, capacity=5, overflow='refuse', id_prefix='p')"


class OutboxMachine(RuleBasedStateMachine):
    """A random interleaving of put, send, ack, repeated ack and flush.

    Every id ever issued is, at all times, exactly one of: pending, acked or dropped;
    pending keeps the put order; and a server behind a Deduplicator applies each
    message at most once and, once everything is acked, exactly once.
    """

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.dropped: list[Entry] = []
        self.outbox = Outbox(capacity=5, overflow="drop-oldest", on_drop=self.dropped.append)
        self.issued: list[str] = []
        self.acked: set[str] = set()
        self.server = Deduplicator(window=100, per_key=100)
        self.applied: list[str] = []
        self.now = 0.0

    @rule(target=ids, n=st.integers(min_value=0, max_value=3))
    def put(self, n: int) -> str:
        self.now += 1
        entry = self.outbox.put("send-message", (n,), now=self.now)
        self.issued.append(entry.id)
        return entry.id

    @rule()
    def flush_without_acks(self) -> None:  # the connection drops before any ack
        for entry in self.outbox.pending():
            self.outbox.mark_sent(entry.id)
            if self.server.check_and_remember("client", entry.id, self.now):
                self.applied.append(entry.id)

    @precondition(lambda self: len(self.outbox) > 0)
    @rule(data=st.data())
    def flush_some_acks_arrive(self, data: st.DataObject) -> None:
        for entry in self.outbox.pending():
            if self.server.check_and_remember("client", entry.id, self.now):
                self.applied.append(entry.id)
            if data.draw(st.booleans()):  # the ack may be lost on the way back
                assert self.outbox.ack(entry.id)
                self.acked.add(entry.id)

    @rule(entry_id=ids)
    def late_repeated_or_stray_ack(self, entry_id: str) -> None:
        if entry_id in self.applied:  # the server did send an ack for it, maybe twice
            was_pending = entry_id in self.outbox
            assert self.outbox.ack(entry_id) is was_pending
            if was_pending:
                self.acked.add(entry_id)
        else:  # the server never saw it: any ack for such an id is a stray
            assert self.outbox.ack(f"stray-{entry_id}") is False

    @rule()
    def reconnect_and_deliver_everything(self) -> None:
        for entry in self.outbox.pending():
            if self.server.check_and_remember("client", entry.id, self.now):
                self.applied.append(entry.id)
            assert self.outbox.ack(entry.id)
            self.acked.add(entry.id)
        assert len(self.outbox) == 0
        dropped = {e.id for e in self.dropped}
        assert set(self.issued) - dropped <= set(self.applied)

    @invariant()
    def every_id_is_in_exactly_one_place(self) -> None:
        pending = [e.id for e in self.outbox.pending()]
        dropped = [e.id for e in self.dropped]
        assert len(pending) + len(self.acked) + len(dropped) == len(self.issued)
        assert set(pending) | self.acked | set(dropped) == set(self.issued)

    @invariant()
    def pending_keeps_the_put_order(self) -> None:
        seqs = [e.seq for e in self.outbox.pending()]
        assert seqs == sorted(seqs)

    @invariant()
    def nothing_is_applied_twice_and_acked_means_applied(self) -> None:
        assert len(self.applied) == len(set(self.applied))
        assert self.acked <= set(self.applied)


TestOutboxMachine = OutboxMachine.TestCase
TestOutboxMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_discard_removes_an_undeliverable_entry_and_reports_it_dropped() -> None:
    dropped: list[Entry] = []
    outbox = Outbox(overflow="drop-oldest", on_drop=dropped.append)
    changes: list[OutboxChange] = []
    outbox.on_change(changes.append)
    first = outbox.put("a", (), now=0)
    outbox.put("b", (), now=0)
    assert outbox.discard(first.id) == first
    assert outbox.discard(first.id) is None
    assert [e.event for e in outbox.pending()] == ["b"]
    assert (changes[-1].kind, changes[-1].pending) == (ChangeKind.DROPPED, 1)
    assert dropped == []  # on_drop is for overflow only
