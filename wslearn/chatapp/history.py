"""Rooms, their members, their bounded history, unread counts and delivery receipts.

:class:`RoomBook` is the chat app's memory of what was said where, as plain data: no
I/O, no clock of its own (the caller passes ``now``, wall-clock seconds), so a test or
a notebook can drive it step by step::

    book = RoomBook(history_limit=500)
    book.create("lobby", by="alice")
    book.join("bob", "lobby")
    sent = book.post("lobby", "alice", "Alice", "hi Bob", client_id="c1-1", now=0.0)
    sent.message.seq, sent.recipients          # 1, frozenset({'bob'})
    book.unread("bob", "lobby")                # 1: Bob is not looking at the lobby
    book.acknowledge("bob", "lobby", up_to=1)  # [Message(seq=1...)]: delivered now

Membership belongs to *users*, not sockets: a user stays in a room across reconnects
and in every tab until they leave. Each message gets the room's next sequence number
(1, 2, 3...), which orders the history, answers "load earlier" (``before=seq``) and
lets a reconnected client ask for what it missed (``after=seq``).

**Delivery receipts.** When a message is posted, the other members at that moment are
its recipients. A recipient's client acknowledges everything it has received so far
with one number, ``up_to``; once every recipient has, the message is *delivered*. A
recipient who leaves the room first is no longer waited for. A message nobody else
could receive (the sender alone in the room) stays *sent*.

**Unread counts.** A message counts as unread for every other member who has no socket
looking at the room (see :meth:`RoomBook.view`); looking at the room resets the count.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_ROOM",
    "Delivery",
    "Message",
    "Page",
    "Posted",
    "Room",
    "RoomBook",
    "RoomError",
    "iso_time",
]

DEFAULT_ROOM = "lobby"
"""The room every user is in after signing in."""


def iso_time(seconds: float) -> str:
    """Epoch seconds as JavaScript's ``Date.toISOString()`` writes them (UTC, ms)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Delivery(enum.StrEnum):
    """A message's tick: sent (the server has it) or delivered (every recipient too)."""

    SENT = "sent"
    DELIVERED = "delivered"


class RoomError(Exception):
    """A room operation the rules do not allow; the message says which rule.

    Attributes:
        field: the payload field the client should fix (``"roomId"``).
    """

    def __init__(self, message: str, field: str = "roomId") -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> dict[str, Any]:
        """The refusal as the client receives it: ``{"message", "field"}``."""
        return {"message": str(self), "field": self.field}


@dataclass(frozen=True)
class Message:
    """One chat message as stored.

    Attributes:
        room: the room id.
        seq: its position in the room, from 1.
        user: the sender's user id.
        name: the sender's display name.
        text: what they wrote.
        at: the server's time of receipt (epoch seconds).
        client_id: the id the sender's client gave it (its outbox id), so the sender
            can match the stored message to the one it is waiting for.
    """

    room: str
    seq: int
    user: str
    name: str
    text: str
    at: float
    client_id: str

    @property
    def id(self) -> str:
        """The message id, unique on the server: ``"<room>:<seq>"``."""
        return f"{self.room}:{self.seq}"

    def to_wire(self, status: Delivery = Delivery.SENT) -> dict[str, Any]:
        """The message as clients receive it (JSON-ready)."""
        return {
            "id": self.id,
            "roomId": self.room,
            "seq": self.seq,
            "userId": self.user,
            "name": self.name,
            "text": self.text,
            "timestamp": iso_time(self.at),
            "clientId": self.client_id,
            "status": status.value,
        }


@dataclass
class Room:
    """A room's state (read it; change it through :class:`RoomBook`)."""

    id: str
    created_by: str
    members: set[str] = field(default_factory=set)
    history: deque[Message] = field(default_factory=deque)
    last_seq: int = 0
    waiting: dict[int, set[str]] = field(default_factory=dict)
    """seq -> recipients whose client has not acknowledged it yet."""
    delivered: set[int] = field(default_factory=set)
    """seqs (still in the history) that every recipient acknowledged."""


@dataclass(frozen=True)
class Posted:
    """What :meth:`RoomBook.post` did: the stored message and who should receive it."""

    message: Message
    recipients: frozenset[str]


@dataclass(frozen=True)
class Page:
    """A slice of a room's history, oldest first.

    Attributes:
        messages: the messages.
        has_more: older messages exist before the first one (for "load earlier").
        truncated: asked for messages after a seq, but some of them were already
            dropped from the bounded history (the client missed them for good).
    """

    messages: tuple[Message, ...]
    has_more: bool
    truncated: bool = False


class RoomBook:
    """Every room of the app, its members and its recent history.

    Args:
        history_limit: messages kept per room (the oldest go first).
        max_rooms: rooms that may exist at once.
        max_rooms_per_user: rooms one user may be a member of.
    """

    def __init__(
        self, *, history_limit: int = 500, max_rooms: int = 200, max_rooms_per_user: int = 50
    ) -> None:
        for name, value in (
            ("history_limit", history_limit),
            ("max_rooms", max_rooms),
            ("max_rooms_per_user", max_rooms_per_user),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.history_limit = history_limit
        self.max_rooms = max_rooms
        self.max_rooms_per_user = max_rooms_per_user
        self.rooms: dict[str, Room] = {}
        self._unread: dict[tuple[str, str], int] = {}
        self._viewers: dict[str, dict[str, str]] = {}  # room -> {sid: user}

    def __repr__(self) -> str:
        return f"<RoomBook rooms={len(self.rooms)}>"

    # -- rooms and members ----------------------------------------------------------

    def room(self, room_id: str) -> Room:
        """The room called ``room_id``.

        Raises:
            RoomError: there is no such room.
        """
        room = self.rooms.get(room_id)
        if room is None:
            raise RoomError(f"there is no room {room_id!r}; create it first")
        return room

    def rooms_of(self, user: str) -> list[str]:
        """The rooms ``user`` is a member of, sorted."""
        return sorted(r.id for r in self.rooms.values() if user in r.members)

    def create(self, room_id: str, by: str | None = None) -> Room:
        """Create a room and make its creator (if any) a member.

        Raises:
            RoomError: the room exists, or a limit on rooms would be passed.
        """
        if room_id in self.rooms:
            raise RoomError(f"room {room_id!r} already exists; join it instead")
        if len(self.rooms) >= self.max_rooms:
            raise RoomError(f"there are already {self.max_rooms} rooms; join one of them")
        if by is not None:
            self._check_room_cap(by)
        room = Room(room_id, by or "", history=deque(maxlen=self.history_limit))
        self.rooms[room_id] = room
        if by is not None:
            room.members.add(by)
        return room

    def join(self, user: str, room_id: str) -> bool:
        """Make ``user`` a member; returns False if they already were.

        Raises:
            RoomError: no such room, or the user is in too many rooms.
        """
        room = self.room(room_id)
        if user in room.members:
            return False
        self._check_room_cap(user)
        room.members.add(user)
        return True

    def leave(self, user: str, room_id: str) -> list[Message]:
        """Remove ``user`` from a room; they are no longer waited for as a recipient.

        Returns:
            Messages that became delivered because only this user was missing.

        Raises:
            RoomError: no such room, or the user is not a member.
        """
        room = self.room(room_id)
        if user not in room.members:
            raise RoomError(f"you are not in room {room_id!r}")
        room.members.discard(user)
        self._unread.pop((user, room_id), None)
        viewers = self._viewers.get(room_id, {})
        for sid in [sid for sid, who in viewers.items() if who == user]:
            del viewers[sid]
        return self._settle(
            room, [seq for seq, users in room.waiting.items() if user in users], user
        )

    def _check_room_cap(self, user: str) -> None:
        if len(self.rooms_of(user)) >= self.max_rooms_per_user:
            raise RoomError(f"you are in {self.max_rooms_per_user} rooms already; leave one first")

    def require_member(self, user: str, room_id: str) -> Room:
        """The room, if ``user`` is a member (the authorization rule of every room event).

        Raises:
            RoomError: no such room, or the user is not a member.
        """
        room = self.room(room_id)
        if user not in room.members:
            raise RoomError(f"join room {room_id!r} before using it")
        return room

    # -- messages ---------------------------------------------------------------------

    def post(
        self, room_id: str, user: str, name: str, text: str, *, client_id: str, now: float
    ) -> Posted:
        """Store a message from a member and count it unread for members not looking.

        Raises:
            RoomError: no such room, or the sender is not a member.
        """
        room = self.require_member(user, room_id)
        room.last_seq += 1
        message = Message(room_id, room.last_seq, user, name, text, now, client_id)
        if len(room.history) == room.history.maxlen:
            dropped = room.history[0].seq
            room.waiting.pop(dropped, None)
            room.delivered.discard(dropped)
        room.history.append(message)
        recipients = frozenset(room.members - {user})
        if recipients:
            room.waiting[message.seq] = set(recipients)
        looking = set(self._viewers.get(room_id, {}).values())
        for member in recipients - looking:
            self._unread[(member, room_id)] = self._unread.get((member, room_id), 0) + 1
        return Posted(message, recipients)

    def status(self, room_id: str, seq: int) -> Delivery:
        """The tick of a message."""
        room = self.rooms.get(room_id)
        if room is not None and seq in room.delivered:
            return Delivery.DELIVERED
        return Delivery.SENT

    def wire(self, message: Message) -> dict[str, Any]:
        """A message as clients receive it, with its current tick."""
        return message.to_wire(self.status(message.room, message.seq))

    def acknowledge(self, user: str, room_id: str, up_to: int) -> list[Message]:
        """A member's client has received every message up to ``up_to``.

        Returns:
            The messages that became delivered by this acknowledgement, oldest first.

        Raises:
            RoomError: no such room, or the user is not a member.
        """
        room = self.require_member(user, room_id)
        seqs = [seq for seq, users in room.waiting.items() if seq <= up_to and user in users]
        return self._settle(room, seqs, user)

    def _settle(self, room: Room, seqs: Iterable[int], user: str) -> list[Message]:
        done: list[int] = []
        for seq in seqs:
            users = room.waiting[seq]
            users.discard(user)
            if not users:
                del room.waiting[seq]
                room.delivered.add(seq)
                done.append(seq)
        by_seq = {m.seq: m for m in room.history if m.seq in done}
        return [by_seq[seq] for seq in sorted(by_seq)]

    def page(
        self, room_id: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> Page:
        """A slice of the history: the newest ``limit`` messages before ``before``, or
        the oldest ``limit`` after ``after`` (what a reconnected client missed).

        Raises:
            RoomError: no such room.
        """
        room = self.room(room_id)
        limit = max(1, limit)
        history = list(room.history)
        oldest = history[0].seq if history else room.last_seq + 1
        if after is not None:
            newer = [m for m in history if m.seq > after]
            chosen = newer[:limit]
            truncated = after + 1 < oldest and room.last_seq > after
            has_more = len(newer) > limit
            return Page(tuple(chosen), has_more, truncated)
        older = [m for m in history if before is None or m.seq < before]
        chosen = older[-limit:]
        return Page(tuple(chosen), len(older) > len(chosen))

    # -- who is looking, and unread counts -----------------------------------------------

    def view(self, sid: str, user: str, room_id: str | None) -> None:
        """Socket ``sid`` of ``user`` now shows ``room_id`` (None: no room).

        Looking at a room marks it read for the user (in every tab).

        Raises:
            RoomError: no such room, or the user is not a member.
        """
        if room_id is not None:
            self.require_member(user, room_id)
        self.forget_socket(sid)
        if room_id is not None:
            self._viewers.setdefault(room_id, {})[sid] = user
            self._unread.pop((user, room_id), None)

    def forget_socket(self, sid: str) -> None:
        """Socket ``sid`` is gone: it no longer looks at any room."""
        for viewers in self._viewers.values():
            viewers.pop(sid, None)

    def unread(self, user: str, room_id: str) -> int:
        """Messages in ``room_id`` that ``user`` has not seen."""
        return self._unread.get((user, room_id), 0)

    def summary(self, room_id: str, user: str) -> dict[str, Any]:
        """A room as the room list shows it to ``user`` (JSON-ready)."""
        room = self.room(room_id)
        return {
            "id": room.id,
            "members": len(room.members),
            "joined": user in room.members,
            "unread": self.unread(user, room_id),
            "lastSeq": room.last_seq,
        }

    def delivered_of(self, user: str, room_id: str) -> list[int]:
        """Seqs of ``user``'s own messages in the history that are delivered."""
        room = self.room(room_id)
        return [m.seq for m in room.history if m.user == user and m.seq in room.delivered]
