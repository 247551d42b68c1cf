"""Reading the machine from ``/proc`` text, and deciding whether a run was disturbed.

Everything here takes the text of a ``/proc`` file (or numbers taken from it) and
returns numbers, so tests feed it strings; the load generator does the reading.

Two independent signs that something else used the cores while a run measured:

- **foreign CPU**: over a phase, the busy time of the two pinned cores (``/proc/stat``)
  minus the CPU time of the server and the load generator. Anything left was some
  other process (or the kernel working for one) on the cores the figures rely on.
- **calibration**: a fixed loop timed on each core before and after the run. If its
  wall time exceeds its CPU time, it waited for the core; if it ran slower than the
  fastest time seen in the session, the core itself was slower (contention in a VM,
  frequency scaling).

``/proc/loadavg`` is recorded too, but only as context: it counts the run's own
processes, so it cannot tell them from others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Calibration",
    "LoadThresholds",
    "LoadVerdict",
    "busy_ticks_per_cpu",
    "cpu_ticks_of_process",
    "foreign_cpu_seconds",
    "judge_load",
    "load_average",
    "rss_kib",
]


def cpu_ticks_of_process(stat_text: str) -> int:
    """User plus system CPU time, in clock ticks, from ``/proc/<pid>/stat``.

    The command name (field 2) is in parentheses and may itself contain spaces and
    parentheses, so fields are counted from the last ``)``.

    Raises:
        ValueError: the text is not a ``/proc/<pid>/stat`` line.
    """
    close = stat_text.rfind(")")
    fields = stat_text[close + 1 :].split()
    if close < 0 or len(fields) < 13:
        raise ValueError(f"not a /proc/<pid>/stat line: {stat_text[:80]!r}")
    # After the name: state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
    # cmajflt utime(14) stime(15), i.e. indexes 11 and 12 of what follows ")".
    return int(fields[11]) + int(fields[12])


def busy_ticks_per_cpu(proc_stat_text: str) -> dict[int, int]:
    """Non-idle clock ticks of each CPU since boot, from ``/proc/stat``.

    Busy is everything but ``idle`` and ``iowait`` (user, nice, system, irq, softirq,
    steal); ``guest`` time is already counted in ``user``.
    """
    busy: dict[int, int] = {}
    for line in proc_stat_text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        values = [int(v) for v in rest.split()]
        user, nice, system, _idle, _iowait, irq, softirq = values[:7]
        steal = values[7] if len(values) > 7 else 0
        busy[int(name[3:])] = user + nice + system + irq + softirq + steal
    return busy


def rss_kib(status_text: str) -> int:
    """Resident set size in KiB, from the ``VmRSS:`` line of ``/proc/<pid>/status``.

    Raises:
        ValueError: there is no ``VmRSS`` line (the process is a zombie or gone).
    """
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line: the process has exited")


def load_average(loadavg_text: str) -> float:
    """The one-minute load average, the first field of ``/proc/loadavg``."""
    return float(loadavg_text.split()[0])


def foreign_cpu_seconds(
    busy_before: Mapping[int, int],
    busy_after: Mapping[int, int],
    cpus: Iterable[int],
    own_seconds: float,
    ticks_per_second: int,
) -> float:
    """CPU seconds others spent on ``cpus`` between two ``/proc/stat`` readings.

    Args:
        busy_before: :func:`busy_ticks_per_cpu` at the start of the phase.
        busy_after: the same at its end.
        cpus: the cores the server and the load generator are pinned to.
        own_seconds: CPU seconds of the server plus the load generator in the phase.
        ticks_per_second: ``os.sysconf("SC_CLK_TCK")``, the unit of both readings.

    Returns:
        Never negative: tick rounding can make the difference slightly so.
    """
    ticks = sum(busy_after[cpu] - busy_before[cpu] for cpu in cpus)
    return max(0.0, ticks / ticks_per_second - own_seconds)


@dataclass(frozen=True, slots=True)
class Calibration:
    """One timing of the calibration loop on one core.

    Attributes:
        cpu: the core it ran on.
        wall: seconds it took.
        cpu_time: CPU seconds it used (less than ``wall`` when it waited for the core).
    """

    cpu: int
    wall: float
    cpu_time: float

    @property
    def waited(self) -> float:
        """The share of the wall time spent not running: 0.0 on an idle core."""
        return max(0.0, 1.0 - self.cpu_time / self.wall) if self.wall > 0 else 0.0


@dataclass(frozen=True, slots=True)
class LoadThresholds:
    """When a run counts as disturbed (see :func:`judge_load`).

    Attributes:
        foreign_cores: others' CPU during a phase, in cores (CPU seconds per second).
        waited: the share of a calibration loop spent waiting for its core.
        slowdown: a calibration loop slower than the session's fastest by this factor.
    """

    foreign_cores: float = 0.10
    waited: float = 0.15
    slowdown: float = 1.20


@dataclass(frozen=True, slots=True)
class LoadVerdict:
    """Whether a run was disturbed, and every reason found."""

    disturbed: bool
    reasons: tuple[str, ...]


def judge_load(
    phases: Sequence[tuple[str, float, float]],
    calibrations: Sequence[Calibration],
    fastest: Mapping[int, float],
    thresholds: LoadThresholds = LoadThresholds(),
) -> LoadVerdict:
    """Decide whether a run was disturbed by other work on its cores.

    Args:
        phases: ``(name, wall_seconds, foreign_cpu_seconds)`` of each measured phase.
        calibrations: the loops timed before and after the run.
        fastest: the fastest calibration wall time seen this session, per core.
        thresholds: the limits.
    """
    reasons: list[str] = []
    for name, wall, foreign in phases:
        cores = foreign / wall if wall > 0 else 0.0
        if cores > thresholds.foreign_cores:
            reasons.append(f"{name}: others used {cores:.2f} cores")
    for cal in calibrations:
        if cal.waited > thresholds.waited:
            reasons.append(f"calibration on cpu {cal.cpu} waited {cal.waited:.0%} of its time")
        best = fastest.get(cal.cpu)
        if best is not None and best > 0 and cal.wall / best > thresholds.slowdown:
            reasons.append(f"calibration on cpu {cal.cpu} ran {cal.wall / best:.2f}x slower")
    return LoadVerdict(bool(reasons), tuple(reasons))
