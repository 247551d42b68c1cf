"""The guide's chat server as a function that adds its handlers to a Server.

::

    server = Server()
    add_chat_handlers(server)
    await server.start()

Events (the names the guide uses, plus what chat panes need):

==================  ==================================  ===============================
client sends        payload                             server sends
==================  ==================================  ===============================
``join-room``       ``room_id``                         ``user-joined`` (the new socket's
                                                        id) to the others in the room,
                                                        then ``presence`` to the room
``leave-room``      ``room_id``                         ``presence`` to those who stay
``send-message``    ``{"roomId": ..., "message": ...}``  ``receive-message`` ``{"userId",
                                                        "name", "message", "timestamp"}``
                                                        to the whole room, sender included
``typing``          ``{"roomId": ..., "typing": bool}``  ``user-typing`` ``{"roomId",
                                                        "name", "typing"}`` to the others
                                                        in the room
``broadcast``       anything JSON                       ``broadcast-message`` to everyone
==================  ==================================  ===============================

``presence`` is ``{"roomId": ..., "users": [names, sorted]}``; it is sent to the room
whenever someone joins, leaves or disconnects, so every member always holds the
current list.

Display names come from the CONNECT auth, ``{"name": "Alice"}``. A client that sends
none is called ``guest-`` plus the start of its socket id; a name that is not a
non-empty printable string of at most :data:`MAX_NAME_LENGTH` characters is refused
with a CONNECT_ERROR saying so. The payloads of ``send-message`` and ``typing`` are
pydantic models (:class:`ChatMessage`, :class:`TypingNotice`, checked by
:class:`~wslearn.validation.PayloadValidator`): a payload of the wrong shape never
reaches a handler and is answered with an ``error`` event naming the ``field`` and
the ``rule``. A message is 1 to :data:`MAX_MESSAGE_LENGTH` code points.

Rooms follow :mod:`wslearn.room_rules`: a client joins only rooms with a sensible
name (printable, at most the server's ``max_room_name_length``), never another
socket's private id room, and at most the server's ``max_rooms_per_socket`` of them;
it sends messages and typing notices only to rooms it is in. A refusal is an
``error`` event (or the ack's error) with ``field: "roomId"`` and the ``rule``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .exceptions import ConnectRefusedError
from .namespace import Socket
from .room_rules import RoomPolicy
from .server import Server
from .validation import PayloadValidator

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "MAX_NAME_LENGTH",
    "ChatMessage",
    "TypingNotice",
    "add_chat_handlers",
    "check_name",
    "iso_timestamp",
]

logger = logging.getLogger("wslearn.chat")

MAX_NAME_LENGTH = 32
"""The longest display name accepted, in characters."""

MAX_MESSAGE_LENGTH = 500
"""The longest chat message accepted, in code points (an emoji is one or more)."""


class ChatMessage(BaseModel):
    """The payload of ``send-message``."""

    model_config = ConfigDict(strict=True)
    roomId: str  # the room rules check it further: the sender must be in it
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH)


class TypingNotice(BaseModel):
    """The payload of ``typing``."""

    model_config = ConfigDict(strict=True)
    roomId: str
    typing: bool


def iso_timestamp() -> str:
    """The current UTC time as JavaScript's ``new Date()`` serialises it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_name(name: Any) -> str:
    """Validate a display name and return it with surrounding spaces removed.

    Raises:
        ValueError: the name is not a string, is blank, is too long or holds
            unprintable characters; the message says which.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {type(name).__name__}")
    text: str = name.strip()
    if not text:
        raise ValueError("name must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"name is {len(text)} characters long; at most {MAX_NAME_LENGTH}")
    if not text.isprintable():
        raise ValueError("name must be printable text (no control characters)")
    return text


def _name(socket: Socket) -> str:
    return str(socket.data.get("name") or socket.id)


def _rooms(socket: Socket) -> set[str]:
    rooms: set[str] = socket.data.setdefault("chat_rooms", set())
    return rooms


def add_chat_handlers(server: Server, clock: Callable[[], str] = iso_timestamp) -> None:
    """Register the chat events of the table above on ``"/"``, with name middleware.

    Args:
        server: the server to add the handlers to.
        clock: makes the ``timestamp`` of each message (pass a fixed one in notebooks
            whose outputs must not change between runs).
    """
    namespace = server.of("/")
    rules = RoomPolicy(server)
    server.use_event(PayloadValidator(server))

    def users(room: str) -> list[str]:
        members = server.registry.members("/", room)
        return sorted(_name(namespace.sockets[sid]) for sid in members if sid in namespace.sockets)

    async def send_presence(room: str) -> None:
        await server.to(room).emit("presence", {"roomId": room, "users": users(room)})

    @server.use
    def take_name(socket: Socket, auth: dict[str, Any]) -> None:
        if "name" not in auth:
            socket.data["name"] = "guest-" + socket.id[:4]
            return
        try:
            socket.data["name"] = check_name(auth["name"])
        except ValueError as exc:
            raise ConnectRefusedError(f"bad display name: {exc}", {"field": "name"}) from None

    @server.on("join-room")
    async def join_room(socket: Socket, room_id: Any = None) -> None:
        room_id = rules.check_join(socket, room_id)
        socket.join(room_id)
        _rooms(socket).add(room_id)
        logger.info("%s joined room %s", socket.id, room_id)
        await socket.to(room_id).emit("user-joined", socket.id)
        await send_presence(room_id)

    @server.on("leave-room")
    async def leave_room(socket: Socket, room_id: Any = None) -> None:
        if not isinstance(room_id, str) or room_id not in _rooms(socket):
            await socket.emit_error("leave-room expects a room you joined", field="roomId")
            return
        socket.leave(room_id)
        _rooms(socket).discard(room_id)
        await send_presence(room_id)

    @server.on("send-message")
    async def send_message(socket: Socket, data: ChatMessage) -> None:
        room = rules.check_post(socket, data.roomId)  # never a room it is not in
        message = {
            "userId": socket.id,
            "name": _name(socket),
            "message": data.message,
            "timestamp": clock(),
        }
        await server.to(room).emit("receive-message", message)

    @server.on("typing")
    async def typing(socket: Socket, data: TypingNotice) -> None:
        room = rules.check_post(socket, data.roomId)
        notice = {"roomId": room, "name": _name(socket), "typing": data.typing}
        await socket.to(room).emit("user-typing", notice)

    @server.on("broadcast")
    async def broadcast(socket: Socket, data: Any = None) -> None:
        await server.emit("broadcast-message", data)

    @server.on("disconnect")
    async def disconnect(socket: Socket, reason: str) -> None:
        logger.info("%s disconnected (%s)", socket.id, reason)
        # The registry has already forgotten the socket: tell the rooms it was in.
        for room in sorted(_rooms(socket)):
            await send_presence(room)
