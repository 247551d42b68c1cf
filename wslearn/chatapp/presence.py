"""Who is online and who is typing: per user, across tabs and reconnects.

:class:`Presence` follows sockets (each tab, each reconnection is a new one) and
answers for *users*: a user with two tabs is one person online; closing one tab changes
nothing; a reconnection that comes back within ``grace`` seconds is not seen as
leaving and coming back. Pure bookkeeping: the caller passes ``now`` (seconds) and
calls :meth:`Presence.expire` regularly, which says what changed::

    presence = Presence(grace=2.0, typing_ttl=5.0)
    presence.connect("sid-1", "alice", "Alice", now=0)   # True: Alice came online
    presence.connect("sid-2", "alice", "Alice", now=1)   # False: a second tab
    presence.disconnect("sid-1", now=2)                  # False: sid-2 is still there
    presence.disconnect("sid-2", now=3)                  # False: gone only after grace
    presence.expire(now=5.5).offline                     # {'alice'}

A half-open link (a peer that vanished without closing) ends up here too: the
server's Engine.IO heartbeat closes its socket after ``pingInterval + pingTimeout``,
which calls :meth:`disconnect`; ``grace`` seconds later the user is offline.

Typing notices expire on their own: a ``typing`` from a user holds for ``typing_ttl``
seconds unless renewed. They clear at once when the typist sends a message, says
they stopped, leaves the room, or the socket that was typing disconnects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Changes", "Presence"]


@dataclass(frozen=True)
class Changes:
    """What :meth:`Presence.expire` found.

    Attributes:
        offline: users whose grace ran out: they are offline now.
        typing_rooms: rooms whose list of typists changed.
    """

    offline: frozenset[str] = frozenset()
    typing_rooms: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.offline or self.typing_rooms)


@dataclass
class _Typing:
    sid: str
    until: float


@dataclass
class Presence:
    """Online users and typists.

    Args:
        grace: seconds a user with no socket left still counts as online (a
            reconnection within it is invisible to the others). 0 for none.
        typing_ttl: seconds a typing notice holds without being renewed.
    """

    grace: float = 2.0
    typing_ttl: float = 5.0
    names: dict[str, str] = field(default_factory=dict)
    """user id -> the display name it last connected with."""
    _users: dict[str, str] = field(default_factory=dict, repr=False)  # sid -> user
    _sockets: dict[str, set[str]] = field(default_factory=dict, repr=False)  # user -> sids
    _leaving: dict[str, float] = field(default_factory=dict, repr=False)  # user -> offline at
    _typing: dict[str, dict[str, _Typing]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.grace < 0 or self.typing_ttl <= 0:
            raise ValueError("grace must be >= 0 and typing_ttl > 0")

    # -- sockets and users --------------------------------------------------------------

    def connect(self, sid: str, user: str, name: str, now: float) -> bool:
        """A socket of ``user`` connected. Returns True if the user came online."""
        self.names[user] = name
        self._users[sid] = user
        was_online = self.is_online(user)
        self._sockets.setdefault(user, set()).add(sid)
        self._leaving.pop(user, None)
        return not was_online

    def disconnect(self, sid: str, now: float) -> bool:
        """A socket is gone (any reason). Returns True if its user went offline now
        (only with ``grace=0``; otherwise :meth:`expire` reports it later)."""
        user = self._users.pop(sid, None)
        if user is None:
            return False
        sockets = self._sockets.get(user, set())
        sockets.discard(sid)
        if sockets:
            return False
        del self._sockets[user]
        if self.grace > 0:
            self._leaving[user] = now + self.grace
            return False
        return True

    def user_of(self, sid: str) -> str | None:
        """The user a connected socket belongs to."""
        return self._users.get(sid)

    def sockets_of(self, user: str) -> frozenset[str]:
        """The connected sockets of a user (one per tab)."""
        return frozenset(self._sockets.get(user, ()))

    def is_online(self, user: str) -> bool:
        """True while the user has a socket, or lost the last one less than ``grace`` ago."""
        return user in self._sockets or user in self._leaving

    def online(self, members: Iterable[str]) -> list[dict[str, str]]:
        """The online ones among ``members``, each once, sorted by name (JSON-ready)."""
        return self.online_of(user for user in members if self.is_online(user))

    # -- typing -------------------------------------------------------------------------

    def set_typing(self, sid: str, room: str, typing: bool, now: float) -> bool:
        """Socket ``sid`` started (or renewed) or stopped typing in ``room``.

        Returns:
            True if the room's list of typists changed.
        """
        user = self._users.get(sid)
        if user is None:
            return False
        typists = self._typing.setdefault(room, {})
        if typing:
            changed = user not in typists
            typists[user] = _Typing(sid, now + self.typing_ttl)
            return changed
        return typists.pop(user, None) is not None

    def stop_typing(self, user: str, room: str) -> bool:
        """Clear ``user``'s notice in ``room`` (they sent a message or left)."""
        return self._typing.get(room, {}).pop(user, None) is not None

    def typists(self, room: str) -> list[dict[str, str]]:
        """Who is typing in ``room``, sorted by name (JSON-ready, as :meth:`online`)."""
        return self.online_of(self._typing.get(room, {}))

    def online_of(self, users: Iterable[str]) -> list[dict[str, str]]:
        """``users`` as ``{"userId", "name"}``, sorted by name."""
        named = sorted((self.names.get(user, user), user) for user in set(users))
        named.sort(key=lambda pair: pair[0].casefold())
        return [{"userId": user, "name": name} for name, user in named]

    def drop_typing_of_socket(self, sid: str) -> set[str]:
        """Clear every notice set by socket ``sid``; returns the rooms that changed."""
        changed: set[str] = set()
        for room, typists in self._typing.items():
            for user in [u for u, t in typists.items() if t.sid == sid]:
                del typists[user]
                changed.add(room)
        return changed

    # -- time ---------------------------------------------------------------------------

    def expire(self, now: float) -> Changes:
        """Apply what ``now`` ends: grace periods and typing notices."""
        offline = {user for user, at in self._leaving.items() if at <= now}
        for user in offline:
            del self._leaving[user]
        rooms: set[str] = set()
        for room, typists in self._typing.items():
            for user in [u for u, t in typists.items() if t.until <= now]:
                del typists[user]
                rooms.add(room)
        self._typing = {room: typists for room, typists in self._typing.items() if typists}
        return Changes(frozenset(offline), frozenset(rooms))

    def next_deadline(self) -> float | None:
        """The earliest ``now`` at which :meth:`expire` would change something."""
        deadlines = list(self._leaving.values())
        deadlines += [t.until for typists in self._typing.values() for t in typists.values()]
        return min(deadlines, default=None)
