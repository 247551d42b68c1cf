"""Fault tests: a server process killed with SIGKILL, and nothing lost or applied twice.

The server is ``python -m wslearn ledger`` in a subprocess on 127.0.0.1: its state is
an append-only log of applied messages (one ``write()`` per message, the id
included), and on start it rebuilds its memory of applied ids from the log's tail.
The test reads that log to check every message was applied exactly once, in order.

Measured figures are printed (run with ``-s`` to see them) and recorded as junit
properties; only loss, duplicates and order decide pass or fail.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import statistics
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.exactly_once import AppliedLog
from wslearn.outbox import ChangeKind, Outbox, OutboxChange
from wslearn.reliable import ReliableEmitter

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0  # a cold Python start on a loaded CI machine; never decides a pass


class LedgerProcess:
    """``python -m wslearn ledger`` in a subprocess: start, SIGKILL, restart, same port."""

    def __init__(self, log: Path, stderr: Path, per_key: int) -> None:
        self.log = log
        self.stderr = stderr
        self.per_key = per_key
        self.port = 0  # learned from the first start, then reused
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
        with self.stderr.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "wslearn",
                "ledger",
                "--port",
                str(self.port),
                "--log",
                str(self.log),
                "--per-key",
                str(self.per_key),
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                env=env,
            )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT)
        match = re.search(rb"http://127\.0\.0\.1:(\d+)", line)
        assert match, (line, self.stderr.read_text())
        self.port = int(match.group(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[LedgerProcess]:
    process = LedgerProcess(tmp_path / "applied.jsonl", tmp_path / "stderr.txt", 10_000)
    await process.start()
    yield process
    await process.stop()


def applied_values(log: Path) -> list[Any]:
    with AppliedLog(log) as applied:
        return [record["args"][0] for record in applied.records()]


def ack_clock(outbox: Outbox) -> list[float]:
    """The loop time of every ack, appended as they happen."""
    loop = asyncio.get_running_loop()
    times: list[float] = []

    def listener(change: OutboxChange) -> None:
        if change.kind is ChangeKind.ACKED:
            times.append(loop.time())

    outbox.on_change(listener)
    return times


async def wait_for(check: Callable[[], bool], within: float) -> None:
    async with asyncio.timeout(within):
        # Polling: the condition spans a subprocess and the client, with no one event.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_10000_messages_survive_three_sigkills_exactly_once_and_in_order(
    ledger: LedgerProcess, record_property: Callable[[str, object], None]
) -> None:
    total, rng = 10_000, random.Random(20240611)
    kill_points = sorted(rng.sample(range(1_000, 9_000), 3))  # acked counts to kill at
    client = Client(ledger.url, reconnection=Backoff(initial=0.05, maximum=0.25, jitter=0.5))
    outbox = Outbox(capacity=total)
    acks = ack_clock(outbox)
    loop = asyncio.get_running_loop()
    connects: list[float] = []
    client.on("connect", lambda: connects.append(loop.time()))
    await client.connect()
    reliable = ReliableEmitter(client, outbox)

    # The producer never runs more than WINDOW messages past a kill point before that
    # kill is over, so messages are still to come after every reconnection (else, on a
    # slow machine, everything could be acked before the kill and no ack would follow).
    window = 500
    reconnected = [asyncio.Event() for _ in kill_points]

    async def produce() -> None:
        for n in range(total):
            for point, done in zip(kill_points, reconnected, strict=True):
                if n >= point + window:
                    await done.wait()
            reliable.send("append", n)
            if n % 50 == 49:
                await asyncio.sleep(0.01)  # about 5,000 messages a second

    async def kill_and_recover(point: int, done: asyncio.Event) -> float:
        """Kill once ``point`` messages were acked; seconds until the next ack."""
        await wait_for(lambda: len(acks) >= point, 30)
        killed_at = loop.time()
        await ledger.kill()
        await ledger.start()
        await wait_for(lambda: bool(connects) and connects[-1] > killed_at, 30)
        reconnected_at = connects[-1]
        done.set()
        await wait_for(lambda: acks[-1] > reconnected_at, 30)
        return next(t for t in acks if t > reconnected_at) - killed_at

    recoveries: list[float] = []
    producer = asyncio.create_task(produce())
    try:
        for point, done in zip(kill_points, reconnected, strict=True):
            recoveries.append(await kill_and_recover(point, done))
        await producer
        await reliable.drain(60)
        stats = reliable.stats()
    finally:
        producer.cancel()
        await reliable.close()
        await client.disconnect()
    await ledger.stop()

    applied = applied_values(ledger.log)
    loss = total - len(set(applied))
    duplicates = len(applied) - len(set(applied))
    figures = {
        "loss": loss,
        "duplicates": duplicates,
        "resent": stats.resent,
        "server_recognised_repeats": stats.duplicates,
        "recovery_min_s": round(min(recoveries), 3),
        "recovery_median_s": round(statistics.median(recoveries), 3),
        "recovery_max_s": round(max(recoveries), 3),
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"\n10,000 messages, 3 SIGKILLs at acked counts {kill_points}: {figures}")
    assert (loss, duplicates) == (0, 0)
    assert applied == list(range(total))
    assert len(recoveries) == 3
    assert client.state is ClientState.CLOSED


async def test_50_messages_queued_while_the_process_is_dead_arrive_once_in_order(
    ledger: LedgerProcess,
) -> None:
    """The adversarial "Delivery" row, with a real crash: queued offline, then flushed."""
    client = Client(ledger.url, reconnection=Backoff(initial=0.05, maximum=0.2, jitter=0.5))
    await client.connect()
    reliable = ReliableEmitter(client, Outbox(capacity=100))
    try:
        await reliable.emit("append", "first", timeout=START_TIMEOUT)
        await ledger.kill()
        await wait_for(lambda: client.state is ClientState.RECONNECTING, 10)
        for n in range(50):
            reliable.send("append", n)
        assert len(reliable) == 50
        await ledger.start()
        await reliable.drain(START_TIMEOUT)
    finally:
        await reliable.close()
        await client.disconnect()
    await ledger.stop()
    assert applied_values(ledger.log) == ["first", *range(50)]
