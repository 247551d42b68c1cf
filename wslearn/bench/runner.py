"""The runner: repetitions of every workload on every server, with the load checked.

For each repetition, each server (in an order rotated per repetition, so that no
server always runs first or last) gets a fresh process and, in it, the idle-memory,
latency, echo and fan-out workloads; calibration loops run before and after. A
repetition that :func:`~wslearn.bench.machine.judge_load` finds disturbed is run
again, up to ``retries`` times; if every attempt was disturbed, the least disturbed
one is kept and labelled. The many-connection scenario runs afterwards, once per
server (it is pass or fail, not a ratio), with the same check.

The result is a plain JSON-ready dict (see :mod:`wslearn.bench.report` for its keys
and for the tables made from it).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from . import stats
from .machine import Calibration, LoadThresholds, judge_load
from .processes import (
    NODE_DIR,
    BenchError,
    LoadGenerator,
    RunningServer,
    ServerSpec,
    available_servers,
    open_log,
    start_server,
    stop_server,
)

__all__ = ["FULL", "QUICK", "BenchConfig", "choose_cpus", "machine_info", "run", "run_async"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What to run, and how much of it. :data:`QUICK` and :data:`FULL` are the presets.

    Counts are per repetition. Heartbeat times are in seconds and whole (python-socketio
    announces them truncated to whole seconds). ``servers`` limits the run to some
    server keys (None: all available); ``many_servers`` does the same for the
    many-connection scenario (an empty tuple skips it).
    """

    mode: str = "quick"
    reps: int = 1
    retries: int = 1
    servers: tuple[str, ...] | None = None
    wslearn_srcs: tuple[tuple[str, str], ...] = ()
    ping_interval: float = 1.0
    ping_timeout: float = 10.0
    latency_count: int = 300
    latency_warmup: int = 100
    echo_count: int = 10_000
    echo_warmup: int = 1_000
    echo_connections: int = 8
    echo_window: int = 16
    fanout_clients: int = 200
    fanout_rounds: int = 100
    fanout_warmup: int = 3
    fanout_window: int = 4
    idle_connections: int = 200
    many_servers: tuple[str, ...] | None = ("wslearn",)
    many_connections: int = 500
    many_ping_interval: float = 1.0
    many_ping_timeout: float = 1.0
    many_dead_fraction: float = 0.1
    many_observe_rounds: int = 2
    many_tolerance: float = 1.0
    many_slack: float = 1.0
    thresholds: LoadThresholds = field(default_factory=LoadThresholds)


QUICK = BenchConfig()
FULL = BenchConfig(
    mode="full",
    reps=3,
    retries=3,
    ping_interval=5.0,
    latency_count=5_000,
    latency_warmup=500,
    echo_count=100_000,
    echo_warmup=10_000,
    fanout_clients=1_000,
    fanout_rounds=100,
    fanout_warmup=5,
    idle_connections=1_000,
    many_servers=None,
    many_connections=10_000,
    many_ping_interval=10.0,
    many_ping_timeout=5.0,
)


def choose_cpus() -> tuple[int | None, int | None]:
    """The (server, load generator) cores: the first two this process may use.

    Returns ``(None, None)`` on a single core: nothing is pinned, and the report says so.
    """
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        return None, None
    return usable[0], usable[1]


class _Session:
    """One run of the benchmark: the processes, the cores and what was measured."""

    def __init__(self, config: BenchConfig, logs: Path, progress: Progress | None) -> None:
        self.config = config
        self.logs = logs
        self.say = progress or (lambda _: None)
        self.server_cpu, self.client_cpu = choose_cpus()
        self.cpus = [c for c in (self.server_cpu, self.client_cpu) if c is not None]
        self.fastest: dict[int, float] = {}
        self.loadgen: LoadGenerator | None = None

    async def calibrate(self) -> list[Calibration]:
        assert self.loadgen is not None
        cpus = self.cpus or sorted(os.sched_getaffinity(0))[:1]
        result = await self.loadgen.call("calibrate", {"cpus": cpus}, 60)
        timings = [Calibration(c["cpu"], c["wall"], c["cpu_time"]) for c in result["calibrations"]]
        for cal in timings:
            self.fastest[cal.cpu] = min(cal.wall, self.fastest.get(cal.cpu, cal.wall))
        return timings

    async def start(self, spec: ServerSpec, interval: float, ping_timeout: float) -> RunningServer:
        log = open_log(self.logs / f"{spec.key.replace('@', '-')}.log")
        return await start_server(
            spec, cpu=self.server_cpu, ping_interval=interval, ping_timeout=ping_timeout, log=log
        )

    def base_args(self, server: RunningServer, interval: float) -> dict[str, Any]:
        target = {
            "host": "127.0.0.1",
            "port": server.port,
            "path": server.spec.path,
            "socketio": server.spec.socketio,
            "ping_interval": interval,
        }
        return {"target": target, "server_pid": server.pid, "cpus": self.cpus}

    async def attempts(
        self, spec: ServerSpec, measure: Callable[[], Any], phases_of: Callable[[Any], Any]
    ) -> dict[str, Any]:
        """Run ``measure`` until undisturbed (or out of retries); keep the best attempt."""
        kept: dict[str, Any] | None = None
        tries = self.config.retries + 1
        for attempt in range(1, tries + 1):
            before = await self.calibrate()
            result = await measure()
            after = await self.calibrate()
            phases = phases_of(result)
            verdict = judge_load(phases, before + after, self.fastest, self.config.thresholds)
            foreign = max((f / w for _, w, f in phases if w > 0), default=0.0)
            run = {
                "server": spec.key,
                "attempts": attempt,
                "disturbed": verdict.disturbed,
                "reasons": list(verdict.reasons),
                "foreign_cores": foreign,
                "calibrations": [asdict(c) for c in before + after],
                "result": result,
            }
            # Keep an undisturbed attempt, else the one others disturbed least.
            if kept is None or not verdict.disturbed or foreign < kept["foreign_cores"]:
                kept = run
            kept["attempts"] = attempt
            if not verdict.disturbed:
                break
            then = "again" if attempt < tries else "kept, marked disturbed"
            self.say(f"  {spec.key}: disturbed (others used up to {foreign:.2f} cores), {then}")
        assert kept is not None
        return kept

    async def workloads(self, spec: ServerSpec) -> dict[str, Any]:
        """The idle, latency, echo and fan-out workloads in one fresh server process."""
        c = self.config
        assert self.loadgen is not None
        server = await self.start(spec, c.ping_interval, c.ping_timeout)
        base = self.base_args(server, c.ping_interval)
        call = self.loadgen.call
        try:
            idle = await call(
                "idle", {**base, "connections": c.idle_connections}, 2 * c.ping_interval + 120
            )
            latency = await call(
                "latency", {**base, "count": c.latency_count, "warmup": c.latency_warmup}, 120
            )
            rtts = latency.pop("rtt_us")
            latency.update(
                p50_us=stats.percentile(rtts, 50),
                p99_us=stats.percentile(rtts, 99),
                count=len(rtts),
            )
            echo = await call(
                "echo",
                {
                    **base,
                    "connections": c.echo_connections,
                    "window": c.echo_window,
                    "count": c.echo_count,
                    "warmup": c.echo_warmup,
                },
                300,
            )
            fanout = await call(
                "fanout",
                {
                    **base,
                    "clients": c.fanout_clients,
                    "rounds": c.fanout_rounds,
                    "window": c.fanout_window,
                    "warmup": c.fanout_warmup,
                },
                300,
            )
        finally:
            await stop_server(server)
        return {
            "process": server.info,
            "idle": idle,
            "latency": latency,
            "echo": echo,
            "fanout": fanout,
        }

    async def many(self, spec: ServerSpec) -> dict[str, Any]:
        """The many-connection scenario in one fresh server process."""
        c = self.config
        assert self.loadgen is not None
        server = await self.start(spec, c.many_ping_interval, c.many_ping_timeout)
        args = {
            **self.base_args(server, c.many_ping_interval),
            "connections": c.many_connections,
            "ping_timeout": c.many_ping_timeout,
            "dead_fraction": c.many_dead_fraction,
            "observe_rounds": c.many_observe_rounds,
            "slack": c.many_slack,
        }
        try:
            result = await self.loadgen.call("many", args, 600)
        finally:
            await stop_server(server)
        result["process"] = server.info
        bound = c.many_ping_interval + c.many_ping_timeout + c.many_slack
        verdict = stats.judge_heartbeat(
            result["lateness_s"],
            result["drop_delays_s"],
            result["live_dropped"],
            tolerance=c.many_tolerance,
            bound=bound,
        )
        lateness = result.pop("lateness_s")
        result.update(
            pings=len(lateness),
            lateness_p99_s=stats.percentile(lateness, 99) if lateness else None,
            bound_s=bound,
            verdict=asdict(verdict),
        )
        return result


def _phases_of_workloads(result: dict[str, Any]) -> list[tuple[str, float, float]]:
    return [
        (name, result[name]["wall_s"], result[name]["foreign_cpu_s"])
        for name in ("latency", "echo", "fanout")
    ]


def _phases_of_many(result: dict[str, Any]) -> list[tuple[str, float, float]]:
    return [("many", result["wall_s"], result["foreign_cpu_s"])]


def machine_info(node_dir: Path = NODE_DIR) -> dict[str, Any]:
    """What a reader needs to place the figures: CPU, cores, OS, library versions."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("websockets", "python-socketio", "python-engineio", "aiohttp"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    node = shutil.which("node")
    if node is not None:
        versions["node"] = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        manifest = node_dir / "node_modules" / "socket.io" / "package.json"
        if manifest.is_file():
            versions["socket.io"] = json.loads(manifest.read_text())["version"]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "host": platform.node(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
    }


def _selected(specs: list[ServerSpec], keys: tuple[str, ...] | None) -> list[ServerSpec]:
    if keys is None:
        return specs
    chosen = [s for s in specs if s.key in keys or s.key.split("@")[0] in keys]
    unknown = set(keys) - {s.key for s in specs} - {s.key.split("@")[0] for s in specs}
    if unknown:
        raise BenchError(
            f"unknown or unavailable servers {sorted(unknown)}; "
            f"known here: {[s.key for s in specs]}"
        )
    return chosen


async def run_async(
    config: BenchConfig = QUICK,
    *,
    progress: Progress | None = None,
    logs: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return its raw result (see :mod:`wslearn.bench.report`).

    Args:
        config: what to run (:data:`QUICK`, :data:`FULL` or your own).
        progress: called with a line of text at each step (the CLI prints them).
        logs: where the servers' and the load generator's stderr go (default: a
            temporary folder, named in the result).

    Raises:
        BenchError: a server or the load generator failed; the message says why.
    """
    srcs = [(label, Path(tree)) for label, tree in config.wslearn_srcs] or None
    specs, unavailable = available_servers(srcs)
    specs = _selected(specs, config.servers)
    many_specs = [] if config.many_servers == () else _selected(specs, config.many_servers)
    logs = logs or Path(tempfile.mkdtemp(prefix="wslearn-bench-"))
    session = _Session(config, logs, progress)
    started = time.time()
    runs: list[dict[str, Any]] = []
    many: list[dict[str, Any]] = []
    with open_log(logs / "loadgen.log") as log:
        session.loadgen = await LoadGenerator.start(session.client_cpu, log)
        try:
            for rep in range(config.reps):
                shift = rep % len(specs)
                for spec in specs[shift:] + specs[:shift]:
                    session.say(f"rep {rep + 1}/{config.reps}: {spec.label}")
                    run = await session.attempts(
                        spec, functools.partial(session.workloads, spec), _phases_of_workloads
                    )
                    runs.append({**run, "rep": rep})
            for spec in many_specs:
                session.say(f"{config.many_connections} connections: {spec.label}")
                many.append(
                    await session.attempts(
                        spec, functools.partial(session.many, spec), _phases_of_many
                    )
                )
        finally:
            await session.loadgen.stop()
    return {
        "tool": "python -m wslearn bench",
        "mode": config.mode,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine_info(),
        "pinning": {"server_cpu": session.server_cpu, "loadgen_cpu": session.client_cpu},
        "load_generator": "Python asyncio BufferedProtocol clients, pre-encoded frames",
        "config": asdict(config),
        "servers": [
            {
                "key": s.key,
                "label": s.label,
                "kind": s.kind,
                "src": str(s.src or ""),
                "revision": s.revision,
            }
            for s in specs
        ],
        "unavailable": unavailable,
        "runs": runs,
        "many": many,
        "logs": str(logs),
    }


def run(config: BenchConfig = QUICK, **kwargs: Any) -> dict[str, Any]:
    """:func:`run_async` for code without a running event loop (the CLI)."""
    return asyncio.run(run_async(config, **kwargs))


def with_overrides(config: BenchConfig, **changes: Any) -> BenchConfig:
    """A copy of ``config`` with some fields changed (None values are ignored)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
