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

from traitlets import Bool, HasTraits, Unicode

from .client import Client, ClientState

__all__ = ["BackgroundTasks", "SocketState", "close_tree", "use_socket"]


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

    def __init__(self, client: Client, *, owns_client: bool = False) -> None:
        super().__init__()
        self.client = client
        self.owns_client = owns_client
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
        await self.tasks.cancel_all()
        if self.owns_client:
            await self.client.disconnect()  # still followed: the traits end as "closed"
        self.client.remove_state_listener(self._follow)
        self.client.off("connect_error", self._connect_error)


def use_socket(target: Client | str, **options: Any) -> SocketState:
    """The notebook's ``useSocket``: a :class:`SocketState` for a client or a URL.

    Given a URL, it creates a :class:`~wslearn.client.Client` with ``options``,
    starts connecting it in a background task (call it where a loop runs: a notebook
    cell or async code), and owns it: ``await state.close()`` disconnects it, like
    the hook's cleanup function. Given a client, it only follows it.

    Args:
        target: a client, or the URL of a server.
        options: keyword arguments for :class:`~wslearn.client.Client` (URL only).

    Returns:
        The state object; connection errors land in its ``error`` trait.

    Raises:
        TypeError: ``options`` were given with a client.
    """
    if isinstance(target, Client):
        if options:
            raise TypeError("options are for a new client; pass a URL, or configure yours")
        return SocketState(target)
    state = SocketState(Client(target, **options), owns_client=True)
    state.tasks.spawn(state.client.connect())
    return state


def close_tree(widget: Any) -> None:
    """Close a widget and, first, every widget inside it (their comms close too)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()
