"""What a chat pane shows: its widgets, and the HTML drawn from plain data.

:class:`~wslearn.widgets.ChatPane` keeps the state and the behaviour; :class:`PaneView`
holds the pane's widgets and draws into them; the functions build the HTML from plain
data (no widgets, no I/O), so each can be tested, and read, on its own. Every piece of
text from the network is escaped here, so a ``<script>`` in a message is shown, never
run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ipywidgets as w  # type: ignore[import-untyped]

from ._html import status_line
from .client import ClientState

__all__ = [
    "LIGHT_COLORS",
    "ChatMessage",
    "PaneView",
    "heard_html",
    "local_time",
    "message_from",
    "messages_html",
    "people_html",
    "status_html",
    "status_text",
]

LIGHT_COLORS = {
    ClientState.CONNECTED: "green",
    ClientState.CONNECTING: "yellow",
    ClientState.RECONNECTING: "yellow",
    ClientState.DISCONNECTED: "red",
    ClientState.CLOSED: "red",
}
"""The status light's colour for each state of the client."""


@dataclass(frozen=True)
class ChatMessage:
    """One message as a pane shows it.

    Attributes:
        name: the sender's display name.
        text: the message, as sent (escaped only when rendered).
        time: ``HH:MM:SS`` in this machine's time zone, from the server's timestamp;
            ``""`` if it had none.
        mine: sent by this pane's own client.
    """

    name: str
    text: str
    time: str
    mine: bool

    def __str__(self) -> str:
        return f"{self.name}: {self.text}"


def local_time(timestamp: Any) -> str:
    """``HH:MM:SS`` in the local time zone for an ISO 8601 timestamp, ``""`` if it is not one.

    The guide's server stamps messages with ``new Date()``, which JSON turns into UTC
    (``2025-01-01T12:00:00.000Z``); a person reads their own clock.
    """
    if not isinstance(timestamp, str) or "T" not in timestamp:
        return ""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%H:%M:%S")


def message_from(data: Any, my_sid: str | None) -> ChatMessage | None:
    """The message a ``receive-message`` payload carries, or None if it carries none."""
    if not isinstance(data, Mapping) or not isinstance(data.get("message"), str):
        return None
    name = str(data.get("name") or data.get("userId") or "?")
    mine = data.get("userId") is not None and data.get("userId") == my_sid
    return ChatMessage(name, data["message"], local_time(data.get("timestamp")), mine)


def status_text(state: ClientState, queued: int = 0, attempt: int = 0) -> str:
    """The status line of a pane as plain text: state, reconnection attempt, queue.

    >>> status_text(ClientState.RECONNECTING, queued=2, attempt=3)
    'reconnecting (attempt 3) · 2 queued'
    """
    text = state.value
    if state is ClientState.RECONNECTING and attempt:
        text += f" (attempt {attempt})"
    return f"{text} · {queued} queued" if queued else text


def status_html(state: ClientState, queued: int = 0, attempt: int = 0) -> str:
    """The status line with its drawn light (see :func:`status_text`)."""
    return status_line(LIGHT_COLORS[state], status_text(state, queued, attempt))


def heard_html(seconds: int | None) -> str:
    """How long ago the pane last heard from the server (any frame), or ``&nbsp;``."""
    if seconds is None:
        return "<small>&nbsp;</small>"
    return f'<small style="color:#777">last heard from the server {seconds} s ago</small>'


def people_html(users: Iterable[str], typing: Iterable[str]) -> tuple[str, str]:
    """The presence line and the typing line."""
    names = ", ".join(html.escape(u) for u in users) or "nobody yet"
    presence = f"<small>In the room: {names}</small>"
    typists = [html.escape(n) for n in typing]
    if not typists:
        return presence, "<small>&nbsp;</small>"
    verb = "is" if len(typists) == 1 else "are"
    return presence, f"<small><i>{' and '.join(typists)} {verb} typing...</i></small>"


def messages_html(messages: Iterable[ChatMessage]) -> str:
    """The message list, newest at the bottom and kept in view."""
    rows = "".join(
        f'<div class="wslearn-message{" wslearn-mine" if m.mine else ""}">'
        f'<span style="color:#888">{m.time}</span> '
        f"<b>{html.escape(m.name)}</b>: {html.escape(m.text)}</div>"
        for m in messages
    )
    # column-reverse keeps the view scrolled to the newest message.
    return (
        '<div style="height:200px;overflow-y:auto;display:flex;'
        "flex-direction:column-reverse;border:1px solid #eee;padding:4px;"
        f'background:#fafafa;overflow-wrap:anywhere"><div>{rows}</div></div>'
    )


def _html_widget(css: str) -> Any:
    widget = w.HTML()
    widget.add_class(css)
    return widget


class PaneView:
    """The widgets of one chat pane, and how state is drawn into them.

    Args:
        name: the pane's display name (it also names the pane's CSS class).
        room: the room shown in the room field at first.
    """

    def __init__(self, name: str, room: str) -> None:
        self.name = name
        self.title = _html_widget("wslearn-title")
        self.status = _html_widget("wslearn-status")
        self.heard = _html_widget("wslearn-heard")
        self.presence = _html_widget("wslearn-presence")
        self.log = _html_widget("wslearn-messages")
        self.typing_line = _html_widget("wslearn-typing")
        self.error_line = _html_widget("wslearn-error")
        self.note_line = _html_widget("wslearn-note")
        self.input = w.Text(
            placeholder="Type a message, press Enter",
            # Every keystroke reaches the kernel (that drives the typing indicator);
            # Enter arrives separately, as the front end's "submit" message.
            continuous_update=True,
            layout=w.Layout(flex="1 1 auto", width="auto"),
        )
        self.input.add_class("wslearn-input")
        self.send_button = w.Button(description="Send", layout=w.Layout(width="70px"))
        self.send_button.add_class("wslearn-send")
        self.room_input = w.Text(value=room, continuous_update=False, layout={"width": "140px"})
        self.room_input.add_class("wslearn-room")
        self.join_button = w.Button(description="Join room", layout=w.Layout(width="100px"))
        self.join_button.add_class("wslearn-join")
        self.root = w.VBox(
            [
                w.HBox([self.title, self.status], layout={"justify_content": "space-between"}),
                self.heard,
                self.presence,
                self.log,
                self.typing_line,
                w.HBox([self.input, self.send_button]),
                w.HBox([self.room_input, self.join_button]),
                self.error_line,
                self.note_line,
            ],
            layout=w.Layout(width="380px", border="1px solid #ccc", padding="6px", margin="4px"),
        )
        self.root.add_class("wslearn-chat-pane")
        if name:
            self.root.add_class("wslearn-pane-" + re.sub(r"[^a-z0-9]+", "-", name.lower()))
        self._heard_shown: int | None = -1

    def draw_title(self, room: str) -> None:
        """The room and who this pane is."""
        you = f" (you: {html.escape(self.name)})" if self.name else ""
        self.title.value = f"<b>#{html.escape(room)}</b>{you}"

    def draw_status(self, state: ClientState, queued: int, attempt: int, closed: bool) -> None:
        """The light and the status line; the input is off while offline."""
        self.status.value = status_html(state, queued, attempt)
        offline = state in (ClientState.DISCONNECTED, ClientState.CLOSED)
        self.input.disabled = self.send_button.disabled = offline or closed
        self.input.placeholder = (
            "offline: messages wait in a queue"
            if state is ClientState.RECONNECTING
            else "not connected"
            if offline
            else "Type a message, press Enter"
        )

    def draw_heard(self, seconds: int | None) -> None:
        """ "Last heard ... ago", sent to the front end only when it changes."""
        if seconds != self._heard_shown:
            self._heard_shown = seconds
            self.heard.value = heard_html(seconds)

    def draw_people(self, users: Iterable[str], typing: Iterable[str]) -> None:
        """Who is in the room, and who is typing."""
        self.presence.value, self.typing_line.value = people_html(users, typing)

    def draw_messages(self, messages: Iterable[ChatMessage]) -> None:
        """The message list."""
        self.log.value = messages_html(messages)
