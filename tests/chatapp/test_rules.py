"""Tests for wslearn.chatapp.rules: names, room ids and message text."""

from __future__ import annotations

from typing import Any

import pytest

from wslearn.chatapp.rules import (
    MAX_TEXT_LENGTH,
    ChatRuleError,
    check_display_name,
    check_room_id,
    check_text,
    socketio_room,
    user_id_for,
    user_room,
)


def test_names_are_trimmed_and_the_user_id_is_case_folded() -> None:
    assert check_display_name("  Alice ") == "Alice"
    assert user_id_for("Alice") == user_id_for("ALICE") == "alice"


@pytest.mark.parametrize("name", ["", "   ", "x" * 33, "bad\x00name", 5, None])
def test_bad_names_name_the_field(name: Any) -> None:
    with pytest.raises(ChatRuleError) as refused:
        check_display_name(name)
    assert refused.value.field == "name"


@pytest.mark.parametrize("room", ["lobby", "a", "python-3_12", "X" * 32])
def test_good_room_ids(room: str) -> None:
    assert check_room_id(room) == room


@pytest.mark.parametrize(
    ("room", "why"),
    [
        (5, "must be a string"),
        ("", "must not be empty"),
        ("x" * 33, "at most 32"),
        ("-lead", "letters, digits"),
        ("with space", "letters, digits"),
        ("room:lobby", "letters, digits"),
        ("user:alice", "letters, digits"),
        ("ünï", "letters, digits"),
        ("line\nbreak", "letters, digits"),
    ],
)
def test_bad_room_ids_say_the_rule(room: Any, why: str) -> None:
    with pytest.raises(ChatRuleError, match=why) as refused:
        check_room_id(room)
    assert refused.value.details()["field"] == "roomId"


def test_text_counts_code_points_so_the_limit_is_exact_with_emoji() -> None:
    assert check_text("🙂" * MAX_TEXT_LENGTH) == "🙂" * MAX_TEXT_LENGTH
    with pytest.raises(ChatRuleError, match="1001 code points"):
        check_text("🙂" * (MAX_TEXT_LENGTH + 1))
    for bad in ("", "  \n", None, {"text": "hi"}):
        with pytest.raises(ChatRuleError) as refused:
            check_text(bad)
        assert refused.value.field == "text"


def test_app_rooms_live_under_prefixes_no_room_id_can_take() -> None:
    assert socketio_room("lobby") == "room:lobby"
    assert user_room("alice") == "user:alice"
    with pytest.raises(ChatRuleError):
        check_room_id(socketio_room("lobby"))
