"""Tests for wslearn.rooms: the pure room registry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wslearn.exceptions import UsageError
from wslearn.rooms import ALL, RoomRegistry


def test_a_new_socket_is_in_its_own_room() -> None:
    registry = RoomRegistry()
    registry.add("/", "a")
    assert registry.rooms_of("/", "a") == {"a"}
    assert registry.members("/", "a") == {"a"}


def test_join_and_leave_update_both_directions() -> None:
    registry = RoomRegistry()
    registry.add("/", "a")
    registry.join("/", "a", "r1")
    assert registry.members("/", "r1") == {"a"}
    assert registry.rooms_of("/", "a") == {"a", "r1"}
    registry.leave("/", "a", "r1")
    assert registry.members("/", "r1") == frozenset()
    assert registry.rooms_of("/", "a") == {"a"}


def test_namespaces_keep_separate_rooms() -> None:
    registry = RoomRegistry()
    registry.add("/", "a")
    registry.add("/chat", "b")
    registry.join("/", "a", "r")
    registry.join("/chat", "b", "r")
    assert registry.members("/", "r") == {"a"}
    assert registry.members("/chat", "r") == {"b"}


def test_remove_returns_the_rooms_and_drops_empty_rooms_and_namespaces() -> None:
    registry = RoomRegistry()
    registry.add("/chat", "a")
    registry.join("/chat", "a", "r1")
    assert registry.remove("/chat", "a") == {"a", "r1"}
    assert registry.rooms("/chat") == frozenset()
    assert registry.namespaces() == frozenset()
    assert registry._members == {} and registry._rooms == {}


def test_removing_an_unknown_socket_returns_nothing() -> None:
    assert RoomRegistry().remove("/", "ghost") == frozenset()


def test_joining_with_an_unregistered_socket_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not registered"):
        RoomRegistry().join("/", "ghost", "r1")


def test_adding_a_socket_twice_is_a_usage_error() -> None:
    registry = RoomRegistry()
    registry.add("/", "a")
    with pytest.raises(UsageError, match="already registered"):
        registry.add("/", "a")


def test_leaving_a_room_never_joined_does_nothing() -> None:
    registry = RoomRegistry()
    registry.add("/", "a")
    registry.leave("/", "a", "elsewhere")
    registry.leave("/", "ghost", "a")
    assert registry.rooms_of("/", "a") == {"a"}


def test_a_socket_that_leaves_its_own_room_stays_registered() -> None:
    registry = RoomRegistry()
    registry.add("/", "a")
    registry.leave("/", "a", "a")
    assert registry.sockets("/") == {"a"}
    assert registry.targets("/", ALL) == {"a"}
    assert registry.targets("/", {"a"}) == set()


def test_targets_of_all_is_every_socket_of_the_namespace() -> None:
    registry = RoomRegistry()
    for sid in "abc":
        registry.add("/", sid)
    registry.add("/other", "z")
    assert registry.targets("/", ALL) == {"a", "b", "c"}


def test_targets_counts_a_socket_in_several_rooms_once_and_applies_exclusions() -> None:
    registry = RoomRegistry()
    for sid in "abcd":
        registry.add("/", sid)
    registry.join("/", "a", "r1")
    registry.join("/", "a", "r2")
    registry.join("/", "b", "r1")
    registry.join("/", "c", "r2")
    registry.join("/", "c", "muted")
    assert registry.targets("/", {"r1", "r2"}) == {"a", "b", "c"}
    assert registry.targets("/", {"r1", "r2"}, exclude_rooms={"muted"}) == {"a", "b"}
    assert registry.targets("/", {"r1", "r2"}, exclude_sids={"a"}) == {"b", "c"}
    assert registry.targets("/", ALL, exclude_rooms={"r1"}) == {"c", "d"}
    assert registry.targets("/", {"nope"}) == set()


sids = st.sampled_from(["s1", "s2", "s3", "s4"])
room_names = st.sampled_from(["r1", "r2", "r3", "s1"])
namespaces = st.sampled_from(["/", "/chat"])


class RegistryAgainstModel(RuleBasedStateMachine):
    """Random operations keep the registry equal to a plain set of (ns, sid, room)."""

    def __init__(self) -> None:
        super().__init__()
        self.registry = RoomRegistry()
        self.registered: set[tuple[str, str]] = set()
        self.model: set[tuple[str, str, str]] = set()

    @rule(ns=namespaces, sid=sids)
    def add(self, ns: str, sid: str) -> None:
        if (ns, sid) in self.registered:
            return
        self.registry.add(ns, sid)
        self.registered.add((ns, sid))
        self.model.add((ns, sid, sid))

    @rule(ns=namespaces, sid=sids, room=room_names)
    def join(self, ns: str, sid: str, room: str) -> None:
        if (ns, sid) not in self.registered:
            return
        self.registry.join(ns, sid, room)
        self.model.add((ns, sid, room))

    @rule(ns=namespaces, sid=sids, room=room_names)
    def leave(self, ns: str, sid: str, room: str) -> None:
        self.registry.leave(ns, sid, room)
        self.model.discard((ns, sid, room))

    @rule(ns=namespaces, sid=sids)
    def remove(self, ns: str, sid: str) -> None:
        expected = {r for (n, s, r) in self.model if (n, s) == (ns, sid)}
        assert self.registry.remove(ns, sid) == expected
        self.registered.discard((ns, sid))
        self.model = {(n, s, r) for (n, s, r) in self.model if (n, s) != (ns, sid)}

    @invariant()
    def membership_agrees_in_both_directions(self) -> None:
        for ns in ("/", "/chat"):
            for sid in ("s1", "s2", "s3", "s4"):
                expected = {r for (n, s, r) in self.model if (n, s) == (ns, sid)}
                assert self.registry.rooms_of(ns, sid) == expected
                for room in self.registry.rooms_of(ns, sid):
                    assert sid in self.registry.members(ns, room)
            for room in ("r1", "r2", "r3", "s1", "s2", "s3", "s4"):
                expected = {s for (n, s, r) in self.model if (n, r) == (ns, room)}
                assert self.registry.members(ns, room) == expected
                for sid in self.registry.members(ns, room):
                    assert room in self.registry.rooms_of(ns, sid)

    @invariant()
    def no_empty_room_or_namespace_is_kept(self) -> None:
        for rooms in self.registry._members.values():
            assert all(rooms.values())
        assert self.registry.namespaces() == {ns for (ns, _) in self.registered}


TestRegistryAgainstModel = RegistryAgainstModel.TestCase


@given(
    memberships=st.sets(st.tuples(sids, room_names)),
    rooms=st.sets(room_names),
    exclude_rooms=st.sets(room_names),
    exclude_sids=st.sets(sids),
)
def test_targets_match_the_set_definition(
    memberships: set[tuple[str, str]],
    rooms: set[str],
    exclude_rooms: set[str],
    exclude_sids: set[str],
) -> None:
    registry = RoomRegistry()
    everyone = {"s1", "s2", "s3", "s4"}
    for sid in everyone:
        registry.add("/", sid)
    for sid, room in memberships:
        registry.join("/", sid, room)
    pairs = memberships | {(s, s) for s in everyone}

    def in_any(sid: str, wanted: set[str]) -> bool:
        return any((sid, room) in pairs for room in wanted)

    expected = {
        s for s in everyone if in_any(s, rooms) and not in_any(s, exclude_rooms)
    } - exclude_sids
    assert registry.targets("/", rooms, exclude_rooms, exclude_sids) == expected
    expected_all = {s for s in everyone if not in_any(s, exclude_rooms)} - exclude_sids
    assert registry.targets("/", ALL, exclude_rooms, exclude_sids) == expected_all
