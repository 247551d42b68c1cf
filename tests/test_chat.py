"""Tests for wslearn.chat: the guide's chat events on a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import SioFactory

from wslearn.chat import add_chat_handlers, iso_timestamp
from wslearn.server import Server


@pytest.fixture
async def chat_server(server: Server) -> Server:
    add_chat_handlers(server, clock=lambda: "2024-01-01T00:00:00.000Z")
    return server


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
        "message": "hi",
        "timestamp": "2024-01-01T00:00:00.000Z",
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
