"""A tiny real run of the benchmark: every server in its own process, the real load
generator, the report written. Nothing here asserts a timing: only that each figure was
measured and lands in a well-formed table."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from wslearn.bench import BenchConfig, BenchError, figures_of_run, markdown, run_async, write
from wslearn.bench.processes import (
    _imported_from,
    available_servers,
    open_log,
    start_server,
    stop_server,
)

ROOT = Path(__file__).resolve().parents[1]

TINY = BenchConfig(
    mode="tiny",
    reps=1,
    retries=0,
    latency_count=20,
    latency_warmup=5,
    echo_count=200,
    echo_warmup=50,
    echo_connections=2,
    echo_window=4,
    fanout_clients=10,
    fanout_rounds=3,
    fanout_warmup=1,
    fanout_window=2,
    idle_connections=5,
    many_servers=("wslearn",),
    many_connections=20,
    many_observe_rounds=1,
)


@pytest.mark.timeout(240)
async def test_a_tiny_run_measures_every_available_server_and_writes_the_tables(
    tmp_path: Path,
) -> None:
    report = await run_async(TINY, logs=tmp_path / "logs")
    specs, unavailable = available_servers()
    expected = [s.key for s in specs]
    assert {"websockets", "wslearn", "python-socketio"} <= set(expected)
    assert [r["server"] for r in report["runs"]] == expected
    assert report["unavailable"] == unavailable
    for run in report["runs"]:
        figures = figures_of_run(run["result"])
        assert all(math.isfinite(v) and v >= 0 for v in figures.values()), figures
        assert figures["echo_msgs_per_s"] > 0 and figures["fanout_deliveries_per_s"] > 0
        assert run["result"]["fanout"]["deliveries"] == 3 * 10
        assert run["result"]["idle"]["fewest_pings"] >= 1  # the heartbeat ran
        assert isinstance(run["disturbed"], bool) and run["attempts"] == 1
    [wslearn_run] = [r for r in report["runs"] if r["server"] == "wslearn"]
    assert Path(wslearn_run["result"]["process"]["file"]).is_relative_to(ROOT)

    [many] = report["many"]
    assert many["server"] == "wslearn"
    result = many["result"]
    assert result["connections"] == 20 and result["pings"] > 0
    assert result["verdict"]["dead_total"] == 2  # a tenth of the clients went silent

    paths = write(report, tmp_path / "out")
    text = paths[0].read_text()
    assert text == markdown(report)
    absolute = text.split("## Absolute figures\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in absolute.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(expected)
    assert all(line.count("|") == 9 for line in rows)
    if "node-socketio" in unavailable:
        assert f"Not measured: node-socketio ({unavailable['node-socketio']})" in text
    assert "## 20 connections on one core" in text
    # (A tiny run's CPU figures may round to zero ticks: no ratio then, rather than a wrong one.)
    assert json.loads(paths[1].read_text())["ratios"]["websockets"]["echo_msgs_per_s"] == 1.0


@pytest.mark.timeout(60)
async def test_a_wslearn_server_runs_from_the_source_tree_it_is_given(tmp_path: Path) -> None:
    tree = tmp_path / "other-checkout"
    shutil.copytree(ROOT / "wslearn", tree / "wslearn",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    specs, _ = available_servers([("copy", tree)])
    [spec] = [s for s in specs if s.kind == "wslearn"]
    assert (spec.key, spec.label) == ("wslearn@copy", "wslearn Server() [copy]")
    with open_log(tmp_path / "server.log") as log:
        server = await start_server(spec, cpu=None, ping_interval=1, ping_timeout=5, log=log)
        try:
            assert Path(server.info["file"]) == tree / "wslearn" / "__init__.py"
            assert server.port > 0
        finally:
            await stop_server(server)


def test_a_server_that_imported_another_tree_is_named(tmp_path: Path) -> None:
    inside = tmp_path / "tree" / "wslearn" / "__init__.py"
    outside = tmp_path / "site-packages" / "wslearn" / "__init__.py"
    assert _imported_from({"file": str(inside)}, tmp_path / "tree") is None
    assert _imported_from({"file": str(outside)}, tmp_path / "tree") == outside


def test_a_tree_without_wslearn_or_two_trees_with_one_label_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match=r"no wslearn/__init__\.py"):
        available_servers([("empty", tmp_path)])
    with pytest.raises(BenchError, match="its own label"):
        available_servers([("same", ROOT), ("same", ROOT)])


def test_node_is_listed_as_unavailable_with_the_reason_when_its_packages_are_missing(
    tmp_path: Path,
) -> None:
    specs, unavailable = available_servers(node_dir=tmp_path)
    assert "node-socketio" not in [s.key for s in specs]
    assert unavailable["node-socketio"]
