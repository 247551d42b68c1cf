"""Tests for wslearn.chatapp.presence: online users across tabs and reconnects, typing."""

from __future__ import annotations

import pytest

from wslearn.chatapp.presence import Changes, Presence


def test_a_user_with_two_tabs_is_online_once_until_the_last_tab_is_gone() -> None:
    presence = Presence(grace=0)
    assert presence.connect("tab-1", "alice", "Alice", now=0) is True
    assert presence.connect("tab-2", "alice", "Alice", now=1) is False
    assert presence.online(["alice", "bob"]) == [{"userId": "alice", "name": "Alice"}]
    assert presence.disconnect("tab-1", now=2) is False
    assert presence.is_online("alice")
    assert presence.disconnect("tab-2", now=3) is True
    assert presence.online(["alice"]) == []
    assert presence.disconnect("tab-2", now=3) is False  # unknown socket: nothing


def test_a_reconnection_within_the_grace_is_invisible() -> None:
    presence = Presence(grace=2)
    presence.connect("old", "alice", "Alice", now=0)
    assert presence.disconnect("old", now=10) is False
    assert presence.is_online("alice")  # still shown during the grace
    assert presence.expire(now=11) == Changes()
    assert presence.connect("new", "alice", "Alice", now=11.5) is False  # no "came online"
    assert presence.expire(now=20) == Changes()
    assert presence.is_online("alice")


def test_without_a_reconnection_the_user_goes_offline_when_the_grace_ends() -> None:
    presence = Presence(grace=2)
    presence.connect("s", "bob", "Bob", now=0)
    presence.disconnect("s", now=5)
    assert presence.next_deadline() == 7
    assert not presence.expire(now=6.9)
    assert presence.expire(now=7).offline == {"bob"}
    assert not presence.is_online("bob") and presence.next_deadline() is None
    assert presence.connect("s2", "bob", "Bob", now=8) is True  # back: a change again


def test_online_lists_each_user_once_sorted_by_name() -> None:
    presence = Presence(grace=0)
    for sid, user, name in [("1", "zoe", "zoe"), ("2", "bob", "Bob"), ("3", "bob", "Bob")]:
        presence.connect(sid, user, name, now=0)
    presence.connect("4", "ann", "Ann", now=0)
    names = [u["name"] for u in presence.online(["zoe", "bob", "ann", "ghost"])]
    assert names == ["Ann", "Bob", "zoe"]
    assert presence.sockets_of("bob") == {"2", "3"}
    assert presence.user_of("3") == "bob"


def test_typing_expires_after_its_ttl_unless_renewed() -> None:
    presence = Presence(typing_ttl=5)
    presence.connect("s", "alice", "Alice", now=0)
    assert presence.set_typing("s", "lobby", True, now=0) is True
    assert presence.set_typing("s", "lobby", True, now=3) is False  # renewed, no change
    assert not presence.expire(now=7.9)
    assert presence.typists("lobby") == [{"userId": "alice", "name": "Alice"}]
    assert presence.expire(now=8).typing_rooms == {"lobby"}
    assert presence.typists("lobby") == []


def test_typing_clears_on_stop_on_send_and_when_its_socket_disconnects() -> None:
    presence = Presence()
    presence.connect("a", "alice", "Alice", now=0)
    presence.connect("b", "bob", "Bob", now=0)
    presence.set_typing("a", "lobby", True, now=0)
    assert presence.set_typing("a", "lobby", False, now=1) is True
    assert presence.set_typing("a", "lobby", False, now=1) is False
    presence.set_typing("a", "lobby", True, now=2)
    assert presence.stop_typing("alice", "lobby") is True  # she sent a message
    presence.set_typing("a", "lobby", True, now=3)
    presence.set_typing("a", "python", True, now=3)
    presence.set_typing("b", "lobby", True, now=3)
    assert presence.drop_typing_of_socket("a") == {"lobby", "python"}
    assert [u["name"] for u in presence.typists("lobby")] == ["Bob"]
    assert presence.set_typing("unknown", "lobby", True, now=3) is False


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="grace"):
        Presence(grace=-1)
    with pytest.raises(ValueError, match="typing_ttl"):
        Presence(typing_ttl=0)
