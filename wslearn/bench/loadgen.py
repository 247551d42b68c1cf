"""The load generator: many WebSocket clients in one process, doing as little as it can.

It runs in its own process, pinned to its own core, and takes commands as JSON lines on
stdin (``{"op": "echo", "args": {...}}``), answering each with one JSON line on stdout
(``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": "..."}``). The runner
(:mod:`wslearn.bench.runner`) starts it; ``python -m wslearn.bench.loadgen --cpu 1``
runs it by hand.

Each connection is an :class:`asyncio.BufferedProtocol` on a plain TCP socket:

- it writes the upgrade request and, for a Socket.IO server, answers OPEN with ``40``;
- it splits what arrives into frames (:func:`~wslearn.bench.wire.split_frames`) without
  decoding them, and passes each Socket.IO EVENT (each text message, on a plain
  WebSocket server) to the workload's ``on_message`` callback;
- it answers Engine.IO pings (``2`` -> ``3``) and WebSocket pings (opcode 9) with
  frames encoded in advance, and notes when each ping arrived against its schedule.

Every connection reads into one shared buffer (the protocol copies out what it keeps
before the next read), so ten thousand idle clients cost little memory, and no read
allocates the 256 KiB that :meth:`asyncio.Protocol.data_received` would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from .machine import busy_ticks_per_cpu, cpu_ticks_of_process, load_average, rss_kib
from .wire import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    WireError,
    client_frame,
    parse_open,
    split_frames,
    split_http_response,
    upgrade_request,
)

__all__ = ["Conn", "LoadError", "Pool", "Reading", "Target", "phase_figures", "read_meters"]

TICKS = os.sysconf("SC_CLK_TCK")
HTTP, OPENING, CONNECTING, READY, CLOSED = range(5)
_BUFFER = bytearray(1 << 18)
_VIEW = memoryview(_BUFFER)
CONNECT = client_frame(OP_TEXT, b"40")
PONG = client_frame(OP_TEXT, b"3")


class LoadError(Exception):
    """A workload could not run: a server refused, stopped answering or misbehaved."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the clients connect and what they speak.

    Attributes:
        host: the server's address.
        port: its port.
        path: the request path (with the Engine.IO query for Socket.IO).
        socketio: whether to do the Engine.IO / Socket.IO handshake.
        ping_interval: the interval the server was started with, in seconds.
    """

    host: str
    port: int
    path: str
    socketio: bool
    ping_interval: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        """The target from the runner's JSON."""
        return cls(
            str(data["host"]),
            int(data["port"]),
            str(data["path"]),
            bool(data["socketio"]),
            float(data["ping_interval"]),
        )


def _ignore(*_: object) -> None:
    return None


class Conn(asyncio.BufferedProtocol):
    """One client connection. Its :class:`Pool` holds the callbacks and shared frames."""

    def __init__(self, pool: Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.transport: asyncio.Transport | None = None
        self.pending = b""
        self.stage = HTTP
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ref = 0.0  # when the next ping's interval started: the last answer
        self.last_answer = 0.0
        self.pings = 0
        self.dead = False  # stops answering pings, keeps reading
        self.closed_at: float | None = None

    def write(self, data: bytes) -> None:
        """Send bytes (pre-encoded frames) on this connection."""
        assert self.transport is not None
        self.transport.write(data)

    # -- asyncio.BufferedProtocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.pool.request)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _VIEW

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(_VIEW[:nbytes])
        if self.pending:
            data = self.pending + data
            self.pending = b""
        try:
            if self.stage == HTTP:
                rest = self._upgraded(data)
                if rest is None:
                    return
                data = rest
            frames, used = split_frames(data)
        except WireError as exc:
            self._fail(str(exc))
            return
        for opcode, start, stop in frames:
            if opcode == OP_TEXT:
                self._text(data, start, stop)
            elif opcode == OP_PING:
                self._heartbeat(client_frame(OP_PONG, data[start:stop]))
            elif opcode == OP_CLOSE:
                self._close_received(data[start:stop])
        if used < len(data):
            self.pending = data[used:]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed_at is None:
            self.closed_at = time.perf_counter()
        if self.stage != CLOSED:
            self.stage = CLOSED
            if not self.ready.done():
                self.ready.set_exception(LoadError("the server closed the connection early"))
            self.pool.on_closed(self)

    # -- what arrives -----------------------------------------------------------------

    def _upgraded(self, data: bytes) -> bytes | None:
        """The bytes after the 101 response head, or None (kept) while it is incomplete."""
        parsed = split_http_response(data)
        if parsed is None:
            self.pending = data
            return None
        status, rest = parsed
        if status != 101:
            raise WireError(f"upgrade refused with HTTP {status}: {data[:200]!r}")
        self.ref = time.perf_counter()
        if self.pool.socketio:
            self.stage = OPENING
        else:
            self._ready()
        return rest

    def _text(self, data: bytes, start: int, stop: int) -> None:
        if not self.pool.socketio:
            self.pool.on_message(self, data, start, stop)
            return
        kind = data[start]
        if kind == 0x34:  # "4": a Socket.IO packet
            sub = data[start + 1] if stop - start > 1 else 0
            if sub == 0x32:  # "42": EVENT
                self.pool.on_message(self, data, start, stop)
            elif sub == 0x30 and self.stage == CONNECTING:  # "40": CONNECT answered
                self._ready()
            elif sub == 0x34:  # "44": CONNECT_ERROR
                self._fail(f"CONNECT refused: {data[start:stop][:200]!r}")
        elif kind == 0x32:  # "2": Engine.IO ping
            self._heartbeat(PONG)
        elif kind == 0x30 and self.stage == OPENING:  # "0": OPEN
            try:
                self.pool.announced = parse_open(data[start:stop])
            except WireError as exc:
                self._fail(str(exc))
                return
            self.ref = time.perf_counter()
            self.stage = CONNECTING
            self.write(CONNECT)

    def _heartbeat(self, answer: bytes) -> None:
        now = time.perf_counter()
        pool = self.pool
        if pool.lateness is not None and self.stage == READY and not self.dead:
            pool.lateness.append((now, now - self.ref - pool.ping_interval))
        self.pings += 1
        if self.dead:
            return
        self.write(answer)
        self.ref = self.last_answer = now

    def _close_received(self, payload: bytes) -> None:
        if self.closed_at is None:
            self.closed_at = time.perf_counter()
        if self.transport is not None and not self.transport.is_closing():
            self.write(client_frame(OP_CLOSE, payload[:2]))

    def _ready(self) -> None:
        self.stage = READY
        if not self.ready.done():
            self.ready.set_result(None)

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(LoadError(reason))
        else:
            self.pool.errors.append(reason)
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """The connections of one workload to one server, and what they call back."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.socketio = target.socketio
        self.ping_interval = target.ping_interval
        self.request = upgrade_request(target.host, target.port, target.path)
        self.conns: list[Conn] = []
        self.on_message: Callable[[Conn, bytes, int, int], None] = _ignore
        self.on_closed: Callable[[Conn], None] = _ignore
        self.lateness: list[tuple[float, float]] | None = None  # (arrival, lateness)
        self.announced: dict[str, object] | None = None
        self.errors: list[str] = []

    async def open(self, count: int, *, concurrency: int = 100, within: float = 60.0) -> None:
        """Open ``count`` more connections, at most ``concurrency`` handshakes at a time,
        each given ``within`` seconds.

        Raises:
            LoadError: a connection was refused or did not finish its handshake.
        """
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        t = self.target

        async def one(index: int) -> None:
            async with gate:
                conn = Conn(self, index)
                self.conns.append(conn)
                try:
                    await loop.create_connection(lambda: conn, t.host, t.port)
                    await asyncio.wait_for(conn.ready, within)
                except (OSError, TimeoutError) as exc:
                    raise LoadError(f"connection {index}: {type(exc).__name__}: {exc}") from exc

        first = len(self.conns)
        results = await asyncio.gather(
            *(one(i) for i in range(first, first + count)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self.close()
            raise LoadError(
                f"{len(failures)} of {count} connections to {t.host}:{t.port} failed; "
                f"first: {failures[0]}"
            )

    def close(self) -> None:
        """Abort every connection (a reset: no TIME_WAIT left behind on this side)."""
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.abort()
        self.conns.clear()


@dataclass(frozen=True, slots=True)
class Reading:
    """What the meters said at one moment of a phase."""

    wall: float
    server_ticks: int
    client_cpu: float
    busy: dict[int, int]
    load: float


def _read(path: str) -> str:
    with open(path, encoding="ascii") as file:
        return file.read()


def read_meters(server_pid: int) -> Reading:
    """Read the clocks, the server's and this process's CPU time, and the cores' ticks."""
    return Reading(
        wall=time.perf_counter(),
        server_ticks=cpu_ticks_of_process(_read(f"/proc/{server_pid}/stat")),
        client_cpu=time.process_time(),
        busy=busy_ticks_per_cpu(_read("/proc/stat")),
        load=load_average(_read("/proc/loadavg")),
    )


def server_rss_kib(server_pid: int) -> int:
    """The server's resident memory now, in KiB."""
    return rss_kib(_read(f"/proc/{server_pid}/status"))


def phase_figures(before: Reading, after: Reading, cpus: list[int]) -> dict[str, float]:
    """Wall time, server and client CPU seconds and others' CPU seconds of a phase."""
    wall = after.wall - before.wall
    server = (after.server_ticks - before.server_ticks) / TICKS
    client = after.client_cpu - before.client_cpu
    ticks = sum(after.busy[cpu] - before.busy[cpu] for cpu in cpus if cpu in before.busy)
    return {
        "wall_s": wall,
        "server_cpu_s": server,
        "server_cpu_ticks": after.server_ticks - before.server_ticks,
        "client_cpu_s": client,
        "foreign_cpu_s": max(0.0, ticks / TICKS - server - client),
        "load_average": after.load,
    }


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def serve_commands(cpu: int | None) -> None:
    """Run commands from stdin until it closes, one JSON answer line per command."""
    from .workloads import WORKLOADS

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        try:
            workload = WORKLOADS[command["op"]]
            result = await workload(dict(command.get("args", {}), own_cpu=cpu))
            answer: dict[str, Any] = {"ok": True, "result": result}
        except (LoadError, WireError, OSError, KeyError, ValueError) as exc:
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Pin to ``--cpu``, raise the open-files limit and serve commands."""
    parser = argparse.ArgumentParser(prog="python -m wslearn.bench.loadgen")
    parser.add_argument("--cpu", type=int, default=None, help="the core to run on")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    raise_open_files_limit()
    asyncio.run(serve_commands(args.cpu))
    return 0


if __name__ == "__main__":
    # Run the copy the workloads import, not this __main__ one, so that there is one
    # LoadError class (and one shared read buffer).
    from wslearn.bench import loadgen

    sys.exit(loadgen.main())
