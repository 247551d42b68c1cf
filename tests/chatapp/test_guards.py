"""Tests for wslearn.chatapp.guards: every /chat event's payload and room checked
before its handler; on the wire in test_app.py, here rule by rule."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from wslearn.chatapp.guards import MAX_PAGE, ChatGuard
from wslearn.chatapp.history import RoomBook
from wslearn.exceptions import EventRefusedError


@pytest.fixture
def guard() -> ChatGuard:
    book = RoomBook()
    book.create("lobby", by="ann")
    book.create("secret", by="zed")
    return ChatGuard(book)


ANN: Any = SimpleNamespace(data={"user": "ann"})


def refusal(guard: ChatGuard, event: str, *args: Any) -> dict[str, Any]:
    with pytest.raises(EventRefusedError) as refused:
        guard(ANN, event, list(args))
    return {"message": refused.value.message, **refused.value.details}


def test_good_events_pass(guard: ChatGuard) -> None:
    for event, args in [
        ("rooms", []),
        ("create-room", [{"roomId": "new"}]),
        ("join-room", [{"roomId": "secret"}]),
        ("send-message", [{"roomId": "lobby", "text": "hi"}, {"_id": "a-1"}]),
        ("typing", [{"roomId": "lobby", "typing": True}]),
        ("delivered", [{"roomId": "lobby", "upTo": 3}]),
        ("history", [{"roomId": "lobby", "before": 10, "limit": MAX_PAGE}]),
        ("view-room", [{"roomId": None}]),
        ("sync", [{"rooms": {"lobby": 0}}]),
        ("some-unknown-event", [5]),  # the namespace answers "unknown event" itself
    ]:
        assert guard(ANN, event, args) is None, event


def test_a_room_the_user_is_not_in_is_refused_for_every_room_event(guard: ChatGuard) -> None:
    for event, extra in [
        ("send-message", [{"_id": "a-1"}]),
        ("typing", []),
        ("delivered", []),
        ("history", []),
        ("leave-room", []),
        ("view-room", []),
    ]:
        payload = {"roomId": "secret", "text": "hi", "typing": True, "upTo": 1}
        assert refusal(guard, event, payload, *extra) == {
            "message": "join room 'secret' before using it",
            "field": "roomId",
        }, event


@pytest.mark.parametrize(
    ("event", "args", "field"),
    [
        ("join-room", [], "data"),
        ("join-room", ["lobby"], "data"),
        ("join-room", [{"roomId": "room:lobby"}], "roomId"),
        ("send-message", [{"roomId": "lobby", "text": ""}, {"_id": "a-1"}], "text"),
        ("send-message", [{"roomId": "lobby", "text": "hi"}], "_id"),
        ("send-message", [{"roomId": "lobby", "text": "hi"}, {"_id": 5}], "_id"),
        ("typing", [{"roomId": "lobby", "typing": "yes"}], "typing"),
        ("delivered", [{"roomId": "lobby", "upTo": True}], "upTo"),
        ("history", [{"roomId": "lobby", "limit": MAX_PAGE + 1}], "limit"),
        ("history", [{"roomId": "lobby", "before": "x"}], "before"),
        ("sync", [{"rooms": ["lobby"]}], "rooms"),
    ],
)
def test_bad_payloads_name_the_field(
    guard: ChatGuard, event: str, args: list[Any], field: str
) -> None:
    assert refusal(guard, event, *args)["field"] == field
