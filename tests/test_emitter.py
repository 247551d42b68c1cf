"""wslearn._emitter: the listener registry shared by the client and the widgets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from wslearn._emitter import Emitter, call_listener


def test_listeners_are_called_in_registration_order_with_the_arguments() -> None:
    emitter = Emitter()
    calls: list[tuple[str, tuple[Any, ...]]] = []
    emitter.on("msg", lambda *args: calls.append(("first", args)))
    emitter.on("msg", lambda *args: calls.append(("second", args)))
    emitter.emit("msg", 1, "two")
    assert calls == [("first", (1, "two")), ("second", (1, "two"))]


def test_on_without_a_listener_is_a_decorator_that_returns_the_function() -> None:
    emitter = Emitter()

    @emitter.on("msg")
    def handler(x: int) -> int:
        return x * 2

    assert handler(2) == 4
    assert emitter.listeners("msg") == (handler,)


def test_off_removes_one_listener_or_all_of_an_event() -> None:
    emitter = Emitter()
    first, second = (lambda: None), (lambda: None)
    emitter.on("a", first)
    emitter.on("a", second)
    emitter.off("a", first)
    assert emitter.listeners("a") == (second,)
    emitter.off("a", first)  # already gone: nothing happens
    emitter.off("a")
    assert emitter.listeners("a") == ()


def test_a_raising_listener_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emitter = Emitter()
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("oops")

    emitter.on("e", broken)
    emitter.on("e", lambda: calls.append("ran"))
    with caplog.at_level(logging.ERROR, logger="wslearn.client"):
        emitter.emit("e")
    assert calls == ["ran"]
    assert "broken" in caplog.text and "oops" in caplog.text


async def test_async_listeners_come_back_as_awaitables_for_the_caller_to_run() -> None:
    emitter = Emitter()
    seen: list[int] = []

    async def later(n: int) -> None:
        seen.append(n)

    emitter.on("e", later)
    emitter.on("e", seen.append)
    pending = emitter.emit("e", 5)
    assert seen == [5] and len(pending) == 1
    await asyncio.gather(*pending)
    assert seen == [5, 5]


def test_catch_all_listeners_get_the_event_name_and_only_through_emit_any() -> None:
    emitter = Emitter()
    seen: list[tuple[Any, ...]] = []
    catch_all = emitter.on_any(lambda event, *args: seen.append((event, *args)))
    emitter.emit("quiet", 0)
    emitter.emit_any("loud", 1, 2)
    assert seen == [("loud", 1, 2)]
    emitter.off_any(catch_all)
    emitter.emit_any("loud", 3)
    assert seen == [("loud", 1, 2)]


def test_a_listener_added_during_emit_waits_for_the_next_event() -> None:
    emitter = Emitter()
    calls: list[str] = []

    def adder() -> None:
        calls.append("adder")
        emitter.on("e", lambda: calls.append("added"))

    emitter.on("e", adder)
    emitter.emit("e")
    assert calls == ["adder"]


def test_registering_something_that_is_not_callable_is_a_type_error() -> None:
    emitter = Emitter()
    with pytest.raises(TypeError, match="callable"):
        emitter.on("e", "not a function")  # type: ignore[type-var]
    with pytest.raises(TypeError, match="strings"):
        emitter.on(3, print)  # type: ignore[arg-type]


def test_call_listener_reports_success_and_failure() -> None:
    assert call_listener(lambda a, b: a + b, (1, 2)) == (True, 3)
    assert call_listener(lambda: 1 / 0, ()) == (False, None)
