"""The Node.js peers of the interop tests, as objects a test drives.

Each Node peer is a small script in tests/interop/node, run as a subprocess and
driven over stdin/stdout JSON lines (see the comments at the top of client.mjs and
server.mjs): the test sends commands, the script reports what happened, the test
asserts. Bytes travel in those lines as ``{"$bytes": "<base64>"}``. Everything is on
127.0.0.1; every process is stopped at teardown (the fixtures are in
tests/interop/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Self

from wslearn.backoff import Backoff
from wslearn.server import Server

NODE_DIR = Path(__file__).parent / "interop" / "node"
NODE = shutil.which("node")


def node_missing() -> str | None:
    """Why the Node peers cannot run here, or None when they can."""
    if NODE is None:
        return "SKIPPED Node.js interop: `node` is not on PATH (install Node.js 18+)"
    if not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        return (
            "SKIPPED Node.js interop: tests/interop/node/node_modules is missing; "
            "run `npm ci --prefix tests/interop/node`"
        )
    return None


FAST = Backoff(initial=0.05, maximum=0.2)
WAIT = 5.0  # upper bound for anything awaited; never reached when a test passes
QUIET = 0.4  # how long "nothing more happens" is watched (several reconnection delays)


async def until_true(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def to_wire(value: Any) -> Any:
    """JSON-ready form of ``value``: bytes become ``{"$bytes": base64}``."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """The inverse of :func:`to_wire`."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$bytes"]:
            return base64.b64decode(value["$bytes"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


class NodePeer:
    """A Node script under test control: commands in on stdin, reports out on stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.reports: list[dict[str, Any]] = []  # everything, in order
        self._unread: list[dict[str, Any]] = []  # not yet returned by next()
        self._arrived = asyncio.Event()
        self._stderr = bytearray()
        self._ids = itertools.count(1)
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._drain())]

    @classmethod
    async def start(cls, script: str, *args: str) -> Self:
        assert NODE is not None
        proc = await asyncio.create_subprocess_exec(
            NODE,
            script,
            *args,
            cwd=NODE_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            report = from_wire(json.loads(line))
            self.reports.append(report)
            self._unread.append(report)
            self._arrived.set()
        self._arrived.set()  # wake waiters: the process is gone

    async def _drain(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self._stderr += line

    def send(self, op: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        line = json.dumps(to_wire({"op": op, **fields}))
        self.proc.stdin.write(line.encode() + b"\n")

    def seen(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Every report so far of this type with these fields."""
        return [r for r in self.reports if _matches(r, kind, match)]

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next unread report of this type with these fields (waits up to WAIT)."""
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    for report in self._unread:
                        if _matches(report, kind, match):
                            self._unread.remove(report)
                            return report
                    if self.proc.stdout is not None and self.proc.stdout.at_eof():
                        break
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"no {kind} report matching {match}; reports: {self.reports}; "
            f"stderr: {self._stderr.decode(errors='replace')}"
        )

    async def request(self, op: str, **fields: Any) -> Any:
        """Send a command that answers with a reply; return its ``result``."""
        ident = next(self._ids)
        self.send(op, id=ident, **fields)
        reply = await self.next("reply", id=ident)
        assert reply["ok"], reply
        return reply.get("result")

    async def stop(self) -> None:
        """Close stdin (the script closes its sockets and exits); kill it if it lingers."""
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(ConnectionError):
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _matches(report: dict[str, Any], kind: str, match: dict[str, Any]) -> bool:
    return report.get("type") == kind and all(report.get(k) == v for k, v in match.items())


class NodeClient(NodePeer):
    """client.mjs: socket.io-client sockets, each known by a name."""

    def open(self, name: str, namespace: str = "/", **options: Any) -> None:
        self.send("open", name=name, ns=namespace, **options)

    async def connected(self, name: str) -> str:
        """Wait for socket ``name`` to connect; return its id."""
        return str((await self.next("connect", name=name))["id"])

    def listen(self, name: str, event: str, **options: Any) -> None:
        self.send("listen", name=name, event=event, **options)

    async def received(self, name: str, event: str) -> list[Any]:
        """The arguments of the next ``event`` that socket ``name`` received."""
        args: list[Any] = (await self.next("event", name=name, event=event))["args"]
        return args


class NodeServer(NodePeer):
    """server.mjs: a socket.io Server; ``port`` and ``url`` once it listens."""

    port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def received(self, event: str, **match: Any) -> dict[str, Any]:
        """The next ``event`` report (``ns``, ``id``, ``args``) the server got."""
        return await self.next("event", event=event, **match)


NodeClientFactory = Callable[[Server], Awaitable[NodeClient]]
NodeServerFactory = Callable[..., Awaitable[NodeServer]]
