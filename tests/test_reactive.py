"""wslearn.reactive: a client's connection as traits, and tasks started by callbacks.

Real servers and clients on loopback; widgets are bound the way a notebook binds them.
"""

from __future__ import annotations

import asyncio

import ipywidgets as w
import pytest
import traitlets
from support import FAST, ServerFactory, eventually

from wslearn.client import Client, ClientState
from wslearn.exceptions import ConnectFailedError
from wslearn.kernel import Registry
from wslearn.reactive import (
    NOTEBOOK_RECONNECTION,
    BackgroundTasks,
    SocketState,
    close_tree,
    use_socket,
)
from wslearn.server import Server

# -- SocketState and use_socket -------------------------------------------------------


async def test_socket_state_traits_follow_the_client_into_a_linked_widget(
    server: Server,
) -> None:
    client = Client(server.url, reconnection=FAST)
    sock = use_socket(client)
    light = w.Checkbox(disabled=True)
    traitlets.dlink((sock, "connected"), (light, "value"))
    states: list[str] = []
    sock.observe(lambda change: states.append(change["new"]), names="state")
    await client.connect()
    assert light.value is True and sock.state == "connected"
    await client.disconnect()
    assert light.value is False
    assert states == ["connecting", "connected", "closed"]
    await sock.close()


async def test_closing_the_state_of_a_client_it_does_not_own_leaves_the_client_connected(
    server: Server,
) -> None:
    client = Client(server.url, reconnection=FAST)
    await client.connect()
    try:
        sock = use_socket(client)
        assert (sock.state, sock.connected, sock.owns_client) == ("connected", True, False)
        await sock.close()
        assert client.connected
        await client.disconnect()
        assert sock.state == "connected"  # no longer follows the client
    finally:
        await client.disconnect()


async def test_use_socket_with_a_url_connects_owns_and_closes_the_client(
    server: Server,
) -> None:
    sock = use_socket(server.url, reconnection=FAST)
    await eventually(lambda: sock.connected)
    await sock.close()
    assert sock.client.state is ClientState.CLOSED
    assert (sock.state, sock.connected) == ("closed", False)


async def test_use_socket_puts_a_connection_failure_in_the_error_trait(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    url = server.url
    await server.stop()
    sock = use_socket(url, reconnection=None, connect_timeout=2)
    await eventually(lambda: sock.error != "" and sock.state == "disconnected")
    assert str(ConnectFailedError(url, "x")).split(":")[0] in sock.error
    assert not sock.connected
    await sock.close()


def test_use_socket_refuses_client_options_together_with_a_client() -> None:
    with pytest.raises(TypeError, match="pass a URL"):
        use_socket(Client("http://127.0.0.1:9"), reconnection=None)


def test_socket_state_traits_are_read_only() -> None:
    sock = SocketState(Client("http://127.0.0.1:9"))
    with pytest.raises(traitlets.TraitError):
        sock.connected = True  # type: ignore[misc]


# -- BackgroundTasks ------------------------------------------------------------------


async def test_a_failed_task_goes_to_the_error_callback_and_a_cancelled_one_does_not() -> None:
    errors: list[BaseException] = []
    tasks = BackgroundTasks(errors.append)

    async def fail() -> None:
        raise ValueError("bad value")

    failing = tasks.spawn(fail())
    waiting = tasks.spawn(asyncio.sleep(30))
    assert failing is not None and waiting is not None
    assert len(tasks) == 2 and tasks.tasks == {failing, waiting}
    await asyncio.gather(failing, return_exceptions=True)
    await eventually(lambda: len(tasks) == 1)  # done callbacks run on the next loop turn
    await tasks.cancel_all()
    assert waiting.cancelled() and len(tasks) == 0
    assert [(type(e), str(e)) for e in errors] == [(ValueError, "bad value")]


def test_spawning_without_a_running_loop_reports_why_and_returns_none() -> None:
    errors: list[BaseException] = []
    tasks = BackgroundTasks(errors.append)
    assert tasks.spawn(asyncio.sleep(0)) is None  # the coroutine is closed: no warning
    assert len(tasks) == 0
    (error,) = errors
    assert isinstance(error, RuntimeError) and "no running event loop" in str(error)


async def test_a_failed_background_task_shows_in_the_error_trait() -> None:
    sock = SocketState(Client("http://127.0.0.1:9"))

    async def fail() -> None:
        raise LookupError("no such room")

    task = sock.tasks.spawn(fail())
    assert task is not None
    await eventually(lambda: sock.error != "")
    assert sock.error == "LookupError: no such room"
    await sock.close()


# -- close_tree -----------------------------------------------------------------------


def test_close_tree_closes_the_widget_and_every_widget_inside() -> None:
    leaf, button = w.HTML(), w.Button()
    tree = w.VBox([w.HBox([leaf]), button])
    everything = (tree, tree.children[0], leaf, button)
    assert all(x.comm is not None for x in everything)  # open: each has a comm
    close_tree(tree)
    assert [x.comm for x in everything] == [None] * 4


# -- use_socket in the kernel's registry --------------------------------------------------


async def test_use_socket_is_kept_and_calling_it_again_closes_the_previous_client(
    server: Server,
) -> None:
    registry = Registry()
    first = use_socket(server.url, registry=registry, reconnection=FAST)
    await eventually(lambda: first.connected)
    second = use_socket(server.url, registry=registry, reconnection=FAST)
    await registry.settle()
    assert first.closed and first.client.state is ClientState.CLOSED
    await eventually(lambda: second.connected)
    assert [e.name for e in registry.running()] == ["use_socket"]
    await second.close()
    assert registry.running() == ()


def test_use_socket_with_a_url_gives_up_reconnecting_by_default() -> None:
    sock = use_socket("http://127.0.0.1:9", registry=None)
    assert sock.client.reconnection is NOTEBOOK_RECONNECTION
    assert NOTEBOOK_RECONNECTION.attempts == 12
