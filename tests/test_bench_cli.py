"""Tests for ``python -m wslearn bench``: its options, and one small run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from wslearn.__main__ import build_parser, main
from wslearn.bench import FULL, QUICK
from wslearn.bench.cli import config_from_args, parse_src


def test_the_quick_run_is_the_default_and_full_is_one_option() -> None:
    assert config_from_args(build_parser().parse_args(["bench"])) == QUICK
    full = config_from_args(build_parser().parse_args(["bench", "--full"]))
    assert full == FULL and full.reps == 3 and full.many_connections == 10_000


def test_options_override_the_preset() -> None:
    args = build_parser().parse_args(
        ["bench", "--full", "--servers", "websockets, wslearn", "--many-servers", "none",
         "--reps", "5", "--fanout-clients", "50", "--many-ping-interval", "2"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.servers == ("websockets", "wslearn")
    assert config.many_servers == ()
    assert (config.reps, config.fanout_clients, config.many_ping_interval) == (5, 50, 2.0)
    assert config.echo_count == FULL.echo_count  # untouched


def test_wslearn_sources_take_labels_or_the_folder_name() -> None:
    assert parse_src(["/work/baseline"]) == (("", "/work/baseline"),)
    assert parse_src(["before=/work/baseline", "after=."]) == (
        ("before", "/work/baseline"),
        ("after", "."),
    )
    assert parse_src(["/a/one", "/b/two"]) == (("one", "/a/one"), ("two", "/b/two"))
    assert parse_src(["./x=y"]) == (("", "./x=y"),)  # a path with "=" is still a path


@pytest.mark.timeout(120)
def test_a_small_run_prints_the_tables_and_writes_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["bench", "--servers", "websockets", "--many-servers", "none", "--retries", "0",
         "--latency-count", "20", "--echo-count", "300", "--fanout-clients", "5",
         "--fanout-rounds", "2", "--idle-connections", "3", "--out", str(tmp_path), "--quiet"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    assert "## Absolute figures" in out and "| raw websockets" in out
    assert {p.name for p in tmp_path.iterdir()} == {"bench.md", "bench.json", "bench.png"}
    assert (tmp_path / "bench.md").read_text() in out


def test_an_unknown_server_is_an_error_that_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--servers", "nginx", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "unknown or unavailable servers ['nginx']" in err and "websockets" in err
    assert not tmp_path.joinpath("bench.md").exists()
