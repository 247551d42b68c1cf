"""compare() measures polling and push on the wire; no assertion here depends on timing."""

from __future__ import annotations

import asyncio

import pytest
from matplotlib.figure import Figure

from wslearn.measure import PUSH, Comparison, compare, plot_comparison, polling_mode


@pytest.fixture(scope="module")
def result() -> Comparison:
    # One short run shared by the structural checks below (about half a second).
    return asyncio.run(compare((0.02, 0.05), updates=8, mean_gap=0.03, seed=3, keep_alive=True))


def test_rows_are_the_polling_modes_in_order_then_push(result: Comparison) -> None:
    assert [r.mode for r in result.rows] == [
        "http polling @ 20 ms",
        "http polling @ 50 ms",
        "http polling @ 20 ms, keep-alive",
        "http polling @ 50 ms, keep-alive",
        "websocket push",
    ]
    assert result.push.interval is None
    assert [r.interval for r in result.polling] == [0.02, 0.05, 0.02, 0.05]


def test_every_mode_receives_every_update_in_order(result: Comparison) -> None:
    for row in result.rows:
        assert (row.received, row.updates, row.in_order) == (8, 8, True), row.mode


def test_bytes_are_counted_on_the_wire_and_polling_costs_more_per_update(
    result: Comparison,
) -> None:
    # Headers on every poll vs 2-byte frame headers: structure, not timing.
    assert result.push.bytes_on_wire > 0
    for row in result.polling:
        assert row.bytes_on_wire > 0
        assert row.bytes_per_update > result.push.bytes_per_update, row.mode


def test_polling_opens_a_connection_per_request_unless_keep_alive(result: Comparison) -> None:
    for row in result.polling:
        expected = 1 if row.mode.endswith("keep-alive") else row.requests
        assert row.connections == expected, row.mode
        assert row.requests >= 1
    assert (result.push.requests, result.push.connections) == (1, 1)


def test_latencies_are_ordered_statistics(result: Comparison) -> None:
    for row in result.rows:
        assert 0 <= row.median_latency <= row.p95_latency, row.mode
        assert row.mean_latency >= 0


def test_the_text_and_html_tables_show_every_row(result: Comparison) -> None:
    text = result.to_text()
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["mode", "received"]
    assert len(lines) == 2 + len(result.rows)
    assert all(r.mode in text for r in result.rows)
    assert repr(result) == text
    html = result._repr_html_()
    assert html.count("<tr>") == 1 + len(result.rows)
    assert "<td>8/8</td>" in html


def test_the_plot_is_a_figure_with_latency_and_bytes_axes(result: Comparison) -> None:
    fig = plot_comparison(result)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["latency", "overhead"]


def test_latency_is_on_a_log_axis_with_every_median_written_beside_its_bar(
    result: Comparison,
) -> None:
    latency = plot_comparison(result).axes[0]
    assert latency.get_xscale() == "log"
    push_ms = result.push.median_latency * 1000
    low, high = latency.get_xlim()
    assert 0 < low < push_ms and high > max(r.p95_latency * 1000 for r in result.rows)
    written = [text.get_text() for text in latency.texts]
    assert written == [f"{r.median_latency * 1000:.1f} ms" for r in result.rows]


def test_a_missing_row_is_a_key_error_naming_the_rows(result: Comparison) -> None:
    with pytest.raises(KeyError, match="websocket push"):
        result.row("carrier pigeon")
    assert result.row(PUSH) is result.push
    assert polling_mode(0.1) == "http polling @ 100 ms"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"intervals": ()},
        {"intervals": (0.0,)},
        {"updates": 0},
        {"mean_gap": -1.0},
        {"updates": 1000, "mean_gap": 1.0},
        {"updates": 20_000, "mean_gap": 0.0001},
    ],
)
async def test_bad_or_unbounded_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        await compare(**kwargs)  # type: ignore[arg-type]
