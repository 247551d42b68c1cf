"""Who may join which room, and post where: the room rules (pure).

A Socket.IO server puts every socket in a room named by its own id, so "send to that
socket" and "send to a room" are one operation. That is also a trap: a handler that
joins whatever room a client names lets anyone join another socket's id room and
overhear everything sent to it, and a handler that sends to whatever room a client
names lets anyone post into rooms they never joined. The rules below close both; they
apply to what *clients ask for* (server code may still join a socket anywhere):

==============  ==================================================================
rule            refused when
==============  ==================================================================
``type``        the room is not a string
``empty``       it is the empty string
``too long``    over the server's ``max_room_name_length``, in code points
``characters``  it holds control, format or separator characters (a space is fine)
``spaces``      it starts or ends with white space (``"lobby "`` is not ``"lobby"``)
``private``     it is another socket's id, connected or kept for recovery
``room cap``    the socket is already in the server's ``max_rooms_per_socket`` rooms
                (its own room not counted)
``not member``  it posts to a room it is not in
==============  ==================================================================

The numbers belong to the :class:`~wslearn.server.Server` (``max_room_name_length``,
``max_rooms_per_socket``); this module only reads them. Each refusal is an
:class:`~wslearn.exceptions.EventRefusedError` whose details name the ``field`` and
the ``rule``, so a handler can let it propagate and the client is told::

    rules = RoomPolicy(server)

    @server.on("join-room")
    async def join_room(socket, room_id):
        socket.join(rules.check_join(socket, room_id))
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import TYPE_CHECKING

from .exceptions import EventRefusedError

if TYPE_CHECKING:
    from .namespace import Socket
    from .server import Server

__all__ = ["RoomPolicy", "RoomRule", "check_join", "check_post", "check_room_name"]


class RoomRule(enum.StrEnum):
    """The rule a refused room broke: the ``rule`` a client is told."""

    TYPE = "type"
    EMPTY = "empty"
    TOO_LONG = "too long"
    CHARACTERS = "characters"
    SPACES = "spaces"
    PRIVATE = "private"
    ROOM_CAP = "room cap"
    NOT_MEMBER = "not member"


def _refuse(rule: RoomRule, message: str, field: str) -> EventRefusedError:
    return EventRefusedError(message, field=field, rule=str(rule))


def check_room_name(name: object, *, max_length: int, field: str = "roomId") -> str:
    """Check the shape of a room name a client sent.

    Args:
        name: what the client sent.
        max_length: the longest name, in code points.
        field: the payload field named in a refusal.

    Returns:
        The name, unchanged.

    Raises:
        EventRefusedError: the name breaks a rule (details ``field`` and ``rule``).
    """
    if not isinstance(name, str):
        raise _refuse(RoomRule.TYPE, f"{field} must be a string", field)
    if not name:
        raise _refuse(RoomRule.EMPTY, f"{field} must not be empty", field)
    if len(name) > max_length:
        raise _refuse(
            RoomRule.TOO_LONG,
            f"{field} is {len(name)} characters long; at most {max_length}",
            field,
        )
    if not name.isprintable():
        raise _refuse(
            RoomRule.CHARACTERS, f"{field} must be printable text (no control characters)", field
        )
    if name != name.strip():
        raise _refuse(RoomRule.SPACES, f"{field} must not start or end with spaces", field)
    return name


def check_join(
    name: object,
    *,
    joined: Collection[str],
    is_socket_id: bool,
    max_length: int,
    max_rooms: int,
    own_id: str,
    field: str = "roomId",
) -> str:
    """Check that a socket may join a room it asked for.

    Args:
        name: the room the client asked for.
        joined: the rooms the socket is in now, its own included.
        is_socket_id: whether ``name`` is the id of a socket (connected, or kept
            for connection state recovery) of the namespace.
        max_length: the longest name, in code points.
        max_rooms: how many rooms a socket may be in besides its own.
        own_id: the socket's id.
        field: the payload field named in a refusal.

    Returns:
        The room name.

    Raises:
        EventRefusedError: the name, privacy or cap rule refuses it.
    """
    room = check_room_name(name, max_length=max_length, field=field)
    if room in joined:
        return room  # joining twice changes nothing
    if is_socket_id and room != own_id:
        raise _refuse(RoomRule.PRIVATE, f"{field} is another socket's private room", field)
    if len(set(joined) - {own_id}) >= max_rooms:
        raise _refuse(
            RoomRule.ROOM_CAP,
            f"already in {max_rooms} rooms, the most allowed: leave one first",
            field,
        )
    return room


def check_post(name: object, *, joined: Collection[str], field: str = "roomId") -> str:
    """Check that a socket may send to a room: only when it is in it.

    Args:
        name: the room the client wants to send to.
        joined: the rooms the socket is in now.
        field: the payload field named in a refusal.

    Returns:
        The room name.

    Raises:
        EventRefusedError: not a string (``type``) or not a member (``not member``).
    """
    if not isinstance(name, str):
        raise _refuse(RoomRule.TYPE, f"{field} must be a string", field)
    if name not in joined:
        raise _refuse(RoomRule.NOT_MEMBER, f"join {field} before sending to it", field)
    return name


class RoomPolicy:
    """The room rules applied to a server's sockets, with the server's numbers.

    Args:
        server: whose ``max_room_name_length`` and ``max_rooms_per_socket`` apply
            (read at every check, so changing them takes effect at once).
        field: the payload field named in refusals.
    """

    def __init__(self, server: Server, *, field: str = "roomId") -> None:
        self.server = server
        self.field = field

    def is_socket_id(self, namespace: str, name: str) -> bool:
        """True when ``name`` is the id of a socket of ``namespace``, connected or
        kept for connection state recovery."""
        space = self.server.namespaces.get(namespace)
        if space is not None and name in space.sockets:
            return True
        store = self.server.recovery
        return store is not None and store.holds_socket(namespace, name)

    def check_join(self, socket: Socket, name: object) -> str:
        """The room ``socket`` may join, or an EventRefusedError (see :func:`check_join`)."""
        return check_join(
            name,
            joined=socket.rooms,
            is_socket_id=isinstance(name, str) and self.is_socket_id(socket.namespace, name),
            max_length=self.server.max_room_name_length,
            max_rooms=self.server.max_rooms_per_socket,
            own_id=socket.id,
            field=self.field,
        )

    def check_post(self, socket: Socket, name: object) -> str:
        """The room ``socket`` may send to, or an EventRefusedError (see :func:`check_post`)."""
        return check_post(name, joined=socket.rooms, field=self.field)
