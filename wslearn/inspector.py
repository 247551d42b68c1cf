"""The browser's DevTools "Messages" view, inside the notebook.

Chromium's DevTools list every WebSocket message of a page: direction, time, data.
:class:`FrameInspector` does the same for a :class:`~wslearn.client.Client`, and also
decodes each frame with the project's codec: Engine.IO type, Socket.IO type,
namespace, event, ack id, payload, binary attachments::

    inspector = FrameInspector(client)
    inspector                                 # a live, filterable table
    for row in inspector.rows(event="send-message"):
        print(row)                            # the same rows as plain text

Two parts: :class:`FrameLog` turns frames into :class:`FrameRow` objects and keeps a
bounded number of them (pure: no I/O, time passed in); :class:`FrameInspector` feeds
it from the client's frame listener and renders the table. Each direction has its own
:class:`~wslearn.packets.Decoder`, since a binary packet's attachments follow its
header in the same direction only.

A :class:`FrameLog` is itself a frame listener, so a cell can record a client's frames
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
import json
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped]

from . import kernel
from ._registry import Registry
from .exceptions import PacketError
from .packets import Decoder, EnginePacket, Frame, Packet, PacketType
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

ARROWS = {"sent": "↑", "received": "↓"}
"""Direction arrows, as DevTools draws them: up is sent, down is received."""

_ACK_TYPES = (PacketType.ACK, PacketType.BINARY_ACK)


@dataclass(frozen=True)
class FrameRow:
    """One WebSocket frame, decoded.

    Attributes:
        index: position in the log, counting from 1.
        direction: ``"↑"`` sent or ``"↓"`` received.
        at: seconds since the log started.
        size: the frame's size in bytes.
        engine: the Engine.IO packet type (``"MESSAGE"``, ``"PING"``...), or
            ``"ATTACHMENT"`` for a binary frame that belongs to a packet.
        socketio: the Socket.IO packet type (``"EVENT"``...), ``""`` for none.
        namespace: the Socket.IO namespace, ``""`` for none.
        event: the event name; for an ACK, the event it answers (if seen).
        ack: the ack id, or None.
        payload: the data, as short JSON (bytes shown as ``<n bytes>``).
        attachments: how many binary attachments the packet carries.
        error: what the decoder found wrong with the frame, ``""`` if nothing.
    """

    index: int
    direction: str
    at: float
    size: int
    engine: str
    socketio: str = ""
    namespace: str = ""
    event: str = ""
    ack: int | None = None
    payload: str = ""
    attachments: int = 0
    error: str = ""

    def __str__(self) -> str:
        """The row as one line of text, without the time (stable between runs)."""
        parts = [self.direction, self.engine]
        if self.socketio:
            parts += [self.socketio, self.namespace]
        if self.event:
            parts.append(self.event)
        if self.ack is not None:
            parts.append(f"ack={self.ack}")
        if self.attachments:
            parts.append(f"attachments={self.attachments}")
        if self.payload:
            parts.append(self.payload)
        if self.error:
            parts.append(f"ERROR: {self.error}")
        return " ".join(parts)


def relabel(row: FrameRow, labels: Mapping[str, str]) -> FrameRow:
    """The row with every random id in its payload replaced by a label.

    Socket ids and session ids change at every run; ``{sid: "ALICE_SID"}`` makes a row
    read the same every time.
    """
    payload = row.payload
    for secret, label in labels.items():
        if secret:
            payload = payload.replace(secret, label)
    return replace(row, payload=payload)


def _size(frame: Frame) -> int:
    return len(frame.encode()) if isinstance(frame, str) else len(frame)


def _short(data: Any, limit: int = 80) -> str:
    def plain(node: Any) -> Any:
        if isinstance(node, bytes | bytearray):
            return f"<{len(node)} bytes>"
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node

    text = json.dumps(plain(data), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FrameLog:
    """Decodes frames into rows and keeps the newest ``max_frames`` of them (pure).

    Args:
        max_frames: how many rows to keep; older ones are dropped.
        start: the time (seconds since the epoch) rows count ``at`` from.
    """

    def __init__(self, max_frames: int = 500, start: float = 0.0) -> None:
        if max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        self.start = start
        self.total = 0  # frames seen, kept or not
        self._rows: deque[FrameRow] = deque(maxlen=max_frames)
        self._decoders = {"sent": Decoder(), "received": Decoder()}
        self._waiting: dict[str, list[tuple[Frame, float]]] = {"sent": [], "received": []}
        # (direction the ACK travels, namespace, id) -> event the ACK answers
        self._asked: dict[tuple[str, str, int], str] = {}

    @property
    def max_frames(self) -> int:
        """How many rows are kept."""
        return self._rows.maxlen or 0

    def rows(self) -> tuple[FrameRow, ...]:
        """The rows kept, oldest first."""
        return tuple(self._rows)

    def clear(self) -> None:
        """Forget every row (decoding state is kept)."""
        self._rows.clear()

    def feed(self, direction: str, frame: Frame, at: float) -> list[FrameRow]:
        """Decode one frame; return the rows it completes (none while a binary
        packet waits for attachments, then one per frame of the packet).

        Raises:
            ValueError: ``direction`` is not ``"sent"`` or ``"received"``.
        """
        if direction not in ARROWS:
            raise ValueError(f"direction is 'sent' or 'received', got {direction!r}")
        if direction == "received" and isinstance(frame, str) and frame.startswith("0"):
            self._new_connection()
        decoder, waiting = self._decoders[direction], self._waiting[direction]
        waiting.append((frame, at))
        try:
            result = decoder.feed(frame)
        except PacketError as exc:
            self._decoders[direction] = Decoder()  # its state means nothing any more
            frames, waiting[:] = list(waiting), []
            return [self._add(direction, f, t, engine="?", error=str(exc)) for f, t in frames]
        if result is None:
            return []
        frames, waiting[:] = list(waiting), []
        return self._rows_for(direction, result, frames)

    def _new_connection(self) -> None:
        for direction in ARROWS:
            self._decoders[direction] = Decoder()
            self._waiting[direction] = []
        self._asked.clear()

    def _rows_for(
        self, direction: str, result: EnginePacket | Packet, frames: list[tuple[Frame, float]]
    ) -> list[FrameRow]:
        (first, at), attachments = frames[0], frames[1:]
        if isinstance(result, EnginePacket):
            data = result.data
            payload = data if isinstance(data, str) else f"<{len(data)} bytes>"
            return [self._add(direction, first, at, engine=result.type.name, payload=payload)]
        event = result.event or ""
        other = "received" if direction == "sent" else "sent"
        if result.id is not None and event:
            if len(self._asked) < 10_000:  # bounded even if the peer never answers
                self._asked[(other, result.namespace, result.id)] = event
        elif result.type in _ACK_TYPES and result.id is not None:
            event = self._asked.pop((direction, result.namespace, result.id), "")
        carries_args = result.type in (PacketType.EVENT, PacketType.BINARY_EVENT, *_ACK_TYPES)
        content = result.args if carries_args else result.data
        rows = [
            self._add(
                direction,
                first,
                at,
                engine="MESSAGE",
                socketio=result.type.name,
                namespace=result.namespace,
                event=event,
                ack=result.id,
                payload="" if content is None else _short(content),
                attachments=len(attachments),
            )
        ]
        for number, (frame, frame_at) in enumerate(attachments, 1):
            payload = f"attachment {number}/{len(attachments)}: <{_size(frame)} bytes>"
            rows.append(
                self._add(
                    direction, frame, frame_at, engine="ATTACHMENT", event=event, payload=payload
                )
            )
        return rows

    def _add(self, direction: str, frame: Frame, at: float, **fields: Any) -> FrameRow:
        self.total += 1
        row = FrameRow(
            index=self.total,
            direction=ARROWS[direction],
            at=round(at - self.start, 3),
            size=_size(frame),
            **fields,
        )
        self._rows.append(row)
        return row


def matches(row: FrameRow, event: str = "", hide_heartbeats: bool = False) -> bool:
    """Whether a row passes the filter: event name contains ``event`` (any case)."""
    if hide_heartbeats and row.engine in ("PING", "PONG"):
        return False
    return not event or event.lower() in row.event.lower()


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

    def __init__(self, rows: Iterable[FrameRow]) -> None:
        self.rows = tuple(rows)

    def __repr__(self) -> str:
        return "\n".join(f"{row.index:>3} {row}" for row in self.rows)

    def _repr_html_(self) -> str:
        return _table_html(self.rows, sticky=False)


def frame_table(rows: Iterable[FrameRow], labels: Mapping[str, str] | None = None) -> FrameTable:
    """Show frames as a table that fits the page (long payloads wrap).

    Args:
        rows: from :meth:`FrameLog.rows` or :meth:`FrameInspector.rows`.
        labels: random ids to replace in the payloads, e.g. ``{client.sid: "SID"}``.
    """
    return FrameTable(relabel(row, labels or {}) for row in rows)


_HEAD = ("", "#", "time s", "bytes", "engine.io", "socket.io", "nsp", "event", "ack", "bin")
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;vertical-align:top"


def _table_html(rows: Iterable[FrameRow], *, sticky: bool) -> str:
    stick = "position:sticky;top:0;z-index:1;" if sticky else ""
    head = "".join(
        f'<th style="{stick}{_CELL};background:#f4f4f4;text-align:left;white-space:nowrap">'
        f"{name}</th>"
        for name in (*_HEAD, "payload")
    )
    body = "".join(_html_row(row) for row in rows)
    return (
        '<table class="wslearn-frames" style="border-collapse:collapse;width:100%;'
        f'font-family:monospace;font-size:12px"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _html_row(row: FrameRow) -> str:
    color = "#2a7" if row.direction == ARROWS["sent"] else "#27c"
    values = [
        row.index,
        f"{row.at:.3f}",
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
