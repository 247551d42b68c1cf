"""wslearn.widgets: chat panes, headless: no browser, no kernel.

Real servers and clients on loopback; the tests set widget values and click buttons
the way the front end would, then read widget state.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Callable, Iterator

import ipywidgets
import pytest
from support import CLOCK, FAST, PaneFactory, ServerFactory, eventually

from wslearn import kernel, widgets
from wslearn._chat_view import local_time
from wslearn._html import COLORS, STALE_NOTE
from wslearn.backoff import Backoff
from wslearn.chat import add_chat_handlers
from wslearn.client import Client, ClientState
from wslearn.exactly_once import ExactlyOnce
from wslearn.kernel import Registry
from wslearn.namespace import Socket
from wslearn.outbox import Outbox
from wslearn.proxy import LinkProxy
from wslearn.reactive import NOTEBOOK_RECONNECTION
from wslearn.server import Server
from wslearn.widgets import ChatPane, side_by_side, status_text


def has_text(text: str) -> Callable[[ChatPane], bool]:
    return lambda p: any(m.text == text for m in p.messages)


def light(status_html: str) -> tuple[str, str]:
    """The colour of a drawn status light and the text beside it."""
    color = re.search(r"wslearn-light-(\w+)", status_html)
    text = re.search(r'<span class="wslearn-live">([^<]*)</span>', status_html)
    assert color is not None and text is not None, status_html
    return color[1], html.unescape(text[1])


# -- sending and receiving -----------------------------------------------------------


async def test_pressing_enter_in_one_pane_delivers_to_the_other(
    chat_server: Server, pane: PaneFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    alice.input.value = "hi bob"  # the keystrokes, as the front end syncs them
    alice.input._handle_custom_msg({"event": "submit"}, [])  # the front end's Enter key
    assert alice.input.value == ""  # cleared for the next message
    await bob.wait_for(has_text("hi bob"))
    message = bob.last_message
    assert message is not None
    assert (message.name, message.time, message.mine) == ("Alice", local_time(CLOCK), False)
    await alice.wait_for(has_text("hi bob"))
    assert alice.messages[-1].mine
    assert "<b>Alice</b>: hi bob" in bob.log.value
    assert capsys.readouterr() == ("", "")  # nothing printed from callbacks or tasks


async def test_the_send_button_sends_what_is_in_the_input(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    alice.input.value = "via button"  # typed, not submitted
    alice.send_button.click()
    await bob.wait_for(has_text("via button"))
    await alice.client.call("broadcast", "flush")  # anything sent twice has arrived
    assert [m.text for m in bob.messages] == ["via button"]


async def test_keystrokes_say_typing_once_and_sending_takes_it_back(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    typing_sent = recorder_of_typing(alice)
    for keystrokes in ("h", "he", "hel"):
        alice.input.value = keystrokes
    await bob.wait_for(lambda p: p.typing == ("Alice",))
    assert "Alice is typing..." in bob.typing_line.value
    alice.press_enter()
    await bob.wait_for(lambda p: p.typing == () and has_text("hel")(p))
    assert typing_sent == [True, False]  # one notice per burst, not per keystroke


async def test_emptying_the_input_or_pausing_takes_typing_back(
    chat_server: Server, pane: PaneFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widgets, "TYPING_IDLE", 0.05)
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    alice.input.value = "draft"
    await bob.wait_for(lambda p: p.typing == ("Alice",))
    alice.input.value = ""  # deleted it all
    await bob.wait_for(lambda p: p.typing == ())
    alice.input.value = "second draft"
    await bob.wait_for(lambda p: p.typing == ("Alice",))
    await bob.wait_for(lambda p: p.typing == ())  # no keystroke for TYPING_IDLE seconds
    assert bob.messages == ()  # nothing was sent


async def test_message_text_and_names_are_html_escaped(
    chat_server: Server, pane: PaneFactory
) -> None:
    eve, bob = await pane(chat_server, "<i>Eve</i>"), await pane(chat_server, "Bob")
    eve.input.value = "<script>alert(1)</script>"
    eve.press_enter()
    await bob.wait_for(has_text("<script>alert(1)</script>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bob.log.value
    assert "<script>" not in bob.log.value
    assert "&lt;i&gt;Eve&lt;/i&gt;" in bob.log.value and "<i>Eve" not in bob.log.value


async def test_history_is_bounded(chat_server: Server, pane: PaneFactory) -> None:
    alice = await pane(chat_server, "Alice", max_messages=3)
    for n in range(5):
        await alice.send(f"m{n}")
    await alice.wait_for(has_text("m4"))
    assert [m.text for m in alice.messages] == ["m2", "m3", "m4"]


# -- presence, typing, rooms ---------------------------------------------------------


async def test_presence_and_typing_show_in_the_panes(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    await alice.wait_for(lambda p: p.users == ("Alice", "Bob"))
    assert "Alice, Bob" in alice.presence.value
    await bob.set_typing(True)
    await alice.wait_for(lambda p: p.typing == ("Bob",))
    assert "Bob is typing..." in alice.typing_line.value
    await bob.send("done")  # sending ends typing
    await alice.wait_for(lambda p: p.typing == ())
    assert "typing" not in alice.typing_line.value
    await bob.close()
    await alice.wait_for(lambda p: p.users == ("Alice",))


async def test_switching_rooms_leaves_the_old_one(chat_server: Server, pane: PaneFactory) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    await bob.wait_for(lambda p: p.users == ("Alice", "Bob"))
    alice.room_input.value = "kitchen"  # Enter in the room field
    await alice.wait_for(lambda p: p.users == ("Alice",) and p.room == "kitchen")
    await bob.wait_for(lambda p: p.users == ("Bob",))
    assert "#kitchen" in alice.title.value
    await bob.send("lobby only")
    with alice.room_input.hold_trait_notifications():  # typed, not submitted
        alice.room_input.value = "lobby"
        alice.join_button.click()
    await bob.wait_for(lambda p: p.users == ("Alice", "Bob"))
    assert all(m.text != "lobby only" for m in alice.messages)


# -- connection state ----------------------------------------------------------------


async def test_the_status_light_follows_a_server_restart(
    make_server: ServerFactory, pane: PaneFactory
) -> None:
    server = await make_server()
    add_chat_handlers(server, clock=lambda: CLOCK)
    alice, bob = await pane(server, "Alice"), await pane(server, "Bob")
    seen: list[str] = []
    alice.socket.observe(lambda change: seen.append(change["new"]), names="state")
    assert light(alice.status.value) == ("green", "connected")
    port = server.port
    await server.stop()
    await alice.wait_for(lambda p: p.client.state is ClientState.RECONNECTING)
    assert light(alice.status.value)[0] == "yellow"
    assert light(alice.status.value)[1].startswith("reconnecting")
    assert not alice.input.disabled  # emits are buffered meanwhile
    alice.input.value = "sent while offline"
    alice.press_enter()
    await alice.wait_for(lambda p: p.status_text.endswith("· 1 queued"))
    assert light(alice.status.value)[1] == alice.status_text

    again = await make_server(port=port)
    add_chat_handlers(again, clock=lambda: CLOCK)
    await alice.wait_for(lambda p: p.status_text == "connected" and p.client.buffered == 0)
    assert light(alice.status.value) == ("green", "connected")
    await bob.wait_for(lambda p: p.users == ("Alice", "Bob"))  # both rejoined the room
    assert seen[:2] == ["reconnecting", "connected"]
    alice.input.value = "back again"
    alice.press_enter()
    await bob.wait_for(has_text("back again"))


def reliable_chat(server: Server) -> ExactlyOnce:
    """The chat handlers, with send-message applied once per message id."""
    add_chat_handlers(server, clock=lambda: CLOCK)
    once = ExactlyOnce()

    @server.on("send-message")
    @once
    async def send_message(socket: Socket, data: dict[str, str]) -> None:
        message = {"name": socket.data["name"], "message": data["message"], "timestamp": CLOCK}
        await server.to(data["roomId"]).emit("receive-message", {"userId": socket.id, **message})

    return once


async def test_a_pane_with_an_outbox_queues_through_a_restart_and_delivers_once_in_order(
    make_server: ServerFactory, pane: PaneFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Recovery keeps both sockets' rooms and replays what bob missed while away, so
    # the order in which the two panes come back does not matter.
    server = await make_server(recovery_window=30)
    once = reliable_chat(server)
    alice = await pane(server, "Alice", outbox=Outbox(capacity=10))
    bob = await pane(server, "Bob")
    assert alice.reliable is not None and bob.reliable is None
    alice.input.value = "before"
    alice.press_enter()
    await bob.wait_for(has_text("before"))
    port = server.port
    await server.stop()
    await alice.wait_for(lambda p: p.client.state is ClientState.RECONNECTING)
    texts = ["one", "two", "three"]
    for text in texts:
        alice.input.value = text
        alice.press_enter()
    await alice.wait_for(lambda p: p.queued == 3)
    assert light(alice.status.value)[0] == "yellow"
    assert re.fullmatch(r"reconnecting( \(attempt \d+\))? · 3 queued", alice.status_text)

    await server.start(port=port)
    await alice.wait_for(lambda p: p.status_text == "connected" and p.queued == 0)
    await bob.wait_for(has_text("three"))
    await alice.wait_for(has_text("three"))  # the pane re-joined before the queue drained
    for shown in (bob, alice):
        assert [m.text for m in shown.messages] == ["before", *texts]
    assert all(m.mine for m in alice.messages) and not any(m.mine for m in bob.messages)
    assert once.applied == 4 and once.duplicates == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_closing_a_pane_with_an_outbox_keeps_what_is_still_queued(
    chat_server: Server, pane: PaneFactory
) -> None:
    outbox = Outbox(capacity=10)
    alice = await pane(chat_server, "Alice", outbox=outbox)
    await chat_server.stop()
    await alice.wait_for(lambda p: p.client.state is ClientState.RECONNECTING)
    await alice.send("not yet delivered")
    await alice.close()
    assert [e.args[0]["message"] for e in outbox.pending()] == ["not yet delivered"]


async def test_a_pane_without_reconnection_goes_red_and_disables_input(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice", reconnection=None)
    await chat_server.stop()
    await alice.wait_for(lambda p: p.client.state is ClientState.DISCONNECTED)
    assert light(alice.status.value) == ("red", "disconnected")
    assert alice.input.disabled and alice.send_button.disabled


async def test_a_failed_send_shows_on_the_error_line_not_stderr(
    chat_server: Server, pane: PaneFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = await pane(chat_server, "Alice")
    await alice.client.disconnect()  # the pane still shows; sending cannot work
    alice.input.value = "anyone?"
    alice.press_enter()
    await alice.wait_for(lambda p: "NotConnectedError" in p.error_line.value)
    assert len(alice.tasks) == 0
    assert capsys.readouterr() == ("", "")


async def test_server_errors_show_on_the_error_line(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    await alice.client.emit("typing", {"roomId": "lobby", "typing": "maybe"})
    await alice.wait_for(
        lambda p: "server: typing: Input should be a valid boolean" in p.error_line.value
    )


async def test_closing_a_pane_releases_listeners_connection_and_tasks(
    chat_server: Server, pane: PaneFactory
) -> None:
    before = asyncio.all_tasks()
    bob = await pane(chat_server, "Bob")
    shared = Client(chat_server.url, auth={"name": "Alice"}, reconnection=FAST)
    await shared.connect()
    try:
        watcher = ChatPane(shared, name="Alice")  # does not own the client
        owner = await pane(chat_server, "Carol")
        await watcher.settle()
        await bob.wait_for(lambda p: p.users == ("Alice", "Bob", "Carol"))
        watcher.tasks.spawn(asyncio.sleep(30))  # work still running at close
        await watcher.close()
        await owner.close()
        assert owner.client.state is ClientState.CLOSED
        assert shared.connected  # not the pane's to close
        assert len(watcher.tasks) == 0
        bob.input.value = "after close"
        bob.press_enter()
        await bob.wait_for(has_text("after close"))
        await shared.call("broadcast", "flush")  # shared has received bob's message
        assert all(m.text != "after close" for m in watcher.messages)
        status = watcher.status.value
        await shared.disconnect()
        assert watcher.status.value == status  # no longer follows the client
    finally:
        await shared.disconnect()
    await bob.close()
    # The server's side of the connections winds down on its own; then nothing is left.
    await eventually(lambda: asyncio.all_tasks() <= before)


# -- status text and layout ----------------------------------------------------------


def test_status_text_names_the_state_the_attempt_and_the_queue() -> None:
    assert status_text(ClientState.CONNECTED) == "connected"
    assert status_text(ClientState.RECONNECTING, 3) == "reconnecting · 3 queued"
    assert status_text(ClientState.RECONNECTING, 0, 2) == "reconnecting (attempt 2)"
    assert status_text(ClientState.CONNECTED, 0, 2) == "connected"  # attempts are over
    assert status_text(ClientState.CLOSED) == "closed"


async def test_side_by_side_is_one_row_named_after_its_panes(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    row = side_by_side(alice, bob)
    assert row.children == (alice.widget, bob.widget)
    assert repr(row) == "PaneRow(Alice | Bob)"
    assert "wslearn-pane-alice" in alice.widget._dom_classes
    assert alice._repr_mimebundle_()["text/plain"] == "<ChatPane Alice · lobby>"


def recorder_of_typing(pane: ChatPane) -> list[bool]:
    """The ``typing`` flags a pane's client emits, in order."""
    sent: list[bool] = []

    def listener(direction: str, frame: str | bytes, _at: float) -> None:
        if direction == "sent" and isinstance(frame, str) and '["typing",' in frame:
            sent.append('"typing":true' in frame)

    pane.client.add_frame_listener(listener)
    return sent


# -- rooms: one join per ask -----------------------------------------------------------


def sent_events(pane: ChatPane, names: tuple[str, ...]) -> list[str]:
    """Record every event of ``names`` the pane's client sends, as ``"name arg"``."""
    sent: list[str] = []

    def listener(direction: str, frame: str | bytes, _at: float) -> None:
        if direction == "sent" and isinstance(frame, str) and frame.startswith("42"):
            body = frame[2:].lstrip("0123456789")
            for name in names:
                if body.startswith(f'["{name}",'):
                    sent.append(f"{name} {body.split(',', 1)[1].rstrip(']')}")

    pane.client.add_frame_listener(listener)
    return sent


async def test_typing_a_room_then_clicking_join_sends_one_leave_and_one_join(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    await bob.wait_for(lambda p: p.users == ("Alice", "Bob"))
    sent = sent_events(alice, ("leave-room", "join-room"))
    # What the browser does: leaving the room field syncs its value (the blur), and
    # the click on "Join room" arrives right after it.
    alice.room_input.value = "kitchen"
    alice.join_button.click()
    await alice.settle()
    await bob.wait_for(lambda p: p.users == ("Bob",))
    await alice.client.call("broadcast", "flush")  # an error event would be here by now
    assert sent == ['leave-room "lobby"', 'join-room "kitchen"']
    assert alice.error_line.value == ""
    assert alice.users == ("Alice",) and alice.room == "kitchen"


async def test_an_error_line_clears_once_a_join_works(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    await alice.client.emit("leave-room", "never-joined")
    await alice.wait_for(lambda p: "leave-room expects a room you joined" in p.error_line.value)
    alice.ask_to_join("kitchen")
    await alice.settle()
    assert alice.error_line.value == ""


# -- what a learner sees -----------------------------------------------------------------


@pytest.fixture
def india_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local time zone is UTC+05:30 for the test (no summer time)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_message_times_are_shown_in_the_local_time_zone(india_time: None) -> None:
    assert local_time("2024-01-01T12:34:56.000Z") == "18:04:56"
    assert local_time("2024-01-01T12:34:56+01:00") == "17:04:56"
    assert local_time("not a time") == local_time(None) == local_time("T-minus") == ""


async def test_the_status_light_is_drawn_and_says_what_to_do_once_the_kernel_is_gone(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    status = alice.status.value
    assert not [c for c in status if ord(c) >= 0x2600]  # no emoji or symbol glyphs
    assert "border-radius:50%" in status and COLORS["green"] in status
    # ipywidgets puts this class on every view when the kernel restarts:
    assert ".jupyter-widgets-disconnected .wslearn-stale{display:inline" in status
    assert f'<span class="wslearn-stale">{STALE_NOTE}</span>' in status


async def test_last_heard_counts_the_seconds_since_the_server_last_spoke(
    chat_server: Server, pane: PaneFactory
) -> None:
    async with LinkProxy("127.0.0.1", chat_server.port) as link:
        url = link.url("", scheme="http")
        alice = await ChatPane.open(url, name="Alice", reconnection=FAST, registry=None)
        assert alice.heard_ago == 0
        link.pause()  # half-open: nothing arrives any more
        # The line is redrawn once a second; a busy machine may skip a second.
        shown = re.compile(r"last heard from the server ([1-9][0-9]*) s ago")
        await alice.wait_for(lambda p: shown.search(p.heard.value) is not None)
        assert alice.heard_ago is not None and alice.heard_ago >= 1
        assert alice.client.connected  # the heartbeat has not timed out yet (5 s + 5 s)
        link.resume()
        await alice.close()


async def test_the_status_shows_each_reconnection_attempt_and_a_pane_that_gave_up_says_so(
    chat_server: Server, pane: PaneFactory
) -> None:
    quick = Backoff(initial=0.05, maximum=0.05, jitter=0, attempts=2)
    alice = await pane(chat_server, "Alice", reconnection=quick)
    shown: list[str] = []
    alice.status.observe(lambda change: shown.append(light(change["new"])[1]), names="value")
    await chat_server.stop()
    await alice.wait_for(lambda p: p.client.state is ClientState.DISCONNECTED)
    assert "reconnecting (attempt 1)" in shown and "reconnecting (attempt 2)" in shown
    assert "gave up reconnecting" in alice.error_line.value
    assert light(alice.status.value) == ("red", "disconnected")


async def test_panes_opened_from_a_url_give_up_reconnecting_after_a_minute_or_so(
    chat_server: Server,
) -> None:
    registry = Registry()
    alice = await ChatPane.open(chat_server.url, name="Alice", registry=registry)
    try:
        assert alice.client.reconnection is NOTEBOOK_RECONNECTION
        delays = list(Backoff(**{**vars(NOTEBOOK_RECONNECTION), "jitter": 0}).delays())
        assert len(delays) == 12 and 40 < sum(delays) < 90
    finally:
        await alice.close()
    assert registry.running() == ()


# -- the kernel's registry ---------------------------------------------------------------


async def test_a_pane_is_kept_in_the_kernel_registry_until_it_closes(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    assert kernel.registry.get("pane Alice") is alice
    [entry] = [e for e in kernel.running() if e.name == "pane Alice"]
    assert (entry.kind, entry.url) == ("chat pane", chat_server.url)
    await alice.close()
    assert kernel.registry.get("pane Alice") is None


async def test_opening_a_pane_of_the_same_name_again_closes_the_old_one_and_its_client(
    chat_server: Server,
) -> None:
    registry = Registry()
    first = await ChatPane.open(chat_server.url, name="Alice", registry=registry)
    again = await ChatPane.open(chat_server.url, name="Alice", registry=registry)
    try:
        assert first.closed and first.client.state is ClientState.CLOSED
        assert again.client.connected and registry.get("pane Alice") is again
        assert "replaces the earlier pane Alice" in again.note_line.value
        assert first.note_line.value == ""
        await again.wait_for(lambda p: p.users == ("Alice",))  # one Alice in the room
    finally:
        await registry.stop_all()
    assert again.closed and again.client.state is ClientState.CLOSED


def every_open_widget_state() -> int:
    """Serialize every open widget, as the front end asks for when a page reloads."""
    for widget in list(ipywidgets.widgets.widget._instances.values()):
        widget.get_state()
    return len(ipywidgets.widgets.widget._instances)


async def test_closed_panes_leave_their_row_so_a_page_reload_finds_no_broken_widget(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    row = side_by_side(alice, bob)
    await alice.close()
    assert row.children == (bob.widget,)
    every_open_widget_state()  # raised AttributeError (comm_id) when the row kept alice
    await bob.close()
    assert row.comm is None  # the last pane out closed the row
    every_open_widget_state()


async def test_a_saved_notebook_shows_placeholders_that_say_to_run_it(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice, bob = await pane(chat_server, "Alice"), await pane(chat_server, "Bob")
    pane_html = alice._repr_mimebundle_()["text/html"]
    assert html.escape("Alice's chat pane (#lobby)") in pane_html
    assert "Run All Cells" in pane_html
    row = side_by_side(alice, bob)._repr_mimebundle_()
    assert row["text/plain"] == "PaneRow(Alice | Bob)"
    assert "<b>Alice | Bob</b>" in row["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in row
