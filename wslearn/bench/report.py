"""Tables and a plot from a benchmark result: Markdown, JSON and PNG.

:func:`~wslearn.bench.runner.run` returns a plain dict; the keys this module reads:

- ``runs``: one entry per server and repetition; ``result`` holds the raw figures of
  each workload (``echo``, ``fanout``, ``latency``, ``idle``: wall and CPU seconds,
  counts), ``disturbed`` and ``reasons`` the load check's verdict;
- ``many``: one entry per server for the many-connection scenario;
- ``machine``, ``date``, ``mode``, ``config``, ``servers``, ``unavailable``.

:func:`figures_of_run` turns one run into the figures of the tables,
:func:`summarize_servers` takes medians over repetitions, :func:`ratios` divides by
raw websockets'. Nothing here measures: a result can be re-tabled later.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .stats import LOWER_IS_BETTER, Summary, per_10k, ratio, summarize

__all__ = [
    "CLIENT_BOUND",
    "COLUMNS",
    "figures_of_run",
    "markdown",
    "plot",
    "ratios",
    "summarize_servers",
    "write",
]

REFERENCE = "websockets"
TIMES = "\u00d7"  # the multiplication sign, as in 1.25 times
CLIENT_BOUND = 0.9  # the load generator used this share of its core, or more
COARSE_TICKS = 20  # a CPU figure from fewer clock ticks than this is within ±5 % at best
CPU_FIGURES = {"echo_cpu_per_10k": "echo", "fanout_cpu_per_10k": "fanout"}
# (figure, column title, decimals) in table order.
COLUMNS: list[tuple[str, str, int]] = [
    ("echo_msgs_per_s", "echo msg/s", 0),
    ("echo_cpu_per_10k", "echo server CPU s / 10k", 3),
    ("fanout_deliveries_per_s", "fan-out deliveries/s", 0),
    ("fanout_cpu_per_10k", "fan-out CPU s / 10k deliveries", 3),
    ("idle_kib_per_conn", "KiB per idle connection", 1),
    ("latency_p50_us", "latency p50 µs", 0),
    ("latency_p99_us", "latency p99 µs", 0),
]
LOADGEN_PHASES = [("latency", "latency"), ("echo", "echo"), ("fanout", "fan-out")]


def figures_of_run(result: dict[str, Any]) -> dict[str, float]:
    """The table's figures from one run's raw workload results.

    Also ``<phase>_client_cores`` and ``<phase>_server_cores``: the share of a core the
    load generator and the server used during each measured phase, and
    ``<phase>_server_ticks``: how many clock ticks the server's CPU figure rests on.
    """
    echo, fanout = result["echo"], result["fanout"]
    figures = {
        "echo_msgs_per_s": echo["messages"] / echo["wall_s"],
        "echo_cpu_per_10k": per_10k(echo["server_cpu_s"], echo["messages"]),
        "fanout_deliveries_per_s": fanout["deliveries"] / fanout["wall_s"],
        "fanout_cpu_per_10k": per_10k(fanout["server_cpu_s"], fanout["deliveries"]),
        "idle_kib_per_conn": float(result["idle"]["kib_per_conn"]),
        "latency_p50_us": float(result["latency"]["p50_us"]),
        "latency_p99_us": float(result["latency"]["p99_us"]),
    }
    for phase, _ in LOADGEN_PHASES:
        wall = result[phase]["wall_s"]
        figures[f"{phase}_client_cores"] = result[phase]["client_cpu_s"] / wall
        figures[f"{phase}_server_cores"] = result[phase]["server_cpu_s"] / wall
        figures[f"{phase}_server_ticks"] = float(result[phase].get("server_cpu_ticks", 0))
    return figures


def summarize_servers(report: dict[str, Any]) -> dict[str, dict[str, Summary]]:
    """Per server key, per figure: the median and range over its repetitions."""
    values: dict[str, dict[str, list[float]]] = {}
    for run in report["runs"]:
        per_server = values.setdefault(run["server"], {})
        for name, value in figures_of_run(run["result"]).items():
            per_server.setdefault(name, []).append(value)
    return {
        server: {name: summarize(vals) for name, vals in figures.items()}
        for server, figures in values.items()
    }


def ratios(summaries: dict[str, dict[str, Summary]]) -> dict[str, dict[str, float | None]]:
    """Per server key, per table figure: its median divided by raw websockets' median.

    Empty when raw websockets was not measured.
    """
    reference = summaries.get(REFERENCE)
    if reference is None:
        return {}
    return {
        server: {
            name: ratio(figures[name].median, reference[name].median)
            for name in LOWER_IS_BETTER
            if name in figures and name in reference
        }
        for server, figures in summaries.items()
    }


def _label(report: dict[str, Any], key: str) -> str:
    """The row label: the server's name with the version it reported running."""
    spec = next(s for s in report["servers"] if s["key"] == key)
    info: dict[str, Any] = next(
        (r["result"]["process"] for r in report["runs"] if r["server"] == key), {}
    )
    version = str(info.get("version", ""))
    if spec["kind"] in ("wslearn", "wslearn-plain"):
        return str(spec["label"]) + (f" ({spec['revision']})" if spec.get("revision") else "")
    if spec["kind"] == "python-socketio":
        return f"python-socketio {version} (aiohttp {info.get('aiohttp', '')})"
    return f"{spec['label']} {version}".strip()


def _disturbed(report: dict[str, Any], key: str) -> int:
    return sum(1 for r in report["runs"] if r["server"] == key and r["disturbed"])


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _header(report: dict[str, Any]) -> list[str]:
    machine, config = report["machine"], report["config"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    pins = report["pinning"]
    pinned = (
        f"server on cpu {pins['server_cpu']}, load generator on cpu {pins['loadgen_cpu']}"
        if pins["server_cpu"] is not None
        else "NOT pinned apart (one usable core): figures include contention"
    )
    runs = report["runs"]
    quiet = sum(1 for r in runs if not r["disturbed"])
    lines = [
        f"# wslearn bench ({report['mode']}), {report['date']}",
        "",
        f"Machine: {machine['cpu']}, {machine['usable_cores']} usable cores ({pinned}); "
        f"{machine['system']}, Python {machine['python']}; {versions}.",
        "",
        f"Each figure is the median of {config['reps']} repetition(s), ± half the range. "
        f"A 116-byte Socket.IO event; echo: {config['echo_count']:,} messages on "
        f"{config['echo_connections']} connections, {config['echo_window']} in flight on "
        f"each; fan-out: {config['fanout_rounds']} rounds to {config['fanout_clients']:,} "
        f"clients; idle memory: {config['idle_connections']:,} connections, heartbeat "
        f"every {config['ping_interval']:g} s; latency: {config['latency_count']:,} "
        "sequential round trips. Server CPU comes from /proc/<pid>/stat in clock ticks "
        f"(10 ms); ~ marks a CPU figure that rests on fewer than {COARSE_TICKS} ticks.",
        "",
        f"Machine load: {quiet} of {len(runs)} runs undisturbed"
        + (
            "."
            if quiet == len(runs)
            else "; ⚠ marks servers with a disturbed run kept "
            "(others used the cores: see `reasons` in the JSON)."
        ),
    ]
    for key, why in report["unavailable"].items():
        lines.append(f"Not measured: {key} ({why}).")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown: ratios, absolute figures, load generator, many."""
    summaries = summarize_servers(report)
    table_ratios = ratios(summaries)
    keys = [s["key"] for s in report["servers"] if s["key"] in summaries]
    titles = " | ".join(title for _, title, _ in COLUMNS)
    rule = "|---" * (len(COLUMNS) + 1) + "|"
    lines = _header(report)

    def row_label(key: str) -> str:
        return _label(report, key) + (" ⚠" if _disturbed(report, key) else "")

    if table_ratios:
        lines += [
            "",
            "## Ratios to raw websockets",
            "",
            f"Costs (CPU, memory, latency): above 1.00{TIMES} is more expensive than raw "
            f"websockets. Throughputs: below 1.00{TIMES} is slower.",
            "",
            f"| server | {titles} |",
            rule,
        ]
        for key in keys:
            cells = [
                "n/a"
                if (r := table_ratios[key].get(name)) is None
                else f"{r:.2f}{TIMES}"
                + (
                    " ~"
                    if _coarse(summaries, key, name) or _coarse(summaries, REFERENCE, name)
                    else ""
                )
                for name, _, _ in COLUMNS
            ]
            lines.append(f"| {row_label(key)} | " + " | ".join(cells) + " |")
    lines += ["", "## Absolute figures", "", f"| server | {titles} |", rule]
    for key in keys:
        cells = []
        for name, _, decimals in COLUMNS:
            summary = summaries[key][name]
            cell = _number(summary.median, decimals)
            if summary.n > 1:
                cell += f" ±{summary.spread:.0%}"
            if name.split("_")[0] in ("echo", "fanout") and _client_bound(summaries[key], name):
                cell += " †"
            if _coarse(summaries, key, name):
                cell += " ~"
            cells.append(cell)
        lines.append(f"| {row_label(key)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## The load generator's CPU",
        "",
        "Share of its core the load generator used in each phase (the server's "
        f"share in brackets). † above: the load generator used {CLIENT_BOUND:.0%} of "
        "its core or more while the server did not: that throughput is the load "
        "generator's limit, not the server's.",
        "",
        "| server | " + " | ".join(t for _, t in LOADGEN_PHASES) + " |",
        "|---" * (len(LOADGEN_PHASES) + 1) + "|",
    ]
    for key in keys:
        cells = [
            f"{summaries[key][f'{p}_client_cores'].median:.0%} "
            f"({summaries[key][f'{p}_server_cores'].median:.0%})"
            for p, _ in LOADGEN_PHASES
        ]
        lines.append(f"| {row_label(key)} | " + " | ".join(cells) + " |")
    lines += _many_table(report)
    return "\n".join(lines) + "\n"


def _coarse(summaries: dict[str, dict[str, Summary]], key: str, name: str) -> bool:
    """Whether a CPU figure rests on too few clock ticks to be precise."""
    phase = CPU_FIGURES.get(name)
    if phase is None or key not in summaries:
        return False
    return summaries[key][f"{phase}_server_ticks"].median < COARSE_TICKS


def _client_bound(figures: dict[str, Summary], name: str) -> bool:
    phase = name.split("_")[0]
    client = figures[f"{phase}_client_cores"].median
    return client >= CLIENT_BOUND and figures[f"{phase}_server_cores"].median < CLIENT_BOUND


def _many_table(report: dict[str, Any]) -> list[str]:
    if not report["many"]:
        return []
    config = report["config"]
    lines = [
        "",
        f"## {config['many_connections']:,} connections on one core",
        "",
        f"Heartbeat every {config['many_ping_interval']:g} s, timeout "
        f"{config['many_ping_timeout']:g} s. A ping is late when it arrives more than "
        f"{config['many_tolerance']:g} s after the client's previous answer plus the "
        f"interval; {config['many_dead_fraction']:.0%} of the clients then stop answering "
        "and must be closed within interval + timeout + "
        f"{config['many_slack']:g} s slack of their last answer.",
        "",
        "| server | connected in s | pings checked | latest ping s | late | dead dropped "
        "in time | latest drop s (bound) | live dropped | RSS MiB | KiB / conn | "
        "client lag ms | verdict |",
        "|---" * 12 + "|",
    ]
    for entry in report["many"]:
        r = entry["result"]
        v = r["verdict"]
        label = _label(report, entry["server"]) + (" ⚠" if entry["disturbed"] else "")
        lines.append(
            f"| {label} | {r['connect_s']:.1f} | {r['pings']:,} | "
            f"{_maybe(v['max_lateness'], '.3f')} | {v['pings_late']} | "
            f"{v['dead_dropped']}/{v['dead_total']} | "
            f"{_maybe(v['max_drop_delay'], '.2f')} ({r['bound_s']:g}) | {v['live_dropped']} | "
            f"{r['rss_steady_kib'] / 1024:.0f} | {r['kib_per_conn']:.1f} | "
            f"{r['client_lag_max_s'] * 1000:.0f} | {'pass' if v['passed'] else 'FAIL'} |"
        )
    return lines


def _maybe(value: float | None, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def plot(report: dict[str, Any]) -> Any:
    """A matplotlib Figure of the ratios: costs on the left, throughputs on the right."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    table_ratios = ratios(summarize_servers(report))
    keys = [s["key"] for s in report["servers"] if s["key"] in table_ratios]
    panels = [
        (
            "cost vs raw websockets\n(lower is better)",
            [c for c in COLUMNS if LOWER_IS_BETTER[c[0]]],
        ),
        (
            "throughput vs raw websockets\n(higher is better)",
            [c for c in COLUMNS if not LOWER_IS_BETTER[c[0]]],
        ),
    ]
    figure = Figure(figsize=(12, 5.5), layout="constrained")
    axes = figure.subplots(1, 2, width_ratios=[3, 2])
    height = 0.8 / max(1, len(keys))
    for ax, (title, columns) in zip(axes, panels, strict=True):
        for i, key in enumerate(keys):
            values = [table_ratios[key].get(name) or math.nan for name, _, _ in columns]
            positions = [j + i * height for j in range(len(columns))]
            hatch = "//" if _disturbed(report, key) else None
            ax.barh(positions, values, height=height, label=_label(report, key), hatch=hatch)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(
            [j + 0.4 - height / 2 for j in range(len(columns))], [t for _, t, _ in columns]
        )
        ax.invert_yaxis()
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.3g}{TIMES}"))
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_title(title)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(3, len(keys)))
    machine = report["machine"]
    figure.suptitle(
        f"wslearn bench ({report['mode']}): {machine['cpu']}, {machine['usable_cores']} "
        f"cores, {report['date']}"
        + (
            "; hatched: a disturbed run was kept"
            if any(r["disturbed"] for r in report["runs"])
            else ""
        )
    )
    return figure


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write(report: dict[str, Any], folder: Path, *, with_plot: bool = True) -> list[Path]:
    """Write ``bench.md``, ``bench.json`` and (unless told not to) ``bench.png``.

    Returns:
        The paths written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    summaries = summarize_servers(report)
    data = {
        **report,
        "summary": {
            key: {
                name: {"median": s.median, "low": s.low, "high": s.high, "n": s.n}
                for name, s in figures.items()
            }
            for key, figures in summaries.items()
        },
        "ratios": ratios(summaries),
    }
    paths = [folder / "bench.md", folder / "bench.json"]
    paths[0].write_text(markdown(report), encoding="utf-8")
    paths[1].write_text(json.dumps(_jsonable(data), indent=1) + "\n", encoding="utf-8")
    if with_plot:
        paths.append(folder / "bench.png")
        plot(report).savefig(paths[2], dpi=110)
    return paths
