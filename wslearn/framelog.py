"""A client's frames decoded into rows, as DevTools' "Messages" view lists them (pure).

:class:`FrameLog` turns each WebSocket frame a client sends or receives into a
:class:`FrameRow`: direction, time, size, Engine.IO type, Socket.IO type, namespace,
event, ack id, payload, binary attachments. It keeps a bounded number of rows, does
no I/O and takes the time as a parameter, and it has the shape of a frame listener,
so ``client.add_frame_listener(log.feed)`` records a session.
:class:`~wslearn.inspector.FrameInspector` shows a log live; :mod:`wslearn.diagrams`
draws one as a sequence diagram.

Each direction has its own :class:`~wslearn.packets.Decoder`, since a binary
packet's attachments follow its header in the same direction only.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .exceptions import PacketError
from .packets import Decoder, EnginePacket, Frame, Packet, PacketType

__all__ = ["ARROWS", "FrameLog", "FrameRow", "matches", "relabel"]

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
