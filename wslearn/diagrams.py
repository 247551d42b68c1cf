"""Diagrams of what really happened: a frame log drawn as a Mermaid sequence diagram.

The protocol docs draw a session as arrows between a client and a server. This module
draws *your* session that way, from the rows of a :class:`~wslearn.framelog.FrameLog`
or a :class:`~wslearn.inspector.FrameInspector`::

    log = FrameLog()
    client.add_frame_listener(log.feed)
    ...                                       # connect, emit, disconnect
    sequence_diagram(log.rows(), labels={client.sid: "SID"})

In JupyterLab (4.1 and later) the result renders as a diagram, because Markdown
output with a ``mermaid`` code block is drawn by Mermaid; elsewhere you see its
source. Pure: it only builds text from rows (no I/O, no widgets).

:func:`schedule_plot` draws the other picture a reader would rather look at than read:
when a crowd of clients tries to reconnect, attempt by attempt, for each reconnection
policy (matplotlib is imported only when it is called).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .backoff import Backoff
from .framelog import FrameRow, relabel

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Mermaid", "attempt_times", "describe", "schedule_plot", "sequence_diagram"]


@dataclass(frozen=True)
class Mermaid:
    """Mermaid source that a notebook renders as a diagram.

    Attributes:
        source: the diagram in Mermaid's language.
    """

    source: str

    def __repr__(self) -> str:
        return self.source

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.source}\n```"

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        return {"text/markdown": self._repr_markdown_(), "text/plain": self.source}


_ENTITIES = {"#": "#35;", ";": "#59;", "\n": " "}


def _escape(text: str) -> str:
    # In a message, Mermaid reads ';' as the end of a statement and '#' as the start of
    # an entity code: write both as entity codes, in one pass.
    return "".join(_ENTITIES.get(char, char) for char in text)


def describe(row: FrameRow, width: int = 60) -> str:
    """One frame in a few words: its packet types, event, ack id and payload."""
    if row.engine == "ATTACHMENT":
        words = [row.payload]
    elif row.socketio:
        words = [row.socketio]
        if row.namespace and row.namespace != "/":
            words.append(row.namespace)
        if row.event:
            words.append(row.event)
        if row.ack is not None:
            words.append(f"ack={row.ack}")
        if row.payload:
            words.append(row.payload)
    else:
        words = [row.engine, row.payload] if row.payload else [row.engine]
    if row.error:
        words.append(f"(bad frame: {row.error})")
    text = " ".join(words)
    return text if len(text) <= width else text[: width - 1] + "…"


def sequence_diagram(
    rows: Iterable[FrameRow],
    *,
    labels: Mapping[str, str] | None = None,
    client: str = "client",
    server: str = "server",
    hide_heartbeats: bool = False,
    limit: int = 40,
) -> Mermaid:
    """Draw frames as arrows between the client and the server, oldest first.

    Args:
        rows: the frames, e.g. ``log.rows()`` (the client's point of view: ``↑`` is
            what it sent).
        labels: random ids to replace, e.g. ``{client.sid: "SID"}``, so the diagram
            reads the same every run.
        client: the client's name in the diagram.
        server: the server's name.
        hide_heartbeats: leave out Engine.IO pings and pongs.
        limit: draw at most this many arrows; a note says how many more there were.

    Raises:
        ValueError: ``limit`` is not positive.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    kept = [r for r in rows if not (hide_heartbeats and r.engine in ("PING", "PONG"))]
    lines = [
        "sequenceDiagram",
        f"    participant C as {_escape(client)}",
        f"    participant S as {_escape(server)}",
    ]
    for row in kept[:limit]:
        arrow = "C->>S" if row.direction == "↑" else "S->>C"
        lines.append(f"    {arrow}: {_escape(describe(relabel(row, labels or {})))}")
    if len(kept) > limit:
        lines.append(f"    Note over C,S: {len(kept) - limit} more frames not drawn")
    return Mermaid("\n".join(lines))


def attempt_times(policy: Backoff, attempts: int, seed: int) -> list[float]:
    """When one client tries again, in seconds after the drop: the running sum of its
    delays, drawn with ``random.Random(seed)`` (at most ``attempts`` of them)."""
    delays = itertools.islice(policy.delays(random.Random(seed)), attempts)
    return list(itertools.accumulate(delays))


def schedule_plot(policies: Mapping[str, Backoff], clients: int = 20, attempts: int = 5) -> Figure:
    """One row per policy: a dot for every reconnection attempt of every client.

    Clients that lost the same server at the same moment, with the same delays, knock
    again in the same instants (a column of dots); jitter spreads each column out.

    Args:
        policies: the policies to compare, by label.
        clients: how many clients (seeds 0 to ``clients - 1``, so the plot is stable).
        attempts: attempts drawn per client.

    Raises:
        ValueError: no policies, or fewer than one client or attempt.
    """
    if not policies or clients < 1 or attempts < 1:
        raise ValueError("give at least one policy, one client and one attempt")
    from matplotlib.figure import Figure  # only when a plot is asked for

    fig = Figure(figsize=(10, 1.6 + 1.5 * len(policies)), layout="constrained")
    axes = fig.subplots(len(policies), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, policy) in zip(axes, policies.items(), strict=True):
        for client in range(clients):
            times = attempt_times(policy, attempts, seed=client)
            ax.plot(times, [client] * len(times), "o", markersize=4, color="tab:blue")
        ax.set_title(label, loc="left", fontsize=10)
        ax.set_ylabel("client")
        ax.set_ylim(-1, clients)
    axes[-1].set_xlabel("seconds after the server went away (a dot is one attempt)")
    return fig
