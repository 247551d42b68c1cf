"""The browser's DevTools "Messages" view, inside the notebook.

Chromium's DevTools list every WebSocket message of a page: direction, time, data.
:class:`FrameInspector` does the same for a :class:`~wslearn.client.Client`, and also
decodes each frame with the project's codec: Engine.IO type, Socket.IO type,
namespace, event, ack id, payload, binary attachments::

    inspector = FrameInspector(client)
    inspector                                 # a live, filterable table
    for row in inspector.rows(event="send-message"):
        print(row)                            # the same rows as plain text

The decoding is :class:`~wslearn.framelog.FrameLog`'s (pure, re-exported here); the
inspector feeds it from the client's frame listener and renders the table. A
:class:`FrameLog` is itself a frame listener, so a cell can record a client's frames
without any widget, then show them as a static table with :func:`frame_table` (random
ids swapped for labels) or as a sequence diagram (:mod:`wslearn.diagrams`)::

    log = FrameLog(start=time.time())
    client.add_frame_listener(log.feed)
    ...
    frame_table(log.rows(), labels={client.sid: "SID"})

The inspector is kept in the kernel's registry (:mod:`wslearn.kernel`) as
``"inspector"`` (or its ``name``): a new inspector of that name closes the old one.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped]

from . import kernel
from ._registry import Registry
from .framelog import ARROWS, FrameLog, FrameRow, matches, relabel
from .packets import Frame
from .reactive import Component

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "ARROWS",
    "FrameInspector",
    "FrameLog",
    "FrameRow",
    "FrameTable",
    "frame_table",
    "relabel",
]


class FrameInspector(Component):
    """Every frame a client sends and receives, decoded, in a filterable table.

    Args:
        client: the client to watch (from now on).
        max_frames: how many frames to keep in memory.
        shown: how many of the newest matching frames the table draws.
        name: its name in the registry.
        registry: where it is kept; an inspector of the same name there is closed.
            None keeps it nowhere.
    """

    kind = "frame inspector"

    def __init__(
        self,
        client: Client,
        max_frames: int = 500,
        shown: int = 100,
        *,
        name: str = "inspector",
        registry: Registry | None = kernel.registry,
    ) -> None:
        self.client = client
        self.log = FrameLog(max_frames, start=time.time())
        self.shown = shown
        self.closed = False
        self._render_handle: asyncio.TimerHandle | None = None
        self.filter = w.Text(
            placeholder="filter by event name", description="event", layout={"width": "260px"}
        )
        self.filter.add_class("wslearn-inspector-filter")
        self.hide_heartbeats = w.Checkbox(value=False, description="hide ping/pong", indent=False)
        self.count = w.HTML()
        self.table = w.HTML()
        self.table.add_class("wslearn-inspector-table")
        self.widget = w.VBox(
            [w.HBox([self.filter, self.hide_heartbeats, self.count]), self.table],
            layout=w.Layout(width="100%", margin="4px"),
        )
        self.widget.add_class("wslearn-inspector")
        self.filter.observe(self._refilter, names="value")
        self.hide_heartbeats.observe(self._refilter, names="value")
        client.add_frame_listener(self._on_frame)
        self._register(registry, name)
        self.render()

    @property
    def url(self) -> str:
        """The server of the client it watches."""
        return str(self.client.url)

    def __repr__(self) -> str:
        return "<FrameInspector>"

    def _placeholder_text(self) -> str:
        return "Frame inspector (every frame of one client, decoded)"

    def rows(self, event: str | None = None, hide_heartbeats: bool = False) -> list[FrameRow]:
        """The rows kept, oldest first; ``event`` keeps those whose event contains it.

        Without arguments the widget's own filter applies (``event=""`` shows all).
        """
        if event is None:
            event, hide_heartbeats = self.filter.value, self.hide_heartbeats.value
        return [row for row in self.log.rows() if matches(row, event, hide_heartbeats)]

    def clear(self) -> None:
        """Empty the table (frames seen later still appear)."""
        self.log.clear()
        self.render()

    def close(self) -> None:
        """Stop watching the client and close the widgets."""
        if self.closed:
            return
        self.closed = True
        self.client.remove_frame_listener(self._on_frame)
        if self._render_handle is not None:
            self._render_handle.cancel()
            self._render_handle = None
        self._close_widgets()

    def _on_frame(self, direction: str, frame: Frame, at: float) -> None:
        if self.log.feed(direction, frame, at):
            self._schedule_render()

    def _refilter(self, _change: Any) -> None:
        self.render()

    def _schedule_render(self) -> None:
        # Frames can come in bursts: draw at most every 50 ms instead of per frame.
        if self._render_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.render()
            return
        self._render_handle = loop.call_later(0.05, self.render)

    def render(self) -> None:
        """Redraw the table now (it also redraws by itself as frames arrive)."""
        self._render_handle = None
        if self.closed:
            return
        rows = self.rows()
        self.count.value = (
            f"<small>{len(rows)} shown of {len(self.log.rows())} kept "
            f"({self.log.total} seen, at most {self.log.max_frames} kept)</small>"
        )
        # The newest rows at the bottom, the view kept scrolled there, the header
        # fixed at the top of the scrolling box.
        self.table.value = (
            '<div style="max-height:280px;overflow-y:auto;border:1px solid #ddd">'
            + _table_html(rows[-self.shown :], sticky=True)
            + "</div>"
        )


class FrameTable:
    """Rows as a static table: HTML in a notebook, aligned text elsewhere.

    Made by :func:`frame_table`.
    """

    def __init__(self, rows: Iterable[FrameRow], *, times: bool = False) -> None:
        self.rows = tuple(rows)
        self.times = times

    def __repr__(self) -> str:
        return "\n".join(f"{row.index:>3} {row}" for row in self.rows)

    def _repr_html_(self) -> str:
        return _table_html(self.rows, sticky=False, times=self.times)


def frame_table(
    rows: Iterable[FrameRow], labels: Mapping[str, str] | None = None, *, times: bool = False
) -> FrameTable:
    """Show frames as a table that fits the page (long payloads wrap).

    Args:
        rows: from :meth:`FrameLog.rows` or :meth:`FrameInspector.rows`.
        labels: random ids to replace in the payloads, e.g. ``{client.sid: "SID"}``.
        times: add the column of times (left out by default: they change at every
            run, and a stored notebook should read the same each time).
    """
    return FrameTable((relabel(row, labels or {}) for row in rows), times=times)


_HEAD = ("", "#", "time s", "bytes", "engine.io", "socket.io", "nsp", "event", "ack", "bin")
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;vertical-align:top"


def _table_html(rows: Iterable[FrameRow], *, sticky: bool, times: bool = True) -> str:
    stick = "position:sticky;top:0;z-index:1;" if sticky else ""
    names = [name for name in (*_HEAD, "payload") if times or name != "time s"]
    head = "".join(
        f'<th style="{stick}{_CELL};background:#f4f4f4;text-align:left;white-space:nowrap">'
        f"{name}</th>"
        for name in names
    )
    body = "".join(_html_row(row, times) for row in rows)
    return (
        '<table class="wslearn-frames" style="border-collapse:collapse;width:100%;'
        f'font-family:monospace;font-size:12px"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _html_row(row: FrameRow, times: bool = True) -> str:
    color = "#2a7" if row.direction == ARROWS["sent"] else "#27c"
    values = [
        row.index,
        *([f"{row.at:.3f}"] if times else []),
        row.size,
        row.engine,
        row.socketio,
        row.namespace,
        row.event,
        "" if row.ack is None else row.ack,
        row.attachments or "",
    ]
    cells = "".join(
        f'<td style="{_CELL};white-space:nowrap">{html.escape(str(v))}</td>' for v in values
    )
    payload = html.escape(row.payload + (f" ⚠ {row.error}" if row.error else ""))
    return (
        f'<tr><td style="{_CELL};color:{color};font-weight:bold">{row.direction}</td>{cells}'
        f'<td style="{_CELL};width:100%;overflow-wrap:anywhere;word-break:break-all">'
        f"{payload}</td></tr>"
    )
