"""Tests for wslearn.chatapp.history: rooms, bounded history, unread counts, receipts."""

from __future__ import annotations

import pytest

from wslearn.chatapp.history import Delivery, RoomBook, RoomError, iso_time


def book_with(*members: str, limit: int = 500) -> RoomBook:
    book = RoomBook(history_limit=limit)
    book.create("lobby")
    for member in members:
        book.join(member, "lobby")
    return book


def post(book: RoomBook, user: str, text: str, n: int = 0) -> int:
    return book.post("lobby", user, user.title(), text, client_id=f"{user}-{n}", now=n).message.seq


def test_messages_get_increasing_seqs_ids_and_the_wire_shape() -> None:
    book = book_with("alice", "bob")
    posted = book.post("lobby", "alice", "Alice", "hi", client_id="c-1", now=1_700_000_000.5)
    assert posted.message.seq == 1 and posted.message.id == "lobby:1"
    assert posted.recipients == {"bob"}
    assert book.wire(posted.message) == {
        "id": "lobby:1",
        "roomId": "lobby",
        "seq": 1,
        "userId": "alice",
        "name": "Alice",
        "text": "hi",
        "timestamp": "2023-11-14T22:13:20.500Z",
        "clientId": "c-1",
        "status": "sent",
    }
    assert post(book, "bob", "yo") == 2


def test_iso_time_matches_javascripts_to_iso_string() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"


def test_history_is_bounded_and_load_earlier_pages_backwards() -> None:
    book = book_with("alice", limit=10)
    for n in range(1, 26):
        post(book, "alice", f"m{n}", n)
    room = book.room("lobby")
    assert len(room.history) == 10 and room.history[0].seq == 16
    newest = book.page("lobby", limit=4)
    assert [m.seq for m in newest.messages] == [22, 23, 24, 25] and newest.has_more
    earlier = book.page("lobby", before=22, limit=4)
    assert [m.seq for m in earlier.messages] == [18, 19, 20, 21] and earlier.has_more
    oldest = book.page("lobby", before=18, limit=4)
    assert [m.seq for m in oldest.messages] == [16, 17] and not oldest.has_more


def test_a_reconnected_client_gets_what_it_missed_and_hears_of_a_gap() -> None:
    book = book_with("alice", limit=10)
    for n in range(1, 26):
        post(book, "alice", f"m{n}", n)
    recent = book.page("lobby", after=20)
    assert [m.seq for m in recent.messages] == [21, 22, 23, 24, 25]
    assert not recent.truncated and not recent.has_more
    far = book.page("lobby", after=3)
    assert [m.seq for m in far.messages] == list(range(16, 26))
    assert far.truncated  # 4..15 are gone for good, and the client is told
    assert book.page("lobby", after=25).messages == ()


def test_delivered_once_every_recipient_acknowledged() -> None:
    book = book_with("alice", "bob", "carol")
    first, second = post(book, "alice", "one", 1), post(book, "alice", "two", 2)
    assert book.acknowledge("bob", "lobby", up_to=2) == []
    assert book.status("lobby", first) is Delivery.SENT
    done = book.acknowledge("carol", "lobby", up_to=1)
    assert [m.seq for m in done] == [first]
    assert book.status("lobby", first) is Delivery.DELIVERED
    assert book.status("lobby", second) is Delivery.SENT
    assert [m.seq for m in book.acknowledge("carol", "lobby", up_to=5)] == [second]
    assert book.acknowledge("carol", "lobby", up_to=5) == []  # a repeat changes nothing
    assert book.delivered_of("alice", "lobby") == [first, second]


def test_a_recipient_who_leaves_is_no_longer_waited_for() -> None:
    book = book_with("alice", "bob", "carol")
    seq = post(book, "alice", "one", 1)
    book.acknowledge("bob", "lobby", up_to=seq)
    assert [m.seq for m in book.leave("carol", "lobby")] == [seq]
    assert book.status("lobby", seq) is Delivery.DELIVERED


def test_a_message_with_nobody_to_receive_it_stays_sent() -> None:
    book = book_with("alice")
    seq = post(book, "alice", "anyone?", 1)
    assert book.status("lobby", seq) is Delivery.SENT
    book.join("bob", "lobby")  # joined later: not a recipient of the old message
    assert book.acknowledge("bob", "lobby", up_to=seq) == []
    assert book.status("lobby", seq) is Delivery.SENT


def test_unread_counts_members_not_looking_and_looking_resets_them() -> None:
    book = book_with("alice", "bob", "carol")
    book.view("carol-tab", "carol", "lobby")
    post(book, "alice", "one", 1)
    post(book, "alice", "two", 2)
    assert book.unread("bob", "lobby") == 2
    assert book.unread("carol", "lobby") == 0  # a tab of hers shows the lobby
    assert book.unread("alice", "lobby") == 0  # her own messages
    book.view("bob-tab", "bob", "lobby")
    assert book.unread("bob", "lobby") == 0
    book.forget_socket("bob-tab")
    post(book, "alice", "three", 3)
    assert book.unread("bob", "lobby") == 1
    assert book.summary("lobby", "bob") == {
        "id": "lobby",
        "members": 3,
        "joined": True,
        "unread": 1,
        "lastSeq": 3,
    }


def test_room_rules_refuse_with_a_message_naming_the_rule() -> None:
    book = RoomBook(max_rooms=2, max_rooms_per_user=2)
    book.create("a", by="alice")
    with pytest.raises(RoomError, match="already exists"):
        book.create("a", by="bob")
    book.create("b", by="alice")
    with pytest.raises(RoomError, match="already 2 rooms"):
        book.create("c", by="alice")
    with pytest.raises(RoomError, match="no room 'zzz'"):
        book.join("bob", "zzz")
    with pytest.raises(RoomError, match="join room 'a' before"):
        book.post("a", "bob", "Bob", "hi", client_id="x", now=0)
    with pytest.raises(RoomError, match="not in room"):
        book.leave("bob", "a")
    small = RoomBook(max_rooms_per_user=1)
    small.create("x", by="alice")
    small.create("y")
    with pytest.raises(RoomError, match="leave one first") as refused:
        small.join("alice", "y")
    assert refused.value.details() == {"message": str(refused.value), "field": "roomId"}


def test_membership_is_per_user_not_per_socket() -> None:
    book = book_with("alice")
    assert book.join("alice", "lobby") is False  # a second tab joining again
    assert book.rooms_of("alice") == ["lobby"]
    with pytest.raises(ValueError, match="history_limit"):
        RoomBook(history_limit=0)
