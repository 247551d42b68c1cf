"""What every ``/chat`` event must pass before its handler runs: the shape of its
payload (validation) and the sender's right to use the room (authorization).

:class:`ChatGuard` is per-event middleware (``namespace.use_event``, see
:mod:`wslearn.namespace`), so no handler ever sees a payload of the wrong shape or a
room its user is not in. A refusal raises :class:`~wslearn.exceptions.EventRefusedError`
naming the field: a client that asked for an ack gets ``[{"error": {"message": ...,
"field": ...}}]``, one that did not gets an ``error`` event. The handler never runs and
nothing changes.

Further middleware plugs in the same way, after this one: a rate limiter keyed by
``socket.data["user"]``, say, with ``app.chat.use_event(limiter)``.

==================  ==============================================================
event               rule
==================  ==============================================================
``create-room``,    ``{roomId}``, a valid room id (:func:`~.rules.check_room_id`)
``join-room``
``leave-room``,     ``{roomId}`` of a room the user is a member of
``history``         (``history``: ``before`` a seq or absent, ``limit`` 1 to 200)
``view-room``       ``{roomId}`` as above, or ``null`` (no room)
``send-message``    ``{roomId, text}`` (member; :func:`~.rules.check_text`) and a
                    trailing ``{"_id": "<message id>"}``
``typing``          ``{roomId, typing: true|false}`` (member)
``delivered``       ``{roomId, upTo: <seq>}`` (member)
``sync``            ``{rooms: {roomId: lastSeq}}``
==================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..exceptions import EventRefusedError
from ..namespace import Socket
from .history import RoomBook
from .rules import ChatRuleError, check_room_id, check_text

__all__ = ["MAX_PAGE", "ChatGuard"]

MAX_PAGE = 200
"""The most messages one ``history`` request may ask for."""


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ChatGuard:
    """Validation and authorization of the chat app's events.

    Args:
        book: where room membership is looked up.
    """

    def __init__(self, book: RoomBook) -> None:
        self.book = book
        self._rules: dict[str, Callable[[Socket, dict[str, Any], list[Any]], None]] = {
            "create-room": self._room,
            "join-room": self._room,
            "leave-room": self._member,
            "history": self._history,
            "view-room": self._view,
            "send-message": self._message,
            "typing": self._typing,
            "delivered": self._delivered,
            "sync": self._sync,
        }

    def __repr__(self) -> str:
        return f"<ChatGuard events={sorted(self._rules)}>"

    def __call__(self, socket: Socket, event: str, args: list[Any]) -> None:
        """The middleware: pass (None) or raise EventRefusedError."""
        rule = self._rules.get(event)
        if rule is None:
            return  # "rooms" takes nothing; unknown events are the namespace's to answer
        data = args[0] if args else None
        if not isinstance(data, dict):
            shown = "nothing" if not args else type(data).__name__
            raise EventRefusedError(f"{event} expects an object, got {shown}", field="data")
        try:
            rule(socket, data, args)
        except ChatRuleError as exc:
            raise EventRefusedError(str(exc), field=exc.field) from None

    # -- the rules --------------------------------------------------------------------

    def _room(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        check_room_id(data.get("roomId"))

    def _member(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        room = check_room_id(data.get("roomId"))
        known = self.book.rooms.get(room)
        if known is None or socket.data.get("user") not in known.members:
            raise ChatRuleError("roomId", f"join room {room!r} before using it")

    def _history(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        self._member(socket, data, args)
        before, limit = data.get("before"), data.get("limit", 1)
        if before is not None and not _integer(before):
            raise ChatRuleError("before", "before must be a message seq (an integer)")
        if not _integer(limit) or not 1 <= limit <= MAX_PAGE:
            raise ChatRuleError("limit", f"limit must be an integer from 1 to {MAX_PAGE}")

    def _view(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        if data.get("roomId") is not None:
            self._member(socket, data, args)

    def _message(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        self._member(socket, data, args)
        check_text(data.get("text"))
        marker = args[1] if len(args) > 1 else None
        if (
            len(args) != 2
            or not isinstance(marker, dict)
            or not isinstance(marker.get("_id"), str)
        ):
            raise ChatRuleError("_id", 'send-message ends with {"_id": "<message id>"}')

    def _typing(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        self._member(socket, data, args)
        if not isinstance(data.get("typing"), bool):
            raise ChatRuleError("typing", "typing must be true or false")

    def _delivered(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        self._member(socket, data, args)
        if not _integer(data.get("upTo")):
            raise ChatRuleError("upTo", "upTo must be a message seq (an integer)")

    def _sync(self, socket: Socket, data: dict[str, Any], args: list[Any]) -> None:
        if not isinstance(data.get("rooms"), dict):
            raise ChatRuleError("rooms", "rooms must map room ids to the last seq seen")
