"""Running servers inside a Jupyter kernel, which already runs an asyncio loop.

A kernel runs its own event loop, so a notebook cell can ``await`` directly, and a
server started in one cell keeps serving while you run the next. Two things follow:

- ``asyncio.run(...)`` fails in a kernel: it starts a *new* loop, and one thread
  cannot run two. :func:`run` says so clearly and tells you to write ``await``
  instead; it still works in a plain script.
- Re-running a cell that starts a server would pile up servers. :func:`start` keeps
  one server per name: starting a new one under a name that is taken starts the new
  server first, then stops the old one and says so in its result. If the new one
  fails to start, the old one keeps running. :func:`servers` lists what runs and
  :func:`stop_all` stops everything (the last cell of every notebook calls it).

Anything with ``async start()``, ``async stop()`` and a ``url`` can be registered:
the echo server of :mod:`wslearn.echo` and the Socket.IO server alike.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .exceptions import KernelLoopError, UsageError

__all__ = [
    "ServerInfo",
    "ServerRegistry",
    "Serving",
    "Started",
    "allow_nested_run",
    "explain_event_loop",
    "registry",
    "run",
    "servers",
    "start",
    "stop",
    "stop_all",
    "wait_until",
]

T = TypeVar("T")


class Serving(Protocol):
    """What the registry needs from a server."""

    @property
    def url(self) -> str:
        """The address clients connect to; valid once started."""
        ...

    async def start(self) -> object:
        """Bind and start serving."""
        ...

    async def stop(self) -> None:
        """Close connections and stop listening."""
        ...


@dataclass(frozen=True)
class ServerInfo:
    """One registered server.

    Attributes:
        name: the name it was started under.
        url: where clients connect.
        kind: the server's ``kind`` attribute, or its class name.
        started: when it started (``time.time()``); left out of the repr so that
            notebook outputs stay the same from run to run.
    """

    name: str
    url: str
    kind: str
    started: float = field(repr=False, compare=False)


@dataclass(frozen=True, repr=False)
class Started:
    """What :func:`start` did: the server now running, and the one it replaced."""

    info: ServerInfo
    replaced: ServerInfo | None = None
    already_running: bool = False

    @property
    def note(self) -> str:
        """One line for the learner, shown as the repr."""
        line = f"{self.info.name!r} ({self.info.kind}) is serving at {self.info.url}"
        if self.already_running:
            return line + " (it was already running: nothing changed)"
        if self.replaced is not None:
            return line + f"; the previous {self.replaced.name!r} was stopped"
        return line

    def __repr__(self) -> str:
        return self.note


class ServerRegistry:
    """The servers running in this kernel, one per name.

    Use the module-level functions, which share one registry per kernel; create
    your own registry in tests.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Serving, ServerInfo]] = {}

    async def start(self, server: Serving, name: str | None = None) -> Started:
        """Start ``server`` and record it under ``name``.

        If another server holds ``name``, the new one is started first and the old
        one is stopped afterwards, so re-running a cell never leaves two behind,
        and a new server that fails to start leaves the old one serving.

        Args:
            server: anything with ``async start()``, ``async stop()`` and ``url``.
            name: defaults to the server's class name.

        Returns:
            What happened, as one line (see :attr:`Started.note`).

        Raises:
            UsageError: if ``server`` is already registered under another name.
        """
        name = name or type(server).__name__
        for other, (running, info) in self._entries.items():
            if running is server:
                if other != name:
                    raise UsageError(
                        f"this server is already running as {other!r}; "
                        f"stop it first with `await kernel.stop({other!r})`"
                    )
                return Started(info, already_running=True)
        await server.start()
        kind = getattr(server, "kind", type(server).__name__)
        info = ServerInfo(name, server.url, str(kind), time.time())
        previous = self._entries.pop(name, None)
        self._entries[name] = (server, info)
        if previous is None:
            return Started(info)
        await previous[0].stop()
        return Started(info, replaced=previous[1])

    def servers(self) -> list[ServerInfo]:
        """The running servers, oldest first."""
        return [info for _, info in self._entries.values()]

    async def stop(self, name: str) -> ServerInfo:
        """Stop the server called ``name`` and forget it.

        Raises:
            UsageError: if no server has that name.
        """
        if name not in self._entries:
            running = ", ".join(map(repr, self._entries)) or "none"
            raise UsageError(f"no server named {name!r} is running (running: {running})")
        server, info = self._entries.pop(name)
        await server.stop()
        return info

    async def stop_all(self) -> list[ServerInfo]:
        """Stop every server, newest first, and return what was stopped.

        Every server is tried even if one fails to stop.

        Raises:
            ExceptionGroup: holding the errors of the servers that failed to stop
                (they are forgotten all the same).
        """
        stopped: list[ServerInfo] = []
        errors: list[Exception] = []
        for name in reversed(list(self._entries)):
            server, info = self._entries.pop(name)
            try:
                await server.stop()
            except Exception as exc:
                errors.append(exc)
            else:
                stopped.append(info)
        if errors:
            raise ExceptionGroup("some servers failed to stop", errors)
        return stopped


registry = ServerRegistry()
"""The kernel's registry, used by :func:`start`, :func:`servers`, :func:`stop`..."""


async def start(server: Serving, name: str | None = None) -> Started:
    """Start ``server`` in this kernel under ``name`` (see :meth:`ServerRegistry.start`)."""
    return await registry.start(server, name)


def servers() -> list[ServerInfo]:
    """The servers running in this kernel, oldest first."""
    return registry.servers()


async def stop(name: str) -> ServerInfo:
    """Stop one server by name (see :meth:`ServerRegistry.stop`)."""
    return await registry.stop(name)


async def stop_all() -> list[ServerInfo]:
    """Stop every server in this kernel (see :meth:`ServerRegistry.stop_all`)."""
    return await registry.stop_all()


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
