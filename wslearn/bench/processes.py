"""The processes of a run: the servers under test, and the load generator that drives them.

Each server runs in its own process, started fresh for every repetition, pinned (all
its threads) to the server core, with its open-files limit raised to the hard limit:

==================  ===========================================================
key                 process
==================  ===========================================================
``websockets``      ``serve.py websockets``: raw websockets, the reference
``wslearn``         ``serve.py wslearn`` with a source tree first on PYTHONPATH
``python-socketio`` ``serve.py python-socketio``: AsyncServer on aiohttp
``node-socketio``   ``node tests/interop/node/bench_server.mjs`` (when present)
==================  ===========================================================

A wslearn server can come from any source tree (``--wslearn-src before=/path``): the
runner checks, from the file the server reports it imported, that it really ran
that tree and not the installed package.

The load generator (:mod:`wslearn.bench.loadgen`) is one process for the whole run,
pinned to the other core, driven by :class:`LoadGenerator` over JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "NODE_DIR",
    "BenchError",
    "LoadGenerator",
    "RunningServer",
    "ServerSpec",
    "available_servers",
    "start_server",
    "stop_server",
    "tree_of_this_wslearn",
]

HERE = Path(__file__).resolve().parent
SERVE_PY = HERE / "serve.py"
NODE_DIR = HERE.parents[1] / "tests" / "interop" / "node"
NODE_SERVER = "bench_server.mjs"


class BenchError(Exception):
    """The benchmark cannot run as asked; the message says what to change."""


def tree_of_this_wslearn() -> Path:
    """The source tree holding the ``wslearn`` package this tool belongs to."""
    return HERE.parents[1]


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One server under test.

    Attributes:
        key: its name in tables and on the command line (``wslearn@before``...).
        label: what a reader sees in the first column.
        kind: the ``serve.py`` kind, or ``node``.
        socketio: whether clients do the Engine.IO / Socket.IO handshake.
        src: for wslearn, the source tree put first on the server's PYTHONPATH.
        revision: for wslearn, the git commit of ``src`` when it is a checkout.
    """

    key: str
    label: str
    kind: str
    socketio: bool
    src: Path | None = None
    revision: str | None = None

    @property
    def path(self) -> str:
        """The request path of its WebSocket endpoint."""
        return "/socket.io/?EIO=4&transport=websocket" if self.socketio else "/"


def _git_revision(tree: Path) -> str | None:
    if shutil.which("git") is None or not (tree / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            # Changes to the benchmark itself are not changes to the server measured.
            ["git", "-C", str(tree), "status", "--porcelain", "--", "wslearn", ":!wslearn/bench"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if changed else "")


def available_servers(
    wslearn_srcs: list[tuple[str, Path]] | None = None, node_dir: Path = NODE_DIR
) -> tuple[list[ServerSpec], dict[str, str]]:
    """The servers this machine can run, and why the others cannot.

    Args:
        wslearn_srcs: ``(label, tree)`` of each wslearn to measure; None measures the
            tree this tool belongs to. An empty label means a single unlabelled row.
        node_dir: the folder with ``bench_server.mjs`` and its ``node_modules``.

    Raises:
        BenchError: a tree has no ``wslearn`` package, or two share a label.
    """
    srcs = wslearn_srcs or [("", tree_of_this_wslearn())]
    specs = [ServerSpec("websockets", "raw websockets", "websockets", socketio=False)]
    labels = [label for label, _ in srcs]
    if len(set(labels)) != len(labels):
        raise BenchError(f"each --wslearn-src needs its own label, got {labels}")
    for label, tree in srcs:
        tree = tree.resolve()
        if not (tree / "wslearn" / "__init__.py").is_file():
            raise BenchError(f"{tree} has no wslearn/__init__.py: give the root of a checkout")
        specs.append(
            ServerSpec(
                f"wslearn@{label}" if label else "wslearn",
                f"wslearn Server() [{label}]" if label else "wslearn Server()",
                "wslearn",
                socketio=True,
                src=tree,
                revision=_git_revision(tree),
            )
        )
    specs.append(
        ServerSpec("python-socketio", "python-socketio (aiohttp)", "python-socketio", True)
    )
    unavailable: dict[str, str] = {}
    if shutil.which("node") is None:
        unavailable["node-socketio"] = "node is not installed"
    elif not (node_dir / "node_modules" / "socket.io").is_dir():
        unavailable["node-socketio"] = f"no node_modules in {node_dir}: run `make node-peers`"
    elif not (node_dir / NODE_SERVER).is_file():
        unavailable["node-socketio"] = f"{node_dir / NODE_SERVER} is missing"
    else:
        specs.append(ServerSpec("node-socketio", "Node socket.io", "node", socketio=True))
    return specs, unavailable


@dataclass
class RunningServer:
    """A started server process and what it reported when ready."""

    spec: ServerSpec
    process: asyncio.subprocess.Process
    info: dict[str, Any]
    log: IO[bytes]
    cpu: int | None = None

    @property
    def pid(self) -> int:
        """The server's process id (the process measured)."""
        return self.process.pid

    @property
    def port(self) -> int:
        """The port it listens on, on 127.0.0.1."""
        return int(self.info["port"])


def _command(spec: ServerSpec, ping_interval: float, ping_timeout: float) -> list[str]:
    if spec.kind == "node":
        options = {
            "pingInterval": round(ping_interval * 1000),
            "pingTimeout": round(ping_timeout * 1000),
            "perMessageDeflate": False,
        }
        return ["node", NODE_SERVER, json.dumps(options)]
    return [
        sys.executable,
        "-P",
        str(SERVE_PY),
        spec.kind,
        "--ping-interval",
        str(ping_interval),
        "--ping-timeout",
        str(ping_timeout),
    ]


def pin_all_threads(pid: int, cpu: int) -> None:
    """Pin every thread of ``pid`` to ``cpu``; threads started later inherit it."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(tid), {cpu})


def open_log(path: Path) -> IO[bytes]:
    """A log file for a process's stderr, appended to (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab")


def _imported_from(info: dict[str, Any], tree: Path) -> Path | None:
    """The file the server imported, if it is not inside ``tree``."""
    imported = Path(info["file"]).resolve()
    return None if imported.is_relative_to(tree) else imported


def _tail(log: IO[bytes], lines: int = 15) -> str:
    log.flush()
    with open(log.name, "rb") as file:
        text = file.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


async def start_server(
    spec: ServerSpec,
    *,
    cpu: int | None,
    ping_interval: float,
    ping_timeout: float,
    log: IO[bytes],
    node_dir: Path = NODE_DIR,
) -> RunningServer:
    """Start a server, wait until it listens, pin it and check what it imported.

    Raises:
        BenchError: it did not start within 30 s, or it imported another wslearn.
    """
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if spec.src is not None:
        env["PYTHONPATH"] = str(spec.src)
    process = await asyncio.create_subprocess_exec(
        *_command(spec, ping_interval, ping_timeout),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env=env,
        cwd=node_dir if spec.kind == "node" else None,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
    except TimeoutError:
        line = b""
    if not line:
        process.kill()
        await process.wait()
        raise BenchError(f"{spec.label} did not start:\n{_tail(log)}")
    server = RunningServer(spec, process, json.loads(line), log, cpu)
    if cpu is not None:
        pin_all_threads(process.pid, cpu)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.prlimit(process.pid, resource.RLIMIT_NOFILE, (hard, hard))
    if spec.src is not None and (elsewhere := _imported_from(server.info, spec.src)):
        await stop_server(server)
        raise BenchError(f"{spec.label} imported {elsewhere}, not the tree {spec.src}")
    return server


async def stop_server(server: RunningServer) -> None:
    """Kill the server (the figures are taken); raise if it had died on its own.

    Raises:
        BenchError: the process exited before it was stopped.
    """
    process = server.process
    if process.returncode is None:
        # It may have died and been reaped already: the code below says how.
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
    code = await process.wait()
    if code != -signal.SIGKILL:
        raise BenchError(
            f"{server.spec.label} exited with {code} during the run:\n" + _tail(server.log)
        )


class LoadGenerator:
    """The load generator process (:mod:`wslearn.bench.loadgen`), driven by JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        self._process = process
        self._log = log

    @classmethod
    async def start(cls, cpu: int | None, log: IO[bytes]) -> LoadGenerator:
        """Start it (pinned to ``cpu`` when given) from this tool's own tree."""
        env = {**os.environ, "PYTHONPATH": str(tree_of_this_wslearn())}
        args = ["-P", "-m", "wslearn.bench.loadgen"]
        if cpu is not None:
            args += ["--cpu", str(cpu)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=env,
            limit=1 << 26,  # an answer lists every ping of ten thousand clients
        )
        return cls(process, log)

    async def call(self, op: str, args: dict[str, Any], within: float) -> dict[str, Any]:
        """Run one workload and return its figures (waiting ``within`` seconds at most).

        Raises:
            BenchError: the workload failed, or the load generator did not answer.
        """
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        await stdin.drain()
        try:
            line = await asyncio.wait_for(stdout.readline(), within)
        except TimeoutError:
            line = b""
        if not line:
            raise BenchError(f"the load generator did not answer {op!r}:\n{_tail(self._log)}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BenchError(f"{op}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def stop(self) -> None:
        """Close its stdin (it exits), killing it if it does not within 10 s."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
