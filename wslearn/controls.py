"""Buttons for a link you can break on purpose: widget controls for a LinkProxy.

::

    link = await LinkProxy("127.0.0.1", server.port).start()
    LinkControls(link)             # light, Pause/Resume, Cut, Unplug/Plug back, latency

The controls follow the proxy's ``on_change``, so they stay right when code changes the
link too (``link.pause()`` in a cell turns the light yellow).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, ClassVar

import ipywidgets as w  # type: ignore[import-untyped]

from .proxy import LinkProxy, LinkState
from .reactive import BackgroundTasks, close_tree

__all__ = ["LinkControls"]


class LinkControls:
    """Buttons and a slider for a :class:`~wslearn.proxy.LinkProxy`.

    The light and the buttons follow the proxy's ``on_change``, so they stay right
    when code changes the link too. Errors show on the controls' error line.

    Args:
        proxy: the link to control.
    """

    LIGHTS: ClassVar[dict[LinkState, str]] = {
        LinkState.UP: "🟢 up",
        LinkState.PAUSED: "🟡 paused",
        LinkState.DOWN: "🔴 down (unplugged)",
        LinkState.STOPPED: "⚪ stopped",
    }

    def __init__(self, proxy: LinkProxy) -> None:
        self.proxy = proxy
        self.tasks = BackgroundTasks(self._show_error)
        self.light = w.HTML()
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

    def __repr__(self) -> str:
        return "<LinkControls>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def _follow(self, state: LinkState) -> None:
        self.light.value = self.LIGHTS[state]
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
        self._unsubscribe()
        await self.tasks.cancel_all()
        close_tree(self.widget)
