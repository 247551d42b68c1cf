"""The room registry: which sockets are in which rooms of which namespace (pure).

Socket.IO groups the sockets of a namespace into named rooms. Every socket is in a
room named by its own id, so "send to one socket" and "send to a room" are the same
operation. This module only keeps the books; it sends nothing::

    registry = RoomRegistry()
    registry.add("/", "a")            # "a" is now in room "a"
    registry.join("/", "a", "r1")
    registry.targets("/", {"r1"})     # {"a"}
    registry.remove("/", "a")         # leaves every room; empty rooms disappear

The registry is indexed both ways (room -> sids and sid -> rooms) so that joining,
leaving and resolving a broadcast cost time in proportion to the rooms involved, not
to the number of sockets. Empty rooms and namespaces are deleted at once, so memory
follows the live sockets.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .exceptions import UsageError

__all__ = ["ALL", "Everyone", "RoomRegistry"]


class Everyone(enum.Enum):
    """The type of :data:`ALL`."""

    ALL = "all"


ALL = Everyone.ALL
"""Broadcast target meaning "every socket of the namespace"."""


class RoomRegistry:
    """Rooms and their members, per namespace, indexed both ways."""

    def __init__(self) -> None:
        # namespace -> room -> sids, and namespace -> sid -> rooms. Both always agree.
        self._members: dict[str, dict[str, set[str]]] = {}
        self._rooms: dict[str, dict[str, set[str]]] = {}

    def add(self, namespace: str, sid: str) -> None:
        """Register a socket of a namespace and put it in the room named by its id.

        Raises:
            UsageError: the socket is already registered in this namespace.
        """
        rooms = self._rooms.setdefault(namespace, {})
        if sid in rooms:
            raise UsageError(f"socket {sid!r} is already registered in {namespace!r}")
        rooms[sid] = set()
        self._members.setdefault(namespace, {})
        self.join(namespace, sid, sid)

    def remove(self, namespace: str, sid: str) -> frozenset[str]:
        """Take a socket out of every room of the namespace and forget it.

        Returns:
            The rooms the socket was in (empty if it was not registered).
        """
        rooms = self._rooms.get(namespace, {}).pop(sid, set())
        for room in rooms:
            self._discard_member(namespace, room, sid)
        self._drop_empty_namespace(namespace)
        return frozenset(rooms)

    def join(self, namespace: str, sid: str, room: str) -> None:
        """Put a registered socket in a room (joining twice is harmless).

        Raises:
            UsageError: the socket is not registered in this namespace.
        """
        rooms = self._rooms.get(namespace, {}).get(sid)
        if rooms is None:
            raise UsageError(f"socket {sid!r} is not registered in {namespace!r}; add() it")
        rooms.add(room)
        self._members[namespace].setdefault(room, set()).add(sid)

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Take a socket out of one room; leaving a room it is not in does nothing.

        The socket stays registered even when it leaves its own room.
        """
        rooms = self._rooms.get(namespace, {}).get(sid)
        if rooms is None or room not in rooms:
            return
        rooms.discard(room)
        self._discard_member(namespace, room, sid)

    def members(self, namespace: str, room: str) -> frozenset[str]:
        """The sids in a room (empty if the room does not exist)."""
        return frozenset(self._members.get(namespace, {}).get(room, ()))

    def rooms_of(self, namespace: str, sid: str) -> frozenset[str]:
        """The rooms a socket is in (empty if it is not registered)."""
        return frozenset(self._rooms.get(namespace, {}).get(sid, ()))

    def sockets(self, namespace: str) -> frozenset[str]:
        """Every registered sid of a namespace."""
        return frozenset(self._rooms.get(namespace, {}))

    def rooms(self, namespace: str) -> frozenset[str]:
        """Every non-empty room of a namespace, including the sockets' own rooms."""
        return frozenset(self._members.get(namespace, {}))

    def namespaces(self) -> frozenset[str]:
        """The namespaces that have at least one registered socket."""
        return frozenset(self._rooms)

    def targets(
        self,
        namespace: str,
        rooms: Iterable[str] | Everyone = ALL,
        exclude_rooms: Iterable[str] = (),
        exclude_sids: Iterable[str] = (),
    ) -> set[str]:
        """Resolve a broadcast to the sids that should receive it.

        Args:
            namespace: the namespace the broadcast is sent on.
            rooms: the rooms to send to (a socket in several counts once), or
                :data:`ALL` for every socket of the namespace.
            exclude_rooms: members of these rooms receive nothing.
            exclude_sids: these sockets receive nothing (e.g. the sender).

        Returns:
            A new set of sids, each once.
        """
        members = self._members.get(namespace, {})
        if rooms is ALL:
            chosen = set(self._rooms.get(namespace, {}))
        else:
            chosen = set()
            for room in rooms:
                chosen.update(members.get(room, ()))
        for room in exclude_rooms:
            chosen.difference_update(members.get(room, ()))
        chosen.difference_update(exclude_sids)
        return chosen

    def _discard_member(self, namespace: str, room: str, sid: str) -> None:
        members = self._members[namespace]
        sids = members[room]
        sids.discard(sid)
        if not sids:
            del members[room]

    def _drop_empty_namespace(self, namespace: str) -> None:
        if namespace in self._rooms and not self._rooms[namespace]:
            del self._rooms[namespace]
            self._members.pop(namespace, None)
