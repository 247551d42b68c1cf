"""wslearn.inspector: a client's frames shown live (FrameInspector) and as a static table.

FrameInspector watches a real client talking to a real chat server on loopback; the
decoding itself (FrameLog) is tested in test_framelog.py.
"""

from __future__ import annotations

import time

from support import CLOCK, PaneFactory, ServerFactory, eventually

from wslearn.chat import add_chat_handlers
from wslearn.client import Client
from wslearn.inspector import FrameInspector, FrameLog, frame_table
from wslearn.kernel import Registry
from wslearn.server import Server

# -- FrameInspector on a live client --------------------------------------------------


async def test_the_inspector_decodes_events_acks_and_attachments(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    inspector = FrameInspector(alice.client)
    await alice.client.call("join-room", "lobby")
    await alice.client.emit("broadcast", {"a": b"\x00\x01", "b": b"xyz"})
    await eventually(lambda: len(inspector.rows(event="broadcast-message")) == 3)
    call, ack = inspector.rows(event="join-room")
    assert (call.direction, call.socketio, call.event, call.payload) == (
        "↑",
        "EVENT",
        "join-room",
        '["lobby"]',
    )
    assert (ack.direction, ack.socketio, ack.ack) == ("↓", "ACK", call.ack)
    sent = inspector.rows(event="broadcast")[:3]
    assert [row.engine for row in sent] == ["MESSAGE", "ATTACHMENT", "ATTACHMENT"]
    assert sent[0].socketio == "BINARY_EVENT" and sent[0].attachments == 2
    assert sent[0].payload == '[{"a":"<2 bytes>","b":"<3 bytes>"}]'
    assert str(sent[0]) == (
        '↑ MESSAGE BINARY_EVENT / broadcast attachments=2 [{"a":"<2 bytes>","b":"<3 bytes>"}]'
    )
    indexes = [row.index for row in inspector.rows(event="")]
    assert indexes == sorted(indexes)
    inspector.render()
    assert "broadcast-message" in inspector.table.value
    inspector.close()


async def test_the_inspector_filters_by_event_name(chat_server: Server, pane: PaneFactory) -> None:
    alice = await pane(chat_server, "Alice")
    inspector = FrameInspector(alice.client)
    await alice.set_typing(True)
    await alice.client.call("send-message", {"roomId": "lobby", "message": "x"})
    inspector.filter.value = "TYPING"
    assert [row.event for row in inspector.rows()] == ["typing"]
    assert "send-message" not in inspector.table.value
    assert ">typing<" in inspector.table.value
    inspector.filter.value = ""
    assert {row.event for row in inspector.rows()} >= {"typing", "send-message"}
    inspector.close()
    await alice.client.emit("broadcast", "after close")
    await alice.client.call("broadcast", "flush")
    assert all(row.payload != '["after close"]' for row in inspector.rows())


async def test_the_hide_ping_pong_checkbox_hides_heartbeats(
    make_server: ServerFactory, pane: PaneFactory
) -> None:
    server = await make_server(ping_interval=0.05)  # heartbeats come quickly
    add_chat_handlers(server, clock=lambda: CLOCK)
    alice = await pane(server, "Alice")
    inspector = FrameInspector(alice.client)
    await eventually(lambda: {"PING", "PONG"} <= {row.engine for row in inspector.rows()})
    await alice.client.call("broadcast", "flush")
    inspector.hide_heartbeats.value = True
    shown = inspector.rows()
    assert shown and all(row.engine not in ("PING", "PONG") for row in shown)
    assert "PING" not in inspector.table.value
    assert len(inspector.rows(event="", hide_heartbeats=False)) > len(shown)
    inspector.hide_heartbeats.value = False
    assert {"PING", "PONG"} <= {row.engine for row in inspector.rows()}
    inspector.close()


async def test_the_inspector_shows_as_a_widget_with_a_short_text_form(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    inspector = FrameInspector(alice.client)
    bundle = inspector._repr_mimebundle_()
    assert bundle["text/plain"] == "<FrameInspector>" == repr(inspector)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    inspector.clear()
    assert inspector.rows(event="") == [] and "0 shown of 0 kept" in inspector.count.value
    inspector.close()
    inspector.close()  # closing twice does nothing


# -- the static table, the live table's layout, the registry ----------------------------


async def test_a_frame_log_is_a_frame_listener_and_frame_table_hides_random_ids(
    chat_server: Server,
) -> None:
    log = FrameLog(start=time.time())
    client = Client(chat_server.url, auth={"name": "dave"})
    client.add_frame_listener(log.feed)
    await client.connect()
    await client.call("join-room", "room-789")
    sid = client.sid
    assert sid is not None
    await client.disconnect()
    table = frame_table(log.rows(), labels={sid: "DAVE_SID"})
    shown = table._repr_html_()
    assert sid not in shown and "DAVE_SID" in shown
    assert "overflow-wrap:anywhere" in shown  # long payloads wrap instead of widening it
    assert "time s" not in shown  # times change at every run: only on request
    assert "time s" in frame_table(log.rows(), times=True)._repr_html_()
    lines = repr(table).splitlines()
    assert lines[2] == '  3 ↓ MESSAGE CONNECT / {"sid":"DAVE_SID"}'
    assert [(row.socketio, row.event) for row in table.rows if row.ack is not None] == [
        ("EVENT", "join-room"),
        ("ACK", "join-room"),
    ]
    assert table.rows[-1].socketio == "DISCONNECT"


async def test_the_live_table_keeps_its_header_in_view_and_its_columns_apart(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    inspector = FrameInspector(alice.client, registry=None)
    await alice.client.call("join-room", "lobby")
    await eventually(lambda: "join-room" in inspector.table.value)
    table = inspector.table.value
    assert table.count("position:sticky;top:0") == len(inspector_head()) and "<thead>" in table
    assert "padding:2px 8px" in table and "overflow-y:auto" in table
    inspector.close()


HEAD = "", "#", "time s", "bytes", "engine.io", "socket.io", "nsp", "event", "ack", "bin"


def inspector_head() -> list[str]:
    return [*HEAD, "payload"]


async def test_a_new_inspector_of_the_same_name_closes_the_old_one(
    chat_server: Server, pane: PaneFactory
) -> None:
    alice = await pane(chat_server, "Alice")
    registry = Registry()
    first = FrameInspector(alice.client, registry=registry)
    second = FrameInspector(alice.client, registry=registry)
    assert first.closed and not second.closed
    assert first.widget.comm is None
    assert [e.name for e in registry.running()] == ["inspector"]
    await alice.client.call("join-room", "lobby")
    await eventually(lambda: second.rows(event="join-room"))
    assert first.rows(event="join-room") == []  # it stopped watching
    second.close()
    assert registry.running() == ()
