"""Measure HTTP polling against WebSocket push on the same stream of updates.

:func:`compare` publishes a seeded, randomly spaced series of updates once, and
watches it with several clients at the same time: one poller per interval and one
WebSocket listener. Each client talks through its own
:class:`~wslearn.proxy.LinkProxy`, so "bytes per update" is what crossed the wire
(request and response heads, bodies, WebSocket frame headers and handshake), not an
estimate. Latency is measured from publication to receipt in the same process, on
the same monotonic clock.
"""

from __future__ import annotations

import asyncio
import html
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from .polling import (
    ClientReport,
    PollingServer,
    PushServer,
    UpdateFeed,
    poll_updates,
    receive_pushes,
)
from .proxy import LinkProxy

__all__ = ["Comparison", "ModeResult", "compare", "plot_comparison"]

PUSH = "websocket push"
MAX_EXPECTED_SECONDS = 30.0  # refuse runs planned to last longer than this
MAX_UPDATES = 10_000


def polling_mode(interval: float, keep_alive: bool = False) -> str:
    """The row label for polling every ``interval`` seconds."""
    label = f"http polling @ {interval * 1000:g} ms"
    return label + ", keep-alive" if keep_alive else label


@dataclass(frozen=True, slots=True)
class ModeResult:
    """One row of the comparison.

    Attributes:
        mode: ``"http polling @ 100 ms"``, ``"websocket push"``...
        interval: polling interval in seconds, ``None`` for push.
        updates: updates published.
        received: distinct updates the client received.
        in_order: whether they arrived in publication order.
        mean_latency: seconds from publication to receipt, averaged.
        median_latency: the median of the same.
        p95_latency: 95th percentile (nearest rank) of the same.
        bytes_on_wire: bytes counted by the client's LinkProxy, both directions.
        requests: HTTP requests made (push: the one upgrade request).
        connections: TCP connections the proxy relayed.
    """

    mode: str
    interval: float | None
    updates: int
    received: int
    in_order: bool
    mean_latency: float
    median_latency: float
    p95_latency: float
    bytes_on_wire: int
    requests: int
    connections: int

    @property
    def bytes_per_update(self) -> float:
        """Bytes on the wire divided by updates published."""
        return self.bytes_on_wire / self.updates


@dataclass(frozen=True, slots=True, repr=False)
class Comparison:
    """The rows of one :func:`compare` run; shows as a table in a notebook."""

    rows: tuple[ModeResult, ...]
    updates: int
    seed: int

    def row(self, mode: str) -> ModeResult:
        """The row whose label is ``mode``.

        Raises:
            KeyError: if no row has that label (the message lists the labels).
        """
        for r in self.rows:
            if r.mode == mode:
                return r
        raise KeyError(f"no row {mode!r}; rows are {[r.mode for r in self.rows]}")

    @property
    def push(self) -> ModeResult:
        return self.row(PUSH)

    @property
    def polling(self) -> tuple[ModeResult, ...]:
        return tuple(r for r in self.rows if r.interval is not None)

    def cells(self) -> list[list[str]]:
        """Header row then one row of formatted cells per mode."""
        out = [
            [
                "mode",
                "received",
                "mean ms",
                "median ms",
                "p95 ms",
                "bytes/update",
                "requests",
                "connections",
            ]
        ]
        for r in self.rows:
            out.append(
                [
                    r.mode,
                    f"{r.received}/{r.updates}",
                    f"{r.mean_latency * 1000:.1f}",
                    f"{r.median_latency * 1000:.1f}",
                    f"{r.p95_latency * 1000:.1f}",
                    f"{r.bytes_per_update:.0f}",
                    str(r.requests),
                    str(r.connections),
                ]
            )
        return out

    def to_text(self) -> str:
        """A plain-text table, columns aligned."""
        rows = self.cells()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table (no pandas needed)."""
        head, *body = self.cells()
        th = "".join(f"<th>{html.escape(c)}</th>" for c in head)
        trs = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
        )
        return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.to_text()


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _summarise(
    mode: str,
    interval: float | None,
    report: ClientReport,
    feed: UpdateFeed,
    updates: int,
    proxy: LinkProxy,
) -> ModeResult:
    seqs = [r.seq for r in report.receipts]
    latencies = []
    for receipt in report.receipts:
        update = feed.get(receipt.seq)
        assert update is not None  # the feed keeps every update of a bounded run
        latencies.append(receipt.received_at - update.emitted_at)
    stats = proxy.stats()
    nan = float("nan")
    return ModeResult(
        mode=mode,
        interval=interval,
        updates=updates,
        received=len(set(seqs)),
        in_order=seqs == sorted(seqs),
        mean_latency=statistics.fmean(latencies) if latencies else nan,
        median_latency=statistics.median(latencies) if latencies else nan,
        p95_latency=_p95(latencies) if latencies else nan,
        bytes_on_wire=stats.total,
        requests=report.requests,
        connections=stats.accepted,
    )


async def compare(
    intervals: Sequence[float] = (0.05, 0.1, 0.25),
    updates: int = 20,
    *,
    mean_gap: float = 0.1,
    seed: int = 1,
    keep_alive: bool = False,
) -> Comparison:
    """Publish ``updates`` updates and watch them by polling and by push, at once.

    Gaps between updates are drawn from a seeded generator, uniform between 0.2 and
    1.8 times ``mean_gap``, so updates land at moments unrelated to the polling
    ticks and a poller waits on average about half its interval.

    Args:
        intervals: polling intervals in seconds, one polling client each.
        updates: how many updates to publish.
        mean_gap: mean seconds between updates; the run lasts about
            ``updates * mean_gap + max(intervals)`` seconds.
        seed: seeds the gaps and the prices.
        keep_alive: also run a keep-alive poller for every interval.

    Returns:
        a :class:`Comparison`: polling rows in the order given, then push.

    Raises:
        ValueError: for a non-positive interval, count or gap, or a run over
            10,000 updates or planned to last over 30 s.
        TimeoutError: if the run overruns its plan by more than 10 s.
    """
    if not intervals or min(intervals) <= 0 or updates < 1 or mean_gap <= 0:
        raise ValueError("intervals, updates and mean_gap must all be positive")
    if updates > MAX_UPDATES or updates * mean_gap + max(intervals) > MAX_EXPECTED_SECONDS:
        raise ValueError(
            f"a run is bounded to {MAX_UPDATES} updates and {MAX_EXPECTED_SECONDS:g} s: "
            "lower updates, mean_gap or the intervals"
        )
    planned = updates * mean_gap + max(intervals)
    rng = random.Random(seed)
    gaps = [mean_gap * rng.uniform(0.2, 1.8) for _ in range(updates)]
    feed = UpdateFeed(capacity=max(1000, updates))
    modes = [(polling_mode(i), i, False) for i in intervals]
    if keep_alive:
        modes += [(polling_mode(i, True), i, True) for i in intervals]

    async with asyncio.timeout(planned + 10), PollingServer(feed) as web, PushServer(feed) as push:
        proxies = [await LinkProxy("127.0.0.1", web.port).start() for _ in modes]
        push_proxy = await LinkProxy("127.0.0.1", push.port).start()
        tasks: list[asyncio.Task[ClientReport]] = []
        try:
            connected = asyncio.Event()
            push_task = asyncio.create_task(
                receive_pushes(push_proxy.url("/updates"), until_seq=updates, connected=connected)
            )
            tasks.append(push_task)
            await connected.wait()
            poll_tasks = [
                asyncio.create_task(
                    poll_updates(
                        proxy.host, proxy.port, interval=i, until_seq=updates, keep_alive=k
                    )
                )
                for proxy, (_, i, k) in zip(proxies, modes, strict=True)
            ]
            tasks += poll_tasks
            price = 100.0
            for gap in gaps:
                await asyncio.sleep(gap)
                price = round(price + rng.uniform(-0.5, 0.5), 2)
                feed.publish({"symbol": "WSL", "price": price})
            reports = await asyncio.gather(*poll_tasks, push_task)
        finally:
            for task in tasks:
                task.cancel()
            for proxy in (*proxies, push_proxy):
                await proxy.stop()

    rows = [
        _summarise(name, i, report, feed, updates, proxy)
        for (name, i, _), report, proxy in zip(modes, reports[:-1], proxies, strict=True)
    ]
    rows.append(_summarise(PUSH, None, reports[-1], feed, updates, push_proxy))
    return Comparison(tuple(rows), updates, seed)


def plot_comparison(result: Comparison) -> Figure:
    """Two bar charts: latency (median bar, p95 tick) and bytes per update, by mode.

    Latency is on a logarithmic axis, each bar labelled with its median: push takes
    well under a millisecond where polling takes tens to hundreds, and on a linear
    axis the push bar would be too thin to see.

    Returns a :class:`~matplotlib.figure.Figure` made without pyplot, so no global
    figure is left open; a notebook shows it when it is a cell's last value.
    """
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    lat_ax, bytes_ax = fig.subplots(1, 2)
    labels = [
        r.mode.replace("http polling @ ", "poll ").replace(", keep-alive", " ka")
        for r in result.rows
    ]
    colors = ["tab:blue" if r.interval is not None else "tab:orange" for r in result.rows]
    y = list(range(len(result.rows)))
    medians = [r.median_latency * 1000 for r in result.rows]
    lat_ax.barh(y, medians, color=colors)
    lat_ax.plot([r.p95_latency * 1000 for r in result.rows], y, "k|", markersize=14, label="p95")
    lat_ax.set_xscale("log")
    low = min((m for m in medians if m > 0), default=0.1) / 3
    high = max([*medians, *(r.p95_latency * 1000 for r in result.rows)]) * 6
    lat_ax.set_xlim(low, high)
    # Each median is written past its p95 tick, so the two never overlap.
    for row, median, result_row in zip(y, medians, result.rows, strict=True):
        lat_ax.annotate(
            f"{median:.1f} ms",
            (max(median, result_row.p95_latency * 1000, low), row),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    lat_ax.set_yticks(y, labels)
    lat_ax.invert_yaxis()
    lat_ax.set_xlabel("ms from publication to receipt, log scale (bar: median)")
    lat_ax.set_title("latency")
    lat_ax.legend(loc="upper right")
    bytes_ax.barh(y, [r.bytes_per_update for r in result.rows], color=colors)
    bytes_ax.set_yticks(y, labels)
    bytes_ax.invert_yaxis()
    bytes_ax.set_xlabel("bytes on the wire per update (both directions)")
    bytes_ax.set_title("overhead")
    return fig
