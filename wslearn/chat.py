"""The guide's chat server as a function that adds its handlers to a Server.

::

    server = Server()
    add_chat_handlers(server)
    await server.start()

Events (the names the guide uses):

==================  ==================================  ===============================
client sends        payload                             server sends
==================  ==================================  ===============================
``join-room``       ``room_id``                         ``user-joined`` (the new socket's
                                                        id) to the others in the room
``send-message``    ``{"roomId": ..., "message": ...}``  ``receive-message`` ``{"userId",
                                                        "message", "timestamp"}`` to the
                                                        whole room, sender included
``broadcast``       anything JSON                       ``broadcast-message`` to everyone
==================  ==================================  ===============================

A payload of the wrong shape is answered with an ``error`` event naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .namespace import Socket
from .server import Server

__all__ = ["add_chat_handlers", "iso_timestamp"]

logger = logging.getLogger("wslearn.chat")


def iso_timestamp() -> str:
    """The current UTC time as JavaScript's ``new Date()`` serialises it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def add_chat_handlers(server: Server, clock: Callable[[], str] = iso_timestamp) -> None:
    """Register ``join-room``, ``send-message`` and ``broadcast`` on ``"/"``.

    Args:
        server: the server to add the handlers to.
        clock: makes the ``timestamp`` of each message (pass a fixed one in notebooks
            whose outputs must not change between runs).
    """

    @server.on("join-room")
    async def join_room(socket: Socket, room_id: Any = None) -> None:
        if not isinstance(room_id, str) or not room_id:
            await socket.emit_error("room id must be a non-empty string", field="roomId")
            return
        socket.join(room_id)
        logger.info("%s joined room %s", socket.id, room_id)
        await socket.to(room_id).emit("user-joined", socket.id)

    @server.on("send-message")
    async def send_message(socket: Socket, data: Any = None) -> None:
        if not isinstance(data, dict):
            await socket.emit_error("send-message expects {roomId, message}", field="data")
            return
        for field in ("roomId", "message"):
            if not isinstance(data.get(field), str):
                await socket.emit_error(f"{field} must be a string", field=field)
                return
        message = {"userId": socket.id, "message": data["message"], "timestamp": clock()}
        await server.to(data["roomId"]).emit("receive-message", message)

    @server.on("broadcast")
    async def broadcast(socket: Socket, data: Any = None) -> None:
        await server.emit("broadcast-message", data)

    @server.on("disconnect")
    def disconnect(socket: Socket, reason: str) -> None:
        logger.info("%s disconnected (%s)", socket.id, reason)
