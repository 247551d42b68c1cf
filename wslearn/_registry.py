"""The registry behind :mod:`wslearn.kernel`: one thing per name, stopped on request.

:class:`Registry` holds whatever a notebook starts (servers, proxies, clients, panes,
inspectors) under names. Registering a name again replaces the old thing and stops
it; :meth:`Registry.stop_all` stops everything, newest first; an ``atexit`` hook can
stop what is left when the interpreter exits. :mod:`wslearn.kernel` has the
kernel's own registry and the functions notebooks call.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .exceptions import UsageError

__all__ = ["STOP_TIMEOUT", "Entry", "Listing", "Registry", "Serving", "Started"]

STOP_TIMEOUT = 10.0
"""Seconds one entry may take to stop before the registry gives up on it."""

_STOPPERS = ("stop", "disconnect", "close", "cancel")


class Serving(Protocol):
    """What :meth:`Registry.start` needs: ``async start()`` and ``async stop()``."""

    async def start(self) -> object:
        """Bind and start serving."""
        ...

    async def stop(self) -> None:
        """Close connections and stop listening."""
        ...


@dataclass(frozen=True)
class Entry:
    """One thing the registry holds.

    Attributes:
        name: the name it was registered under.
        kind: its ``kind`` attribute, or its class name.
        url: where it serves or what it is connected to, ``""`` if nothing.
        started: when it was registered (``time.time()``); left out of the repr so
            that notebook outputs stay the same from run to run.
    """

    name: str
    kind: str
    url: str = ""
    started: float = field(default=0.0, repr=False, compare=False)


@dataclass(frozen=True, repr=False)
class Started:
    """What a registry call did: the entry now held, and the one it replaced."""

    info: Entry
    replaced: Entry | None = None
    already_running: bool = False
    doing: str = "is serving at"
    """What it does, ending with the word that introduces its URL (left out without one)."""

    @property
    def note(self) -> str:
        """One line for the learner, shown as the repr."""
        doing = self.doing if self.info.url else self.doing.rsplit(" ", 1)[0]
        line = f"{self.info.name!r} ({self.info.kind}) {doing}"
        if self.info.url:
            line += f" {self.info.url}"
        if self.already_running:
            return line + " (it was already running: nothing changed)"
        if self.replaced is not None:
            return line + f"; the previous {self.replaced.name!r} was stopped"
        return line

    def __repr__(self) -> str:
        return self.note


class Listing(tuple[Entry, ...]):
    """Entries as a tuple whose repr is a small table, one line per entry."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self:
            return "nothing is running in this kernel"
        width = max(len(repr(entry.name)) for entry in self)
        lines = [f"{len(self)} running in this kernel, oldest first:"]
        for entry in self:
            where = f"  {entry.url}" if entry.url else ""
            lines.append(f"  {entry.name!r:<{width}}  {entry.kind}{where}")
        return "\n".join(lines)


def _describe(thing: Any, name: str) -> Entry:
    kind = getattr(thing, "kind", None) or type(thing).__name__
    url: Any = ""
    with contextlib.suppress(Exception):  # an unstarted thing may refuse to say
        url = getattr(thing, "url", "") or getattr(thing, "connection_url", "") or ""
        if callable(url):
            url = url()
        if not url and getattr(thing, "sockets", None):  # asyncio and websockets servers
            host, port = thing.sockets[0].getsockname()[:2]
            url = f"{host}:{port}"
    return Entry(name, str(kind), url if isinstance(url, str) else "", time.time())


def _stopper_of(thing: Any) -> Callable[[], object]:
    for attr in _STOPPERS:
        method = getattr(thing, attr, None)
        if not callable(method):
            continue
        wait_closed = getattr(thing, "wait_closed", None)
        if attr == "close" and callable(wait_closed):  # websockets and asyncio servers
            return _close_and_wait(method, wait_closed)
        return method  # type: ignore[no-any-return]
    raise UsageError(
        f"cannot keep a {type(thing).__name__}: it has no stop(), disconnect(), close() "
        "or cancel(); pass stop=... to say how to stop it"
    )


def _close_and_wait(
    close: Callable[[], object], wait_closed: Callable[[], object]
) -> Callable[[], object]:
    async def close_and_wait() -> None:
        await _finish(close())
        await _finish(wait_closed())

    return close_and_wait


async def _finish(result: object) -> None:
    if inspect.isawaitable(result):
        await result


@dataclass
class _Item:
    thing: Any
    entry: Entry
    stop: Callable[[], object]


class Registry:
    """What runs in this kernel, one thing per name.

    Use the module-level functions, which share one registry per kernel; create
    your own registry in tests.

    Args:
        stop_at_exit: stop what is still registered when the interpreter exits (the
            kernel's registry does), on the loop they were started on.
    """

    def __init__(self, *, stop_at_exit: bool = False) -> None:
        self._items: dict[str, _Item] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._callbacks: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_at_exit = stop_at_exit
        self._hooked = False

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<Registry of {len(self._items)}>"

    # -- registering ------------------------------------------------------------------

    async def start(self, service: Serving, name: str | None = None) -> Started:
        """Start ``service`` and record it under ``name``.

        If another thing holds ``name``, the new service is started first and the old
        one stopped afterwards, so re-running a cell never leaves two behind, and a
        new service that fails to start leaves the old one serving.

        Args:
            service: anything with ``async start()`` and ``async stop()``.
            name: defaults to the class name.

        Raises:
            UsageError: ``service`` is already registered under another name.
        """
        name = name or type(service).__name__
        held = self._check_identity(service, name)
        if held is not None:
            return Started(held.entry, already_running=True)
        await service.start()
        return await self._replace(name, _Item(service, _describe(service, name), service.stop))

    async def connect(self, client: Any, name: str | None = None) -> Started:
        """Connect ``client`` (``await client.connect()``) and record it under ``name``.

        An old client under that name is disconnected once the new one is connected.

        Raises:
            UsageError: ``client`` is already registered under another name.
        """
        name = name or type(client).__name__
        held = self._check_identity(client, name)
        if held is not None:
            return Started(held.entry, already_running=True, doing="is connected to")
        await client.connect()
        item = _Item(client, _describe(client, name), _stopper_of(client))
        started = await self._replace(name, item)
        return Started(started.info, started.replaced, doing="is connected to")

    def keep(
        self,
        thing: Any,
        name: str | None = None,
        *,
        stop: Callable[[], object] | None = None,
        kind: str | None = None,
    ) -> Started:
        """Record something already running under ``name``; stop the one it replaces.

        Synchronous, so a widget's constructor can call it. An old thing under
        ``name`` is stopped at once if its stop is synchronous, else in a background
        task that :meth:`settle` and :meth:`stop_all` wait for.

        Args:
            thing: what to keep.
            name: defaults to the class name.
            stop: how to stop it; by default its ``stop``, ``disconnect``, ``close`` or
                ``cancel`` method (see the module docstring).
            kind: shown in listings; defaults to its ``kind`` attribute or class name.

        Raises:
            UsageError: ``thing`` is registered under another name, or there is no
                way to stop it.
        """
        name = name or type(thing).__name__
        held = self._check_identity(thing, name)
        if held is not None:
            return Started(held.entry, already_running=True, doing="is running at")
        entry = _describe(thing, name)
        if kind is not None:
            entry = Entry(name, kind, entry.url, entry.started)
        item = _Item(thing, entry, stop or _stopper_of(thing))
        previous = self._items.pop(name, None)
        self._add(name, item)
        if previous is not None:
            self._stop_in_background(previous)
        return Started(entry, None if previous is None else previous.entry, doing="is running at")

    def forget(self, thing: Any) -> bool:
        """Drop ``thing``'s entry without stopping it (it stopped itself).

        Returns:
            Whether it was registered.
        """
        for name, item in list(self._items.items()):
            if item.thing is thing:
                del self._items[name]
                self._changed()
                return True
        return False

    # -- what is running --------------------------------------------------------------

    def running(self) -> Listing:
        """What is registered, oldest first (a tuple that prints as a table)."""
        return Listing(item.entry for item in self._items.values())

    def get(self, name: str) -> Any:
        """The thing registered as ``name``, or None."""
        item = self._items.get(name)
        return None if item is None else item.thing

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every change; returns a function to unsubscribe."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    # -- stopping ---------------------------------------------------------------------

    async def stop(self, name: str) -> Entry:
        """Stop the thing called ``name`` and forget it.

        Raises:
            UsageError: nothing has that name.
        """
        if name not in self._items:
            running = ", ".join(map(repr, self._items)) or "none"
            raise UsageError(f"nothing named {name!r} is running (running: {running})")
        item = self._items.pop(name)
        self._changed()
        await _stop_bounded(item)
        return item.entry

    async def stop_all(self) -> list[Entry]:
        """Stop everything, newest first, and return what was stopped.

        Everything is tried even if one fails to stop; each gets
        :data:`STOP_TIMEOUT` seconds.

        Raises:
            ExceptionGroup: holding the errors of those that failed to stop (they
                are forgotten all the same).
        """
        stopped: list[Entry] = []
        errors: list[Exception] = []
        while self._items:
            name = next(reversed(self._items))
            item = self._items.pop(name)
            self._changed()
            try:
                await _stop_bounded(item)
            except Exception as exc:
                errors.append(exc)
            else:
                stopped.append(item.entry)
        await self.settle()
        if errors:
            raise ExceptionGroup("some things failed to stop", errors)
        return stopped

    async def settle(self) -> None:
        """Wait until the replaced things that are stopping in the background stopped."""
        while self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    # -- inside -----------------------------------------------------------------------

    def _check_identity(self, thing: Any, name: str) -> _Item | None:
        for other, item in self._items.items():
            if item.thing is thing:
                if other != name:
                    raise UsageError(
                        f"this {type(thing).__name__} is already registered as {other!r}; "
                        f"stop it first with `await kernel.stop({other!r})`"
                    )
                return item
        return None

    async def _replace(self, name: str, item: _Item) -> Started:
        previous = self._items.pop(name, None)
        self._add(name, item)
        if previous is None:
            return Started(item.entry)
        await _stop_bounded(previous)
        return Started(item.entry, replaced=previous.entry)

    def _add(self, name: str, item: _Item) -> None:
        self._items[name] = item
        with contextlib.suppress(RuntimeError):  # no running loop: nothing async to stop
            self._loop = asyncio.get_running_loop()
        if self._stop_at_exit and not self._hooked:
            atexit.register(self._stop_at_exit_now)
            self._hooked = True
        self._changed()

    def _stop_in_background(self, item: _Item) -> None:
        result = item.stop()
        if not inspect.isawaitable(result):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to stop it on: say so rather than leak it
            if inspect.iscoroutine(result):
                result.close()
            raise UsageError(
                f"{item.entry.name!r} stops asynchronously and no event loop is running: "
                "replace it from a notebook cell or async code"
            ) from None
        task = loop.create_task(_bounded(result, item.entry))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _changed(self) -> None:
        for callback in list(self._callbacks):
            callback()

    def _stop_at_exit_now(self) -> None:
        """Stop what is left, on the loop it was started on (run by atexit)."""
        loop = self._loop
        if not self._items or loop is None or loop.is_closed() or loop.is_running():
            return
        # The interpreter is exiting: an error here has nobody left to tell.
        with contextlib.suppress(BaseException):
            loop.run_until_complete(self.stop_all())


async def _stop_bounded(item: _Item) -> None:
    await _bounded(item.stop(), item.entry)


async def _bounded(result: object, entry: Entry) -> None:
    if not inspect.isawaitable(result):
        return
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await result
    except TimeoutError:
        raise TimeoutError(f"{entry.name!r} did not stop within {STOP_TIMEOUT:g} s") from None
