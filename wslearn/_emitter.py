"""A registry of event listeners, shared by the client and (later) the widgets.

An :class:`Emitter` maps event names to listeners and calls them in the order they
were registered. Listeners may be plain functions or ``async def`` functions: calling
an async listener only creates its coroutine, and the caller decides how to run it
(the client wraps it in a task). A listener that raises is logged and skipped, so one
broken listener never stops the others, nor the loop that delivers events::

    emitter = Emitter()

    @emitter.on("receive-message")
    def show(message):
        ...

    emitter.emit("receive-message", {"text": "hi"})
    emitter.off("receive-message", show)

This module does no I/O and imports no asyncio.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = ["Emitter", "Listener", "call_listener"]

Listener = Callable[..., Any]
"""A listener: called with the event's arguments; may return a value or a coroutine."""

L = TypeVar("L", bound=Listener)

_log = logging.getLogger("wslearn.client")


def call_listener(
    listener: Listener, args: tuple[Any, ...], logger: logging.Logger = _log
) -> tuple[bool, Any]:
    """Call one listener, logging instead of raising.

    Returns:
        ``(True, result)`` when the listener returned (``result`` may be a coroutine
        still to be run), ``(False, None)`` when it raised; the error is logged.
    """
    try:
        return True, listener(*args)
    except Exception:
        logger.exception("listener %s raised", _name(listener))
        return False, None


def _name(listener: Listener) -> str:
    return getattr(listener, "__qualname__", None) or repr(listener)


class Emitter:
    """Event name → listeners, plus catch-all listeners.

    Args:
        logger: where listener errors are logged.
    """

    def __init__(self, logger: logging.Logger = _log) -> None:
        self.logger = logger
        self._listeners: dict[str, list[Listener]] = {}
        self._any: list[Listener] = []

    @overload
    def on(self, event: str) -> Callable[[L], L]: ...

    @overload
    def on(self, event: str, listener: L) -> L: ...

    def on(self, event: str, listener: L | None = None) -> L | Callable[[L], L]:
        """Register ``listener`` for ``event``; without a listener, act as a decorator.

        Returns:
            The listener itself (so the decorator leaves the function usable).
        """
        if not isinstance(event, str):
            raise TypeError(f"event names are strings, got {event!r}")

        def register(fn: L) -> L:
            if not callable(fn):
                raise TypeError(f"a listener must be callable, got {fn!r}")
            self._listeners.setdefault(event, []).append(fn)
            return fn

        return register if listener is None else register(listener)

    def off(self, event: str, listener: Listener | None = None) -> None:
        """Remove ``listener`` from ``event``, or every listener of ``event`` if None.

        Removing a listener that is not registered does nothing.
        """
        if listener is None:
            self._listeners.pop(event, None)
            return
        current = self._listeners.get(event, [])
        if listener in current:
            current.remove(listener)
        if not current:
            self._listeners.pop(event, None)

    def on_any(self, listener: L) -> L:
        """Register a catch-all listener, called as ``listener(event, *args)``."""
        if not callable(listener):
            raise TypeError(f"a listener must be callable, got {listener!r}")
        self._any.append(listener)
        return listener

    def off_any(self, listener: Listener | None = None) -> None:
        """Remove one catch-all listener, or all of them if None."""
        if listener is None:
            self._any.clear()
        elif listener in self._any:
            self._any.remove(listener)

    def listeners(self, event: str) -> tuple[Listener, ...]:
        """The listeners of ``event``, in registration order (a snapshot)."""
        return tuple(self._listeners.get(event, ()))

    def any_listeners(self) -> tuple[Listener, ...]:
        """The catch-all listeners, in registration order (a snapshot)."""
        return tuple(self._any)

    def emit(self, event: str, *args: Any) -> list[Any]:
        """Call every listener of ``event`` with ``args``; errors are logged.

        Catch-all listeners are not called: use :meth:`emit_any` for events that came
        from the peer.

        Returns:
            The awaitables returned by async listeners, for the caller to run.
        """
        pending: list[Any] = []
        for listener in self.listeners(event):
            ok, result = call_listener(listener, args, self.logger)
            if ok and inspect.isawaitable(result):
                pending.append(result)
        return pending

    def emit_any(self, event: str, *args: Any) -> list[Any]:
        """Call every catch-all listener with ``(event, *args)``; errors are logged.

        Returns:
            The awaitables returned by async listeners, for the caller to run.
        """
        pending: list[Any] = []
        for listener in self.any_listeners():
            ok, result = call_listener(listener, (event, *args), self.logger)
            if ok and inspect.isawaitable(result):
                pending.append(result)
        return pending
