"""Tests for wslearn.broadcast: immutable target descriptions."""

from __future__ import annotations

import pytest

from wslearn.broadcast import check_outgoing_name
from wslearn.exceptions import UsageError
from wslearn.rooms import ALL
from wslearn.server import Server


def test_each_step_returns_a_new_operator() -> None:
    server = Server()
    base = server.to("a")
    wider = base.to("b").except_("c")
    assert base.rooms == {"a"} and base.except_rooms == frozenset()
    assert wider.rooms == {"a", "b"} and wider.except_rooms == {"c"}


def test_except_alone_targets_the_whole_namespace() -> None:
    operator = Server().except_("muted")
    assert operator.rooms is ALL and operator.except_rooms == {"muted"}


def test_targets_are_resolved_through_the_registry_when_asked() -> None:
    server = Server()
    for sid in ("s1", "s2", "s3"):
        server.registry.add("/", sid)
    server.registry.join("/", "s1", "a")
    server.registry.join("/", "s2", "a")
    server.registry.join("/", "s2", "c")
    operator = server.to("a").except_("c")
    assert operator.targets() == {"s1"}
    server.registry.join("/", "s3", "a")
    assert operator.targets() == {"s1", "s3"}
    assert server.of("/chat").to("a").targets() == set()


@pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error", "newListener"])
def test_reserved_names_cannot_be_emitted(name: str) -> None:
    with pytest.raises(UsageError, match="reserved"):
        check_outgoing_name(name)
    check_outgoing_name("error")  # the error event is an ordinary event
