"""Tests for wslearn.server: the Socket.IO event layer, driven over real sockets.

Raw WebSocket clients send exact frames (``40``, ``4212[...]``) to pin the wire
format; python-socketio clients check the same features from a real peer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from typing import Any

import pytest
from support import RawFactory, ServerFactory, SioFactory, eventually

from wslearn.client import Client
from wslearn.exceptions import AckTimeoutError, ConnectRefusedError, NotConnectedError, UsageError
from wslearn.namespace import Socket
from wslearn.packets import JSON_PARSER, Frame, Packet, PacketDecoder
from wslearn.server import Server

# -- opening and connecting -----------------------------------------------------------


async def test_the_open_packet_carries_the_session_and_the_settings(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(ping_interval=2.5, ping_timeout=1.5, max_payload=5000)
    client = await raw_client(server)
    assert set(client.open_packet) == {
        "sid",
        "upgrades",
        "pingInterval",
        "pingTimeout",
        "maxPayload",
    }
    assert client.open_packet["upgrades"] == []
    assert client.open_packet["pingInterval"] == 2500
    assert client.open_packet["pingTimeout"] == 1500
    assert client.open_packet["maxPayload"] == 5000


@pytest.mark.parametrize("auth", ["", "{}", '{"token":"abc"}'])
async def test_connect_is_answered_with_a_sid_and_the_auth_reaches_the_socket(
    server: Server, raw_client: RawFactory, auth: str
) -> None:
    seen: list[dict[str, Any]] = []
    server.on("connect")(lambda socket: seen.append(socket.handshake.auth))
    client = await raw_client(server)
    sid = await client.connect(auth=auth)
    assert sid in server.of("/").sockets
    await eventually(lambda: bool(seen))
    assert seen == [json.loads(auth) if auth else {}]


async def test_the_handshake_records_headers_query_and_address(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server, additional_headers={"X-Course": "wslearn"})
    sid = await client.connect()
    handshake = server.of("/").sockets[sid].handshake
    assert handshake.headers["X-Course"] == "wslearn"
    assert handshake.query == {"EIO": "4", "transport": "websocket"}
    assert handshake.address == "127.0.0.1"


async def test_connecting_to_a_registered_namespace_uses_its_prefix(
    server: Server, raw_client: RawFactory
) -> None:
    server.of("/chat")
    client = await raw_client(server)
    sid = await client.connect("/chat", '{"token":"abc"}')
    assert sid in server.of("/chat").sockets
    assert sid not in server.of("/").sockets


async def test_an_unregistered_namespace_gets_invalid_namespace(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    await client.send("40/nope,")
    assert await client.recv() == '44/nope,{"message":"Invalid namespace"}'
    await client.connect()  # the connection itself is still usable


async def test_middleware_refusal_sends_connect_error_and_no_socket_is_created(
    server: Server, raw_client: RawFactory
) -> None:
    @server.use
    async def check_token(socket: Socket, auth: dict[str, Any]) -> None:
        if auth.get("token") != "good":
            raise ConnectRefusedError("Not authorized", {"reason": "bad token"})

    refused = await raw_client(server)
    await refused.send('40{"token":"bad"}')
    reply = await refused.recv()
    assert reply == '44{"message":"Not authorized","data":{"reason":"bad token"}}'
    assert server.of("/").sockets == {}
    accepted = await raw_client(server)
    await accepted.connect(auth='{"token":"good"}')
    await server.emit("news", 1)
    assert await accepted.recv_event() == ["news", 1]
    with pytest.raises(TimeoutError):
        await refused.recv(within=0.2)


async def test_joining_a_room_from_middleware_says_to_use_the_connect_handler(
    server: Server, raw_client: RawFactory
) -> None:
    problems: list[str] = []

    @server.use
    def join_too_early(socket: Socket, auth: dict[str, Any]) -> None:
        try:
            socket.join("early")
        except UsageError as exc:
            problems.append(str(exc))

    @server.on("connect")
    def join_on_connect(socket: Socket) -> None:
        socket.join("on-time")

    client = await raw_client(server)
    sid = await client.connect()
    assert len(problems) == 1 and "join rooms in the 'connect' handler" in problems[0]
    assert server.registry.rooms_of("/", sid) == {sid, "on-time"}


async def test_handlers_register_as_a_decorator_or_as_a_plain_call(
    server: Server, raw_client: RawFactory
) -> None:
    def ping(socket: Socket) -> str:
        return "pong"

    assert server.on("ping", ping) is ping
    server.of("/").on("echo", lambda socket, value: value)
    client = await raw_client(server)
    await client.connect()
    await client.send('421["ping"]')
    assert await client.recv() == '431["pong"]'
    await client.send('422["echo",7]')
    assert await client.recv() == "432[7]"


async def test_a_refusal_for_a_connect_the_client_already_left_is_not_sent(
    server: Server, raw_client: RawFactory
) -> None:
    # 40, 41, 40 while the first middleware run is still deciding: its late refusal
    # used to reach the client after the second CONNECT succeeded, as if refusing it.
    gate = asyncio.Event()
    first: list[asyncio.Task[Any]] = []

    async def slow_then_refuse(socket: Socket, auth: dict[str, Any]) -> None:
        if not first:
            task = asyncio.current_task()
            assert task is not None
            first.append(task)
            await gate.wait()
            raise ConnectRefusedError("too late")

    chat = server.of("/chat")
    chat.use(slow_then_refuse)
    chat.on("echo")(lambda socket, value: value)
    client = await raw_client(server)
    await client.send("40/chat,", "41/chat,")
    await eventually(lambda: bool(first))
    await client.connect("/chat")
    gate.set()
    await eventually(first[0].done)
    await client.send('42/chat,1["echo","x"]')
    assert await client.recv() == '43/chat,1["x"]'
    assert len(chat.sockets) == 1


async def test_middleware_that_crashes_refuses_without_leaking_the_error(
    server: Server, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    @server.use
    def broken(socket: Socket, auth: dict[str, Any]) -> None:
        raise KeyError("secret detail")

    client = await raw_client(server)
    await client.send("40")
    assert await client.recv() == '44{"message":"server error"}'
    assert "middleware of / raised" in caplog.text


# -- events and acks ------------------------------------------------------------------


async def test_a_handler_receives_the_socket_then_the_event_arguments(
    server: Server, raw_client: RawFactory
) -> None:
    calls: list[tuple[str, Any, Any]] = []

    @server.on("send-message")
    async def send_message(socket: Socket, data: Any, extra: Any) -> None:
        calls.append((socket.id, data, extra))

    client = await raw_client(server)
    sid = await client.connect()
    await client.send('42["send-message",{"roomId":"r1","message":"hi"},7]')
    await eventually(lambda: bool(calls))
    assert calls == [(sid, {"roomId": "r1", "message": "hi"}, 7)]


@pytest.mark.parametrize(
    ("returned", "ack"),
    [(None, "[]"), ("ok", '["ok"]'), (("a", 2), '["a",2]'), ([1, 2], "[[1,2]]")],
)
async def test_the_return_value_becomes_the_ack_echoing_the_client_id(
    server: Server, raw_client: RawFactory, returned: Any, ack: str
) -> None:
    server.on("join-room")(lambda socket, room: returned)
    client = await raw_client(server)
    await client.connect()
    await client.send('4212["join-room","r1"]')
    assert await client.recv() == f"4312{ack}"


async def test_acks_on_a_namespace_carry_the_namespace(
    server: Server, raw_client: RawFactory
) -> None:
    @server.of("/chat").on("typing")
    async def typing(socket: Socket, flag: bool) -> bool:
        return not flag

    client = await raw_client(server)
    await client.connect("/chat")
    await client.send('42/chat,0["typing",true]')
    assert await client.recv() == "43/chat,0[false]"


async def test_socket_call_waits_for_the_clients_ack(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    sid = await client.connect()
    call = asyncio.create_task(server.of("/").sockets[sid].call("ask", 21))
    assert await client.recv() == '420["ask",21]'
    await client.send('430[42,"b"]')
    assert await call == [42, "b"]


async def test_acks_never_issued_or_repeated_are_ignored_and_the_timeout_still_fires(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    sid = await client.connect()
    socket = server.of("/").sockets[sid]
    first = asyncio.create_task(socket.call("ask"))
    assert await client.recv() == '420["ask"]'
    await client.send("430[1]", "430[2]", "4399[3]")  # duplicate, and never issued
    assert await first == [1]
    waiting = asyncio.create_task(socket.call("ask-again", timeout=0.2))
    assert await client.recv() == '421["ask-again"]'
    await client.send("430[4]", "4377[5]")
    with pytest.raises(AckTimeoutError, match="ask-again"):
        await waiting
    assert socket.connected


async def test_a_pending_call_fails_when_the_socket_disconnects(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    sid = await client.connect()
    call = asyncio.create_task(server.of("/").sockets[sid].call("ask"))
    await client.recv()
    await client.send("41")
    with pytest.raises(NotConnectedError):
        await call


async def test_the_catch_all_handler_gets_events_without_a_handler(
    server: Server, raw_client: RawFactory
) -> None:
    server.on("known")(lambda socket: "known")

    @server.on("*")
    async def anything(socket: Socket, event: str, *args: Any) -> list[Any]:
        return [event, *args]

    client = await raw_client(server)
    await client.connect()
    await client.send('421["known"]', '422["other",1,2]')
    assert {await client.recv(), await client.recv()} == {'431["known"]', '432[["other",1,2]]'}


async def test_an_unknown_event_gets_an_error_event_naming_it(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    await client.connect()
    await client.send('42["nope",1]')
    assert await client.recv_event() == [
        "error",
        {"message": "unknown event 'nope'", "event": "nope"},
    ]


async def test_a_handler_that_raises_sends_an_error_event_and_keeps_the_connection(
    server: Server, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    @server.on("boom")
    def boom(socket: Socket) -> None:
        raise RuntimeError("internal detail")

    server.on("ping-me")(lambda socket: "pong")
    client = await raw_client(server)
    await client.connect()
    with caplog.at_level(logging.ERROR, logger="wslearn.server"):
        await client.send('42["boom"]')
        name, error = await client.recv_event()
    assert name == "error"
    assert error == {"message": "the 'boom' handler failed (RuntimeError)", "event": "boom"}
    assert "internal detail" not in json.dumps(error)
    assert "internal detail" in caplog.text  # the traceback is in the log only
    await client.send('425["ping-me"]')
    assert await client.recv() == '435["pong"]'


async def test_events_sent_during_a_slow_connect_handler_wait_for_it(
    server: Server, raw_client: RawFactory
) -> None:
    @server.on("connect")
    async def connect(socket: Socket) -> None:
        await asyncio.sleep(0.1)
        socket.data["name"] = "ada"

    server.on("whoami")(lambda socket: socket.data["name"])
    client = await raw_client(server)
    await client.send("40", '421["whoami"]')
    assert (await client.recv()).startswith("40{")  # type: ignore[union-attr]
    assert await client.recv() == '431["ada"]'


async def test_binary_attachments_travel_both_ways(server: Server, raw_client: RawFactory) -> None:
    @server.on("file")
    async def file(socket: Socket, meta: dict[str, Any]) -> dict[str, Any]:
        return {"size": len(meta["blob"]), "echo": meta["blob"], "list": [b"x", 1]}

    client = await raw_client(server)
    await client.connect()
    await client.send('451-3["file",{"blob":{"_placeholder":true,"num":0}}]', b"\x00\x01\x02")
    header = await client.recv()
    assert header == (
        '462-3[{"size":3,"echo":{"_placeholder":true,"num":0},'
        '"list":[{"_placeholder":true,"num":1},1]}]'
    )
    assert await client.recv() == b"\x00\x01\x02"
    assert await client.recv() == b"x"


# -- rooms and broadcast --------------------------------------------------------------


async def test_socket_to_room_reaches_the_room_but_not_the_sender(
    server: Server, raw_client: RawFactory
) -> None:
    @server.on("join-room")
    async def join_room(socket: Socket, room: str) -> None:
        socket.join(room)
        await socket.to(room).emit("user-joined", socket.id)

    a, b, outsider = [await raw_client(server) for _ in range(3)]
    for client in (a, b, outsider):
        await client.connect()
    await a.send('420["join-room","r1"]')
    assert await a.recv() == "430[]"
    await b.send('420["join-room","r1"]')
    assert await b.recv() == "430[]"
    assert await a.recv_event() == ["user-joined", b.sid]
    await server.emit("everyone", 1)
    for client in (a, b, outsider):
        assert await client.recv_event() == ["everyone", 1]  # and nothing before it


async def test_broadcast_operators_combine_rooms_and_exclusions(
    server: Server, raw_client: RawFactory
) -> None:
    clients = [await raw_client(server) for _ in range(4)]
    sockets = [server.of("/").sockets[await c.connect()] for c in clients]
    sockets[0].join("a")
    sockets[1].join("b")
    sockets[2].join("a")
    sockets[2].join("muted")
    await server.to("a").to("b").except_("muted").emit("hello")
    await server.to(sockets[3].id).emit("direct")
    await server.except_("a").emit("not-a")
    await server.emit("end")
    received = [
        [(await c.recv_event())[0] for _ in range(expected)]
        for c, expected in zip(clients, [2, 3, 1, 3], strict=True)
    ]
    assert received == [
        ["hello", "end"],
        ["hello", "not-a", "end"],
        ["end"],
        ["direct", "not-a", "end"],
    ]


async def test_a_broadcast_is_encoded_once_for_all_members(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    calls: list[Packet] = []

    class CountingParser:
        def encode(self, packet: Packet) -> list[Frame]:
            calls.append(packet)
            return JSON_PARSER.encode(packet)

        def decoder(self) -> PacketDecoder:
            return JSON_PARSER.decoder()

    server = await make_server(parser=CountingParser())
    clients = [await raw_client(server) for _ in range(3)]
    for client in clients:
        await client.connect()
    calls.clear()
    await server.emit("news", {"n": 1})
    for client in clients:
        assert await client.recv_event() == ["news", {"n": 1}]
    assert len(calls) == 1


async def test_rooms_are_cleaned_up_when_a_socket_leaves(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    sid = await client.connect()
    server.of("/").sockets[sid].join("r1")
    assert server.of("/").rooms == {sid, "r1"}
    await client.send("41")
    await eventually(lambda: server.of("/").rooms == frozenset())
    assert server.registry.namespaces() == frozenset()


async def test_namespaces_have_separate_handlers_and_broadcasts(
    server: Server, raw_client: RawFactory
) -> None:
    chat = server.of("/chat")
    chat.on("where")(lambda socket: socket.namespace)
    server.on("where")(lambda socket: "main")
    client = await raw_client(server)
    await client.connect()
    await client.connect("/chat")
    await client.send('42/chat,1["where"]', '422["where"]')
    assert {await client.recv(), await client.recv()} == {'43/chat,1["/chat"]', '432["main"]'}
    await chat.emit("only-chat")
    assert await client.recv() == '42/chat,["only-chat"]'


# -- disconnecting --------------------------------------------------------------------


async def test_a_kick_sends_disconnect_and_runs_the_disconnect_handler(
    server: Server, raw_client: RawFactory
) -> None:
    reasons: list[str] = []
    server.on("disconnect")(lambda socket, reason: reasons.append(reason))
    client = await raw_client(server)
    sid = await client.connect()
    await server.of("/").sockets[sid].disconnect()
    assert await client.recv() == "41"
    await eventually(lambda: bool(reasons))
    assert reasons == ["server namespace disconnect"]
    await client.connect()  # the connection stays open; the client decides


async def test_a_kick_with_close_closes_the_connection_after_the_disconnect(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    sid = await client.connect()
    await server.of("/").sockets[sid].disconnect(close=True)
    assert await client.recv() == "41"
    assert await client.closed() == 1000


async def test_a_kick_with_close_tells_every_namespace_of_the_connection_first(
    server: Server, raw_client: RawFactory
) -> None:
    # Without a DISCONNECT, a namespace sees only the transport close and its client
    # reconnects it: the kick would not stick.
    reasons: list[tuple[str, str]] = []
    for name in ("/", "/chat"):
        server.of(name).on("disconnect")(
            lambda socket, reason: reasons.append((socket.namespace, reason))
        )
    client = await raw_client(server)
    sid = await client.connect()
    await client.connect("/chat")
    await server.of("/").sockets[sid].disconnect(close=True)
    assert {await client.recv(), await client.recv()} == {"41", "41/chat,"}
    assert await client.closed() == 1000
    await eventually(lambda: len(reasons) == 2)
    assert sorted(reasons) == [("/", "forced close"), ("/chat", "forced close")]
    assert server.of("/chat").sockets == {}


async def test_a_client_disconnect_leaves_only_that_namespace(
    server: Server, raw_client: RawFactory
) -> None:
    reasons: list[str] = []
    server.of("/chat").on("disconnect")(lambda socket, reason: reasons.append(reason))
    client = await raw_client(server)
    await client.connect()
    await client.connect("/chat")
    await client.send("41/chat,")
    await eventually(lambda: reasons == ["client namespace disconnect"])
    assert server.of("/chat").sockets == {}
    assert len(server.of("/").sockets) == 1


async def test_an_engine_close_packet_closes_the_connection(
    server: Server, raw_client: RawFactory
) -> None:
    reasons: list[str] = []
    server.on("disconnect")(lambda socket, reason: reasons.append(reason))
    client = await raw_client(server)
    await client.connect()
    await client.send("1")
    assert await client.closed() == 1000
    await eventually(lambda: reasons == ["transport close"])


async def test_stop_closes_with_going_away_and_no_disconnect_packet(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server()
    reasons: list[str] = []
    server.on("disconnect")(lambda socket, reason: reasons.append(reason))
    client = await raw_client(server)
    await client.connect()
    await server.stop()
    frames: list[Any] = []
    with pytest.raises(Exception, match="1001"):
        while True:
            frames.append(await client.ws.recv())
    assert "41" not in frames
    assert reasons == ["server shutting down"]
    assert not server.running


async def test_server_pings_and_a_client_that_answers_stays(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(ping_interval=0.05, ping_timeout=0.2)
    client = await raw_client(server, answer_pings=False)
    await client.connect()
    for _ in range(3):
        assert await client.recv() == "2"
        await client.send("3")
    assert len(server.of("/").sockets) == 1


async def test_the_next_ping_follows_the_pong_by_ping_interval_even_when_the_timeout_is_longer(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    # Engine.IO: the next ping is due pingInterval after the pong. A server that only
    # woke up at the pong's deadline would wait pingTimeout (3 s) instead: a dead peer
    # would then be noticed after up to 2 x pingTimeout, beyond the promised bound.
    server = await make_server(ping_interval=0.05, ping_timeout=3.0)
    client = await raw_client(server, answer_pings=False)
    await client.connect()
    assert await client.recv() == "2"
    await client.send("3")
    assert await client.recv(within=1.5) == "2"  # 0.05 s expected; 3 s with the bug


# -- API edges ------------------------------------------------------------------------


async def test_emitting_a_reserved_event_name_is_a_usage_error(
    server: Server, raw_client: RawFactory
) -> None:
    client = await raw_client(server)
    socket = server.of("/").sockets[await client.connect()]
    with pytest.raises(UsageError, match="reserved"):
        await socket.emit("disconnect")
    with pytest.raises(UsageError, match="reserved"):
        await server.emit("connect")


def test_namespace_and_handler_names_are_checked() -> None:
    server = Server()
    with pytest.raises(UsageError, match="starts with '/'"):
        server.of("chat")
    with pytest.raises(UsageError, match="reserved"):
        server.on("__proto__")
    with pytest.raises(UsageError, match="too long"):
        server.on("x" * 300)
    with pytest.raises(UsageError, match="not started"):
        _ = server.url


async def test_starting_twice_is_a_usage_error_and_context_manager_stops(
    raw_client: RawFactory,
) -> None:
    async with Server() as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        with pytest.raises(UsageError, match="already running"):
            await server.start()
    assert not server.running
    await server.stop()  # idempotent


async def test_python_socketio_client_exchanges_events_and_acks(
    server: Server, sio_client: SioFactory
) -> None:
    @server.on("join-room")
    async def join_room(socket: Socket, room: str) -> tuple[str, str]:
        socket.join(room)
        return "joined", room

    client = await sio_client(server)
    assert await client.call("join-room", "r1", timeout=5) == ("joined", "r1")
    sid = client.get_sid("/")
    assert server.of("/").sockets[sid].rooms == {sid, "r1"}


async def test_an_event_with_the_wrong_number_of_arguments_gets_an_error_event(
    server: Server, raw_client: RawFactory
) -> None:
    server.on("join-room")(lambda socket, room_id: None)
    client = await raw_client(server)
    await client.connect()
    await client.send('42["join-room"]')
    name, error = await client.recv_event()
    assert name == "error" and error["event"] == "join-room"
    assert error["message"].startswith("wrong arguments for 'join-room'")
    assert "room_id" in error["message"]


async def test_a_flood_of_events_waits_for_free_handler_slots(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(max_pending_events=2)
    release = asyncio.Event()
    running: list[int] = []
    most = 0

    @server.on("work")
    async def work(socket: Socket, n: int) -> int:
        nonlocal most
        running.append(n)
        most = max(most, len(running))
        await release.wait()
        running.remove(n)
        return n

    client = await raw_client(server)
    await client.connect()
    await client.send(*(f'42{n}["work",{n}]' for n in range(6)))
    await eventually(lambda: len(running) == 2)
    await asyncio.sleep(0.05)  # give the server the chance to start more (it must not)
    assert most == 2
    release.set()
    acks = {await client.recv() for _ in range(6)}
    assert acks == {f"43{n}[{n}]" for n in range(6)}


# -- serving until interrupted ----------------------------------------------------------


async def test_serve_forever_serves_until_sigterm_then_stops_cleanly() -> None:
    server = Server()
    server.on("echo")(lambda socket, value: value)
    ready = asyncio.Event()
    task = asyncio.create_task(server.serve_forever(ready=lambda _: ready.set()))
    await asyncio.wait_for(ready.wait(), 5)
    client = Client(server.url, reconnection=None)
    await client.connect()
    assert await client.call("echo", "hi") == ["hi"]
    os.kill(os.getpid(), signal.SIGTERM)  # handled by serve_forever, not the default
    await asyncio.wait_for(task, 5)
    assert not server.running
    await eventually(lambda: not client.connected)
    await client.disconnect()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # its handler is gone


async def test_cancelling_serve_forever_stops_the_server() -> None:
    server = Server()
    ready = asyncio.Event()
    task = asyncio.create_task(server.serve_forever(ready=lambda _: ready.set()))
    await asyncio.wait_for(ready.wait(), 5)
    assert server.running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not server.running
