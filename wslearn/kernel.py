"""Everything a notebook starts, in one registry per kernel; and the kernel's loop.

A Jupyter kernel runs its own event loop, so a cell can ``await`` directly, and a
server started in one cell keeps serving while you run the next. Two things follow:
re-running a cell must not pile up servers, clients and panes, and something must
stop them all when you are done. This module's registry does both.

How to use the kernel registry in a notebook
--------------------------------------------

Give everything a cell starts a name, through the registry::

    from wslearn import kernel

    server = Server()
    await kernel.start(server, name="chat")         # starts it; re-running the cell
                                                    # starts a new one, then stops the old
    alice = Client(server.url, auth={"name": "alice"})
    await kernel.connect(alice, name="alice")       # connects; an old 'alice' is disconnected
    link = LinkProxy("127.0.0.1", server.port)
    await kernel.start(link, name="link")           # proxies are services too
    kernel.keep(anything, name="probe")             # already running: just remember it

Each call returns a one-line note (its repr) that says what runs and what it
replaced. The notebook widgets keep themselves: ``ChatPane`` as ``"pane <name>"``,
``FrameInspector`` as ``"inspector"``, ``LinkControls`` as ``"link controls"``,
``use_socket`` as ``"use_socket"`` (pass ``name=`` for a second one); a pane whose
entry is replaced closes, and so stops the client it owns. Closing a widget yourself
takes it out of the registry.

``kernel.running()`` lists what runs. End every notebook with a cell like this,
*not* with ``await kernel.stop_all()``: "Run All" must leave the demos live, and
the learner stops them when done::

    ## When you are done: stop everything
    kernel.panel()        # what runs, and a "Stop everything" button

``await kernel.stop_all()`` stops everything from code (newest first; solutions
notebooks and tests end with it). When the kernel shuts down or restarts, an
``atexit`` hook stops whatever is still registered, so nothing outlives the kernel.

Anything with ``stop()``, ``disconnect()``, ``close()`` or ``cancel()`` (sync or
async, tried in that order) can be kept, or pass ``stop=`` to say how: servers,
proxies, wslearn and python-socketio clients, websockets servers and connections,
widgets, tasks.

A widget of your own gets the same lifecycle from :class:`wslearn.reactive.Component`:
set ``self.widget`` (the root ipywidget), call ``self._register(registry, name)`` at
the end of ``__init__`` (``registry`` defaulting to ``kernel.registry``), and
``self._close_widgets()`` in your ``close()``. It is then replaced when its cell runs
again, stopped by the panel, taken out of ``side_by_side`` rows when it closes (a row
holding closed widgets breaks the page's next reload), and shown in a saved notebook
as a placeholder (override ``_placeholder_text``). For clients your widget creates,
reconnect with :data:`wslearn.reactive.NOTEBOOK_RECONNECTION`, which gives up after
about a minute instead of retrying forever against a server that is gone. Draw status
lights with ``wslearn._html.status_line``: a CSS light that shows without an emoji
font and turns into "kernel gone: run the notebook from the top" after a restart.

Notebook outputs must read the same on every run (they are compared under nbval):
print states, not timings; label random ids (``frame_table(rows, labels=...)``,
``sequence_diagram(rows, labels=...)``); end each exercise with a check that returns a
:class:`wslearn.exercises.Verdict` ("Correct" or "Not yet", and what is wrong).

The kernel's loop
-----------------

``asyncio.run(...)`` fails in a kernel: it starts a *new* loop, and one thread cannot
run two. :func:`run` says so and tells you to write ``await`` instead; it still works
in a plain script. :func:`wait_until` waits, bounded, for something to happen in the
background.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._registry import STOP_TIMEOUT, Entry, Listing, Registry, Serving, Started
from .exceptions import KernelLoopError

__all__ = [
    "STOP_TIMEOUT",
    "Entry",
    "Listing",
    "Registry",
    "Serving",
    "Started",
    "allow_nested_run",
    "connect",
    "explain_event_loop",
    "keep",
    "panel",
    "registry",
    "run",
    "running",
    "servers",
    "start",
    "stop",
    "stop_all",
    "wait_until",
]

T = TypeVar("T")

registry = Registry(stop_at_exit=True)
"""The kernel's registry, used by :func:`start`, :func:`keep`, :func:`running`..."""


async def start(service: Serving, name: str | None = None) -> Started:
    """Start ``service`` in this kernel under ``name`` (see :meth:`Registry.start`)."""
    return await registry.start(service, name)


async def connect(client: Any, name: str | None = None) -> Started:
    """Connect ``client`` and keep it under ``name`` (see :meth:`Registry.connect`)."""
    return await registry.connect(client, name)


def keep(
    thing: Any,
    name: str | None = None,
    *,
    stop: Callable[[], object] | None = None,
    kind: str | None = None,
) -> Started:
    """Keep something already running under ``name`` (see :meth:`Registry.keep`)."""
    return registry.keep(thing, name, stop=stop, kind=kind)


def running() -> Listing:
    """What runs in this kernel, oldest first."""
    return registry.running()


def servers() -> list[Entry]:
    """What runs in this kernel, oldest first, as a list (an older name of running)."""
    return list(registry.running())


async def stop(name: str) -> Entry:
    """Stop one thing by name (see :meth:`Registry.stop`)."""
    return await registry.stop(name)


async def stop_all() -> list[Entry]:
    """Stop everything in this kernel (see :meth:`Registry.stop_all`)."""
    return await registry.stop_all()


def panel() -> Any:
    """The "stop everything" cell: what runs, live, and a button that stops it all.

    Returns:
        A :class:`wslearn.controls.KernelPanel` for the kernel's registry.
    """
    from .controls import KernelPanel  # widgets are imported only when asked for

    return KernelPanel(registry)


# --- asyncio.run and the kernel's loop -----------------------------------------------

_nested_allowed = False


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion from synchronous code, like :func:`asyncio.run`.

    In a plain script this is :func:`asyncio.run`. In a Jupyter kernel (or any code
    already inside a running loop) it refuses with a message saying what to write
    instead, unless :func:`allow_nested_run` was called.

    Raises:
        KernelLoopError: if an event loop is already running in this thread.
    """
    if not _loop_is_running() or _nested_allowed:
        return asyncio.run(main)
    name = getattr(main, "__qualname__", "main")
    main.close()  # it will never run; closing it avoids a "never awaited" warning
    raise KernelLoopError(
        "an event loop is already running in this thread (a Jupyter kernel always runs "
        "one), and asyncio.run() cannot start a second one. Use top-level await "
        f"instead: write `await {name}(...)` in the cell, not `run({name}(...))`."
    )


def allow_nested_run() -> None:
    """Opt in to the old workaround: patch asyncio with ``nest_asyncio``.

    After this, :func:`run` and :func:`asyncio.run` work inside the kernel's running
    loop. Prefer top-level ``await``: ``nest_asyncio`` is archived (last release
    January 2024) and known to break on Python 3.12+, which is why ipykernel moved to
    its fork ``nest-asyncio2``. The patch is process-wide and cannot be undone; it is
    applied here, lazily, and never on import. If the loop is already patched (by
    either package) it is not patched twice.

    Raises:
        KernelLoopError: on Python 3.12 or later, where the patch is unreliable.
    """
    global _nested_allowed
    if sys.version_info >= (3, 12):
        raise KernelLoopError(
            "nest_asyncio is archived and unreliable on Python 3.12+: use top-level "
            "`await` in the notebook instead of asyncio.run()"
        )
    if not hasattr(asyncio, "_nest_patched"):  # both packages set this flag
        importlib.import_module("nest_asyncio").apply()
    _nested_allowed = True


def explain_event_loop() -> str:
    """Say, for this very thread, whether asyncio.run() can work here and what to do."""
    if not _loop_is_running():
        return (
            "No event loop is running in this thread, as in a plain Python script. "
            "asyncio.run(main()) (or wslearn.kernel.run(main())) starts one, runs "
            "main() to the end, and closes the loop."
        )
    return (
        "An event loop is already running in this thread: the Jupyter kernel started "
        "it and runs every cell inside it. asyncio.run() would have to start a second "
        "loop in the same thread, which asyncio forbids. You do not need it: write "
        "`await main()` directly in a cell, and use asyncio.create_task() for work "
        "that should keep running after the cell ends (servers started here keep "
        "serving between cells)."
    )


async def wait_until(
    check: Callable[[], object],
    timeout: float = 5.0,  # noqa: ASYNC109
    *,
    what: str = "the condition",
) -> None:
    """Wait until ``check()`` is true: for a message to cross the network, say.

    Cells that start something in the background use it to wait, bounded, before they
    show the result: ``await wait_until(lambda: inbox)``. It polls every 10 ms.

    Raises:
        TimeoutError: ``check()`` was still false after ``timeout`` seconds; the
            message names ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout
    # Polling is the point: the condition is any state at all, with no event to await.
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was still false after {timeout:g} s")
        await asyncio.sleep(0.01)
