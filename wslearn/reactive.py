"""A client's connection as reactive state, and tasks that widget callbacks start.

The guide's React hook keeps ``connected`` in component state and re-renders whatever
reads it. In a notebook the same role falls to traitlets: :class:`SocketState` holds
``connected`` and ``state`` as traits that follow every state change of a
:class:`~wslearn.client.Client`, so any widget can ``observe`` them or be bound with
``traitlets.dlink``::

    sock = use_socket(server.url)                    # creates, connects, owns
    light = widgets.Checkbox(description="connected", disabled=True)
    traitlets.dlink((sock, "connected"), (light, "value"))
    ...
    await sock.close()                               # listeners off, client closed

The notebook's widgets (chat panes, the frame inspector, link controls) share
:class:`Component`: one root widget, an entry in the kernel's registry (so re-running
a cell replaces the old one and says so), a text form that stays the same between
runs, a placeholder for saved notebooks, and a close that also takes the widget out
of the rows it was laid out in (a row holding closed widgets breaks the page's next
reload).

Widget callbacks (a click, an observer) are plain functions, but talking to a server
is a coroutine. :class:`BackgroundTasks` starts the coroutine on the running loop
(the kernel's) and keeps a reference to the task until it ends, because the loop
itself only holds tasks weakly: a task nobody references may be garbage-collected
before it finishes. Errors go to a callback (a pane's error line), never to stderr.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import ipywidgets as w  # type: ignore[import-untyped]
from traitlets import Bool, HasTraits, Unicode

from . import kernel
from ._html import placeholder
from ._registry import Registry, Started
from .backoff import Backoff
from .client import Client, ClientState

__all__ = [
    "NOTEBOOK_RECONNECTION",
    "BackgroundTasks",
    "Component",
    "PaneRow",
    "SocketState",
    "close_tree",
    "side_by_side",
    "use_socket",
]

NOTEBOOK_RECONNECTION = Backoff(attempts=12)
"""Reconnection for the clients notebook widgets create: the reference delays (1 s,
doubling up to 5 s, +/-50 % jitter), but giving up after 12 attempts (about a minute),
so a client whose server is gone for good stops trying instead of retrying forever."""


class BackgroundTasks:
    """Tasks started from synchronous callbacks, referenced until they end.

    Args:
        on_error: called with the exception of a task that failed (not one that was
            cancelled). Keep it quick and never let it print: it runs in the loop.
    """

    def __init__(self, on_error: Callable[[BaseException], object]) -> None:
        self._on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks still running."""
        return frozenset(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``coro`` as a task on the running loop and keep it until it ends.

        Returns:
            The task, or None when no loop is running (``on_error`` is told why).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()  # never started: close it so Python does not warn
            self._on_error(
                RuntimeError("no running event loop: use this from a notebook or async code")
            )
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._on_error(task.exception())  # type: ignore[arg-type]

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait until they have stopped."""
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Component:
    """What the notebook widgets share: a root widget, a registry entry, a clean close.

    Subclasses set :attr:`widget` and call :meth:`_register` in their constructor and
    :meth:`_close_widgets` in their ``close``.
    """

    kind = "widget"
    """How the registry lists it."""
    widget: Any
    """The root ipywidget: display the component to show it."""
    registered: Started | None = None
    """What registering did (which earlier one it replaced), or None if not kept."""

    def _register(self, registry: Registry | None, name: str) -> None:
        self._registry = registry
        self._rows: list[Any] = []
        if registry is not None:
            self.registered = registry.keep(self, name, kind=self.kind)

    def _placed_in(self, row: Any) -> None:
        """Remember a container that holds :attr:`widget` (see ``side_by_side``)."""
        self._rows.append(row)

    def _close_widgets(self) -> None:
        """Leave the registry and every row, then close the widget tree."""
        if self._registry is not None:
            self._registry.forget(self)
        for row in self._rows:
            if getattr(row, "comm", None) is None:  # closed already
                continue
            row.children = tuple(c for c in row.children if c is not self.widget)
            if not row.children:
                row.close()
        self._rows.clear()
        close_tree(self.widget)

    def _placeholder_text(self) -> str:
        return repr(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)  # stable text instead of the widget's repr
        bundle["text/html"] = placeholder(self._placeholder_text())
        return bundle


class SocketState(HasTraits):
    """A client's connection as traits that widgets can observe or link.

    Read the traits, do not set them: they follow the client (``dlink`` them into
    widgets; a two-way ``link`` would try to write back and fail).

    Attributes:
        client: the client being followed.
        connected: True while the client is connected.
        state: the client's :class:`~wslearn.client.ClientState` value, e.g.
            ``"connected"`` or ``"reconnecting"``.
        error: the last connection error, ``""`` when there is none.

    Args:
        client: the client to follow.
        owns_client: :meth:`close` also disconnects the client.
    """

    connected = Bool(False, read_only=True, help="True while the client is connected")
    state = Unicode(ClientState.DISCONNECTED.value, read_only=True, help="the client's state")
    error = Unicode("", read_only=True, help="the last connection error")

    kind = "use_socket"

    def __init__(self, client: Client, *, owns_client: bool = False) -> None:
        super().__init__()
        self.client = client
        self.owns_client = owns_client
        self.registry: Registry | None = None
        """The registry that keeps it (see :func:`use_socket`), or None."""
        self.tasks = BackgroundTasks(self._failed)
        self._follow(client.state)
        client.add_state_listener(self._follow)
        client.on("connect_error", self._connect_error)
        self.closed = False

    def __repr__(self) -> str:
        return f"<SocketState {self.state}>"

    def _follow(self, state: ClientState) -> None:
        self.set_trait("state", state.value)
        self.set_trait("connected", state is ClientState.CONNECTED)
        if state is ClientState.CONNECTED:
            self.set_trait("error", "")

    def _connect_error(self, exc: BaseException) -> None:
        self.set_trait("error", str(exc))

    def _failed(self, exc: BaseException) -> None:
        self.set_trait("error", f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        """Stop following the client; disconnect it too when this object owns it."""
        if self.closed:
            return
        self.closed = True
        if self.registry is not None:
            self.registry.forget(self)
        await self.tasks.cancel_all()
        if self.owns_client:
            await self.client.disconnect()  # still followed: the traits end as "closed"
        self.client.remove_state_listener(self._follow)
        self.client.off("connect_error", self._connect_error)


def use_socket(
    target: Client | str,
    *,
    name: str = "use_socket",
    registry: Registry | None = kernel.registry,
    **options: Any,
) -> SocketState:
    """The notebook's ``useSocket``: a :class:`SocketState` for a client or a URL.

    Given a URL, it creates a :class:`~wslearn.client.Client` with ``options``
    (reconnection defaults to :data:`NOTEBOOK_RECONNECTION`, which gives up), starts
    connecting it in a background task (call it where a loop runs: a notebook cell or
    async code), and owns it: ``await state.close()`` disconnects it, like the hook's
    cleanup function. Given a client, it only follows it.

    The state is kept in ``registry`` as ``name``: calling ``use_socket`` again with
    the same name (re-running the cell) closes the previous state first.

    Args:
        target: a client, or the URL of a server.
        name: its name in the registry.
        registry: where it is kept; None keeps it nowhere.
        options: keyword arguments for :class:`~wslearn.client.Client` (URL only).

    Returns:
        The state object; connection errors land in its ``error`` trait.

    Raises:
        TypeError: ``options`` were given with a client.
    """
    if isinstance(target, Client):
        if options:
            raise TypeError("options are for a new client; pass a URL, or configure yours")
        state = SocketState(target)
    else:
        options.setdefault("reconnection", NOTEBOOK_RECONNECTION)
        state = SocketState(Client(target, **options), owns_client=True)
    if registry is not None:
        registry.keep(state, name, kind=state.kind)
        state.registry = registry
    if state.owns_client:
        state.tasks.spawn(state.client.connect())
    return state


def close_tree(widget: Any) -> None:
    """Close a widget and, first, every widget inside it (their comms close too)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


class PaneRow(w.HBox):  # type: ignore[misc]
    """An HBox of panes whose plain-text form names them (stable under nbval).

    A pane that closes leaves the row; the last one to leave closes it.
    """

    names: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"PaneRow({' | '.join(self.names)})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = placeholder(" | ".join(self.names))
        return bundle


def side_by_side(*panes: Component) -> PaneRow:
    """Lay panes out in one row, in one output: ``side_by_side(alice, bob)``."""
    row = PaneRow([p.widget for p in panes], layout=w.Layout(flex_flow="row wrap"))
    row.names = tuple(getattr(p, "name", "") or type(p).__name__ for p in panes)
    row.add_class("wslearn-pane-row")
    for pane in panes:
        pane._placed_in(row)
    return row
