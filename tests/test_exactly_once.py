"""Tests for wslearn.exactly_once: idempotent handlers and the applied-message log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import WIRE_TIMEOUT, eventually

from wslearn.client import Client
from wslearn.exactly_once import AppliedLog, ExactlyOnce, client_key
from wslearn.namespace import Socket
from wslearn.reliable import id_marker
from wslearn.server import Server


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Server, Client]]:
    server = Server(close_timeout=0.5)
    await server.start()
    client = Client(server.url, reconnection=None)
    yield server, client
    await client.disconnect()
    await server.stop()


async def test_a_repeated_id_is_acked_as_a_duplicate_and_not_applied(
    pair: tuple[Server, Client],
) -> None:
    server, client = pair
    applied: list[Any] = []
    once = ExactlyOnce()

    @server.on("note")
    @once
    def note(socket: Socket, value: Any) -> None:
        applied.append(value)

    await client.connect()
    first = await client.call("note", "a", id_marker("p-1"))
    again = await client.call("note", "a", id_marker("p-1"))
    other = await client.call("note", "a", id_marker("q-1"))  # another client's id
    assert first == [{"_id": "p-1", "duplicate": False}]
    assert again == [{"_id": "p-1", "duplicate": True}]
    assert other == [{"_id": "q-1", "duplicate": False}]
    assert applied == ["a", "a"]
    assert (once.applied, once.duplicates) == (2, 1)


async def test_an_async_handler_applies_one_clients_messages_in_arrival_order(
    pair: tuple[Server, Client],
) -> None:
    server, client = pair
    applied: list[int] = []

    @server.on("note")
    @ExactlyOnce()
    async def note(socket: Socket, value: int) -> None:
        await asyncio.sleep(0.002 * (10 - value))  # earlier messages take longer
        applied.append(value)

    await client.connect()
    acks: list[Any] = []
    for n in range(10):
        assert await client.emit_now("note", n, id_marker(f"p-{n}"), callback=acks.append)
    await eventually(lambda: len(acks) == 10)
    assert applied == list(range(10))


async def test_a_handler_that_raised_is_applied_when_the_message_comes_back(
    pair: tuple[Server, Client],
) -> None:
    server, client = pair
    applied: list[Any] = []
    errors: list[Any] = []
    failures = [RuntimeError("disk full")]

    @server.on("note")
    @ExactlyOnce()
    def note(socket: Socket, value: Any) -> None:
        if failures:
            raise failures.pop()
        applied.append(value)

    client.on("error", errors.append)
    await client.connect()
    assert not await _acked_within(client.call("note", "x", id_marker("p-1"), timeout=0.3))
    await eventually(lambda: len(errors) == 1)
    assert await client.call("note", "x", id_marker("p-1")) == [{"_id": "p-1", "duplicate": False}]
    assert applied == ["x"]


async def _acked_within(call: Any) -> bool:
    try:
        await call
    except TimeoutError:
        return False
    return True


async def test_a_message_without_its_id_gets_an_error_and_is_not_applied(
    pair: tuple[Server, Client],
) -> None:
    server, client = pair
    applied: list[Any] = []
    errors: list[Any] = []

    @server.on("note")
    @ExactlyOnce()
    def note(socket: Socket, value: Any) -> None:
        applied.append(value)

    client.on("error", errors.append)
    await client.connect()
    assert await client.call("note", "no id") == []
    assert await client.call("note", "x", "y", id_marker("p-1")) == []  # one arg too many
    await eventually(lambda: len(errors) == 2)
    assert errors[0] == {"message": errors[0]["message"], "field": "_id"}
    assert '"_id"' in errors[0]["message"]
    assert errors[1]["field"] == "args"
    assert applied == []


async def test_the_handler_can_ask_for_the_id_and_the_key_can_be_chosen(
    pair: tuple[Server, Client],
) -> None:
    server, client = pair
    seen: list[tuple[str, Any]] = []
    once = ExactlyOnce(key=lambda socket, msg_id: "everyone")

    @server.on("note")
    @once
    def note(socket: Socket, value: Any, *, msg_id: str) -> None:
        seen.append((msg_id, value))

    await client.connect()
    await client.call("note", 1, id_marker("p-1"))
    await client.call("note", 2, id_marker("q-1"))
    assert seen == [("p-1", 1), ("q-1", 2)]
    assert once.dedup.client_count == 1


def test_the_default_key_is_the_prefix_of_the_id() -> None:
    assert client_key(None, "9f2c01ab-42") == "9f2c01ab"  # type: ignore[arg-type]
    assert client_key(None, "a-b-7") == "a-b"  # type: ignore[arg-type]
    assert client_key(None, "plain") == "plain"  # type: ignore[arg-type]


# -- AppliedLog --------------------------------------------------------------------------


def test_the_log_keeps_one_json_line_per_applied_message(tmp_path: Path) -> None:
    with AppliedLog(tmp_path / "log.jsonl") as log:
        log.append("p-1", "note", [{"text": "hi"}])
        log.append("p-2", "note", [2], key="alice")
        records = list(log.records())
    assert [(r["id"], r["key"], r["args"]) for r in records] == [
        ("p-1", "p", [{"text": "hi"}]),
        ("p-2", "alice", [2]),
    ]
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["p-1", "p-2"]


def test_the_tail_reads_the_last_records_even_across_blocks(tmp_path: Path) -> None:
    with AppliedLog(tmp_path / "log.jsonl") as log:
        for n in range(3000):  # about 200 KB: several 64 KB blocks
            log.append(f"p-{n}", "note", ["x" * 20])
        assert [r["id"] for r in log.tail(3)] == ["p-2997", "p-2998", "p-2999"]
        assert len(log.tail(2500)) == 2500
        assert log.tail(2500)[0]["id"] == "p-500"
        assert len(log.tail(10_000)) == 3000
        assert log.tail(0) == []


def test_a_torn_last_line_is_cut_off_when_the_log_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AppliedLog(path) as log:
        log.append("p-1", "note", [1])
    with path.open("ab") as file:
        file.write(b'{"id":"p-2","key":"p","ev')  # a write cut short by a crash
    with AppliedLog(path) as log:
        assert log.repaired == len(b'{"id":"p-2","key":"p","ev')
        log.append("p-2", "note", [2])
        assert [r["id"] for r in log.records()] == ["p-1", "p-2"]


def test_a_log_of_only_a_torn_line_becomes_empty(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"id":"p-1"')
    with AppliedLog(path) as log:
        assert log.repaired == 11
        assert list(log.records()) == []


def test_the_deduplicator_rebuilt_from_the_log_knows_the_recent_ids(tmp_path: Path) -> None:
    with AppliedLog(tmp_path / "log.jsonl", fsync=True) as log:
        for n in range(1, 21):
            log.append(f"p-{n}", "note", [n])
        dedup = log.deduplicator(window=10, per_key=10, now=100.0)
    assert len(dedup) == 10
    assert dedup.seen("p", "p-20", now=100.0)
    assert dedup.seen("p", "p-11", now=100.0)
    assert not dedup.seen("p", "p-10", now=100.0)


def test_appending_to_a_closed_log_says_so(tmp_path: Path) -> None:
    log = AppliedLog(tmp_path / "log.jsonl")
    log.close()
    log.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        log.append("p-1", "note", [])


async def test_a_restarted_server_with_the_log_recognises_what_it_applied(
    tmp_path: Path,
) -> None:
    """Two server lives share one log: the second one acks the first one's ids."""
    path = tmp_path / "log.jsonl"
    acks: list[Any] = []
    for _life in range(2):
        log = AppliedLog(path)
        once = ExactlyOnce(log.deduplicator())
        server = Server(close_timeout=0.5)

        @server.on("note")
        @once
        def note(socket: Socket, value: Any, *, msg_id: str, log: AppliedLog = log) -> None:
            log.append(msg_id, "note", [value])

        await server.start()
        client = Client(server.url, reconnection=None)
        try:
            await client.connect()
            acks += await client.call("note", "m", id_marker("p-1"), timeout=WIRE_TIMEOUT)
        finally:
            await client.disconnect()
            await server.stop()
            log.close()
    assert acks == [{"_id": "p-1", "duplicate": False}, {"_id": "p-1", "duplicate": True}]
    with AppliedLog(path) as log:
        assert [r["args"] for r in log.records()] == [["m"]]
