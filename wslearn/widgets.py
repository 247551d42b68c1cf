"""Chat panes for the notebook: the guide's React chat component, as ipywidgets.

A :class:`ChatPane` is one person's chat window bound to a
:class:`~wslearn.client.Client` talking to a server with
:func:`~wslearn.chat.add_chat_handlers`::

    alice = await ChatPane.open(server.url, name="Alice", room="lobby")
    bob = await ChatPane.open(server.url, name="Bob", room="lobby")
    side_by_side(alice, bob)                  # one output: Alice | Bob
    ...
    await alice.close(); await bob.close()    # or the notebook's "stop everything"

Each pane shows a drawn status light that follows every state change of its client
(with the reconnection attempt and what waits to be sent), how long ago it last
heard from the server, the room's messages (HTML-escaped, so a ``<script>`` is shown
as text) with the local time, who is in the room and who is typing, and an input
that sends on Enter. Everything the client receives goes into widget state only;
nothing is printed. Work a widget callback starts (a send, a room switch) runs as a
task on the kernel's loop, kept by the pane until it ends, and its errors land on
the pane's error line.

Every pane is kept in the kernel's registry (:mod:`wslearn.kernel`) as
``"pane <name>"``: opening a pane with the same name again (re-running the cell)
closes the old one, which stops the client it owns. Panes made by :meth:`ChatPane.open`
give up reconnecting after about a minute
(:data:`~wslearn.reactive.NOTEBOOK_RECONNECTION`) when their server is gone for good.

Given an :class:`~wslearn.outbox.Outbox`, a pane sends through a
:class:`~wslearn.reliable.ReliableEmitter` instead: each message stays queued until the
server acknowledges it, the status line counts what waits ("3 queued"), and nothing is
lost across outages (the server's ``send-message`` handler must then be wrapped in
:class:`~wslearn.exactly_once.ExactlyOnce`).

:class:`~wslearn.inspector.FrameInspector` shows the frames a client exchanges and
:class:`~wslearn.controls.LinkControls` puts buttons on a
:class:`~wslearn.proxy.LinkProxy`; both are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from . import kernel
from ._chat_view import ChatMessage, PaneView, message_from, status_text
from ._registry import Registry
from .backoff import Backoff
from .client import Client
from .controls import LinkControls
from .inspector import FrameInspector, FrameRow
from .kernel import wait_until
from .outbox import Outbox, OutboxChange
from .packets import Frame
from .reactive import (
    NOTEBOOK_RECONNECTION,
    BackgroundTasks,
    Component,
    PaneRow,
    SocketState,
    side_by_side,
    use_socket,
)
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


class ChatPane(Component):
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
        registry: where the pane is kept, as ``"pane <name>"``; a pane already
            kept there under that name is closed. None keeps it nowhere.
    """

    kind = "chat pane"

    def __init__(
        self,
        client: Client,
        *,
        room: str = "lobby",
        name: str = "",
        max_messages: int = 200,
        owns_client: bool = False,
        outbox: Outbox | None = None,
        registry: Registry | None = kernel.registry,
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
        self._wanted = room  # the room last asked for: a second ask for it is ignored
        self._join_lock = asyncio.Lock()  # joins run one at a time, in order
        self._i_am_typing = False
        self._typing_timer: asyncio.TimerHandle | None = None
        self._attempt = 0
        self._last_heard: float | None = None
        self._ticker: asyncio.TimerHandle | None = None

        self.view = PaneView(name, room)
        """The pane's widgets (its parts are also attributes of the pane, below)."""
        view = self.view
        self.widget = view.root
        self.title, self.status, self.heard = view.title, view.status, view.heard
        self.presence, self.log, self.typing_line = view.presence, view.log, view.typing_line
        self.error_line, self.note_line = view.error_line, view.note_line
        self.input, self.send_button = view.input, view.send_button
        self.room_input, self.join_button = view.room_input, view.join_button

        self._listeners: list[tuple[str, Callable[..., Any]]] = [
            ("receive-message", self._on_message),
            ("presence", self._on_presence),
            ("user-typing", self._on_typing),
            ("connect", self._on_connect),
            ("disconnect", self._on_disconnect),
            ("error", self._on_server_error),
            ("reconnect_attempt", self._on_attempt),
            ("reconnect_failed", self._on_gave_up),
        ]
        for event, listener in self._listeners:
            client.on(event, listener)
        client.add_frame_listener(self._on_frame)
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
        self._register(registry, f"pane {name or '?'}")
        if self.registered is not None and self.registered.replaced is not None:
            self.note_line.value = (
                f"<small>This pane replaces the earlier {html.escape(self.registered.info.name)}"
                " (closed, and its client disconnected).</small>"
            )
        self._render_all()
        self._tick()
        if client.connected:
            self.tasks.spawn(self.join(room))

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        name: str,
        room: str = "lobby",
        reconnection: Backoff | None = NOTEBOOK_RECONNECTION,
        max_messages: int = 200,
        outbox: Outbox | None = None,
        registry: Registry | None = kernel.registry,
        **client_options: Any,
    ) -> ChatPane:
        """Create a client that connects as ``name``, a pane that owns it, and join.

        Returns:
            The pane, connected and in ``room`` (the first presence may still be on
            its way). An earlier pane of the same name is closed by then.

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
            registry=registry,
        )
        try:
            if registry is not None:
                await registry.settle()  # the pane it replaces has closed
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

    @property
    def status_text(self) -> str:
        """The status line as plain text, e.g. ``"reconnecting (attempt 2) · 1 queued"``."""
        return status_text(self.client.state, self.queued, self._attempt)

    @property
    def heard_ago(self) -> int | None:
        """Whole seconds since the pane last heard from the server, None before that."""
        if self._last_heard is None:
            return None
        return max(0, int(time.time() - self._last_heard))

    @property
    def url(self) -> str:
        """The server the pane's client talks to."""
        return str(self.client.url)

    def __repr__(self) -> str:
        return f"<ChatPane {self.name or '?'} · {self.room}>"

    def _placeholder_text(self) -> str:
        return f"{self.name or '?'}'s chat pane (#{self.room})"

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
        """Leave the current room (if any) and join ``room``; the pane starts empty.

        Joins run one after the other, so two quick asks never both leave the old
        room; joining the room the pane is in already does nothing.
        """
        room = room.strip()
        if not room:
            raise ValueError("a room name must not be empty")
        self._wanted = room
        async with self._join_lock:
            if self._joined == room:
                return
            if self._joined is not None:
                await self.client.emit("leave-room", self._joined)
                self._joined = None
            if room != self.room:
                self._messages.clear()
                self._users, self._typing = [], []
            self.room = room
            self._render_all()
            await self.client.call("join-room", room)
            self._joined = room
            self.error_line.value = ""  # whatever went wrong before, this worked

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

    def ask_to_join(self, room: str) -> None:
        """Join ``room`` in the background, unless it is already the room asked for:
        what the room field and the "Join room" button do."""
        room = room.strip()
        if self.closed or not room or room == self._wanted:
            return
        self._wanted = room
        self.tasks.spawn(self.join(room))

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
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.tasks.cancel_all()
        if self.reliable is not None:
            self.reliable.outbox.off_change(self._on_outbox_change)
            await self.reliable.close()  # what is still queued stays in the outbox
        for event, listener in self._listeners:
            self.client.off(event, listener)
        self.client.remove_frame_listener(self._on_frame)
        self.socket.unobserve(self._on_state, names="state")
        await self.socket.close()
        self._close_widgets()

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
        # Enter, or leaving the field: clicking "Join room" does both this and a click.
        self.ask_to_join(change["new"])

    def _on_join_click(self, _button: Any) -> None:
        self.ask_to_join(self.room_input.value)

    def _show_error(self, exc: BaseException) -> None:
        self.error_line.value = f"⚠ {html.escape(f'{type(exc).__name__}: {exc}')}"

    # -- client listeners (the client's receive loop calls them) -----------------------

    def _on_connect(self) -> None:
        self._joined = None  # a new socket: the server has it in no room yet
        self._attempt = 0
        self.error_line.value = ""
        self.tasks.spawn(self.join(self.room))

    def _on_disconnect(self, _reason: str) -> None:
        self._joined = None
        self._users, self._typing = [], []
        self._render_people()

    def _on_attempt(self, attempt: int) -> None:
        self._attempt = attempt
        self._render_status()

    def _on_gave_up(self) -> None:
        self.error_line.value = (
            "⚠ gave up reconnecting: is the server still running? Re-run the cell that "
            "opens this pane to try again."
        )

    def _on_frame(self, direction: str, _frame: Frame, at: float) -> None:
        if direction == "received":
            self._last_heard = at
            self._render_heard()

    def _on_state(self, _change: Any) -> None:
        self._render_status()

    def _on_outbox_change(self, _change: OutboxChange) -> None:
        self._render_status()

    # With connection state recovery on, events carry an offset as one more argument.

    def _on_message(self, data: Any, *_offset: Any) -> None:
        message = message_from(data, self.client.sid)
        if message is None:
            return
        self._messages.append(message)
        if message.name in self._typing:
            self._typing.remove(message.name)
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

    def _tick(self) -> None:
        """Redraw "last heard" once a second while the pane is open (and a loop runs)."""
        self._ticker = None
        if self.closed:
            return
        self._render_heard()
        with contextlib.suppress(RuntimeError):
            self._ticker = asyncio.get_running_loop().call_later(1.0, self._tick)

    def _render_all(self) -> None:
        self.view.draw_title(self.room)
        self._render_status()
        self._render_people()
        self._render_log()
        self._render_heard()

    def _render_status(self) -> None:
        self.view.draw_status(self.client.state, self.queued, self._attempt, self.closed)

    def _render_heard(self) -> None:
        self.view.draw_heard(self.heard_ago)

    def _render_people(self) -> None:
        self.view.draw_people(self._users, self._typing)

    def _render_log(self) -> None:
        self.view.draw_messages(self._messages)
