"""The chat app in a notebook: an ipywidgets pane drawing a :class:`ChatClient`.

::

    alice = await AppPane.open(app.url, "Alice")
    alice                                   # the pane: light, rooms, messages, ticks
    alice.input.value = "hello"; alice.press_enter()   # what typing + Enter does
    await alice.wait_for(lambda p: p.chat.lines()[-1].status == "delivered")
    await alice.close()

It speaks the same app as the browser page (the same events on ``/chat``), so a pane
and a browser tab chat with each other. Everything the client receives goes into
widget state; nothing is printed. The light is drawn with CSS (a coloured dot), so it
shows with any font.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import Callable
from typing import Any

import ipywidgets as w  # type: ignore[import-untyped]

from .. import kernel
from .._registry import Registry
from ..backoff import Backoff
from ..client import ClientState
from ..kernel import wait_until
from ..reactive import NOTEBOOK_RECONNECTION, BackgroundTasks, Component
from .client import ChatClient, ChatLine

__all__ = ["TICKS", "AppPane", "panes_side_by_side"]

TYPING_IDLE = 3.0
"""Seconds without a keystroke after which the pane says it stopped typing."""

TICKS = {"queued": "…", "sent": "✓", "delivered": "✓✓", "failed": "!"}
"""The tick shown after each of your own messages, by status."""

_LIGHT_COLOURS = {
    ClientState.CONNECTED: "#1f9d55",
    ClientState.CONNECTING: "#d99a00",
    ClientState.RECONNECTING: "#d99a00",
    ClientState.DISCONNECTED: "#c93b3b",
    ClientState.CLOSED: "#c93b3b",
}


def light(state: ClientState) -> str:
    """The status light as HTML: a dot in the state's colour, then the state's name."""
    dot = (
        '<span style="display:inline-block;width:0.7em;height:0.7em;border-radius:50%;'
        f'background:{_LIGHT_COLOURS[state]};margin-right:0.3em"></span>'
    )
    return f"{dot}{state.value}"


def render_line(line: ChatLine) -> str:
    """One message as HTML, everything the user wrote escaped."""
    tick = ""
    if line.mine:
        tick = (
            f' <span class="wslearn-tick" data-status="{line.status}" '
            f'title="{line.status}">{TICKS[line.status]}</span>'
        )
    who = "wslearn-message wslearn-mine" if line.mine else "wslearn-message"
    return (
        f'<div class="{who}"><span style="color:#888">{line.time or "--:--:--"}</span> '
        f"<b>{html.escape(line.name)}</b>: {html.escape(line.text)}{tick}</div>"
    )


class AppPane(Component):
    """One user's window on the chat app.

    Args:
        chat: the client to draw (connected or not yet); the pane owns it and
            :meth:`close` closes it.
        registry: where the pane is kept, as ``"app pane <name>"`` (re-running the
            cell that opened it closes the old one); None keeps it nowhere.
    """

    kind = "chat app pane"

    def __init__(self, chat: ChatClient, *, registry: Registry | None = kernel.registry) -> None:
        self.chat = chat
        self.name = chat.name
        self.closed = False
        self.tasks = BackgroundTasks(self._show_error)
        self._typing = False
        self._typing_timer: asyncio.TimerHandle | None = None
        self._drawing = False

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
        self.rooms = w.Dropdown(options=[], layout=w.Layout(width="160px"))
        self.earlier = w.Button(description="load earlier", layout=w.Layout(width="110px"))
        self.input = w.Text(
            placeholder="Type a message, press Enter",
            continuous_update=True,  # every keystroke: the typing notice
            layout=w.Layout(flex="1 1 auto", width="auto"),
        )
        self.input.add_class("wslearn-input")
        self.send_button = w.Button(description="Send", layout=w.Layout(width="70px"))
        self.new_room = w.Text(placeholder="room", layout=w.Layout(width="140px"))
        self.join_button = w.Button(description="Join", layout=w.Layout(width="70px"))
        self.create_button = w.Button(description="Create", layout=w.Layout(width="70px"))
        self.widget = w.VBox(
            [
                w.HBox([self.title, self.status], layout={"justify_content": "space-between"}),
                w.HBox([self.rooms, self.earlier]),
                self.presence,
                self.log,
                self.typing_line,
                w.HBox([self.input, self.send_button]),
                w.HBox([self.new_room, self.join_button, self.create_button]),
                self.error_line,
            ],
            layout=w.Layout(width="400px", border="1px solid #ccc", padding="6px", margin="4px"),
        )
        self.widget.add_class("wslearn-app-pane")
        self.widget.add_class("wslearn-app-pane-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()))
        self.input.observe(self._on_keystroke, names="value")
        self.input.on_msg(self._on_input_message)
        self.send_button.on_click(lambda _b: self.press_enter())
        self.rooms.observe(self._on_room_picked, names="value")
        self.earlier.on_click(lambda _b: self.tasks.spawn(self.chat.load_earlier()))
        self.join_button.on_click(lambda _b: self._room_action(create=False))
        self.create_button.on_click(lambda _b: self._room_action(create=True))
        chat.on_change(self.render)
        self._register(registry, f"app pane {self.name}")
        self.render()

    @classmethod
    async def open(
        cls,
        url: str,
        name: str,
        *,
        room: str | None = None,
        reconnection: Backoff | None = NOTEBOOK_RECONNECTION,
        registry: Registry | None = kernel.registry,
    ) -> AppPane:
        """Sign in as ``name``, connect, and show the lobby (or join ``room``)."""
        pane = cls(ChatClient(url, name, reconnection=reconnection), registry=registry)
        try:
            if registry is not None:
                await registry.settle()  # the pane it replaces has closed
            await pane.chat.connect()
            if room is not None:
                await pane.chat.join(room)
        except BaseException:
            await pane.close()
            raise
        return pane

    def __repr__(self) -> str:
        return f"<AppPane {self.name} #{self.chat.current}>"

    # -- actions --------------------------------------------------------------------

    def press_enter(self) -> None:
        """Send what is in the input and clear it: what pressing Enter does."""
        text = self.input.value.strip()
        if self.closed or not text:
            return
        self._typing = False  # the server clears the notice when the message arrives
        self.input.value = ""
        self.tasks.spawn(self.chat.send(text))

    async def settle(self) -> None:
        """Wait until the work widget callbacks started has finished."""
        while self.tasks.tasks - {asyncio.current_task()}:
            await asyncio.gather(*(self.tasks.tasks - {asyncio.current_task()}))

    async def wait_for(self, check: Callable[[AppPane], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``check(pane)`` is true (TimeoutError after ``timeout`` s)."""
        await wait_until(lambda: check(self), timeout, what=f"{self!r}: the condition")

    async def close(self) -> None:
        """Close the client and the widgets. Calling it twice does nothing."""
        if self.closed:
            return
        self.closed = True
        self._stop_typing_timer()
        await self.tasks.cancel_all()
        await self.chat.close()
        self._close_widgets()

    # -- drawing --------------------------------------------------------------------

    def render(self) -> None:
        """Redraw from the client's state (called after every change)."""
        if self.closed:
            return
        chat = self.chat
        self.title.value = f"<b>{html.escape(self.name)}</b> · #{html.escape(chat.current)}"
        queued = sum(1 for line in chat.lines() if line.status == "queued")
        extra = f" · {queued} queued" if queued else ""
        self.status.value = f"<small>{light(chat.state)}{extra}</small>"
        options = [
            (f"#{room}" + (f" ({chat.unread(room)})" if chat.unread(room) else ""), room)
            for room in sorted(chat.rooms)
        ]
        self._drawing = True  # the room picker's observer must not take this for a click
        try:
            if tuple(self.rooms.options) != tuple(options):
                self.rooms.options = options
            if chat.current in chat.rooms and self.rooms.value != chat.current:
                self.rooms.value = chat.current
        finally:
            self._drawing = False
        view = chat.rooms.get(chat.current)
        self.earlier.disabled = not (view and view.has_more)
        online = ", ".join(html.escape(name) for name in chat.online()) or "nobody"
        self.presence.value = f"<small>online: {online}</small>"
        typists = chat.typing()
        verb = "is" if len(typists) == 1 else "are"
        self.typing_line.value = (
            f"<small><i>{html.escape(' and '.join(typists))} {verb} typing…</i></small>"
            if typists
            else "<small>&nbsp;</small>"
        )
        rows = "".join(render_line(line) for line in chat.lines())
        self.log.value = (
            '<div style="height:200px;overflow-y:auto;display:flex;'
            "flex-direction:column-reverse;border:1px solid #eee;padding:4px;"
            f'background:#fafafa"><div>{rows}</div></div>'
        )
        self.error_line.value = (
            f"<small>⚠ {html.escape(chat.errors[-1])}</small>" if chat.errors else ""
        )

    # -- widget callbacks (synchronous, on the kernel's thread) ---------------------------

    def _on_keystroke(self, change: dict[str, Any]) -> None:
        if self.closed:
            return
        self._stop_typing_timer()
        typing = bool(change["new"].strip())
        if typing != self._typing:
            self._typing = typing
            self.tasks.spawn(self.chat.set_typing(typing))
        if typing:
            with contextlib.suppress(RuntimeError):  # no running loop: no idle timeout
                loop = asyncio.get_running_loop()
                self._typing_timer = loop.call_later(TYPING_IDLE, self._on_typing_idle)

    def _on_typing_idle(self) -> None:
        self._typing_timer = None
        if self._typing and not self.closed:
            self._typing = False
            self.tasks.spawn(self.chat.set_typing(False))

    def _stop_typing_timer(self) -> None:
        if self._typing_timer is not None:
            self._typing_timer.cancel()
            self._typing_timer = None

    def _on_input_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit":  # the front end's Enter key
            self.press_enter()

    def _on_room_picked(self, change: dict[str, Any]) -> None:
        room = change["new"]
        if not self.closed and not self._drawing and room and room != self.chat.current:
            self.tasks.spawn(self.chat.show(room))

    def _room_action(self, create: bool) -> None:
        room = self.new_room.value.strip()
        if not self.closed and room:
            self.new_room.value = ""
            self.tasks.spawn(self.chat.join(room, create=create))

    def _show_error(self, exc: BaseException) -> None:
        self.error_line.value = f"<small>⚠ {html.escape(f'{type(exc).__name__}: {exc}')}</small>"


class PaneRow(w.HBox):  # type: ignore[misc]
    """Panes in one row; the plain-text form names them (stable under nbval)."""

    names: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"PaneRow({' | '.join(self.names)})"


def panes_side_by_side(*panes: AppPane) -> PaneRow:
    """Lay panes out in one row, in one output."""
    row = PaneRow([pane.widget for pane in panes], layout=w.Layout(flex_flow="row wrap"))
    row.names = tuple(pane.name for pane in panes)
    for pane in panes:
        pane._placed_in(row)  # a pane that closes leaves the row
    return row
