"""Tests for wslearn.chatapp.app: the app's events on a real server, driven by
ChatClients, python-socketio and the frame-by-frame RawClient."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from support import WIRE_TIMEOUT, eventually
from websockets.asyncio.client import connect

from wslearn.chatapp.app import CHAT_NAMESPACE, PAGE_DIR, ChatApp, browser_url
from wslearn.chatapp.client import ChatClient, SignInError
from wslearn.chatapp.tokens import ChatTokens
from wslearn.proxy import LinkProxy
from wslearn.server import Server

AppFactory = Callable[..., Awaitable[ChatApp]]
ChatFactory = Callable[..., Awaitable[ChatClient]]


def texts(client: ChatClient, room: str | None = None) -> list[str]:
    return [line.text for line in client.lines(room)]


async def raw_sign_in(app: ChatApp, name: Any) -> dict[str, Any]:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(app.url, transports=["websocket"], wait_timeout=WIRE_TIMEOUT)
    try:
        reply: dict[str, Any] = await sio.call("sign-in", {"name": name}, timeout=WIRE_TIMEOUT)
    finally:
        await sio.disconnect()
    return reply


async def test_signing_in_gives_a_token_and_a_bad_name_is_refused(app: ChatApp) -> None:
    reply = await raw_sign_in(app, "  Alice ")
    assert reply["user"] == {"id": "alice", "name": "Alice"}
    assert app.tokens.verify(reply["token"], app.clock()).user == "alice"
    refused = await raw_sign_in(app, "")
    assert refused == {"error": {"message": "name must not be empty", "field": "name"}}
    with_bad_name = ChatClient(app.url, "x" * 40)
    try:
        await with_bad_name.sign_in()
    except SignInError as exc:
        assert "at most 32" in str(exc)
    else:
        raise AssertionError("a 40-character name was accepted")


async def test_the_chat_namespace_refuses_missing_and_forged_tokens(app: ChatApp) -> None:
    for auth, reason in [
        ("", "missing"),
        ('{"token":"abc"}', "malformed"),
        ('{"token":"a.b.c"}', "malformed"),
    ]:
        async with connect(
            f"ws://127.0.0.1:{app.server.port}/socket.io/?EIO=4&transport=websocket"
        ) as ws:
            await ws.recv()  # OPEN
            await ws.send(f"40{CHAT_NAMESPACE},{auth}")
            reply = await asyncio.wait_for(ws.recv(), WIRE_TIMEOUT)
            assert isinstance(reply, str) and reply.startswith(f"44{CHAT_NAMESPACE},"), reply
            body = json.loads(reply[len(f"44{CHAT_NAMESPACE},") :])
            assert body["data"] == {"reason": reason}
            assert "abc" not in body["message"]


async def test_a_message_is_seen_by_the_room_and_ticks_from_queued_to_delivered(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice, bob = await chat(app, "Alice"), await chat(app, "Bob")
    await alice.wait_for(lambda c: c.online() == ["Alice", "Bob"])
    statuses: list[str] = []
    alice.on_change(lambda: statuses.append(alice.lines()[-1].status) if alice.lines() else None)
    await alice.send("hi Bob")
    await bob.wait_for(lambda c: texts(c) == ["hi Bob"])
    await alice.wait_for(lambda c: c.lines()[-1].status == "delivered")
    seen = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert seen[0] == "queued" and seen[-1] == "delivered"
    line = bob.lines()[-1]
    assert (line.name, line.mine, line.seq) == ("Alice", False, 1)
    await bob.send("hi Alice")
    await alice.wait_for(lambda c: texts(c) == ["hi Bob", "hi Alice"])
    await bob.wait_for(lambda c: c.lines()[-1].status == "delivered")


async def test_ticks_survive_a_server_restart_with_no_duplicate_and_no_loss(
    make_app: AppFactory, chat: ChatFactory
) -> None:
    app = await make_app(grace=2.0)
    alice, bob = await chat(app, "Alice"), await chat(app, "Bob")
    await alice.send("before")
    await alice.wait_for(lambda c: c.lines()[-1].status == "delivered")
    port = app.server.port
    await app.stop()
    for n in range(5):
        await alice.send(f"while down {n}")
    assert [line.status for line in alice.lines()[1:]] == ["queued"] * 5
    await app.start(port=port)
    expected = ["before"] + [f"while down {n}" for n in range(5)]
    await bob.wait_for(lambda c: texts(c) == expected, timeout=WIRE_TIMEOUT)
    await alice.wait_for(lambda c: [line.status for line in c.lines()] == ["delivered"] * 6)
    assert [m.text for m in app.book.room("lobby").history] == expected  # stored once each
    assert app.once.applied == 6


async def test_a_lost_ack_makes_the_message_come_back_once(
    app: ChatApp, chat: ChatFactory
) -> None:
    bob = await chat(app, "Bob")
    link = await LinkProxy("127.0.0.1", app.server.port).start()
    try:
        alice = await chat(f"http://127.0.0.1:{link.port}", "Alice")
        # The server applies the message, but its ack dies with the connection.
        applied = app.once.applied
        link.pause()
        await alice.send("once only")
        await asyncio.sleep(0.1)
        await link.cut()
        link.resume()
        await alice.wait_for(lambda c: c.lines()[-1].status == "delivered", timeout=10)
        await bob.wait_for(lambda c: texts(c) == ["once only"])
        assert app.once.applied == applied + 1
        assert texts(alice) == ["once only"]
    finally:
        await link.stop()


async def test_a_receiver_that_was_offline_gets_what_it_missed_and_then_acks_it(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice = await chat(app, "Alice")
    link = await LinkProxy("127.0.0.1", app.server.port).start()
    try:
        bob = await chat(f"http://127.0.0.1:{link.port}", "Bob")
        await link.down()
        await alice.send("are you there?")
        await alice.wait_for(lambda c: c.lines()[-1].status == "sent")
        await asyncio.sleep(0.2)
        assert alice.lines()[-1].status == "sent"  # Bob cannot have acked it
        link.up()
        await bob.wait_for(lambda c: texts(c) == ["are you there?"], timeout=10)
        await alice.wait_for(lambda c: c.lines()[-1].status == "delivered")
        assert texts(bob) == ["are you there?"]
    finally:
        await link.stop()


async def test_presence_shows_a_user_with_two_tabs_once_until_both_are_closed(
    app: ChatApp, chat: ChatFactory
) -> None:
    carol = await chat(app, "Carol")
    tab1, tab2 = await chat(app, "Alice"), await chat(app, "alice")
    await carol.wait_for(
        lambda c: c.online() == ["Alice", "Carol"] or c.online() == ["alice", "Carol"]
    )
    await tab1.close()
    await asyncio.sleep(0.2)
    assert len(carol.online()) == 2
    await tab2.close()
    await carol.wait_for(lambda c: c.online() == ["Carol"])


async def test_a_quick_reconnection_is_invisible_to_the_others(
    make_app: AppFactory, chat: ChatFactory
) -> None:
    app = await make_app(grace=3.0)
    alice, bob = await chat(app, "Alice"), await chat(app, "Bob")
    await bob.wait_for(lambda c: c.online() == ["Alice", "Bob"])
    seen: list[list[str]] = []
    bob.on_change(lambda: seen.append(bob.online()))
    port = app.server.port
    await app.stop()
    await app.start(port=port)
    await alice.wait_for(lambda c: c.client.connected and c.online() == ["Alice", "Bob"])
    await bob.wait_for(lambda c: c.client.connected)
    await asyncio.sleep(0.3)
    assert all(names == ["Alice", "Bob"] for names in seen if names)


async def test_a_half_open_peer_leaves_presence_after_the_heartbeat_bound(
    make_app: AppFactory, chat: ChatFactory
) -> None:
    app = await make_app(grace=0.2, ping_interval=0.2, ping_timeout=0.2)
    bob = await chat(app, "Bob")
    link = await LinkProxy("127.0.0.1", app.server.port).start()
    try:
        alice = await chat(f"http://127.0.0.1:{link.port}", "Alice")
        alice.client.reconnection = None
        await bob.wait_for(lambda c: c.online() == ["Alice", "Bob"])
        link.pause()  # Alice's machine vanished: no close, no FIN
        started = asyncio.get_running_loop().time()
        await bob.wait_for(lambda c: c.online() == ["Bob"], timeout=5)
        took = asyncio.get_running_loop().time() - started
        assert took < 5  # bounded: ping interval + timeout, then the grace
    finally:
        await link.stop()


async def test_typing_clears_on_send_on_leave_on_disconnect_and_on_expiry(
    make_app: AppFactory, chat: ChatFactory
) -> None:
    app = await make_app(typing_ttl=0.3)
    alice, bob = await chat(app, "Alice"), await chat(app, "Bob")
    await bob.set_typing(True)
    await alice.wait_for(lambda c: c.typing() == ["Bob"])
    assert bob.typing() == []  # nobody shows themselves typing
    await bob.send("done typing")
    await alice.wait_for(lambda c: c.typing() == [])
    await bob.set_typing(True)
    await alice.wait_for(lambda c: c.typing() == ["Bob"])
    await alice.wait_for(lambda c: c.typing() == [], timeout=2)  # expired by itself
    await bob.join("side", create=True)
    await alice.join("side")
    await bob.set_typing(True)
    await alice.wait_for(lambda c: c.typing("side") == ["Bob"])
    await bob.leave("side")
    await alice.wait_for(lambda c: c.typing("side") == [])
    await bob.show("lobby")
    await bob.set_typing(True)
    await alice.wait_for(lambda c: c.typing("lobby") == ["Bob"])
    await bob.close()
    await alice.wait_for(lambda c: c.typing("lobby") == [])


async def test_joining_sends_the_last_page_and_load_earlier_fetches_older_ones(
    make_app: AppFactory, chat: ChatFactory
) -> None:
    app = await make_app(limits=False)  # 25 messages at once: more than a person types
    app.page_size = 10
    alice = await chat(app, "Alice")
    for n in range(25):
        await alice.send(f"m{n}")
    await alice.wait_for(lambda c: len([x for x in c.lines() if x.seq]) == 25)
    bob = await chat(app, "Bob")
    assert texts(bob) == [f"m{n}" for n in range(15, 25)]
    assert bob.rooms["lobby"].has_more
    assert await bob.load_earlier() == 10
    assert await bob.load_earlier() == 5
    assert texts(bob) == [f"m{n}" for n in range(25)]
    assert not bob.rooms["lobby"].has_more


async def test_rooms_are_listed_created_joined_and_left_with_unread_counts(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice, bob = await chat(app, "Alice"), await chat(app, "Bob")
    created = await alice.join("python", create=True)
    assert created["room"]["joined"] and created["presence"] == [
        {"userId": "alice", "name": "Alice"}
    ]
    await bob.wait_for(lambda c: [r["id"] for r in c.room_list] == ["lobby", "python"])
    assert (await bob.join("python", create=True))["error"]["message"].endswith("join it instead")
    await bob.join("python")
    await bob.show("lobby")
    await alice.send("in python")
    await bob.wait_for(lambda c: c.unread("python") == 1)
    rooms = {r["id"]: r for r in await bob.refresh_rooms()}
    assert rooms["python"]["unread"] == 1 and rooms["python"]["members"] == 2
    await bob.show("python")
    assert bob.unread("python") == 0
    assert (await bob.leave("python")) == {"ok": True}
    await alice.wait_for(lambda c: c.online("python") == ["Alice"])
    assert "python" not in bob.rooms


async def test_reading_in_one_tab_clears_the_unread_count_of_the_other(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice = await chat(app, "Alice")
    await alice.join("news", create=True)
    phone, laptop = await chat(app, "Bob"), await chat(app, "Bob")
    await phone.join("news")
    await laptop.join("news")
    await phone.show("lobby")
    await laptop.show("lobby")
    await alice.send("headline")
    await laptop.wait_for(lambda c: c.unread("news") == 1)
    await phone.show("news")
    await laptop.wait_for(lambda c: c.unread("news") == 0)


async def test_abuse_is_refused_with_a_clear_answer_and_nothing_changes(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice = await chat(app, "Alice")
    await alice.join("private", create=True)
    bob = await chat(app, "Bob")
    sio = bob.client
    # Posting into a room he never joined: refused, nothing stored, Alice sees nothing.
    [reply] = await sio.call(
        "send-message",
        {"roomId": "private", "text": "let me in"},
        {"_id": "x-1"},
        namespace=CHAT_NAMESPACE,
    )
    assert reply == {
        "error": {"message": "join room 'private' before using it", "field": "roomId"}
    }
    [reply] = await sio.call(
        "send-message",
        {"roomId": "lobby", "text": "x" * 1001},
        {"_id": "x-2"},
        namespace=CHAT_NAMESPACE,
    )
    assert reply["error"]["field"] == "text"
    [reply] = await sio.call(
        "send-message", {"roomId": "lobby", "text": "no id"}, namespace=CHAT_NAMESPACE
    )
    assert reply["error"]["field"] == "_id"
    [reply] = await sio.call("join-room", {"roomId": "user:alice"}, namespace=CHAT_NAMESPACE)
    assert reply["error"]["field"] == "roomId"
    [reply] = await sio.call("history", {"roomId": "private"}, namespace=CHAT_NAMESPACE)
    assert "join room" in reply["error"]["message"]
    await sio.emit("typing", {"roomId": "private", "typing": True}, namespace=CHAT_NAMESPACE)
    await bob.wait_for(lambda c: any("join room 'private'" in e for e in c.errors))
    assert app.book.room("private").history == type(app.book.room("private").history)()
    assert alice.typing("private") == []
    # Bob is still served, and so is everyone else.
    await bob.send("still here")
    await alice.wait_for(lambda c: texts(c, "lobby") == ["still here"])


async def test_a_python_socketio_client_joins_the_same_chat(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice = await chat(app, "Alice")
    token = (await raw_sign_in(app, "Sio"))["token"]
    sio = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sio.on("message", received.put_nowait, namespace=CHAT_NAMESPACE)
    await sio.connect(
        app.url,
        namespaces=[CHAT_NAMESPACE],
        auth={"token": token},
        transports=["websocket"],
        wait_timeout=WIRE_TIMEOUT,
    )
    try:
        opening = await sio.call("join-room", {"roomId": "lobby"}, namespace=CHAT_NAMESPACE)
        assert {u["name"] for u in opening["presence"]} == {"Alice", "Sio"}
        # python-socketio sends a tuple of arguments as several (the reliable id last).
        ack = await sio.call(
            "send-message",
            ({"roomId": "lobby", "text": "hello from python-socketio"}, {"_id": "sio-1"}),
            namespace=CHAT_NAMESPACE,
        )
        assert ack == {"_id": "sio-1", "duplicate": False}
        await alice.wait_for(lambda c: texts(c) == ["hello from python-socketio"])
        await alice.send("hi sio")
        message = await asyncio.wait_for(received.get(), WIRE_TIMEOUT)
        while message["text"] != "hi sio":
            message = await asyncio.wait_for(received.get(), WIRE_TIMEOUT)
        assert message["name"] == "Alice"
        await sio.emit(
            "delivered", {"roomId": "lobby", "upTo": message["seq"]}, namespace=CHAT_NAMESPACE
        )
        await alice.wait_for(lambda c: c.lines()[-1].status == "delivered")
    finally:
        await sio.disconnect()
    await eventually(lambda: alice.online() == ["Alice"])


async def test_the_page_is_served_beside_the_app_on_the_same_port(app: ChatApp) -> None:
    def get(path: str) -> tuple[str, str, str]:
        with urllib.request.urlopen(app.url + path, timeout=WIRE_TIMEOUT) as response:
            return (
                response.headers["Content-Type"],
                response.headers.get("Content-Security-Policy", ""),
                response.read().decode(),
            )

    kind, policy, body = await asyncio.to_thread(get, "/")
    assert kind == "text/html; charset=utf-8" and "script-src 'self'" in policy
    assert '<script type="module" src="app.mjs">' in body
    for script in ("app.mjs", "chat.mjs", "socketio.mjs", "engine.mjs"):
        kind, _, body = await asyncio.to_thread(get, "/" + script)
        assert (kind == "text/javascript; charset=utf-8" and "import" in body) or "export" in body
    assert app.page_url == app.url + "/"


async def test_browser_url_goes_through_the_hub_proxy_when_there_is_one(app: ChatApp) -> None:
    assert browser_url(app, prefix="") == app.page_url
    assert browser_url(app, prefix="/user/ann/") == f"/user/ann/proxy/{app.server.port}/"


async def test_a_client_whose_token_expires_is_closed_and_signs_in_again_by_itself(
    chat: ChatFactory,
) -> None:
    app = ChatApp(
        Server(static={"/": PAGE_DIR}, close_timeout=0.5),
        tokens=ChatTokens(lifetime=1.0, leeway=0.0),
    )
    await app.start()
    try:
        alice = await chat(app, "Alice")
        first = alice.token
        reasons: list[str] = []
        alice.client.on("disconnect", reasons.append, namespace=CHAT_NAMESPACE)
        await alice.wait_for(lambda c: reasons and c.client.connected, timeout=10)
        assert alice.token != first  # a fresh token, fetched by the auth callable
        assert "your token expired" in " ".join(alice.errors)
        await alice.send("after the refresh")
        await alice.wait_for(lambda c: c.lines()[-1].status != "queued")
    finally:
        await app.stop()


async def test_a_new_tab_knows_the_rooms_joined_before_with_their_unread_counts(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice, bob = await chat(app, "Alice"), await chat(app, "Bob")
    await alice.join("side", create=True)
    await bob.join("side")
    await alice.close()
    await bob.send("while Alice had no tab open")
    await eventually(lambda: app.book.unread("alice", "side") == 1)
    again = await chat(app, "Alice")
    await again.wait_for(lambda c: c.unread("side") == 1)
    assert again.current == "lobby" and not again.rooms["side"].opened
    await again.show("side")
    assert texts(again, "side") == ["while Alice had no tab open"]
    assert again.unread("side") == 0


async def test_a_flood_is_refused_with_retry_after_and_sustained_abuse_is_disconnected(
    app: ChatApp, chat: ChatFactory
) -> None:
    alice, flooder = await chat(app, "Alice"), await chat(app, "Flood")
    kicked: list[str] = []
    flooder.client.on("disconnect", kicked.append, namespace=CHAT_NAMESPACE)
    replies: list[Any] = []
    for n in range(60):
        if not flooder.client.connected:
            break
        payload = {"roomId": "lobby", "text": f"spam {n}"}
        try:
            [reply] = await flooder.client.call(
                "send-message", payload, {"_id": f"f-{n}"}, namespace=CHAT_NAMESPACE, timeout=1
            )
        except Exception:  # the kick ends the last call
            break
        replies.append(reply)
    refused = [r["error"] for r in replies if "error" in r]
    assert refused and all(e["rule"] == "rate limit" and e["retryAfter"] > 0 for e in refused)
    assert len(replies) - len(refused) < 60  # not everything went through
    await flooder.wait_for(lambda c: kicked == ["io server disconnect"], timeout=5)
    assert "disconnected: too many events over the rate limit" in flooder.errors
    stored = len(app.book.room("lobby").history)
    # Alice, a bystander, is served as before.
    await alice.send("still fine here")
    await alice.wait_for(lambda c: c.lines()[-1].status != "queued")
    assert len(app.book.room("lobby").history) == stored + 1
