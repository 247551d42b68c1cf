"""Connection state recovery (Socket.IO 4.6+): a short outage goes unnoticed.

When a client's transport drops, the server keeps the socket's state (its id, rooms
and ``data``) for a while, and a log of the events it sent. A client that comes back
within the window shows where it stopped, and the server replays what it missed::

    server → client   40{"sid":"s1","pid":"p1"}            a private id for the session
    server → client   42["news","a","17"]                  events with no ack carry an
                                                           offset as their last argument
    ... the transport drops, the server keeps sending to room "r1": offsets 18, 19 ...
    client → server   40{"pid":"p1","offset":"17"}         "I am p1 and I saw 17"
    server → client   40{"sid":"s1","pid":"p1"}            same sid, same rooms
    server → client   42["news","b","18"] ...              what it missed, in order

If the session is unknown or expired, or the offset has left the log, the client
simply gets a fresh session. :class:`RecoveryStore` is the bookkeeping; it does no
I/O and takes time as ``now``. The server wires it in when created with
``Server(recovery_window=...)``; without it, the CONNECT reply has no ``pid``.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .rooms import ALL, Everyone

__all__ = ["LoggedEvent", "RecoveryStore", "SavedSession"]


@dataclass(frozen=True)
class SavedSession:
    """The state of a socket whose transport dropped, kept for the window.

    Attributes:
        pid: the private session id the client will show.
        sid: the socket id it had (and gets back).
        namespace: its namespace.
        rooms: the rooms it was in, its own room excluded.
        data: its ``socket.data``.
        saved_at: when it was saved.
    """

    pid: str
    sid: str
    namespace: str
    rooms: frozenset[str]
    data: dict[str, Any]
    saved_at: float


@dataclass(frozen=True)
class LoggedEvent:
    """One event sent without an ack, kept for replay.

    Attributes:
        offset: its position, sent as the event's last argument.
        namespace: where it was sent.
        rooms: the target rooms (a socket's own room for a direct emit), or ALL.
        except_rooms: rooms left out.
        except_sids: sockets left out.
        data: ``[event, *args, offset]``, as sent.
        at: when it was sent.
    """

    offset: str
    namespace: str
    rooms: frozenset[str] | Everyone
    except_rooms: frozenset[str]
    except_sids: frozenset[str]
    data: list[Any]
    at: float

    def reaches(self, namespace: str, sid: str, rooms: Iterable[str]) -> bool:
        """Whether a socket with this id and these rooms was a target."""
        if namespace != self.namespace or sid in self.except_sids:
            return False
        member_of = {sid, *rooms}
        if member_of & self.except_rooms:
            return False
        return self.rooms is ALL or bool(member_of & self.rooms)


@dataclass
class RecoveryStore:
    """Saved sessions and the event log, both forgotten after ``window`` seconds.

    Args:
        window: seconds a session and an event are kept (reference: 120).
        max_events: the most events kept, whatever their age, so memory stays
            bounded under a flood (older offsets then cannot be recovered).

    Raises:
        ValueError: window is not a positive number of seconds, or max_events < 1.
    """

    window: float = 120.0
    max_events: int = 100_000
    _sessions: OrderedDict[str, SavedSession] = field(default_factory=OrderedDict, repr=False)
    _events: deque[LoggedEvent] = field(default_factory=deque, repr=False)
    _counter: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, int | float):
            raise ValueError(f"window must be a number of seconds, got {self.window!r}")
        if not math.isfinite(self.window) or self.window <= 0:
            raise ValueError(f"window must be a finite number of seconds > 0, got {self.window!r}")
        if self.max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {self.max_events!r}")

    @property
    def sessions(self) -> int:
        """How many sessions are kept now."""
        return len(self._sessions)

    @property
    def events(self) -> int:
        """How many events are kept now."""
        return len(self._events)

    def log(
        self,
        namespace: str,
        rooms: frozenset[str] | Everyone,
        data: list[Any],
        now: float,
        *,
        except_rooms: frozenset[str] = frozenset(),
        except_sids: frozenset[str] = frozenset(),
    ) -> list[Any]:
        """Record an event about to be sent; return its data with the offset appended."""
        self.expire(now)
        offset = str(next(self._counter))
        sent = [*data, offset]
        self._events.append(
            LoggedEvent(offset, namespace, rooms, except_rooms, except_sids, sent, now)
        )
        if len(self._events) > self.max_events:
            self._events.popleft()
        return sent

    def holds_socket(self, namespace: str, sid: str) -> bool:
        """True while a dropped socket with id ``sid`` of ``namespace`` is kept."""
        return any(s.sid == sid and s.namespace == namespace for s in self._sessions.values())

    def save(self, session: SavedSession) -> None:
        """Keep a session whose transport dropped (replacing one with the same pid)."""
        self.expire(session.saved_at)
        self._sessions.pop(session.pid, None)
        self._sessions[session.pid] = session

    def restore(
        self, pid: str, offset: str, namespace: str, now: float
    ) -> tuple[SavedSession, list[LoggedEvent]] | None:
        """Take back a session and the events it missed after ``offset``, in order.

        Returns:
            None when the session is unknown, expired or of another namespace, or
            when ``offset`` is no longer in the log: the client gets a fresh session.
            A restored session is removed from the store (it cannot be used twice).
        """
        self.expire(now)
        session = self._sessions.get(pid)
        if session is None or session.namespace != namespace:
            return None
        missed: list[LoggedEvent] | None = None
        for event in self._events:
            if missed is not None:
                if event.reaches(namespace, session.sid, session.rooms):
                    missed.append(event)
            elif event.offset == offset:
                missed = []
        if missed is None:
            return None
        del self._sessions[pid]
        return session, missed

    def expire(self, now: float) -> None:
        """Forget sessions and events older than the window."""
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.saved_at <= self.window:
                break
            del self._sessions[oldest.pid]
        while self._events and now - self._events[0].at > self.window:
            self._events.popleft()
