"""Tests for wslearn.reliable: queued while offline, resent until acked, once, in order.

Every test runs a real wslearn Server with ExactlyOnce on its handler and a real
Client; faults come from stopping the server or from a LinkProxy between them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import WIRE_TIMEOUT, eventually

from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.exactly_once import ExactlyOnce
from wslearn.exceptions import (
    AckTimeoutError,
    MessageDroppedError,
    QueueFullError,
    UsageError,
)
from wslearn.namespace import Socket
from wslearn.outbox import ChangeKind, Entry, Outbox, OutboxChange
from wslearn.proxy import LinkProxy
from wslearn.reliable import ReliableEmitter, id_marker
from wslearn.server import Server

FAST = Backoff(initial=0.05, maximum=0.2, jitter=0)


class Ledger:
    """A server app whose state is the list of applied messages, in order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.applied: list[Any] = []
        self.once = ExactlyOnce()

        @server.on("note")
        @self.once
        def note(socket: Socket, value: Any) -> None:
            self.applied.append(value)


@pytest.fixture
async def ledger() -> AsyncIterator[Ledger]:
    server = Server(ping_interval=5, ping_timeout=5, close_timeout=0.5)
    await server.start()
    yield Ledger(server)
    await server.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        await client.disconnect()


async def connected_client(url: str, clients: list[Client], **options: Any) -> Client:
    options.setdefault("reconnection", FAST)
    client = Client(url, **options)
    clients.append(client)
    await client.connect()
    return client


async def test_messages_are_applied_in_order_and_leave_the_outbox_when_acked(
    ledger: Ledger, clients: list[Client]
) -> None:
    client = await connected_client(ledger.server.url, clients)
    frames: list[str] = []
    client.add_frame_listener(lambda d, f, at: frames.append(f) if d == "sent" else None)
    async with ReliableEmitter(client, Outbox(id_prefix="c1")) as reliable:
        for n in range(20):
            reliable.send("note", n)
        await reliable.drain(WIRE_TIMEOUT)
        assert ledger.applied == list(range(20))
        assert len(reliable) == 0
        stats = reliable.stats()
        assert (stats.sent, stats.acked, stats.resent, stats.duplicates) == (20, 20, 0, 0)
    # The wire convention: an event asking for an ack, the id as the last argument.
    first = next(f for f in frames if f.startswith("42"))
    ack_id, payload = first[2 : first.index("[")], json.loads(first[first.index("[") :])
    assert ack_id.isdigit()
    assert payload == ["note", 0, {"_id": "c1-1"}]


async def test_emit_waits_for_the_servers_ack(ledger: Ledger, clients: list[Client]) -> None:
    client = await connected_client(ledger.server.url, clients)
    async with ReliableEmitter(client) as reliable:
        entry = await reliable.emit("note", "hello", timeout=WIRE_TIMEOUT)
        assert ledger.applied == ["hello"]
        assert entry.id not in reliable.outbox
        await reliable.wait_acked(entry)  # already acked: returns at once


async def test_messages_queued_while_offline_are_flushed_in_order_after_a_restart(
    ledger: Ledger, clients: list[Client]
) -> None:
    """The adversarial row: 50 queued messages, server restart, all exactly once."""
    server = ledger.server
    port = server.port
    client = await connected_client(server.url, clients)
    async with ReliableEmitter(client) as reliable:
        reliable.send("note", "before")
        await reliable.drain(WIRE_TIMEOUT)
        await server.stop()
        await eventually(lambda: client.state is ClientState.RECONNECTING)
        for n in range(50):
            reliable.send("note", n)
        assert len(reliable) == 50
        await asyncio.sleep(0.1)  # some reconnection attempts fail meanwhile
        assert ledger.applied == ["before"]
        await server.start(port=port)
        await reliable.drain(WIRE_TIMEOUT)
    assert ledger.applied == ["before", *range(50)]
    assert ledger.once.duplicates == 0


async def test_a_lost_ack_makes_the_client_resend_and_the_server_recognises_the_id(
    ledger: Ledger, clients: list[Client]
) -> None:
    """The adversarial row: the server applied the message, the ack never arrived."""
    server = ledger.server
    async with LinkProxy("127.0.0.1", server.port) as link:
        cut_once: list[str] = []

        @server.on("cut-after-apply")
        @ledger.once
        async def cut_after_apply(socket: Socket, value: Any, *, msg_id: str) -> None:
            ledger.applied.append(value)
            if not cut_once:
                cut_once.append(msg_id)
                await link.cut()  # the ack is queued after this: it dies with the link

        client = await connected_client(f"http://127.0.0.1:{link.port}", clients)
        async with ReliableEmitter(client) as reliable:
            entry = reliable.send("cut-after-apply", "once")
            await reliable.drain(WIRE_TIMEOUT)
            await reliable.emit("note", "next", timeout=WIRE_TIMEOUT)
            stats = reliable.stats()
    assert ledger.applied == ["once", "next"]
    assert cut_once == [entry.id]
    assert ledger.once.duplicates == 1
    assert stats.duplicates == 1
    assert stats.resent >= 1


async def test_a_full_outbox_that_refuses_tells_the_caller(
    ledger: Ledger, clients: list[Client]
) -> None:
    client = await connected_client(ledger.server.url, clients)
    await ledger.server.stop()
    await eventually(lambda: client.state is ClientState.RECONNECTING)
    async with ReliableEmitter(client, Outbox(capacity=3)) as reliable:
        for n in range(3):
            reliable.send("note", n)
        with pytest.raises(QueueFullError, match="full"):
            reliable.send("note", 3)
        assert [e.args for e in reliable.outbox.pending()] == [(0,), (1,), (2,)]


async def test_drop_oldest_tells_on_drop_and_fails_the_waiting_emit(
    ledger: Ledger, clients: list[Client]
) -> None:
    server = ledger.server
    port = server.port
    client = await connected_client(server.url, clients)
    await server.stop()
    await eventually(lambda: client.state is ClientState.RECONNECTING)
    dropped: list[Entry] = []
    outbox = Outbox(capacity=2, overflow="drop-oldest", on_drop=dropped.append)
    async with ReliableEmitter(client, outbox) as reliable:
        waiting = asyncio.create_task(reliable.emit("note", 0))
        await asyncio.sleep(0)
        reliable.send("note", 1)
        reliable.send("note", 2)  # pushes 0 out
        with pytest.raises(MessageDroppedError, match="dropped"):
            await waiting
        assert [e.args for e in dropped] == [(0,)]
        assert reliable.stats().dropped == 1
        await server.start(port=port)
        await reliable.drain(WIRE_TIMEOUT)
    assert ledger.applied == [1, 2]


async def test_the_queue_length_is_observable_for_a_status_line(
    ledger: Ledger, clients: list[Client]
) -> None:
    client = await connected_client(ledger.server.url, clients)
    await ledger.server.stop()
    await eventually(lambda: client.state is ClientState.RECONNECTING)
    seen: list[tuple[ChangeKind, int]] = []
    outbox = Outbox()
    outbox.on_change(lambda c: seen.append((c.kind, c.pending)))
    async with ReliableEmitter(client, outbox) as reliable:
        for n in range(3):
            reliable.send("note", n)
        assert len(reliable) == 3
        assert seen == [(ChangeKind.QUEUED, 1), (ChangeKind.QUEUED, 2), (ChangeKind.QUEUED, 3)]


async def test_emit_times_out_but_the_message_stays_queued(
    ledger: Ledger, clients: list[Client]
) -> None:
    client = await connected_client(ledger.server.url, clients)
    port = ledger.server.port
    await ledger.server.stop()
    await eventually(lambda: client.state is ClientState.RECONNECTING)
    async with ReliableEmitter(client) as reliable:
        with pytest.raises(AckTimeoutError):
            await reliable.emit("note", "late", timeout=0.05)
        assert len(reliable) == 1
        await ledger.server.start(port=port)
        await reliable.drain(WIRE_TIMEOUT)
    assert ledger.applied == ["late"]


async def test_messages_queued_before_connect_go_out_at_connect(ledger: Ledger) -> None:
    client = Client(ledger.server.url, reconnection=FAST)
    try:
        async with ReliableEmitter(client) as reliable:
            reliable.send("note", "early")
            await asyncio.sleep(0.05)
            assert len(reliable) == 1
            await client.connect()
            await reliable.drain(WIRE_TIMEOUT)
    finally:
        await client.disconnect()
    assert ledger.applied == ["early"]


async def test_a_message_the_server_cannot_accept_is_dropped_not_retried_forever(
    clients: list[Client],
) -> None:
    server = Server(max_payload=200)
    await server.start()
    try:
        client = await connected_client(server.url, clients)
        async with ReliableEmitter(client) as reliable:
            changes: list[OutboxChange] = []
            reliable.outbox.on_change(changes.append)
            entry = reliable.send("note", "x" * 500)
            with pytest.raises(MessageDroppedError):
                await reliable.wait_acked(entry, timeout=WIRE_TIMEOUT)
            assert [c.kind for c in changes][-1] is ChangeKind.DROPPED
    finally:
        await server.stop()


async def test_an_unsendable_entry_put_in_the_outbox_directly_is_dropped_not_fatal(
    ledger: Ledger, clients: list[Client]
) -> None:
    # The sender task used to die on it (TypeError), silently: nothing queued after
    # it ever went out.
    client = await connected_client(ledger.server.url, clients)
    outbox = Outbox()
    bad = outbox.put("note", (object(),), 0.0)
    async with ReliableEmitter(client, outbox) as reliable:
        good = reliable.send("note", "after")
        with pytest.raises(MessageDroppedError):
            await reliable.wait_acked(bad, timeout=WIRE_TIMEOUT)
        await reliable.wait_acked(good, timeout=WIRE_TIMEOUT)
    assert ledger.applied == ["after"]


async def test_bad_messages_are_refused_at_send(ledger: Ledger, clients: list[Client]) -> None:
    client = await connected_client(ledger.server.url, clients)
    reliable = ReliableEmitter(client)
    with pytest.raises(ValueError, match="reserved"):
        reliable.send("connect")
    with pytest.raises(ValueError):
        reliable.send("note", float("nan"))
    await reliable.close()
    with pytest.raises(UsageError, match="closed"):
        reliable.send("note", 1)
    with pytest.raises(UsageError, match="namespace"):
        ReliableEmitter(client, namespace="/nope")


async def test_emit_now_never_buffers(ledger: Ledger, clients: list[Client]) -> None:
    client = await connected_client(ledger.server.url, clients)
    acks: list[Any] = []
    assert await client.emit_now("note", 1, id_marker("k-1"), callback=acks.append)
    await eventually(lambda: acks == [{"_id": "k-1", "duplicate": False}])
    await ledger.server.stop()
    await eventually(lambda: client.state is ClientState.RECONNECTING)
    assert not await client.emit_now("note", 2, id_marker("k-2"), callback=acks.append)
    assert client.buffered == 0


async def test_on_ack_sees_what_the_server_answered_for_each_message(
    ledger: Ledger, clients: list[Client]
) -> None:
    @ledger.server.on("checked")
    def checked(socket: Socket, value: Any, marker: dict[str, str]) -> dict[str, Any]:
        if value < 0:
            return {"error": {"message": "negative", "_id": marker["_id"]}}
        return {"_id": marker["_id"]}

    client = await connected_client(ledger.server.url, clients)
    answers: list[tuple[str, tuple[Any, ...]]] = []

    def fails(entry_id: str, args: tuple[Any, ...]) -> None:
        answers.append((entry_id, args))
        raise RuntimeError("a broken callback must not stop the emitter")

    async with ReliableEmitter(client, Outbox(id_prefix="c9"), on_ack=fails) as reliable:
        reliable.send("checked", 1)
        reliable.send("checked", -1)
        await reliable.drain(WIRE_TIMEOUT)
    assert answers == [
        ("c9-1", ({"_id": "c9-1"},)),
        ("c9-2", ({"error": {"message": "negative", "_id": "c9-2"}},)),
    ]
