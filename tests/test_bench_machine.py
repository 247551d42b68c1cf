"""Tests for wslearn.bench.machine: /proc parsing and the disturbed-run verdict."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from wslearn.bench.machine import (
    Calibration,
    LoadThresholds,
    busy_ticks_per_cpu,
    cpu_ticks_of_process,
    foreign_cpu_seconds,
    judge_load,
    load_average,
    rss_kib,
)

PROC_STAT = """cpu  100 5 50 1000 20 3 2 1 0 0
cpu0 60 5 30 400 10 2 1 1 0 0
cpu1 40 0 20 600 10 1 1 0 0 0
intr 12345 0 0
ctxt 999
"""


def test_process_cpu_is_utime_plus_stime_even_with_parentheses_in_the_name() -> None:
    line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 77 0 0 0 123 45 0 0 20 0 3 0 99 1 2"
    assert cpu_ticks_of_process(line) == 123 + 45


def test_process_cpu_of_this_process_grows_as_it_works() -> None:
    def ticks() -> int:
        return cpu_ticks_of_process(Path("/proc/self/stat").read_text())

    start = ticks()
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert ticks() > start


def test_a_line_that_is_not_a_stat_line_is_refused() -> None:
    with pytest.raises(ValueError, match="stat"):
        cpu_ticks_of_process("hello")


def test_busy_ticks_exclude_idle_and_iowait_and_skip_the_total_line() -> None:
    assert busy_ticks_per_cpu(PROC_STAT) == {0: 60 + 5 + 30 + 2 + 1 + 1, 1: 40 + 20 + 1 + 1}


def test_busy_ticks_of_this_machine_list_the_cores_we_may_use() -> None:
    busy = busy_ticks_per_cpu(Path("/proc/stat").read_text())
    assert set(os.sched_getaffinity(0)) <= set(busy)


def test_rss_and_load_average_are_read_from_their_lines() -> None:
    assert rss_kib("Name:\tpython\nVmPeak:\t  9000 kB\nVmRSS:\t  4321 kB\n") == 4321
    assert rss_kib(Path("/proc/self/status").read_text()) > 0
    with pytest.raises(ValueError, match="exited"):
        rss_kib("Name:\tzombie\nState:\tZ (zombie)\n")
    assert load_average("0.52 0.40 0.33 2/150 4242\n") == 0.52


def test_foreign_cpu_is_the_cores_busy_time_minus_our_own() -> None:
    before, after = {0: 100, 1: 200, 2: 0}, {0: 250, 1: 300, 2: 900}
    # cpus 0 and 1: 250 ticks = 2.5 s busy; ours 2.0 s; cpu 2 is not ours.
    assert foreign_cpu_seconds(before, after, [0, 1], 2.0, 100) == pytest.approx(0.5)
    assert foreign_cpu_seconds(before, after, [0, 1], 2.6, 100) == 0.0  # rounding


def test_a_quiet_run_is_not_disturbed() -> None:
    verdict = judge_load(
        [("echo", 2.0, 0.05)],
        [Calibration(0, 0.020, 0.0199), Calibration(1, 0.021, 0.0205)],
        {0: 0.020, 1: 0.020},
    )
    assert not verdict.disturbed and verdict.reasons == ()


def test_each_sign_of_load_is_a_reason() -> None:
    verdict = judge_load(
        [("echo", 2.0, 0.5), ("fanout", 1.0, 0.01)],
        [Calibration(0, 0.040, 0.020), Calibration(1, 0.030, 0.0299)],
        {0: 0.020, 1: 0.020},
    )
    assert verdict.disturbed
    assert verdict.reasons == (
        "echo: others used 0.25 cores",
        "calibration on cpu 0 waited 50% of its time",
        "calibration on cpu 0 ran 2.00x slower",
        "calibration on cpu 1 ran 1.50x slower",
    )


def test_thresholds_decide_what_counts_as_disturbed() -> None:
    phases = [("echo", 1.0, 0.2)]
    assert judge_load(phases, [], {}).disturbed
    assert not judge_load(phases, [], {}, LoadThresholds(foreign_cores=0.3)).disturbed


def test_a_calibration_that_waited_for_its_core_has_a_waited_share() -> None:
    assert Calibration(0, 0.04, 0.01).waited == pytest.approx(0.75)
    assert Calibration(0, 0.04, 0.05).waited == 0.0  # clock granularity
    assert Calibration(0, 0.0, 0.0).waited == 0.0


SPIN = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass\n"


async def test_a_process_spinning_on_the_core_makes_the_calibration_disturbed() -> None:
    from wslearn.bench.workloads import calibrate

    before = os.sched_getaffinity(0)
    cpu = min(before)
    spinner = await asyncio.create_subprocess_exec(sys.executable, "-c", SPIN, str(cpu))
    try:
        await asyncio.sleep(0.3)  # let it start spinning
        result = await calibrate({"cpus": [cpu], "samples": 3, "own_cpu": None})
    finally:
        spinner.kill()
        await spinner.wait()
    assert os.sched_getaffinity(0) == before  # the calibration gave the cores back
    [timing] = result["calibrations"]
    verdict = judge_load([], [Calibration(**timing)], {})
    # Sharing a core with a spinner leaves about half the time to the loop.
    assert verdict.disturbed, timing
