"""wslearn.room_rules: room names, private id rooms, the room cap and posting only
where you are, as pure functions and as a policy on a real server's sockets."""

from __future__ import annotations

from typing import Any

import pytest
from support import RawFactory, ServerFactory, eventually

from wslearn.exceptions import EventRefusedError, UsageError
from wslearn.room_rules import RoomPolicy, RoomRule, check_join, check_post, check_room_name
from wslearn.server import Server

OWN = "own-socket-id"


def refused(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(EventRefusedError) as caught:
        call(*args, **kwargs)
    return {"message": caught.value.message, **caught.value.details}


def join(name: object, **options: Any) -> str:
    settings: dict[str, Any] = {
        "joined": {OWN},
        "is_socket_id": False,
        "max_length": 16,
        "max_rooms": 2,
        "own_id": OWN,
    }
    settings.update(options)
    return check_join(name, **settings)


@pytest.mark.parametrize("name", ["lobby", "room-123", "Salle à manger", "café ☕", "x" * 16])
def test_ordinary_names_pass(name: str) -> None:
    assert check_room_name(name, max_length=16) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        (5, RoomRule.TYPE),
        (None, RoomRule.TYPE),
        (["lobby"], RoomRule.TYPE),
        ("", RoomRule.EMPTY),
        ("x" * 17, RoomRule.TOO_LONG),
        ("x" * 10_240, RoomRule.TOO_LONG),
        ("lob\x00by", RoomRule.CHARACTERS),
        ("lobby\n", RoomRule.CHARACTERS),
        ("\x1b[31mred", RoomRule.CHARACTERS),
        ("a\u200bb", RoomRule.CHARACTERS),  # zero-width space: looks like "ab"
        ("a\u202eb", RoomRule.CHARACTERS),  # right-to-left override
        (" lobby", RoomRule.SPACES),
        ("lobby ", RoomRule.SPACES),
    ],
)
def test_names_that_break_a_rule_are_refused_naming_the_field_and_rule(
    name: object, rule: RoomRule
) -> None:
    error = refused(check_room_name, name, max_length=16)
    assert (error["field"], error["rule"]) == ("roomId", rule)


def test_the_length_counts_code_points_and_says_the_limit() -> None:
    assert check_room_name("☕" * 16, max_length=16) == "☕" * 16
    assert refused(check_room_name, "☕" * 17, max_length=16)["message"] == (
        "roomId is 17 characters long; at most 16"
    )


def test_another_sockets_id_room_is_private_but_ones_own_is_not() -> None:
    error = refused(join, "victim-id", is_socket_id=True)
    assert error == {
        "message": "roomId is another socket's private room",
        "field": "roomId",
        "rule": "private",
    }
    assert join(OWN, is_socket_id=True) == OWN


def test_the_room_cap_counts_rooms_besides_the_sockets_own() -> None:
    assert join("b", joined={OWN, "a"}) == "b"
    error = refused(join, "c", joined={OWN, "a", "b"})
    assert error["rule"] == RoomRule.ROOM_CAP
    assert error["message"] == "already in 2 rooms, the most allowed: leave one first"
    assert join("a", joined={OWN, "a", "b"}) == "a"  # joining again is no new room


def test_a_join_checks_the_name_first() -> None:
    assert refused(join, "", is_socket_id=True)["rule"] == RoomRule.EMPTY


def test_posting_needs_membership() -> None:
    assert check_post("lobby", joined={OWN, "lobby"}) == "lobby"
    assert refused(check_post, "other", joined={OWN, "lobby"}) == {
        "message": "join roomId before sending to it",
        "field": "roomId",
        "rule": "not member",
    }
    assert refused(check_post, 5, joined={OWN}, field="room")["field"] == "room"


async def test_the_policy_reads_the_servers_numbers_and_live_socket_ids(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(max_room_name_length=24, max_rooms_per_socket=1)
    rules = RoomPolicy(server)
    alice, bob = await raw_client(server), await raw_client(server)
    await alice.connect()
    await bob.connect()
    socket = server.of("/").sockets[alice.sid]
    assert refused(rules.check_join, socket, "x" * 25)["rule"] == RoomRule.TOO_LONG
    assert refused(rules.check_join, socket, bob.sid)["rule"] == RoomRule.PRIVATE
    socket.join(rules.check_join(socket, "r1"))
    assert refused(rules.check_join, socket, "r2")["rule"] == RoomRule.ROOM_CAP
    server.max_rooms_per_socket = 2  # read at every check
    assert rules.check_join(socket, "r2") == "r2"
    assert rules.check_post(socket, "r1") == "r1"
    assert refused(rules.check_post, socket, "r2")["rule"] == RoomRule.NOT_MEMBER


async def test_a_socket_kept_for_recovery_keeps_its_id_room_private(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(recovery_window=60)
    rules = RoomPolicy(server)
    away, attacker = await raw_client(server), await raw_client(server)
    await away.connect()
    await attacker.connect()
    away_sid = away.sid
    away.ws.transport.abort()  # a transport failure: the session is kept
    socket = server.of("/").sockets[attacker.sid]
    await eventually(lambda: away_sid not in server.of("/").sockets)
    assert server.recovery is not None and server.recovery.holds_socket("/", away_sid)
    assert refused(rules.check_join, socket, away_sid)["rule"] == RoomRule.PRIVATE


def test_the_servers_room_numbers_must_be_positive() -> None:
    with pytest.raises(UsageError, match="max_rooms_per_socket must be positive"):
        Server(max_rooms_per_socket=0)
    with pytest.raises(UsageError, match="max_room_name_length must be positive"):
        Server(max_room_name_length=0)
    assert (Server().max_room_name_length, Server().max_rooms_per_socket) == (256, 100)
