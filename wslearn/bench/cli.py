"""``python -m wslearn bench``: the command line of the benchmark (see the package doc)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .processes import BenchError
from .report import write
from .runner import FULL, QUICK, BenchConfig, run, with_overrides

__all__ = ["add_arguments", "config_from_args", "parse_src", "run_command"]


def parse_src(values: list[str]) -> tuple[tuple[str, str], ...]:
    """``--wslearn-src`` values (``PATH`` or ``LABEL=PATH``) as ``(label, path)`` pairs.

    A single unlabelled tree gets no label; several unlabelled ones are labelled by
    their folder names.
    """
    pairs = []
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or "/" in label:
            label, path = "", value
        pairs.append((label, path))
    if len(pairs) > 1:
        pairs = [(label or Path(path).resolve().name, path) for label, path in pairs]
    return tuple(pairs)


def _keys(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(key.strip() for key in text.split(",") if key.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to ``parser``."""
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full run for the README (minutes); default: the quick one",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="folder for bench.md, bench.json, bench.png (default: %(default)s)",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip bench.png")
    parser.add_argument(
        "--servers",
        metavar="KEYS",
        help="comma-separated: websockets, wslearn, python-socketio, "
        "node-socketio (default: every one available)",
    )
    parser.add_argument(
        "--wslearn-src",
        action="append",
        default=[],
        metavar="[LABEL=]PATH",
        help="measure wslearn's Server from this source tree (repeat it to "
        "compare trees, e.g. before=/work/baseline after=.)",
    )
    parser.add_argument(
        "--many-servers",
        metavar="KEYS",
        help="servers for the many-connection scenario ('none' skips it; "
        "default: wslearn in quick mode, all in full mode)",
    )
    parser.add_argument("--reps", type=int, help="repetitions (quick 1, full 3)")
    parser.add_argument("--retries", type=int, help="extra attempts for a disturbed run")
    for name, what in [
        ("latency-count", "sequential round trips"),
        ("echo-count", "echo messages"),
        ("fanout-clients", "fan-out clients"),
        ("fanout-rounds", "fan-out rounds"),
        ("idle-connections", "idle connections for the memory figure"),
        ("many-connections", "connections of the many-connection scenario"),
    ]:
        parser.add_argument(f"--{name}", type=int, metavar="N", help=what)
    parser.add_argument(
        "--many-ping-interval", type=float, metavar="S", help="heartbeat of that scenario"
    )
    parser.add_argument(
        "--many-ping-timeout", type=float, metavar="S", help="ping timeout of that scenario"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run_command)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The configuration the options ask for: a preset with overrides."""
    base = FULL if args.full else QUICK
    many = _keys(args.many_servers)
    return with_overrides(
        base,
        reps=args.reps,
        retries=args.retries,
        servers=_keys(args.servers),
        wslearn_srcs=parse_src(args.wslearn_src) or None,
        many_servers=() if many == ("none",) else many,
        latency_count=args.latency_count,
        echo_count=args.echo_count,
        fanout_clients=args.fanout_clients,
        fanout_rounds=args.fanout_rounds,
        idle_connections=args.idle_connections,
        many_connections=args.many_connections,
        many_ping_interval=args.many_ping_interval,
        many_ping_timeout=args.many_ping_timeout,
    )


def run_command(args: argparse.Namespace) -> int:
    """Run the benchmark, write its files, print the Markdown; 1 if it could not run."""
    config = config_from_args(args)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        report = run(config, progress=progress)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    paths = write(report, args.out, with_plot=not args.no_plot)
    sys.stdout.write((args.out / "bench.md").read_text(encoding="utf-8"))
    print("\nwritten: " + ", ".join(str(p) for p in paths))
    return 0
