"""Tests for wslearn.chatapp.pane: the notebook pane drawing a ChatClient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from support import FAST

from wslearn import kernel
from wslearn.chatapp.app import ChatApp
from wslearn.chatapp.pane import AppPane, light, panes_side_by_side
from wslearn.client import ClientState

PaneMaker = Callable[..., Awaitable[AppPane]]


@pytest.fixture
async def pane(app: ChatApp) -> AsyncIterator[PaneMaker]:
    made: list[AppPane] = []

    async def make(name: str, **options: object) -> AppPane:
        opened = await AppPane.open(app.url, name, reconnection=FAST, **options)
        made.append(opened)
        return opened

    yield make
    for opened in made:
        await opened.close()


async def test_enter_sends_and_the_tick_turns_to_delivered(pane: PaneMaker) -> None:
    alice, bob = await pane("Alice"), await pane("Bob")
    alice.input.value = "<b>hi</b> Bob"
    alice.press_enter()
    assert alice.input.value == ""
    await bob.wait_for(lambda p: "&lt;b&gt;hi&lt;/b&gt; Bob" in p.log.value)
    await alice.wait_for(lambda p: 'data-status="delivered"' in p.log.value)
    assert "<b>hi</b>" not in bob.log.value  # escaped, never HTML
    assert "online: Alice, Bob" in alice.presence.value
    assert "wslearn-tick" not in bob.log.value  # ticks are for the sender


async def test_keystrokes_say_typing_and_the_front_ends_enter_sends(pane: PaneMaker) -> None:
    alice, bob = await pane("Alice"), await pane("Bob")
    bob.input.value = "wri"
    await alice.wait_for(lambda p: "Bob is typing" in p.typing_line.value)
    bob.input.value = "written"
    bob._on_input_message(bob.input, {"event": "submit"}, [])
    await alice.wait_for(lambda p: "written" in p.log.value)
    await alice.wait_for(lambda p: "typing" not in p.typing_line.value)


async def test_rooms_show_unread_counts_and_picking_one_shows_it(pane: PaneMaker) -> None:
    alice, bob = await pane("Alice"), await pane("Bob")
    alice.new_room.value = "side"
    alice.create_button.click()
    await alice.wait_for(lambda p: p.chat.current == "side")
    bob.new_room.value = "side"
    bob.join_button.click()
    await bob.wait_for(lambda p: p.chat.current == "side")
    bob.rooms.value = "lobby"
    await bob.wait_for(lambda p: p.chat.current == "lobby")
    await bob.settle()
    alice.input.value = "psst"
    alice.press_enter()
    await bob.wait_for(lambda p: ("#side (1)", "side") in p.rooms.options)
    bob.rooms.value = "side"
    await bob.wait_for(lambda p: "psst" in p.log.value and p.chat.unread("side") == 0)


async def test_the_light_follows_the_connection_and_queued_messages_are_counted(
    app: ChatApp, pane: PaneMaker
) -> None:
    alice = await pane("Alice")
    assert "#1f9d55" in alice.status.value and "connected" in alice.status.value
    port = app.server.port
    await app.stop()
    await alice.wait_for(lambda p: p.chat.state is ClientState.RECONNECTING)
    alice.input.value = "later"
    alice.press_enter()
    await alice.wait_for(lambda p: "1 queued" in p.status.value and "#d99a00" in p.status.value)
    await app.start(port=port)
    await alice.wait_for(lambda p: 'data-status="sent"' in p.log.value, timeout=10)


async def test_close_closes_the_client_and_the_widgets_and_twice_is_fine(
    pane: PaneMaker,
) -> None:
    alice = await pane("Alice")
    row = panes_side_by_side(alice)
    assert repr(row) == "PaneRow(Alice)"
    assert alice._repr_mimebundle_()["text/plain"] == "<AppPane Alice #lobby>"
    assert [e.name for e in kernel.running() if e.name == "app pane Alice"] == ["app pane Alice"]
    await alice.close()
    await alice.close()
    assert alice.chat.state is ClientState.CLOSED
    await asyncio.sleep(0)
    assert "closed" in light(ClientState.CLOSED)


async def test_opening_a_pane_again_under_the_same_name_closes_the_old_one(
    pane: PaneMaker,
) -> None:
    first = await pane("Dora")
    second = await pane("Dora")
    assert first.closed and first.chat.state is ClientState.CLOSED
    assert not second.closed and second.chat.client.connected
    assert [e.name for e in kernel.running()].count("app pane Dora") == 1
