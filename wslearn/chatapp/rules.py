"""What the chat app accepts: display names, room names, message text.

Every check returns the cleaned value or raises :class:`ChatRuleError`, whose
``field`` names what was wrong and whose message says the rule, so the client can show
it next to the input. Pure: no I/O.

Rules:

- a **display name** is printable text of 1 to 32 characters after trimming (the rule
  of :mod:`wslearn.chat` too); the user id is its case-folded form, so "Alice" in two
  tabs (or "alice" later) is one person;
- a **room id** is 1 to 32 characters of letters, digits, ``-`` and ``_``, starting
  with a letter or digit. Nothing else can be a room, so a room can never be mistaken
  for a socket's private id room or another user's delivery room (the server keeps
  those under their own prefixes, see :func:`socketio_room`);
- a **message** is a string of 1 to :data:`MAX_TEXT_LENGTH` code points (an emoji is
  one or more code points, as Python and the JSON decoder count them) that is not
  only white space.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_ROOM_LENGTH",
    "MAX_TEXT_LENGTH",
    "ChatRuleError",
    "check_display_name",
    "check_room_id",
    "check_text",
    "socketio_room",
    "user_id_for",
    "user_room",
]

MAX_NAME_LENGTH = 32
"""The longest display name accepted, in characters."""

MAX_ROOM_LENGTH = 32
"""The longest room id accepted, in characters."""

MAX_TEXT_LENGTH = 1000
"""The longest message accepted, in code points."""

_ROOM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class ChatRuleError(ValueError):
    """A value the chat app does not accept.

    Attributes:
        field: the payload field that was wrong, e.g. ``"roomId"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> dict[str, Any]:
        """The refusal as the client receives it: ``{"message", "field"}``."""
        return {"message": str(self), "field": self.field}


def check_display_name(value: Any) -> str:
    """A display name, trimmed.

    Raises:
        ChatRuleError: not printable text of 1 to 32 characters (field ``name``).
    """
    if not isinstance(value, str):
        raise ChatRuleError("name", f"name must be a string, got {type(value).__name__}")
    name = value.strip()
    if not name:
        raise ChatRuleError("name", "name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ChatRuleError(
            "name", f"name is {len(name)} characters long; at most {MAX_NAME_LENGTH}"
        )
    if not name.isprintable():
        raise ChatRuleError("name", "name must be printable text (no control characters)")
    return name


def user_id_for(name: str) -> str:
    """The user id of a display name: its case-folded form."""
    return name.casefold()


def check_room_id(value: Any) -> str:
    """A room id.

    Raises:
        ChatRuleError: not a string of 1 to 32 letters, digits, ``-`` or ``_``
            starting with a letter or digit (field ``roomId``).
    """
    if not isinstance(value, str):
        raise ChatRuleError("roomId", f"roomId must be a string, got {type(value).__name__}")
    if not value:
        raise ChatRuleError("roomId", "roomId must not be empty")
    if len(value) > MAX_ROOM_LENGTH:
        raise ChatRuleError(
            "roomId", f"roomId is {len(value)} characters long; at most {MAX_ROOM_LENGTH}"
        )
    if not _ROOM_ID.fullmatch(value):
        raise ChatRuleError(
            "roomId",
            "roomId may hold only letters, digits, '-' and '_', and starts with a letter or digit",
        )
    return value


def check_text(value: Any) -> str:
    """A message's text, unchanged.

    Raises:
        ChatRuleError: not a string, blank, or over :data:`MAX_TEXT_LENGTH` code
            points (field ``text``).
    """
    if not isinstance(value, str):
        raise ChatRuleError("text", f"text must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ChatRuleError("text", "text must not be empty")
    if len(value) > MAX_TEXT_LENGTH:
        raise ChatRuleError(
            "text", f"text is {len(value)} code points long; at most {MAX_TEXT_LENGTH}"
        )
    return value


def socketio_room(room_id: str) -> str:
    """The Socket.IO room whose sockets receive a chat room's events."""
    return "room:" + room_id


def user_room(user_id: str) -> str:
    """The Socket.IO room holding every socket (every tab) of one user."""
    return "user:" + user_id
