"""Tests for wslearn.chat: the guide's chat events on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from support import CLOCK, ServerFactory, SioFactory

from wslearn.chat import (
    MAX_MESSAGE_LENGTH,
    MAX_NAME_LENGTH,
    add_chat_handlers,
    check_name,
    iso_timestamp,
)
from wslearn.client import Client
from wslearn.exceptions import ConnectRefusedError
from wslearn.server import Server


def collect(client: Any, *events: str) -> asyncio.Queue[tuple[str, Any]]:
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    for event in events:
        client.on(event, lambda data, event=event: queue.put_nowait((event, data)))
    return queue


async def test_joining_a_room_tells_the_others_in_it(
    chat_server: Server, sio_client: SioFactory
) -> None:
    alice, bob = await sio_client(chat_server), await sio_client(chat_server)
    alice_events = collect(alice, "user-joined")
    await alice.emit("join-room", "room-123")
    await asyncio.sleep(0)  # let alice's join reach the server first
    await alice.call("broadcast", "sync", timeout=5)  # acked after alice's join ran
    await bob.call("join-room", "room-123", timeout=5)
    assert await asyncio.wait_for(alice_events.get(), 5) == ("user-joined", bob.get_sid())


async def test_a_message_reaches_the_whole_room_with_sender_and_timestamp(
    chat_server: Server, sio_client: SioFactory
) -> None:
    alice, bob, carol = [await sio_client(chat_server) for _ in range(3)]
    queues = [collect(c, "receive-message") for c in (alice, bob, carol)]
    await alice.call("join-room", "r1", timeout=5)
    await bob.call("join-room", "r1", timeout=5)
    await alice.call("send-message", {"roomId": "r1", "message": "hi"}, timeout=5)
    expected = {
        "userId": alice.get_sid(),
        "name": "guest-" + alice.get_sid()[:4],  # no name in the auth
        "message": "hi",
        "timestamp": CLOCK,  # the chat_server fixture's clock
    }
    assert await asyncio.wait_for(queues[0].get(), 5) == ("receive-message", expected)
    assert await asyncio.wait_for(queues[1].get(), 5) == ("receive-message", expected)
    await carol.call("broadcast", "flush", timeout=5)
    assert queues[2].empty()


async def test_broadcast_reaches_everyone(chat_server: Server, sio_client: SioFactory) -> None:
    clients = [await sio_client(chat_server) for _ in range(3)]
    queues = [collect(c, "broadcast-message") for c in clients]
    await clients[0].emit("broadcast", {"text": "all"})
    for queue in queues:
        assert await asyncio.wait_for(queue.get(), 5) == ("broadcast-message", {"text": "all"})


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"roomId": 5, "message": "x"}, "roomId"), ({"roomId": "r"}, "message"), (None, "data")],
)
async def test_a_malformed_message_gets_an_error_naming_the_field(
    chat_server: Server, sio_client: SioFactory, payload: Any, field: str
) -> None:
    client = await sio_client(chat_server)
    errors = collect(client, "error")
    await client.emit("send-message", payload)
    _, data = await asyncio.wait_for(errors.get(), 5)
    assert data["field"] == field


def test_timestamps_look_like_javascript_dates() -> None:
    stamp = iso_timestamp()
    assert stamp.endswith("Z") and len(stamp) == len("2024-01-01T00:00:00.000Z")


# -- names, presence, typing ---------------------------------------------------------


Named = Callable[[Server, Any], Awaitable[Client]]


@pytest.fixture
async def named() -> AsyncIterator[Named]:
    """wslearn Clients that connect with a display name; all disconnected at teardown."""
    clients: list[Client] = []

    async def make(server: Server, name: Any) -> Client:
        client = Client(server.url, auth={"name": name}, reconnection=None)
        clients.append(client)
        await client.connect()
        return client

    yield make
    for client in clients:
        await client.disconnect()


async def joined(client: Any, room: str) -> dict[str, Any]:
    """Join ``room`` and return the first presence that lists the client's own name."""
    queue = collect(client, "presence")
    await client.call("join-room", room, timeout=5)
    _, presence = await asyncio.wait_for(queue.get(), 5)
    client.off("presence")
    return dict(presence)


async def test_messages_carry_the_display_name_from_the_connect_auth(
    chat_server: Server, named: Named
) -> None:
    alice = await named(chat_server, "  Alice ")
    inbox = collect(alice, "receive-message")
    await alice.call("join-room", "r", timeout=5)
    await alice.emit("send-message", {"roomId": "r", "message": "hello"})
    _, message = await asyncio.wait_for(inbox.get(), 5)
    assert message["name"] == "Alice"


@pytest.mark.parametrize("name", ["", "   ", "x" * (MAX_NAME_LENGTH + 1), 42, "a\nb"])
async def test_a_bad_display_name_is_refused_at_connect(
    chat_server: Server, named: Named, name: Any
) -> None:
    with pytest.raises(ConnectRefusedError, match="bad display name"):
        await named(chat_server, name)


def test_check_name_says_what_is_wrong() -> None:
    assert check_name(" Bob ") == "Bob"
    with pytest.raises(ValueError, match="at most 32"):
        check_name("b" * 33)
    with pytest.raises(ValueError, match="must be a string"):
        check_name(None)


async def test_presence_lists_the_room_when_someone_joins(
    chat_server: Server, named: Named
) -> None:
    alice = await named(chat_server, "Alice")
    bob = await named(chat_server, "Bob")
    assert await joined(alice, "lobby") == {"roomId": "lobby", "users": ["Alice"]}
    alice_sees = collect(alice, "presence")
    assert await joined(bob, "lobby") == {"roomId": "lobby", "users": ["Alice", "Bob"]}
    _, presence = await asyncio.wait_for(alice_sees.get(), 5)
    assert presence == {"roomId": "lobby", "users": ["Alice", "Bob"]}


async def test_presence_follows_leaving_and_disconnecting(
    chat_server: Server, named: Named
) -> None:
    alice, bob, carol = [await named(chat_server, n) for n in ("Alice", "Bob", "Carol")]
    for client in (alice, bob, carol):
        await joined(client, "lobby")
    alice_sees = collect(alice, "presence")
    await bob.call("leave-room", "lobby", timeout=5)
    _, presence = await asyncio.wait_for(alice_sees.get(), 5)
    assert presence["users"] == ["Alice", "Carol"]
    await carol.disconnect()
    _, presence = await asyncio.wait_for(alice_sees.get(), 5)
    assert presence == {"roomId": "lobby", "users": ["Alice"]}


async def test_leaving_a_room_not_joined_is_an_error(chat_server: Server, named: Named) -> None:
    alice = await named(chat_server, "Alice")
    errors = collect(alice, "error")
    await alice.emit("leave-room", "nowhere")
    _, data = await asyncio.wait_for(errors.get(), 5)
    assert data["field"] == "roomId"


async def test_typing_reaches_the_others_in_the_room_but_not_the_typist(
    chat_server: Server, named: Named
) -> None:
    alice = await named(chat_server, "Alice")
    bob = await named(chat_server, "Bob")
    await joined(alice, "r")
    await joined(bob, "r")
    alice_sees, bob_sees = collect(alice, "user-typing"), collect(bob, "user-typing")
    await alice.call("typing", {"roomId": "r", "typing": True}, timeout=5)
    _, notice = await asyncio.wait_for(bob_sees.get(), 5)
    assert notice == {"roomId": "r", "name": "Alice", "typing": True}
    await alice.call("typing", {"roomId": "r", "typing": False}, timeout=5)
    _, notice = await asyncio.wait_for(bob_sees.get(), 5)
    assert notice["typing"] is False
    await bob.call("broadcast", "flush", timeout=5)
    await alice.call("broadcast", "flush", timeout=5)  # alice has read everything sent
    assert alice_sees.empty()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"roomId": "r", "typing": "yes"}, "typing"),
        (None, "data"),
        ({"roomId": "elsewhere", "typing": True}, "roomId"),
    ],
)
async def test_a_malformed_typing_notice_gets_an_error(
    chat_server: Server, named: Named, payload: Any, field: str
) -> None:
    alice = await named(chat_server, "Alice")
    await joined(alice, "r")
    errors = collect(alice, "error")
    await alice.emit("typing", payload)
    _, data = await asyncio.wait_for(errors.get(), 5)
    assert data["field"] == field


# -- the room rules (wslearn.room_rules): the two holes a new user could walk through --


async def test_a_socket_cannot_post_into_a_room_it_never_joined(
    chat_server: Server, sio_client: SioFactory
) -> None:
    member, outsider = await sio_client(chat_server), await sio_client(chat_server)
    inbox = collect(member, "receive-message")
    errors = collect(outsider, "error")
    await member.call("join-room", "R", timeout=5)
    await outsider.emit("send-message", {"roomId": "R", "message": "spam"})
    _, error = await asyncio.wait_for(errors.get(), 5)
    assert error == {
        "message": "join roomId before sending to it",
        "event": "send-message",
        "field": "roomId",
        "rule": "not member",
    }
    await member.call("send-message", {"roomId": "R", "message": "mine"}, timeout=5)
    _, message = await asyncio.wait_for(inbox.get(), 5)
    assert message["message"] == "mine"  # the first and only message the room saw


async def test_a_socket_cannot_join_another_sockets_private_room_to_overhear_it(
    chat_server: Server, sio_client: SioFactory
) -> None:
    victim, eavesdropper = await sio_client(chat_server), await sio_client(chat_server)
    overheard = collect(eavesdropper, "secret")
    reply = await eavesdropper.call("join-room", victim.get_sid(), timeout=5)
    assert reply == {
        "error": {
            "message": "roomId is another socket's private room",
            "field": "roomId",
            "rule": "private",
        }
    }
    assert victim.get_sid() not in chat_server.registry.rooms_of("/", eavesdropper.get_sid())
    delivered = collect(victim, "secret")
    await chat_server.to(victim.get_sid()).emit("secret", "for the victim only")
    assert await asyncio.wait_for(delivered.get(), 5) == ("secret", "for the victim only")
    await eavesdropper.call("broadcast", "flush", timeout=5)
    assert overheard.empty()


@pytest.mark.parametrize(
    ("room", "rule"),
    [("", "empty"), ("x" * 10_240, "too long"), ("a\x07b", "characters"), (7, "type")],
)
async def test_join_room_refuses_names_that_break_the_rules(
    chat_server: Server, sio_client: SioFactory, room: Any, rule: str
) -> None:
    client = await sio_client(chat_server)
    reply = await client.call("join-room", room, timeout=5)
    assert reply["error"]["rule"] == rule
    assert chat_server.registry.rooms_of("/", client.get_sid()) == {client.get_sid()}


async def test_the_room_cap_is_the_servers(
    make_server: ServerFactory, sio_client: SioFactory
) -> None:
    server = await make_server(max_rooms_per_socket=2)
    add_chat_handlers(server, clock=lambda: CLOCK)
    client = await sio_client(server)
    assert await client.call("join-room", "a", timeout=5) is None
    assert await client.call("join-room", "b", timeout=5) is None
    reply = await client.call("join-room", "c", timeout=5)
    assert reply["error"]["rule"] == "room cap"
    await client.call("leave-room", "a", timeout=5)
    assert await client.call("join-room", "c", timeout=5) is None


async def test_typing_into_a_room_not_joined_is_refused(chat_server: Server, named: Named) -> None:
    alice = await named(chat_server, "Alice")
    [reply] = await alice.call("typing", {"roomId": "r", "typing": True}, timeout=5)
    assert reply["error"]["rule"] == "not member"


async def test_a_message_of_exactly_the_limit_passes_and_one_more_code_point_does_not(
    chat_server: Server, sio_client: SioFactory
) -> None:
    client = await sio_client(chat_server)
    inbox = collect(client, "receive-message")
    await client.call("join-room", "r", timeout=5)
    at_limit = "😀" * MAX_MESSAGE_LENGTH
    assert (
        await client.call("send-message", {"roomId": "r", "message": at_limit}, timeout=5) is None
    )
    _, message = await asyncio.wait_for(inbox.get(), 5)
    assert message["message"] == at_limit
    over = at_limit + "!"
    reply = await client.call("send-message", {"roomId": "r", "message": over}, timeout=5)
    assert reply["error"]["field"] == "message" and reply["error"]["rule"] == "string_too_long"
