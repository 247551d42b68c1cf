"""Buttons for the notebook: a link you can break on purpose, and "stop everything".

::

    link = LinkProxy("127.0.0.1", server.port)
    await kernel.start(link, name="link")
    LinkControls(link)      # light, Pause/Resume, Cut, Unplug/Plug back, latency

    kernel.panel()          # what runs in this kernel, and a "Stop everything" button

:class:`LinkControls` follow the proxy's ``on_change``, so they stay right when code
changes the link too (``link.pause()`` in a cell turns the light yellow).
:class:`KernelPanel` follows the kernel's registry (:mod:`wslearn.kernel`); it is
what the last cell of every notebook shows, so that "Run All" leaves the demos live
and the learner stops them when done.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, ClassVar

import ipywidgets as w  # type: ignore[import-untyped]

from . import kernel
from ._html import placeholder, status_line
from ._registry import Registry
from .proxy import LinkProxy, LinkState
from .reactive import BackgroundTasks, Component, close_tree

__all__ = ["KernelPanel", "LinkControls"]


class LinkControls(Component):
    """Buttons and a slider for a :class:`~wslearn.proxy.LinkProxy`.

    The light and the buttons follow the proxy's ``on_change``, so they stay right
    when code changes the link too. Errors show on the controls' error line.

    Args:
        proxy: the link to control (closing the controls leaves it running).
        name: its name in the registry.
        registry: where the controls are kept; controls of the same name there are
            closed. None keeps them nowhere.
    """

    kind = "link controls"

    LIGHTS: ClassVar[dict[LinkState, tuple[str, str]]] = {
        LinkState.UP: ("green", "up"),
        LinkState.PAUSED: ("yellow", "paused (half-open: nothing moves)"),
        LinkState.DOWN: ("red", "down (unplugged)"),
        LinkState.STOPPED: ("grey", "stopped"),
    }
    """The light's colour and text for each state of the link."""

    def __init__(
        self,
        proxy: LinkProxy,
        *,
        name: str = "link controls",
        registry: Registry | None = kernel.registry,
    ) -> None:
        self.proxy = proxy
        self.closed = False
        self.tasks = BackgroundTasks(self._show_error)
        self.light = w.HTML()
        self.light.add_class("wslearn-link-light")
        self.pause_button = w.Button(description="Pause")
        self.cut_button = w.Button(description="Cut")
        self.plug_button = w.Button(description="Unplug")
        self.latency = w.IntSlider(
            value=round(proxy.latency * 1000),
            min=0,
            max=1000,
            step=10,
            description="latency ms",
            continuous_update=False,
        )
        self.error_line = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox([self.light, self.pause_button, self.cut_button, self.plug_button]),
                self.latency,
                self.error_line,
            ]
        )
        self.widget.add_class("wslearn-link-controls")
        self.pause_button.on_click(self._on_pause)
        self.cut_button.on_click(self._on_cut)
        self.plug_button.on_click(self._on_plug)
        self.latency.observe(self._on_latency, names="value")
        self._unsubscribe = proxy.on_change(self._follow)
        self._follow(proxy.state)
        self._register(registry, name)

    @property
    def state_text(self) -> str:
        """The link's state as the light's text, e.g. ``"paused (half-open: nothing moves)"``."""
        return self.LIGHTS[self.proxy.state][1]

    def __repr__(self) -> str:
        return "<LinkControls>"

    def _placeholder_text(self) -> str:
        return "Link controls (Pause, Cut, Unplug, latency)"

    def _follow(self, state: LinkState) -> None:
        color, text = self.LIGHTS[state]
        self.light.value = status_line(color, f"link {text}")
        self.pause_button.description = "Resume" if state is LinkState.PAUSED else "Pause"
        self.pause_button.disabled = state not in (LinkState.UP, LinkState.PAUSED)
        self.cut_button.disabled = state is LinkState.STOPPED
        self.plug_button.description = "Plug back" if state is LinkState.DOWN else "Unplug"
        self.plug_button.disabled = state is LinkState.STOPPED

    def _show_error(self, exc: BaseException) -> None:
        self.error_line.value = f"⚠ {html.escape(str(exc))}"

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # a UsageError from a click: show it, do not raise
            self._show_error(exc)

    def _on_pause(self, _button: Any) -> None:
        paused = self.proxy.state is LinkState.PAUSED
        self._guard(self.proxy.resume if paused else self.proxy.pause)

    def _on_cut(self, _button: Any) -> None:
        async def cut() -> None:
            count = await self.proxy.cut()
            self.error_line.value = f"cut {count} connection{'s' if count != 1 else ''}"

        self.tasks.spawn(cut())

    def _on_plug(self, _button: Any) -> None:
        if self.proxy.state is LinkState.DOWN:
            self._guard(self.proxy.up)
        else:
            self.tasks.spawn(self.proxy.down())

    def _on_latency(self, change: dict[str, Any]) -> None:
        self._guard(lambda: self.proxy.set_latency(change["new"] / 1000))

    async def close(self) -> None:
        """Stop following the proxy, cancel pending actions, close the widgets."""
        if self.closed:
            return
        self.closed = True
        self._unsubscribe()
        await self.tasks.cancel_all()
        self._close_widgets()


class KernelPanel:
    """What runs in a registry, kept up to date, and a button that stops it all.

    Show it in the last cell of a notebook (``kernel.panel()``): it stops nothing
    by itself, so "Run All" leaves the demos running; clicking "Stop everything"
    runs :meth:`~wslearn.kernel.Registry.stop_all`. A new panel for the same
    registry closes the previous one.

    Args:
        registry: the registry to show and stop.
    """

    _current: ClassVar[dict[int, KernelPanel]] = {}

    def __init__(self, registry: Registry) -> None:
        previous = self._current.get(id(registry))
        if previous is not None:
            previous.close()
        self._current[id(registry)] = self
        self.registry = registry
        self.closed = False
        self.tasks = BackgroundTasks(self._show_error)
        self.listing = w.HTML()
        self.listing.add_class("wslearn-kernel-listing")
        self.stop_button = w.Button(
            description="Stop everything", button_style="danger", icon="stop"
        )
        self.stop_button.add_class("wslearn-stop-everything")
        self.result = w.HTML()
        self.result.add_class("wslearn-kernel-result")
        self.widget = w.VBox([self.listing, self.stop_button, self.result])
        self.widget.add_class("wslearn-kernel-panel")
        self.stop_button.on_click(self._on_stop)
        self._unsubscribe = registry.on_change(self.render)
        self.render()

    def __repr__(self) -> str:
        return (
            f"{self.registry.running()!r}\n"
            "Click 'Stop everything' when you are done (or run `await kernel.stop_all()`)."
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = placeholder("What runs in this kernel, and 'Stop everything'")
        return bundle

    def render(self) -> None:
        """Redraw the list (it redraws by itself whenever the registry changes)."""
        if self.closed:
            return
        running = self.registry.running()
        self.stop_button.disabled = not running
        if not running:
            self.listing.value = status_line("grey", "nothing is running in this kernel")
            return
        rows = "".join(
            f"<li><code>{html.escape(entry.name)}</code> {html.escape(entry.kind)}"
            + (f" <small>{html.escape(entry.url)}</small>" if entry.url else "")
            + "</li>"
            for entry in running
        )
        count = f"{len(running)} running in this kernel"
        self.listing.value = f'{status_line("green", count)}<ul style="margin:2px 0">{rows}</ul>'

    async def stop_all(self) -> None:
        """What the button does: stop everything, then say what was stopped."""
        self.result.value = "<small>stopping...</small>"
        stopped = await self.registry.stop_all()
        names = ", ".join(html.escape(entry.name) for entry in stopped) or "nothing"
        self.result.value = f"<small>Stopped: {names}. Nothing is running now.</small>"

    def _on_stop(self, _button: Any) -> None:
        self.tasks.spawn(self.stop_all())

    def _show_error(self, exc: BaseException) -> None:
        self.result.value = f"⚠ {html.escape(f'{type(exc).__name__}: {exc}')}"

    def close(self) -> None:
        """Stop following the registry and close the widgets (stops nothing else)."""
        if self.closed:
            return
        self.closed = True
        self._unsubscribe()
        if self._current.get(id(self.registry)) is self:
            del self._current[id(self.registry)]
        close_tree(self.widget)
