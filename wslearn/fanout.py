"""Fan-out across server processes, measured: one process against two on Redis.

:func:`measure_fanout` starts real server processes (``python -m wslearn serve``),
connects receivers to a room, and has one sender post chat messages in it:

- **one process**: every receiver on the sender's process;
- **two processes**: the receivers split between two processes that share the room
  through Redis (``--redis``), so half of every broadcast crosses Redis.

It reports, per message, the wall time until every receiver had it and the CPU the
server processes spent (user + system, from /proc, summed over the processes).
The ratio of the two runs is the price of the second process. Everything runs on
127.0.0.1, bounded in count and time, and every process is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from ._service import Service
from .client import Client

__all__ = ["FanoutFigure", "ServerProcess", "measure_fanout"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class FanoutFigure:
    """One fan-out run.

    Attributes:
        label: ``"one process"`` or ``"two processes"``.
        processes: how many server processes served the receivers.
        receivers: clients in the room.
        messages: messages sent.
        ms_per_message: wall time from the first send until every receiver had
            every message, divided by ``messages``.
        cpu_ms_per_message: server CPU (all processes) per message, or None where
            /proc is not available.
    """

    label: str
    processes: int
    receivers: int
    messages: int
    ms_per_message: float
    cpu_ms_per_message: float | None


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


class ServerProcess(Service):
    """``python -m wslearn serve`` in a subprocess: the guide's chat server, on its own.

    Args:
        redis_url: join the cluster on this Redis (``--redis``), or None to run alone.
    """

    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self._drain: asyncio.Task[bytes] | None = None

    def __repr__(self) -> str:
        cluster = f" on {self.redis_url}" if self.redis_url else ""
        return f"<ServerProcess {self.url or 'stopped'}{cluster}>"

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> Self:
        """Start it and wait for its "listening" line (a free port on 127.0.0.1).

        Raises:
            RuntimeError: it exited instead (its first line says why).
        """
        if self.running:
            return self
        args = [sys.executable, "-m", "wslearn", "serve", "--port", "0"]
        if self.redis_url is not None:
            args += ["--redis", self.redis_url]
        self.proc = proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        if "listening on " not in line:
            await self.stop()
            raise RuntimeError(f"the server process did not start: {line.strip()!r}")
        self.url = line.split("listening on ")[1].split()[0]
        # Keep reading what it prints (its warnings), so a full pipe never blocks it.
        self._drain = asyncio.create_task(proc.stdout.read())
        return self

    async def stop(self) -> None:
        """SIGTERM (a clean stop), SIGKILL after 5 s; stopping twice does nothing."""
        proc, self.proc = self.proc, None
        if proc is not None:
            await _stop([proc])
        if self._drain is not None:
            await self._drain
            self._drain = None

    async def kill(self) -> None:
        """SIGKILL: a crash, no goodbye to anyone."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
        await self.stop()


async def _start_server(redis_url: str | None) -> tuple[asyncio.subprocess.Process, str]:
    server = await ServerProcess(redis_url).start()
    assert server.proc is not None
    return server.proc, server.url


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)

    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _run(
    label: str, redis_url: str | None, processes: int, receivers: int, messages: int
) -> FanoutFigure:
    procs: list[asyncio.subprocess.Process] = []
    clients: list[Client] = []
    try:
        urls = []
        for _ in range(processes):
            proc, url = await _start_server(redis_url)
            procs.append(proc)
            urls.append(url)
        done = asyncio.Event()
        counts = [0] * receivers

        def counter(index: int) -> Callable[[object], None]:
            def count(_message: object) -> None:
                counts[index] += 1
                if min(counts) >= messages:
                    done.set()

            return count

        sender = Client(urls[0], auth={"name": "sender"}, reconnection=None)
        clients.append(sender)
        for i in range(receivers):
            client = Client(urls[i % processes], auth={"name": f"r{i}"}, reconnection=None)
            client.on("receive-message", counter(i))
            clients.append(client)
        await asyncio.gather(*(client.connect() for client in clients))
        # The sender joins too: the chat server accepts posts from members only.
        await asyncio.gather(*(client.call("join-room", "bench") for client in clients))
        await asyncio.sleep(0.2)  # joins settled on every process
        cpu_before = [_cpu_seconds(p.pid) for p in procs]
        started = time.perf_counter()
        for n in range(messages):
            await sender.emit("send-message", {"roomId": "bench", "message": f"m{n}"})
        async with asyncio.timeout(60):
            await done.wait()
        elapsed = time.perf_counter() - started
        cpu_after = [_cpu_seconds(p.pid) for p in procs]
        cpu: float | None = 0.0
        for before, after in zip(cpu_before, cpu_after, strict=True):
            cpu = None if cpu is None or before is None or after is None else cpu + after - before
        return FanoutFigure(
            label,
            processes,
            receivers,
            messages,
            elapsed / messages * 1000,
            None if cpu is None else cpu / messages * 1000,
        )
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
        await _stop(procs)


async def measure_fanout(
    redis_url: str, receivers: int = 10, messages: int = 300
) -> tuple[FanoutFigure, FanoutFigure]:
    """Run the same room broadcast on one process, then on two sharing Redis.

    Args:
        redis_url: a Redis the two-process run can use (e.g. a
            :class:`~wslearn.local_redis.LocalRedis`).
        receivers: clients in the room (split evenly in the two-process run).
        messages: chat messages the sender posts.

    Returns:
        The one-process figure and the two-process figure.
    """
    one = await _run("one process", None, 1, receivers, messages)
    two = await _run("two processes", redis_url, 2, receivers, messages)
    return one, two
