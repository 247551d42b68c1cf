"""The workloads the load generator runs, one coroutine each (see :data:`WORKLOADS`).

Every workload takes the runner's JSON arguments and returns JSON-ready figures. The
measured part of each is bracketed by :func:`~wslearn.bench.loadgen.read_meters`, so
its CPU figures cover exactly the messages counted, and a warm-up runs first (Node
compiles hot code; Python servers fill their caches).

- ``latency``: one connection, one message at a time, round trips timed at the client.
- ``echo``: a few connections keep a window of messages in flight; the server answers
  each with the same event.
- ``fanout``: one client's event makes the server send it to every client; a window of
  rounds is in flight; every delivery is counted.
- ``idle``: many connections doing nothing but their heartbeat; the server's RSS grows.
- ``many``: ten thousand of them, pings timed against their schedule, then a tenth of
  the clients stop answering and must be dropped in time.
- ``calibrate``: a fixed loop timed on each core (see :mod:`wslearn.bench.machine`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .loadgen import Conn, LoadError, Pool, Target, phase_figures, read_meters, server_rss_kib
from .wire import OP_TEXT, client_frame, socketio_event

__all__ = ["WORKLOADS"]

Args = dict[str, Any]
ECHO = client_frame(OP_TEXT, socketio_event("echo"))
FANOUT = client_frame(OP_TEXT, socketio_event("fanout"))


async def _finish(done: asyncio.Future[None], pool: Pool, what: str, within: float) -> None:
    try:
        await asyncio.wait_for(done, within)
    except TimeoutError:
        raise LoadError(f"{what}: no progress within {within:g} s") from None
    if pool.errors:
        raise LoadError(f"{what}: {pool.errors[0]}")


async def latency(args: Args) -> dict[str, Any]:
    """Sequential round trips on one connection: the list of RTTs in microseconds."""
    pool = Pool(Target.from_json(args["target"]))
    await pool.open(1)
    conn = pool.conns[0]
    loop = asyncio.get_running_loop()

    async def run(count: int) -> list[float]:
        rtts: list[float] = []
        done: asyncio.Future[None] = loop.create_future()
        sent_at = 0.0

        def on_message(c: Conn, data: bytes, start: int, stop: int) -> None:
            nonlocal sent_at
            rtts.append(time.perf_counter() - sent_at)
            if len(rtts) < count:
                sent_at = time.perf_counter()
                c.write(ECHO)
            elif not done.done():
                done.set_result(None)

        pool.on_message = on_message
        sent_at = time.perf_counter()
        conn.write(ECHO)
        await _finish(done, pool, "latency", args.get("timeout", 60.0))
        return rtts

    try:
        await run(args["warmup"])
        before = read_meters(args["server_pid"])
        rtts = await run(args["count"])
        after = read_meters(args["server_pid"])
    finally:
        pool.close()
    return {"rtt_us": [r * 1e6 for r in rtts], **phase_figures(before, after, args["cpus"])}


async def echo(args: Args) -> dict[str, Any]:
    """Echo throughput with ``window`` messages in flight on each connection."""
    pool = Pool(Target.from_json(args["target"]))
    await pool.open(args["connections"])
    loop = asyncio.get_running_loop()
    window = args["window"]

    async def run(total: int) -> None:
        sent = received = 0
        done: asyncio.Future[None] = loop.create_future()

        def on_message(c: Conn, data: bytes, start: int, stop: int) -> None:
            nonlocal sent, received
            received += 1
            if sent < total:
                sent += 1
                c.write(ECHO)
            elif received == total:
                done.set_result(None)

        pool.on_message = on_message
        for conn in pool.conns:
            for _ in range(min(window, total - sent)):
                sent += 1
                conn.write(ECHO)
        await _finish(done, pool, "echo", args.get("timeout", 120.0))

    try:
        await run(args["warmup"])
        before = read_meters(args["server_pid"])
        await run(args["count"])
        after = read_meters(args["server_pid"])
    finally:
        pool.close()
    return {"messages": args["count"], **phase_figures(before, after, args["cpus"])}


async def fanout(args: Args) -> dict[str, Any]:
    """Broadcast rounds to ``clients`` connections, ``window`` rounds in flight."""
    clients, window = args["clients"], args["window"]
    pool = Pool(Target.from_json(args["target"]))
    await pool.open(clients)
    trigger = pool.conns[0]
    loop = asyncio.get_running_loop()

    async def run(rounds: int) -> None:
        expected = rounds * clients
        sent = delivered = 0
        done: asyncio.Future[None] = loop.create_future()

        def on_message(c: Conn, data: bytes, start: int, stop: int) -> None:
            nonlocal sent, delivered
            delivered += 1
            # The next round goes out once the round `window` before it is complete.
            if sent < rounds and delivered >= (sent - window + 1) * clients:
                sent += 1
                trigger.write(FANOUT)
            if delivered == expected:
                done.set_result(None)

        pool.on_message = on_message
        while sent < min(window, rounds):
            sent += 1
            trigger.write(FANOUT)
        await _finish(done, pool, "fan-out", args.get("timeout", 120.0))

    try:
        await run(args["warmup"])
        before = read_meters(args["server_pid"])
        await run(args["rounds"])
        after = read_meters(args["server_pid"])
    finally:
        pool.close()
    figures = phase_figures(before, after, args["cpus"])
    return {"deliveries": args["rounds"] * clients, "clients": clients, **figures}


async def _until_every_conn_pinged(pool: Pool, pings: int, within: float) -> int:
    """Wait until each connection has had ``pings`` pings; returns the fewest seen."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        fewest = min((c.pings for c in pool.conns), default=0)
        if fewest >= pings:
            return fewest
        await asyncio.sleep(0.05)
    return min((c.pings for c in pool.conns), default=0)


async def idle(args: Args) -> dict[str, Any]:
    """Server RSS growth with ``connections`` idle clients, after a heartbeat or two."""
    target = Target.from_json(args["target"])
    pid = args["server_pid"]
    warm = Pool(target)  # first connections allocate once-only state: not per connection
    await warm.open(10)
    warm.close()
    await asyncio.sleep(args.get("pause", 0.5))
    rss_before = server_rss_kib(pid)
    pool = Pool(target)
    try:
        await pool.open(args["connections"])
        wait = 2 * target.ping_interval + 5
        fewest = await _until_every_conn_pinged(pool, args.get("pings", 1), wait)
        await asyncio.sleep(0.2)
        rss_after = server_rss_kib(pid)
        live = sum(1 for c in pool.conns if c.closed_at is None)
    finally:
        pool.close()
    return {
        "connections": args["connections"],
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "kib_per_conn": (rss_after - rss_before) / args["connections"],
        "fewest_pings": fewest,
        "still_open": live,
    }


async def _watch_lag(lags: list[float], period: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + period
        await asyncio.sleep(period)
        lags.append(loop.time() - due)


async def many(args: Args) -> dict[str, Any]:
    """Many idle connections: ping punctuality, dead-peer drops, memory."""
    target = Target.from_json(args["target"])
    pid, count = args["server_pid"], args["connections"]
    interval, timeout = target.ping_interval, args["ping_timeout"]
    pool = Pool(target)
    pool.lateness = []
    lags: list[float] = []
    watcher = asyncio.create_task(_watch_lag(lags))
    live_dropped: list[int] = []
    dead_left = 0
    all_dead_dropped = asyncio.Event()

    def on_closed(conn: Conn) -> None:
        nonlocal dead_left
        if not conn.dead:
            live_dropped.append(conn.index)
            return
        dead_left -= 1
        if dead_left == 0:
            all_dead_dropped.set()

    pool.on_closed = on_closed
    rss_before = server_rss_kib(pid)
    try:
        started = time.perf_counter()
        await pool.open(count, concurrency=args.get("concurrency", 100), within=120.0)
        steady = time.perf_counter()
        rss_connected = server_rss_kib(pid)
        before = read_meters(pid)
        await asyncio.sleep(args.get("observe_rounds", 2) * interval + 0.5)
        after = read_meters(pid)
        rss_steady = server_rss_kib(pid)
        dead = pool.conns[:: max(1, round(1 / args.get("dead_fraction", 0.1)))]
        for conn in dead:
            conn.dead = True
        dead_left = sum(1 for c in dead if c.closed_at is None)
        latest = max(c.last_answer or c.ref for c in dead)
        deadline = latest + interval + timeout + args.get("slack", 1.0) + 1.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_dead_dropped.wait(), deadline - time.perf_counter())
    finally:
        watcher.cancel()
        pool.close()
    steady_lateness = [late for at, late in pool.lateness if at >= steady]
    connect_lateness = [late for at, late in pool.lateness if at < steady]
    return {
        "connections": count,
        "connect_s": steady - started,
        "lateness_s": steady_lateness,
        "connect_lateness_max_s": max(connect_lateness, default=None),
        "drop_delays_s": [
            None if c.closed_at is None else c.closed_at - (c.last_answer or c.ref) for c in dead
        ],
        "live_dropped": len(live_dropped),
        "client_lag_max_s": max(lags, default=0.0),
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "rss_steady_kib": rss_steady,
        "kib_per_conn": (rss_steady - rss_before) / count,
        "announced": pool.announced,
        **phase_figures(before, after, args["cpus"]),
    }


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


async def calibrate(args: Args) -> dict[str, Any]:
    """Time a fixed loop on each of ``cpus``, then return to this process's own core
    (``own_cpu``), or to the cores it had before."""
    own = args.get("own_cpu")
    original = os.sched_getaffinity(0)
    timings = []
    try:
        for cpu in args["cpus"]:
            os.sched_setaffinity(0, {cpu})
            samples = []
            for _ in range(args.get("samples", 3)):
                wall, cpu_time = time.perf_counter(), time.process_time()
                _spin(args.get("loops", 200_000))
                samples.append((time.perf_counter() - wall, time.process_time() - cpu_time))
            # The median sample: the fastest would hide a core shared half the time.
            wall, cpu_time = sorted(samples)[len(samples) // 2]
            timings.append({"cpu": cpu, "wall": wall, "cpu_time": cpu_time})
    finally:
        os.sched_setaffinity(0, original if own is None else {own})
    return {"calibrations": timings}


WORKLOADS: dict[str, Callable[[Args], Awaitable[dict[str, Any]]]] = {
    "latency": latency,
    "echo": echo,
    "fanout": fanout,
    "idle": idle,
    "many": many,
    "calibrate": calibrate,
}
