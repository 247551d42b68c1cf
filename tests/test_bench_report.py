"""Tests for wslearn.bench.report: figures, medians and ratios from raw results, and the
Markdown, JSON and PNG written from them. The results here are made up; the runner's
real output goes through the same functions in tests/test_bench_run.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wslearn.bench.report import (
    COLUMNS,
    TIMES,
    figures_of_run,
    markdown,
    ratios,
    summarize_servers,
    write,
)


def phase(wall: float, server: float, client: float, **extra: Any) -> dict[str, Any]:
    return {
        "wall_s": wall,
        "server_cpu_s": server,
        "server_cpu_ticks": round(server * 1000),  # as on a kernel ticking at 1000 Hz
        "client_cpu_s": client,
        "foreign_cpu_s": 0.0,
        **extra,
    }


def raw(echo_wall: float, echo_cpu: float, *, disturbed: bool = False) -> dict[str, Any]:
    """One run's raw result: 10,000 echoes, 20,000 fan-out deliveries."""
    return {
        "process": {"version": "9.9", "aiohttp": "3.0"},
        "echo": phase(echo_wall, echo_cpu, 0.05, messages=10_000),
        "fanout": phase(0.5, 0.4, 0.48, deliveries=20_000, clients=200),
        "latency": phase(0.1, 0.05, 0.02, p50_us=100.0, p99_us=300.0, count=300),
        "idle": {"kib_per_conn": 16.0},
    }


def report(runs: list[tuple[str, dict[str, Any], bool]]) -> dict[str, Any]:
    servers = [
        ("websockets", "raw websockets", "websockets"),
        ("wslearn", "wslearn Server()", "wslearn"),
        ("python-socketio", "python-socketio (aiohttp)", "python-socketio"),
    ]
    return {
        "mode": "quick",
        "date": "2026-12-02 17:00 UTC",
        "machine": {
            "cpu": "Test CPU",
            "usable_cores": 2,
            "system": "Linux",
            "python": "3.11",
            "versions": {"websockets": "17.4"},
        },
        "pinning": {"server_cpu": 0, "loadgen_cpu": 1},
        "config": {
            "reps": 2,
            "echo_count": 10_000,
            "echo_connections": 8,
            "echo_window": 16,
            "fanout_rounds": 100,
            "fanout_clients": 200,
            "idle_connections": 100,
            "ping_interval": 1.0,
            "latency_count": 300,
        },
        "servers": [
            {"key": k, "label": label, "kind": kind, "src": "", "revision": "abc1234"}
            for k, label, kind in servers
        ],
        "unavailable": {"node-socketio": "node is not installed"},
        "runs": [
            {"server": key, "rep": i, "disturbed": bad, "reasons": [], "result": result}
            for i, (key, result, bad) in enumerate(runs)
        ],
        "many": [],
    }


def two_reps() -> dict[str, Any]:
    return report(
        [
            ("websockets", raw(0.2, 0.18), False),
            ("websockets", raw(0.25, 0.18), False),
            ("wslearn", raw(0.5, 0.57), False),
            ("wslearn", raw(0.6, 0.60), True),
            ("python-socketio", raw(1.2, 1.1), False),
            ("python-socketio", raw(1.1, 1.2), False),
        ]
    )


def test_figures_of_a_run_are_rates_and_cpu_per_10k() -> None:
    figures = figures_of_run(raw(0.2, 0.18))
    assert figures["echo_msgs_per_s"] == pytest.approx(50_000)
    assert figures["echo_cpu_per_10k"] == pytest.approx(0.18)
    assert figures["fanout_deliveries_per_s"] == pytest.approx(40_000)
    assert figures["fanout_cpu_per_10k"] == pytest.approx(0.2)
    assert figures["fanout_client_cores"] == pytest.approx(0.96)
    assert figures["echo_server_cores"] == pytest.approx(0.9)
    assert figures["latency_p50_us"] == 100.0


def test_summaries_take_the_median_over_repetitions_and_ratios_divide_by_raw_websockets() -> None:
    summaries = summarize_servers(two_reps())
    assert summaries["wslearn"]["echo_cpu_per_10k"].median == pytest.approx(0.585)
    assert summaries["wslearn"]["echo_cpu_per_10k"].n == 2
    table = ratios(summaries)
    assert table["websockets"]["echo_cpu_per_10k"] == pytest.approx(1.0)
    assert table["wslearn"]["echo_cpu_per_10k"] == pytest.approx(0.585 / 0.18)
    # The median of the rates, not the rate of the median wall time.
    wslearn_rate = (10_000 / 0.5 + 10_000 / 0.6) / 2
    assert table["wslearn"]["echo_msgs_per_s"] == pytest.approx(wslearn_rate / 45_000)
    assert set(table["python-socketio"]) == {name for name, _, _ in COLUMNS}


def test_without_raw_websockets_there_are_no_ratios() -> None:
    summaries = summarize_servers(report([("wslearn", raw(0.5, 0.5), False)]))
    assert ratios(summaries) == {}


def table_rows(text: str, title: str) -> list[list[str]]:
    """The body rows of the Markdown table under ``## title``, split into cells."""
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_the_markdown_has_a_well_formed_row_per_server_in_each_table() -> None:
    text = markdown(two_reps())
    assert "Test CPU" in text and "2026-12-02 17:00 UTC" in text
    assert "Not measured: node-socketio (node is not installed)" in text
    for title, width in [("Ratios to raw websockets", len(COLUMNS) + 1),
                         ("Absolute figures", len(COLUMNS) + 1),
                         ("The load generator's CPU", 4)]:  # fmt: skip
        rows = table_rows(text, title)
        assert [r[0].split(" ")[0] for r in rows] == ["raw", "wslearn", "python-socketio"]
        assert all(len(r) == width for r in rows), rows
    ratio_rows = table_rows(text, "Ratios to raw websockets")
    assert ratio_rows[0][1:] == [f"1.00{TIMES}"] * len(COLUMNS)
    assert ratio_rows[1][2] == f"{0.585 / 0.18:.2f}{TIMES}"


def test_the_markdown_marks_disturbed_and_client_bound_figures() -> None:
    text = markdown(two_reps())
    rows = {r[0]: r for r in table_rows(text, "Absolute figures")}
    assert "wslearn Server() (abc1234) ⚠" in rows  # one of its two runs was disturbed
    assert "raw websockets 9.9" in rows
    # The fan-out load generator used 96 % of its core while the server used 80 %.
    fanout_column = 1 + [n for n, _, _ in COLUMNS].index("fanout_deliveries_per_s")
    assert rows["raw websockets 9.9"][fanout_column].endswith("†")
    assert not rows["raw websockets 9.9"][1].endswith("†")
    assert "5 of 6 runs undisturbed" in text


def test_write_puts_markdown_json_and_a_png_in_the_folder(tmp_path: Path) -> None:
    paths = write(two_reps(), tmp_path / "out")
    assert [p.name for p in paths] == ["bench.md", "bench.json", "bench.png"]
    data = json.loads(paths[1].read_text())
    assert data["ratios"]["wslearn"]["echo_cpu_per_10k"] == pytest.approx(0.585 / 0.18)
    assert data["summary"]["wslearn"]["echo_cpu_per_10k"]["n"] == 2
    assert paths[2].read_bytes().startswith(b"\x89PNG")
    assert write(two_reps(), tmp_path / "no-plot", with_plot=False)[-1].name == "bench.json"


def test_a_cpu_figure_from_few_clock_ticks_is_marked_imprecise() -> None:
    data = two_reps()
    for run in data["runs"]:
        if run["server"] == "wslearn":
            run["result"]["echo"]["server_cpu_ticks"] = 5
    text = markdown(data)
    column = 1 + [n for n, _, _ in COLUMNS].index("echo_cpu_per_10k")
    absolute = {r[0].split(" ")[0]: r for r in table_rows(text, "Absolute figures")}
    assert absolute["wslearn"][column].endswith("~")
    assert not absolute["raw"][column].endswith("~")
    ratio_rows = {r[0].split(" ")[0]: r for r in table_rows(text, "Ratios to raw websockets")}
    assert ratio_rows["wslearn"][column].endswith("~")
    assert not ratio_rows["python-socketio"][column].endswith("~")
