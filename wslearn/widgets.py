"""Chat panes for the notebook: the guide's React chat component, as ipywidgets.

A :class:`ChatPane` is one person's chat window bound to a
:class:`~wslearn.client.Client` talking to a server with
:func:`~wslearn.chat.add_chat_handlers`::

    alice = await ChatPane.open(server.url, name="Alice", room="lobby")
    bob = await ChatPane.open(server.url, name="Bob", room="lobby")
    side_by_side(alice, bob)                  # one output: Alice | Bob
    ...
    await alice.close(); await bob.close()

Each pane shows a status light that follows every state change of its client, the
room's messages (HTML-escaped, so a ``<script>`` is shown as text), who is in the room
and who is typing, and an input that sends on Enter. Everything the client receives
goes into widget state only; nothing is printed. Work a widget callback starts (a
send, a room switch) runs as a task on the kernel's loop, kept by the pane until it
ends, and its errors land on the pane's error line.

Given an :class:`~wslearn.outbox.Outbox`, a pane sends through a
:class:`~wslearn.reliable.ReliableEmitter` instead: each message stays queued until the
server acknowledges it, the status line counts what waits ("3 queued"), and nothing is
lost across outages (the server's ``send-message`` handler must then be wrapped in
:class:`~wslearn.exactly_once.ExactlyOnce`)::

    alice = await ChatPane.open(server.url, name="Alice", outbox=Outbox())

:class:`~wslearn.inspector.FrameInspector` shows the frames a client exchanges and
:class:`~wslearn.controls.LinkControls` puts buttons on a
:class:`~wslearn.proxy.LinkProxy`; both are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w  # type: ignore[import-untyped]

from .backoff import Backoff
from .client import Client, ClientState
from .controls import LinkControls
from .inspector import FrameInspector, FrameRow
from .kernel import wait_until
from .outbox import Outbox, OutboxChange
from .reactive import BackgroundTasks, SocketState, close_tree, use_socket
from .reliable import ReliableEmitter

__all__ = [
    "ChatMessage",
    "ChatPane",
    "FrameInspector",
    "FrameRow",
    "LinkControls",
    "PaneRow",
    "SocketState",
    "side_by_side",
    "status_text",
    "use_socket",
]

TYPING_IDLE = 3.0
"""Seconds without a keystroke after which a pane withdraws its "typing" notice."""

LIGHTS = {
    ClientState.CONNECTED: "🟢",
    ClientState.CONNECTING: "🟡",
    ClientState.RECONNECTING: "🟡",
    ClientState.DISCONNECTED: "🔴",
    ClientState.CLOSED: "🔴",
}


def status_text(state: ClientState, queued: int = 0) -> str:
    """The status line of a pane: light, state, and the emits waiting to be sent."""
    text = f"{LIGHTS[state]} {state.value}"
    return f"{text} · {queued} queued" if queued else text


@dataclass(frozen=True)
class ChatMessage:
    """One message as a pane shows it.

    Attributes:
        name: the sender's display name.
        text: the message, as sent (escaped only when rendered).
        time: ``HH:MM:SS`` (UTC) from the server's timestamp, ``""`` if it had none.
        mine: sent by this pane's own client.
    """

    name: str
    text: str
    time: str
    mine: bool

    def __str__(self) -> str:
        return f"{self.name}: {self.text}"


_ISO_TIME = re.compile(r"T(\d{2}:\d{2}:\d{2})")


class ChatPane:
    """One chat window: status light, messages, presence, typing, input, rooms.

    Args:
        client: the client to chat through (connected or not yet).
        room: the room to join, now if connected, and again after every reconnection
            (a reconnected client is a new socket: the server forgot its rooms).
        name: the display name shown in the pane's title.
        max_messages: how many messages the pane keeps (oldest dropped first).
        owns_client: :meth:`close` also disconnects the client.
        outbox: send through a :class:`~wslearn.reliable.ReliableEmitter` on this
            outbox (kept until acked, resent after reconnecting) instead of plain
            emits. The pane creates the emitter after its own listeners, so after a
            reconnection the room is joined before the queued messages go out and
            they come back to this pane too.
    """

    def __init__(
        self,
        client: Client,
        *,
        room: str = "lobby",
        name: str = "",
        max_messages: int = 200,
        owns_client: bool = False,
        outbox: Outbox | None = None,
    ) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.client = client
        self.name = name
        self.room = room
        self.socket = SocketState(client, owns_client=owns_client)
        self.tasks = BackgroundTasks(self._show_error)
        self.closed = False
        self._messages: deque[ChatMessage] = deque(maxlen=max_messages)
        self._users: list[str] = []
        self._typing: list[str] = []
        self._joined: str | None = None  # the room the server has this socket in
        self._i_am_typing = False
        self._typing_timer: asyncio.TimerHandle | None = None

        def html_widget(css: str) -> Any:
            widget = w.HTML()
            widget.add_class(css)
            return widget

        self.title = html_widget("wslearn-title")
        self.status = html_widget("wslearn-status")
        self.presence = html_widget("wslearn-presence")
        self.log = html_widget("wslearn-messages")
        self.typing_line = html_widget("wslearn-typing")
        self.error_line = html_widget("wslearn-error")
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
        self.widget = w.VBox(
            [
                w.HBox([self.title, self.status], layout={"justify_content": "space-between"}),
                self.presence,
                self.log,
                self.typing_line,
                w.HBox([self.input, self.send_button]),
                w.HBox([self.room_input, self.join_button]),
                self.error_line,
            ],
            layout=w.Layout(width="380px", border="1px solid #ccc", padding="6px", margin="4px"),
        )
        self.widget.add_class("wslearn-chat-pane")
        if name:
            self.widget.add_class("wslearn-pane-" + re.sub(r"[^a-z0-9]+", "-", name.lower()))

        self._listeners: list[tuple[str, Callable[..., Any]]] = [
            ("receive-message", self._on_message),
            ("presence", self._on_presence),
            ("user-typing", self._on_typing),
            ("connect", self._on_connect),
            ("disconnect", self._on_disconnect),
            ("error", self._on_server_error),
        ]
        for event, listener in self._listeners:
            client.on(event, listener)
        self.socket.observe(self._on_state, names="state")
        self.input.observe(self._on_keystroke, names="value")
        self.input.on_msg(self._on_input_message)
        self.send_button.on_click(self._on_send_click)
        self.room_input.observe(self._on_room_enter, names="value")
        self.join_button.on_click(self._on_join_click)
        self.reliable: ReliableEmitter | None = None
        """Where messages go when the pane was given an outbox; None otherwise."""
        if outbox is not None:
            # After the pane's listeners: its connect listener (re-join) runs first.
            self.reliable = ReliableEmitter(client, outbox)
            outbox.on_change(self._on_outbox_change)
        self._render_all()
        if client.connected:
            self.tasks.spawn(self.join(room))

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        name: str,
        room: str = "lobby",
        reconnection: Backoff | None = Backoff(),  # noqa: B008 - frozen, safe to share
        max_messages: int = 200,
        outbox: Outbox | None = None,
        **client_options: Any,
    ) -> ChatPane:
        """Create a client that connects as ``name``, a pane that owns it, and join.

        Returns:
            The pane, connected and in ``room`` (the first presence may still be on
            its way).

        Raises:
            ConnectFailedError, ConnectRefusedError: as :meth:`Client.connect`.
        """
        client = Client(url, auth={"name": name}, reconnection=reconnection, **client_options)
        pane = cls(
            client,
            room=room,
            name=name,
            max_messages=max_messages,
            owns_client=True,
            outbox=outbox,
        )
        try:
            await client.connect()
            await pane.settle()
        except BaseException:
            await pane.close()
            raise
        return pane

    # -- what the pane holds -----------------------------------------------------------

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        """The messages kept, oldest first."""
        return tuple(self._messages)

    @property
    def last_message(self) -> ChatMessage | None:
        """The newest message, or None."""
        return self._messages[-1] if self._messages else None

    @property
    def users(self) -> tuple[str, ...]:
        """Who is in the room, from the server's last presence."""
        return tuple(self._users)

    @property
    def typing(self) -> tuple[str, ...]:
        """Who else is typing right now."""
        return tuple(self._typing)

    @property
    def queued(self) -> int:
        """Messages waiting to go out: unacknowledged ones with an outbox, else the
        client's buffered emits."""
        return len(self.reliable) if self.reliable is not None else self.client.buffered

    def __repr__(self) -> str:
        return f"<ChatPane {self.name or '?'} · {self.room}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)  # stable text instead of the widget's repr
        return bundle

    # -- actions (coroutines; the widgets schedule them) -------------------------------

    async def send(self, text: str) -> None:
        """Send ``text`` to the room (buffered by the client while reconnecting, or
        queued in the outbox until acknowledged)."""
        if self._i_am_typing:
            await self.set_typing(False)
        message = {"roomId": self.room, "message": text}
        if self.reliable is not None:
            self.reliable.send("send-message", message)
        else:
            await self.client.emit("send-message", message)
        self._render_status()

    async def join(self, room: str) -> None:
        """Leave the current room (if any) and join ``room``; the pane starts empty."""
        room = room.strip()
        if not room:
            raise ValueError("a room name must not be empty")
        if self._joined is not None and self._joined != room:
            await self.client.emit("leave-room", self._joined)
        if room != self.room:
            self._messages.clear()
            self._users, self._typing = [], []
        self.room = room
        self._render_all()
        await self.client.call("join-room", room)
        self._joined = room

    async def set_typing(self, typing: bool) -> None:
        """Tell the others in the room whether this pane's user is typing.

        Typing in the input does this by itself: the first keystroke says "typing",
        sending, emptying the input or :data:`TYPING_IDLE` seconds without a keystroke
        take it back.
        """
        self._i_am_typing = typing
        if self.client.connected:  # a stale "typing" is not worth buffering
            await self.client.emit("typing", {"roomId": self.room, "typing": typing})

    def press_enter(self) -> None:
        """Send what is in the input and clear it: what pressing Enter in it does.

        Code (a notebook cell, a test) calls it after setting ``input.value``, exactly
        as the browser sends the input's value and then its Enter key.
        """
        text = self.input.value.strip()
        if self.closed or not text:
            return
        self.input.value = ""  # withdraws "typing" first (see _on_keystroke)
        self.tasks.spawn(self.send(text))

    async def settle(self) -> None:
        """Wait until the work widget callbacks started so far has finished."""
        while self.tasks.tasks - {asyncio.current_task()}:
            await asyncio.gather(*(self.tasks.tasks - {asyncio.current_task()}))

    async def wait_for(self, check: Callable[[ChatPane], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``check(pane)`` is true, e.g. a message has arrived.

        Raises:
            TimeoutError: still false after ``timeout`` seconds.
        """
        await wait_until(lambda: check(self), timeout, what=f"{self!r}: the condition")

    async def close(self) -> None:
        """Remove every listener, cancel the pane's tasks, close its widgets and,
        if the pane owns it, disconnect the client. Calling it twice does nothing."""
        if self.closed:
            return
        self.closed = True
        self._stop_typing_timer()
        await self.tasks.cancel_all()
        if self.reliable is not None:
            self.reliable.outbox.off_change(self._on_outbox_change)
            await self.reliable.close()  # what is still queued stays in the outbox
        for event, listener in self._listeners:
            self.client.off(event, listener)
        self.socket.unobserve(self._on_state, names="state")
        await self.socket.close()
        close_tree(self.widget)

    # -- widget callbacks (synchronous, on the kernel's thread) ------------------------

    def _on_keystroke(self, change: dict[str, Any]) -> None:
        if self.closed:
            return
        self._stop_typing_timer()
        if not change["new"].strip():
            if self._i_am_typing:
                self._i_am_typing = False  # now, so a send right after does not repeat it
                self.tasks.spawn(self.set_typing(False))
            return
        if not self._i_am_typing:
            self._i_am_typing = True  # now, so the next keystrokes do not repeat it
            self.tasks.spawn(self.set_typing(True))
        with contextlib.suppress(RuntimeError):  # no running loop: no idle timeout
            loop = asyncio.get_running_loop()
            self._typing_timer = loop.call_later(TYPING_IDLE, self._on_typing_idle)

    def _on_typing_idle(self) -> None:
        self._typing_timer = None
        if self._i_am_typing and not self.closed:
            self._i_am_typing = False
            self.tasks.spawn(self.set_typing(False))

    def _stop_typing_timer(self) -> None:
        if self._typing_timer is not None:
            self._typing_timer.cancel()
            self._typing_timer = None

    def _on_input_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit":  # the front end's Enter key
            self.press_enter()

    def _on_send_click(self, _button: Any) -> None:
        self.press_enter()

    def _on_room_enter(self, change: dict[str, Any]) -> None:
        if not self.closed and change["new"].strip() and change["new"].strip() != self.room:
            self.tasks.spawn(self.join(change["new"]))

    def _on_join_click(self, _button: Any) -> None:
        if not self.closed and self.room_input.value.strip():
            self.tasks.spawn(self.join(self.room_input.value))

    def _show_error(self, exc: BaseException) -> None:
        self.error_line.value = f"⚠ {html.escape(f'{type(exc).__name__}: {exc}')}"

    # -- client listeners (the client's receive loop calls them) -----------------------

    def _on_connect(self) -> None:
        self._joined = None  # a new socket: the server has it in no room yet
        self.error_line.value = ""
        self.tasks.spawn(self.join(self.room))

    def _on_disconnect(self, _reason: str) -> None:
        self._joined = None
        self._users, self._typing = [], []
        self._render_people()

    def _on_state(self, _change: Any) -> None:
        self._render_status()

    def _on_outbox_change(self, _change: OutboxChange) -> None:
        self._render_status()

    # With connection state recovery on, events carry an offset as one more argument.

    def _on_message(self, data: Any, *_offset: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            return
        name = str(data.get("name") or data.get("userId") or "?")
        found = _ISO_TIME.search(str(data.get("timestamp", "")))
        mine = data.get("userId") is not None and data.get("userId") == self.client.sid
        self._messages.append(ChatMessage(name, data["message"], found[1] if found else "", mine))
        if name in self._typing:
            self._typing.remove(name)
            self._render_people()
        self._render_log()

    def _on_presence(self, data: Any, *_offset: Any) -> None:
        if isinstance(data, dict) and data.get("roomId") == self.room:
            self._users = [str(u) for u in data.get("users", [])]
            self._typing = [name for name in self._typing if name in self._users]
            self._render_people()

    def _on_typing(self, data: Any, *_offset: Any) -> None:
        if not isinstance(data, dict) or data.get("roomId") != self.room:
            return
        name = str(data.get("name", "?"))
        if data.get("typing") and name not in self._typing:
            self._typing.append(name)
        elif not data.get("typing") and name in self._typing:
            self._typing.remove(name)
        self._render_people()

    def _on_server_error(self, data: Any, *_offset: Any) -> None:
        message = data.get("message") if isinstance(data, dict) else data
        self.error_line.value = f"⚠ server: {html.escape(str(message))}"

    # -- rendering ---------------------------------------------------------------------

    def _render_all(self) -> None:
        you = f" (you: {html.escape(self.name)})" if self.name else ""
        self.title.value = f"<b>#{html.escape(self.room)}</b>{you}"
        self._render_status()
        self._render_people()
        self._render_log()

    def _render_status(self) -> None:
        state = self.client.state
        self.status.value = html.escape(status_text(state, self.queued))
        offline = state in (ClientState.DISCONNECTED, ClientState.CLOSED)
        self.input.disabled = self.send_button.disabled = offline or self.closed
        self.input.placeholder = (
            "offline: messages wait in a queue"
            if state is ClientState.RECONNECTING
            else "not connected"
            if offline
            else "Type a message, press Enter"
        )

    def _render_people(self) -> None:
        users = ", ".join(html.escape(u) for u in self._users) or "nobody yet"
        self.presence.value = f"<small>In the room: {users}</small>"
        names = [html.escape(n) for n in self._typing]
        if not names:
            self.typing_line.value = "<small>&nbsp;</small>"
        else:
            verb = "is" if len(names) == 1 else "are"
            self.typing_line.value = (
                f"<small><i>{' and '.join(names)} {verb} typing...</i></small>"
            )

    def _render_log(self) -> None:
        rows = "".join(
            f'<div class="wslearn-message{" wslearn-mine" if m.mine else ""}">'
            f'<span style="color:#888">{m.time}</span> '
            f"<b>{html.escape(m.name)}</b>: {html.escape(m.text)}</div>"
            for m in self._messages
        )
        # column-reverse keeps the view scrolled to the newest message.
        self.log.value = (
            '<div style="height:200px;overflow-y:auto;display:flex;'
            "flex-direction:column-reverse;border:1px solid #eee;padding:4px;"
            f'background:#fafafa"><div>{rows}</div></div>'
        )


class PaneRow(w.HBox):  # type: ignore[misc]
    """An HBox of panes whose plain-text form names them (stable under nbval)."""

    def __repr__(self) -> str:
        return f"PaneRow({' | '.join(self.names)})"

    names: tuple[str, ...] = ()


def side_by_side(*panes: ChatPane | FrameInspector) -> PaneRow:
    """Lay panes out in one row, in one output: ``side_by_side(alice, bob)``."""
    row = PaneRow([p.widget for p in panes], layout=w.Layout(flex_flow="row wrap"))
    row.names = tuple(getattr(p, "name", "") or type(p).__name__ for p in panes)
    row.add_class("wslearn-pane-row")
    return row
