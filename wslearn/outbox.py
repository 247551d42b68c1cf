"""The offline queue that loses nothing, and the server-side memory that applies once.

The guide's message queue shifts each message out as it emits it: if the connection
drops right after, the message is gone. Here a message leaves the queue **only when
the server acknowledges it**:

1. :meth:`Outbox.put` gives the message a unique id and keeps it.
2. On (re)connect, the client sends every :meth:`Outbox.pending` entry, in order,
   with its id, asking for an ack. Sending does not remove anything.
3. When the ack arrives, :meth:`Outbox.ack` removes the entry.

A message whose ack was lost is sent again after the next reconnect, so the server
may see it twice. :class:`Deduplicator` remembers recent ids per client so the server
applies each message once and simply acks the repeat: at-least-once delivery plus
deduplication gives exactly-once effects.

:class:`Deduplicator` lives in :mod:`wslearn.dedup` (it runs on the server) and is
re-exported here. Nothing here does I/O or reads a clock: times are passed in as
``now``.
"""

from __future__ import annotations

import enum
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .dedup import Deduplicator
from .exceptions import QueueFullError

__all__ = [
    "ChangeKind",
    "Deduplicator",
    "Entry",
    "Outbox",
    "OutboxChange",
    "Overflow",
]


class Overflow(enum.StrEnum):
    """What :meth:`Outbox.put` does when the outbox is full."""

    REFUSE = "refuse"
    """Raise :class:`~wslearn.exceptions.QueueFullError`; the queue is unchanged."""
    DROP_OLDEST = "drop-oldest"
    """Drop the oldest unacknowledged entry to make room, and report it."""


class ChangeKind(enum.Enum):
    """What happened to the outbox; carried by :class:`OutboxChange`."""

    QUEUED = "queued"
    SENT = "sent"
    ACKED = "acked"
    DROPPED = "dropped"


@dataclass(frozen=True)
class Entry:
    """One message waiting for its acknowledgement.

    Attributes:
        id: unique within the outbox: ``"<prefix>-<seq>"``. Send it with the message
            so the server can recognise a repeat.
        seq: position in the outbox, increasing by one per :meth:`Outbox.put`.
        event: the event name, e.g. ``"send-message"``.
        args: the event's arguments.
        created_at: the ``now`` given to :meth:`Outbox.put`.
        attempts: how many times it was sent (see :meth:`Outbox.mark_sent`).
    """

    id: str
    seq: int
    event: str
    args: tuple[Any, ...]
    created_at: float
    attempts: int = 0


@dataclass(frozen=True)
class OutboxChange:
    """A change reported to :meth:`Outbox.on_change` listeners.

    Attributes:
        kind: what happened.
        entry: the entry it happened to (for SENT, with its new attempt count).
        pending: how many entries are pending after the change ("3 queued").
    """

    kind: ChangeKind
    entry: Entry
    pending: int


Listener = Callable[[OutboxChange], None]


class Outbox:
    """Messages waiting for acknowledgement, in order, bounded.

    Args:
        capacity: the most entries kept (>= 1).
        overflow: ``"refuse"`` (default) or ``"drop-oldest"``, see :class:`Overflow`.
        id_prefix: the first part of every id. By default a random token, so two
            outboxes (two clients, or one client restarted) never reuse an id that a
            server's :class:`Deduplicator` still remembers. Pass a fixed prefix only
            if you also persist the sequence.
        on_drop: called with each entry that ``"drop-oldest"`` discards. Required
            with that policy, so losing a message is always a decision someone hears
            about.

    Raises:
        ValueError: for a bad capacity, an unknown policy, an empty prefix, or
            ``"drop-oldest"`` without ``on_drop``.
    """

    def __init__(
        self,
        capacity: int = 1000,
        overflow: Overflow | str = Overflow.REFUSE,
        id_prefix: str | None = None,
        *,
        on_drop: Callable[[Entry], None] | None = None,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        try:
            self.overflow = Overflow(overflow)
        except ValueError:
            allowed = ", ".join(repr(p.value) for p in Overflow)
            raise ValueError(f"overflow must be one of {allowed}, got {overflow!r}") from None
        if self.overflow is Overflow.DROP_OLDEST and on_drop is None:
            raise ValueError(
                "overflow='drop-oldest' discards messages: pass on_drop=<function> "
                "to be told which ones (or use overflow='refuse')"
            )
        if id_prefix is None:
            id_prefix = secrets.token_hex(4)
        if not isinstance(id_prefix, str) or not id_prefix or not id_prefix.isprintable():
            raise ValueError(f"id_prefix must be a non-empty printable str, got {id_prefix!r}")
        self.capacity = capacity
        self.id_prefix = id_prefix
        self._on_drop = on_drop
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._next_seq = 1
        self._listeners: list[Listener] = []
        self.dropped_count = 0
        """How many entries ``"drop-oldest"`` discarded so far."""

    def __repr__(self) -> str:
        return (
            f"Outbox(pending={len(self)}, capacity={self.capacity}, "
            f"overflow={self.overflow.value!r}, id_prefix={self.id_prefix!r})"
        )

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._entries

    def put(self, event: str, args: tuple[Any, ...] | list[Any], now: float) -> Entry:
        """Queue a message until the server acknowledges it.

        Args:
            event: the event name (a non-empty str).
            args: the event's arguments.
            now: the current time, kept as ``created_at``.

        Returns:
            The new entry; send ``entry.id`` with the message.

        Raises:
            QueueFullError: when full and the policy is ``"refuse"`` (nothing changed).
            TypeError: when event is not a non-empty str or args not a tuple or list.
        """
        if not isinstance(event, str) or not event:
            raise TypeError(f"event must be a non-empty str, got {event!r}")
        if not isinstance(args, tuple | list):
            raise TypeError(f"args must be a tuple or list, got {type(args).__name__}")
        dropped: Entry | None = None
        if len(self._entries) >= self.capacity:
            if self.overflow is Overflow.REFUSE:
                raise QueueFullError(self.capacity)
            _, dropped = self._entries.popitem(last=False)
            self.dropped_count += 1
        seq = self._next_seq
        self._next_seq += 1
        entry = Entry(f"{self.id_prefix}-{seq}", seq, event, tuple(args), now)
        self._entries[entry.id] = entry
        if dropped is not None:
            assert self._on_drop is not None  # enforced by __init__
            self._on_drop(dropped)
            self._notify(ChangeKind.DROPPED, dropped)
        self._notify(ChangeKind.QUEUED, entry)
        return entry

    def ack(self, entry_id: str) -> bool:
        """Remove an entry because the server acknowledged it.

        Returns:
            True if it was pending. False for an unknown id or a repeated ack: acks
            can arrive twice after a resend, and that is not an error.
        """
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return False
        self._notify(ChangeKind.ACKED, entry)
        return True

    def discard(self, entry_id: str) -> Entry | None:
        """Remove a pending entry that can never be delivered, reporting DROPPED.

        For a message the server will never accept (for example one larger than its
        maxPayload); ``on_drop`` is not called, it is for overflow only.

        Returns:
            The removed entry, or None if it was not pending.
        """
        entry = self._entries.pop(entry_id, None)
        if entry is not None:
            self._notify(ChangeKind.DROPPED, entry)
        return entry

    def pending(self) -> list[Entry]:
        """Every unacknowledged entry, oldest first: what to send after (re)connecting.

        The list is a copy; sending does not remove anything, only :meth:`ack` does.
        """
        return list(self._entries.values())

    def get(self, entry_id: str) -> Entry | None:
        """The pending entry with this id, or None."""
        return self._entries.get(entry_id)

    def mark_sent(self, entry_id: str) -> Entry | None:
        """Count one more send attempt for a pending entry.

        Returns:
            The updated entry, or None if it is no longer pending.
        """
        entry = self._entries.get(entry_id)
        if entry is None:
            return None
        entry = replace(entry, attempts=entry.attempts + 1)
        self._entries[entry_id] = entry  # same key: keeps its place in the order
        self._notify(ChangeKind.SENT, entry)
        return entry

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(change)`` after every put, send, ack and drop.

        Listeners run synchronously, in registration order, after the outbox has
        changed: ``change.pending`` and :meth:`pending` already reflect it. Keep
        them small and make them not raise: an exception reaches the caller of
        put/ack even though the change has already happened.
        """
        self._listeners.append(listener)

    def off_change(self, listener: Listener) -> bool:
        """Stop calling a listener. Returns False if it was not registered."""
        try:
            self._listeners.remove(listener)
        except ValueError:
            return False
        return True

    def _notify(self, kind: ChangeKind, entry: Entry) -> None:
        change = OutboxChange(kind, entry, len(self._entries))
        for listener in list(self._listeners):  # a listener may unsubscribe itself
            listener(change)
