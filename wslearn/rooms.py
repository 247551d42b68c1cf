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
from collections.abc import Collection, Iterable

from .exceptions import RoomLimitError, UsageError

__all__ = [
    "ALL",
    "DEFAULT_MAX_ROOMS_PER_SOCKET",
    "DEFAULT_MAX_ROOM_NAME_LENGTH",
    "Everyone",
    "RoomRegistry",
]

DEFAULT_MAX_ROOM_NAME_LENGTH = 256
"""The longest room name a socket may join, in characters."""
DEFAULT_MAX_ROOMS_PER_SOCKET = 100
"""The most rooms one socket may be in at once, its own room not counted."""


class Everyone(enum.Enum):
    """The type of :data:`ALL`."""

    ALL = "all"


ALL = Everyone.ALL
"""Broadcast target meaning "every socket of the namespace"."""


class RoomRegistry:
    """Rooms and their members, per namespace, indexed both ways.

    A client can make a server join rooms on its behalf (a ``join-room`` handler), so
    what one socket can make the registry hold is bounded: room names up to
    ``max_room_name_length`` characters, at most ``max_rooms_per_socket`` rooms per
    socket. Over one socket's whole life the registry holds at most
    ``max_rooms_per_socket * max_room_name_length`` characters of room names for it.

    Args:
        max_rooms_per_socket: the most rooms one socket may be in (its own not
            counted).
        max_room_name_length: the longest room name, in characters.
    """

    def __init__(
        self,
        max_rooms_per_socket: int = DEFAULT_MAX_ROOMS_PER_SOCKET,
        max_room_name_length: int = DEFAULT_MAX_ROOM_NAME_LENGTH,
    ) -> None:
        if max_rooms_per_socket < 1 or max_room_name_length < 1:
            raise UsageError("room limits must be at least 1")
        self.max_rooms_per_socket = max_rooms_per_socket
        self.max_room_name_length = max_room_name_length
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
        rooms[sid] = {sid}
        self._members.setdefault(namespace, {}).setdefault(sid, set()).add(sid)

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
            RoomLimitError: the name is not a string, is too long, or the socket is
                already in ``max_rooms_per_socket`` rooms.
        """
        rooms = self._rooms.get(namespace, {}).get(sid)
        if rooms is None:
            raise UsageError(f"socket {sid!r} is not registered in {namespace!r}; add() it")
        if room in rooms:
            return
        if not isinstance(room, str):
            raise RoomLimitError(f"a room name is a string, got {type(room).__name__}")
        if len(room) > self.max_room_name_length:
            raise RoomLimitError(
                f"room name too long ({len(room)} characters, at most {self.max_room_name_length})"
            )
        if len(rooms) - (sid in rooms) >= self.max_rooms_per_socket:
            raise RoomLimitError(
                f"socket {sid!r} is already in {self.max_rooms_per_socket} rooms, the most "
                "allowed; leave one first"
            )
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

    def members_view(self, namespace: str, room: str) -> Collection[str]:
        """The sids in a room, without a copy: the registry's own set.

        For a broadcast's hot loop. Do not join, leave, add or remove while
        iterating it; take :meth:`members` for a snapshot.
        """
        return self._members.get(namespace, {}).get(room, ())

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
