"""wslearn.client against a raw WebSocket server that plays the Socket.IO server's part.

Each test scripts the server frame by frame (``0{...}``, ``40{"sid":"x"}``, ``2``,
``41``...), so what the client puts on the wire is checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from support import recorder, until
from websockets.asyncio.server import ServerConnection, serve

import wslearn
from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.exceptions import (
    AckTimeoutError,
    ConnectFailedError,
    ConnectRefusedError,
    NotConnectedError,
    QueueFullError,
    UsageError,
)

FAST = Backoff(initial=0.05, maximum=0.2, jitter=0)
WAIT = 3.0  # upper bound for anything the test waits for; never reached when it passes


def open_packet(interval: int = 25_000, timeout: int = 20_000, max_payload: int = 10**6) -> str:
    body = {
        "sid": "eio",
        "upgrades": [],
        "pingInterval": interval,
        "pingTimeout": timeout,
        "maxPayload": max_payload,
    }
    return "0" + json.dumps(body)


class Peer:
    """The server's end of one connection, driven by the test."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.path = ws.request.path if ws.request else ""

    async def send(self, *frames: str | bytes) -> None:
        for frame in frames:
            await self.ws.send(frame)

    async def recv(self) -> str | bytes:
        return await asyncio.wait_for(self.ws.recv(), WAIT)

    async def handshake(
        self, sid: str = "x", interval: int = 25_000, ping_timeout: int = 20_000
    ) -> str:
        """Send OPEN, read the CONNECT, accept it; return the CONNECT frame."""
        await self.send(open_packet(interval, ping_timeout))
        connect = await self.recv()
        assert isinstance(connect, str) and connect.startswith("40")
        await self.send("40" + json.dumps({"sid": sid}, separators=(",", ":")))
        return connect


class FakeServer:
    """A raw websockets server; each connection is handed to the test as a Peer."""

    def __init__(self) -> None:
        self.peers: asyncio.Queue[Peer] = asyncio.Queue()
        self.port = 0
        self._server: Any = None

    async def _handler(self, ws: ServerConnection) -> None:
        await self.peers.put(Peer(ws))
        await ws.wait_closed()

    async def start(self, port: int = 0) -> None:
        self._server = await serve(self._handler, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def next_peer(self) -> Peer:
        return await asyncio.wait_for(self.peers.get(), WAIT)

    async def accept(self, **kwargs: Any) -> Peer:
        peer = await self.next_peer()
        await peer.handshake(**kwargs)
        return peer


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    srv = FakeServer()
    await srv.start()
    yield srv
    await srv.stop()


async def connected(server: FakeServer, client: Client, **kwargs: Any) -> Peer:
    """Run client.connect() while the server accepts it; return the server's end."""
    peer_task = asyncio.ensure_future(server.accept(**kwargs))
    await client.connect()
    return await peer_task


async def state_reached(client: Client, state: ClientState) -> None:
    reached = asyncio.Event()

    def watch(new: ClientState) -> None:
        if new is state:
            reached.set()

    client.add_state_listener(watch)
    try:
        if client.state is not state:
            await asyncio.wait_for(reached.wait(), WAIT)
    finally:
        client.remove_state_listener(watch)


PACKAGE = Path(wslearn.__file__).resolve().parent
"""The folder of the wslearn package itself (a checkout may be called wslearn too)."""


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks running wslearn code (the client's own tasks and listener tasks)."""
    found = set()
    for task in asyncio.all_tasks():
        coro: Any = task.get_coro()
        code = getattr(coro, "cr_code", None)
        if code is not None and Path(code.co_filename).resolve().is_relative_to(PACKAGE):
            found.add(task)
    return found


# -- opening ----------------------------------------------------------------------------


async def test_connect_opens_the_engineio_endpoint_and_sends_a_bare_connect(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    connect = await peer.handshake(sid="abc")
    await task
    query = parse_qs(urlsplit(peer.path).query)
    assert urlsplit(peer.path).path == "/socket.io/"
    assert query["EIO"] == ["4"] and query["transport"] == ["websocket"]
    assert connect == "40"
    assert client.state is ClientState.CONNECTED and client.connected
    assert client.sid == "abc"
    await client.disconnect()


async def test_auth_dict_travels_in_the_connect_packet(server: FakeServer) -> None:
    client = Client(server.url, auth={"token": "abc"}, reconnection=None)
    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    assert await peer.handshake() == '40{"token":"abc"}'
    await task
    await client.disconnect()


async def test_a_server_that_is_not_there_raises_connect_failed() -> None:
    probe = FakeServer()
    await probe.start()
    url = probe.url
    await probe.stop()
    client = Client(url, reconnection=None, connect_timeout=2)
    errors, _ = recorder(client, "connect_error")
    with pytest.raises(ConnectFailedError, match="could not connect"):
        await client.connect()
    assert client.state is ClientState.DISCONNECTED
    assert len(errors) == 1 and isinstance(errors[0], ConnectFailedError)


async def test_connecting_twice_is_a_usage_error(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    await connected(server, client)
    with pytest.raises(UsageError, match="disconnect"):
        await client.connect()
    await client.disconnect()


# -- heartbeat --------------------------------------------------------------------------


async def test_client_answers_every_ping_with_a_pong(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    peer = await connected(server, client)
    for _ in range(3):
        await peer.send("2")
        assert await peer.recv() == "3"
    await client.disconnect()


async def test_silence_beyond_interval_plus_timeout_closes_and_reconnects(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    attempts, back = recorder(client, "reconnect")
    await connected(server, client, interval=100, ping_timeout=100)
    await until(lost)  # nothing sent for 200 ms
    assert reasons == ["ping timeout"]
    await server.accept(sid="second")
    await until(back)
    assert attempts == [1]
    assert client.sid == "second"
    await client.disconnect()


async def test_pings_keep_a_quiet_connection_alive(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, _ = recorder(client, "disconnect")
    peer = await connected(server, client, interval=100, ping_timeout=100)
    for _ in range(4):  # 4 x 100 ms of pings: twice the silence the client tolerates
        await asyncio.sleep(0.1)
        await peer.send("2")
        assert await peer.recv() == "3"
    assert reasons == []
    assert client.connected
    await client.disconnect()


# -- closing ----------------------------------------------------------------------------


async def test_a_kick_fires_io_server_disconnect_and_does_not_reconnect(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    attempts, _ = recorder(client, "reconnect_attempt")
    peer = await connected(server, client)
    await peer.send("41")
    await until(lost)
    assert reasons == ["io server disconnect"]
    await state_reached(client, ClientState.DISCONNECTED)
    await asyncio.sleep(0.3)  # six times the first reconnection delay
    assert attempts == [] and server.peers.empty()
    with pytest.raises(NotConnectedError, match="connect"):
        await client.emit("hello")
    await client.disconnect()


async def test_a_transport_close_fires_transport_close_and_reconnects(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    attempts, tried = recorder(client, "reconnect_attempt")
    peer = await connected(server, client)
    await peer.ws.close()
    await until(lost)
    assert reasons == ["transport close"]
    assert client.state is ClientState.RECONNECTING
    await until(tried)
    await server.accept()
    await state_reached(client, ClientState.CONNECTED)
    assert attempts == [1]
    await client.disconnect()


async def test_an_engineio_close_packet_is_a_transport_close(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    peer = await connected(server, client)
    await peer.send("1")
    await until(lost)
    assert reasons == ["transport close"]
    await server.accept()
    await state_reached(client, ClientState.CONNECTED)
    await client.disconnect()


async def test_a_malformed_packet_closes_the_connection_and_reconnects(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    peer = await connected(server, client)
    with caplog.at_level(logging.WARNING, logger="wslearn.client"):
        await peer.send("42{not json")
        await until(lost)
    assert reasons == ["parse error"]
    assert "bad packet" in caplog.text
    await server.accept()
    await state_reached(client, ClientState.CONNECTED)
    await client.disconnect()


async def test_disconnect_sends_41_and_fires_io_client_disconnect(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, _ = recorder(client, "disconnect")
    peer = await connected(server, client)
    await client.disconnect()
    assert await peer.recv() == "41"
    assert reasons == ["io client disconnect"]
    assert client.state is ClientState.CLOSED and client.sid is None
    await asyncio.sleep(0.2)
    assert server.peers.empty()  # no reconnection after disconnect()


async def test_an_unexpected_error_in_the_reader_closes_its_socket(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(server.url, reconnection=None)
    peer = await connected(server, client)
    handle = client._handle

    async def broken(session: Any, item: Any) -> str | None:
        if getattr(item, "event", None) == "poison":
            raise RuntimeError("a bug in a packet handler")
        return await handle(session, item)

    monkeypatch.setattr(client, "_handle", broken)
    await peer.send('42["poison"]')
    # The old socket must not stay open behind the client's back.
    await asyncio.wait_for(peer.ws.wait_closed(), WAIT)
    await client.disconnect()


async def test_reconnection_gives_up_after_its_attempts(server: FakeServer) -> None:
    client = Client(server.url, reconnection=Backoff(initial=0.02, jitter=0, attempts=2))
    attempts, _ = recorder(client, "reconnect_attempt")
    failed, gave_up = recorder(client, "reconnect_failed")
    peer = await connected(server, client)
    await server.stop()
    await peer.ws.close()
    await until(gave_up)
    assert attempts == [1, 2] and len(failed) == 1
    assert client.state is ClientState.DISCONNECTED
    with pytest.raises(NotConnectedError):
        await client.emit("late")
    await server.start(server.port)  # the fixture stops it again


async def test_disconnect_while_connecting_makes_connect_give_up(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    await peer.send(open_packet())
    await peer.recv()  # the CONNECT; the reply comes only after disconnect()
    await client.disconnect()
    await peer.send('40{"sid":"x"}')
    with pytest.raises(NotConnectedError, match="while connecting"):
        await task
    assert client.state is ClientState.CLOSED
    assert client_tasks() == set()


async def test_a_kicked_client_that_calls_disconnect_is_closed(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    peer = await connected(server, client)
    await peer.send("41")
    await state_reached(client, ClientState.DISCONNECTED)
    await client.disconnect()
    assert client.state is ClientState.CLOSED


# -- refusal ----------------------------------------------------------------------------


async def test_a_refused_connect_raises_fires_connect_error_and_does_not_reconnect(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=FAST)
    errors, _ = recorder(client, "connect_error")
    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    await peer.send(open_packet())
    assert await peer.recv() == "40"
    await peer.send('44{"message":"no","data":{"code":7}}')
    with pytest.raises(ConnectRefusedError) as info:
        await task
    assert info.value.message == "no" and info.value.data == {"code": 7}
    assert len(errors) == 1 and errors[0].message == "no"
    assert client.state is ClientState.DISCONNECTED
    await asyncio.sleep(0.3)
    assert server.peers.empty()


async def test_a_refusal_during_reconnection_stops_reconnecting(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    errors, refused = recorder(client, "connect_error")
    peer = await connected(server, client)
    await peer.ws.close()
    second = await server.next_peer()
    await second.send(open_packet())
    await second.recv()
    await second.send('44{"message":"token expired"}')
    await until(refused)
    await state_reached(client, ClientState.DISCONNECTED)
    assert errors[0].message == "token expired"
    await asyncio.sleep(0.3)
    assert server.peers.empty()
    await client.disconnect()


async def test_the_auth_callable_is_called_at_every_attempt(server: FakeServer) -> None:
    calls = 0

    async def fresh_token() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"token": f"t{calls}"}

    client = Client(server.url, auth=fresh_token, reconnection=FAST)
    task = asyncio.ensure_future(client.connect())
    first = await server.next_peer()
    assert await first.handshake() == '40{"token":"t1"}'
    await task
    await first.ws.close()
    second = await server.next_peer()
    assert await second.handshake() == '40{"token":"t2"}'
    await state_reached(client, ClientState.CONNECTED)
    assert calls == 2
    await client.disconnect()


# -- events and acks --------------------------------------------------------------------


async def test_events_from_the_server_reach_listeners_with_their_arguments(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    got, flag = recorder(client, "receive-message")
    peer = await connected(server, client)
    await peer.send('42["receive-message",{"text":"hi"},2]')
    await until(flag)
    assert got == [({"text": "hi"}, 2)]
    await client.disconnect()


async def test_binary_attachments_from_the_server_are_put_back_in_place(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    got, flag = recorder(client, "file")
    peer = await connected(server, client)
    await peer.send(
        '452-["file",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]',
        b"\x00\x01",
        b"\xff",
    )
    await until(flag)
    assert got == [{"a": b"\x00\x01", "b": [b"\xff"]}]
    await client.disconnect()


async def test_emit_with_bytes_sends_a_binary_event_and_its_attachments(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    peer = await connected(server, client)
    await client.emit("upload", {"name": "a", "data": b"\x01\x02"})
    assert await peer.recv() == '451-["upload",{"name":"a","data":{"_placeholder":true,"num":0}}]'
    assert await peer.recv() == b"\x01\x02"
    await client.disconnect()


async def test_events_sent_before_the_connect_reply_arrive_after_connect(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    order: list[str] = []
    third = asyncio.Event()
    client.on("connect", lambda: order.append("connect"))

    @client.on("welcome")
    def welcome(n: int) -> None:
        order.append(f"welcome {n}")
        if n == 3:
            third.set()

    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    await peer.send(open_packet())
    await peer.recv()
    await peer.send('42["welcome",1]', '42["welcome",2]', '40{"sid":"x"}', '42["welcome",3]')
    await task
    await until(third)
    assert order == ["connect", "welcome 1", "welcome 2", "welcome 3"]
    await client.disconnect()


async def test_call_returns_the_arguments_of_the_ack(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    peer = await connected(server, client)
    call = asyncio.ensure_future(client.call("join-room", "r1"))
    frame = await peer.recv()
    assert isinstance(frame, str) and frame.endswith('["join-room","r1"]')
    ack_id = frame[2 : frame.index("[")]
    await peer.send(f'43{ack_id}["ok",{{"members":2}}]')
    assert await call == ["ok", {"members": 2}]
    await client.disconnect()


async def test_acks_for_unknown_or_repeated_ids_are_ignored(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    peer = await connected(server, client)
    call = asyncio.ensure_future(client.call("q"))
    frame = await peer.recv()
    assert isinstance(frame, str)
    ack_id = int(frame[2 : frame.index("[")])
    await peer.send(f'43{ack_id + 100}["stranger"]', "43/other,0[]", f'43{ack_id}["mine"]')
    await peer.send(f'43{ack_id}["again"]', "2")
    assert await call == ["mine"]
    assert await peer.recv() == "3"  # the connection survived the stray acks
    assert client.connected
    await client.disconnect()


async def test_call_without_an_ack_times_out(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    await connected(server, client)
    with pytest.raises(AckTimeoutError, match=r"'q' within 0\.1 s"):
        await client.call("q", timeout=0.1)
    await client.disconnect()


@pytest.mark.parametrize(
    ("returned", "ack"),
    [(3, "[3]"), (None, "[]"), (("a", 1), '["a",1]'), ([1, 2], "[[1,2]]")],
)
async def test_a_listener_return_value_answers_the_servers_ack_request(
    server: FakeServer, returned: Any, ack: str
) -> None:
    client = Client(server.url, reconnection=None)
    client.on("ask", lambda *args: returned)
    peer = await connected(server, client)
    await peer.send('427["ask",1,2]')
    assert await peer.recv() == f"437{ack}"
    await client.disconnect()


async def test_an_async_listener_answers_the_ack_once_it_finishes(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)

    @client.on("add")
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0.01)
        return a + b

    peer = await connected(server, client)
    await peer.send('4212["add",1,2]')
    assert await peer.recv() == "4312[3]"
    await client.disconnect()


async def test_a_failing_listener_is_logged_and_the_loop_keeps_receiving(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(server.url, reconnection=None)

    @client.on("boom")
    def boom() -> None:
        raise RuntimeError("listener bug")

    got, flag = recorder(client, "after")
    peer = await connected(server, client)
    with caplog.at_level(logging.ERROR, logger="wslearn.client"):
        await peer.send('42["boom"]', '42["after",1]')
        await until(flag)
    assert got == [1]
    assert "listener bug" in caplog.text
    assert client.connected
    await client.disconnect()


async def test_catch_all_listeners_see_every_event_and_off_removes_listeners(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    seen: list[tuple[Any, ...]] = []
    client.on_any(lambda event, *args: seen.append((event, *args)))
    removed: list[Any] = []
    client.on("a", removed.append)
    client.off("a")
    done, flag = recorder(client, "b")
    peer = await connected(server, client)
    await peer.send('42["a",1]', '42["b",2]')
    await until(flag)
    assert seen == [("a", 1), ("b", 2)]
    assert removed == [] and done == [2]
    await client.disconnect()


async def test_a_listener_can_reply_with_an_emit_and_disconnect_from_inside(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=FAST)
    finished = asyncio.Event()

    @client.on("bye")
    async def bye(text: str) -> None:
        await client.emit("echo", text)
        await client.disconnect()
        finished.set()

    peer = await connected(server, client)
    await peer.send('42["bye","see you"]')
    assert await peer.recv() == '42["echo","see you"]'
    assert await peer.recv() == "41"
    await until(finished)
    assert client.state is ClientState.CLOSED
    await asyncio.sleep(0)  # the listener's task returns right after setting the flag
    assert client_tasks() == set()


async def test_a_pending_call_fails_at_once_when_the_server_kicks(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    peer = await connected(server, client)
    call = asyncio.ensure_future(client.call("q", timeout=WAIT))
    await peer.recv()
    await peer.send("41")
    with pytest.raises(NotConnectedError, match="no ack will come"):
        await call
    await client.disconnect()


async def test_auth_that_is_not_a_dict_is_a_type_error(server: FakeServer) -> None:
    client = Client(server.url, auth=lambda: "token", reconnection=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="auth must be a dict"):
        await client.connect()
    assert client.state is ClientState.DISCONNECTED


# -- buffering --------------------------------------------------------------------------


async def test_emits_during_an_outage_are_buffered_and_flushed_in_order(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=Backoff(initial=0.2, jitter=0))
    peer = await connected(server, client)
    await peer.ws.close()
    await state_reached(client, ClientState.RECONNECTING)
    for n in range(5):
        await client.emit("n", n)
    await client.emit("blob", b"\x07")
    assert client.buffered == 6
    second = await server.accept()
    frames = [await second.recv() for _ in range(7)]
    assert frames == [
        *(f'42["n",{n}]' for n in range(5)),
        '451-["blob",{"_placeholder":true,"num":0}]',
        b"\x07",
    ]
    assert client.buffered == 0
    await client.emit("live", 1)
    assert await second.recv() == '42["live",1]'
    await client.disconnect()


async def test_a_call_during_an_outage_is_sent_on_reconnect_and_gets_its_ack(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=Backoff(initial=0.1, jitter=0))
    peer = await connected(server, client)
    await peer.ws.close()
    await state_reached(client, ClientState.RECONNECTING)
    call = asyncio.ensure_future(client.call("late", 1, timeout=WAIT))
    second = await server.accept()
    frame = await second.recv()
    assert isinstance(frame, str) and frame.endswith('["late",1]')
    await second.send(f'43{frame[2 : frame.index("[")]}["done"]')
    assert await call == ["done"]
    await client.disconnect()


async def test_a_full_buffer_raises_queue_full(server: FakeServer) -> None:
    client = Client(server.url, reconnection=Backoff(initial=5), max_buffered=2)
    peer = await connected(server, client)
    await peer.ws.close()
    await state_reached(client, ClientState.RECONNECTING)
    await client.emit("a")
    await client.emit("b")
    with pytest.raises(QueueFullError, match="full"):
        await client.emit("c")
    assert client.buffered == 2
    await client.disconnect()


async def test_emit_before_connect_and_after_disconnect_says_what_to_do(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    with pytest.raises(NotConnectedError, match=r"never connected.*connect\(\)"):
        await client.emit("early")
    await connected(server, client)
    await client.disconnect()
    with pytest.raises(NotConnectedError, match=r"disconnect\(\).*connect\(\)"):
        await client.emit("late")


async def test_a_message_over_the_servers_max_payload_is_refused_before_sending(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=None)
    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    await peer.send(open_packet(max_payload=40))
    await peer.recv()
    await peer.send('40{"sid":"x"}')
    await task
    with pytest.raises(ValueError, match="maxPayload"):
        await client.emit("big", "x" * 40)
    await client.emit("small", "ok")
    assert await peer.recv() == '42["small","ok"]'
    await client.disconnect()


async def test_reserved_event_names_cannot_be_emitted(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    await connected(server, client)
    with pytest.raises(ValueError, match="reserved"):
        await client.emit("disconnect")
    await client.disconnect()


# -- namespaces -------------------------------------------------------------------------


async def test_namespaces_connect_on_one_socket_and_a_kick_leaves_the_others(
    server: FakeServer,
) -> None:
    client = Client(server.url, namespaces=("/", "/chat"), auth={"k": 1}, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect", namespace="/chat")
    task = asyncio.ensure_future(client.connect())
    peer = await server.next_peer()
    await peer.send(open_packet())
    assert [await peer.recv(), await peer.recv()] == ['40{"k":1}', '40/chat,{"k":1}']
    await peer.send('40/chat,{"sid":"c"}', '40{"sid":"m"}')
    await task
    assert client.get_sid("/chat") == "c" and client.sid == "m"
    await client.emit("typing", True, namespace="/chat")
    assert await peer.recv() == '42/chat,["typing",true]'
    await peer.send("41/chat,")
    await until(lost)
    assert reasons == ["io server disconnect"]
    assert client.connected
    with pytest.raises(NotConnectedError, match="/chat"):
        await client.emit("typing", namespace="/chat")
    await client.emit("still", namespace="/")
    assert await peer.recv() == '42["still"]'
    with pytest.raises(UsageError, match="namespaces="):
        client.on("x", print, namespace="/nope")
    await client.disconnect()


# -- observing --------------------------------------------------------------------------


async def test_the_frame_listener_sees_every_frame_both_ways(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    log: list[tuple[str, str | bytes]] = []
    client.add_frame_listener(lambda direction, frame, at: log.append((direction, frame)))
    peer = await connected(server, client)
    await peer.send("2")
    assert await peer.recv() == "3"
    await client.emit("up", b"\x01")
    await peer.recv()
    await peer.recv()
    assert log == [
        ("received", open_packet()),
        ("sent", "40"),
        ("received", '40{"sid":"x"}'),
        ("received", "2"),
        ("sent", "3"),
        ("sent", '451-["up",{"_placeholder":true,"num":0}]'),
        ("sent", b"\x01"),
    ]
    client.remove_frame_listener(log.append)  # not registered: no error
    await client.disconnect()


async def test_state_listeners_follow_a_connection_through_an_outage(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    states: list[ClientState] = []
    client.add_state_listener(states.append)
    peer = await connected(server, client)
    await peer.ws.close()
    await server.accept()
    await state_reached(client, ClientState.CONNECTED)
    await client.disconnect()
    assert states == [
        ClientState.CONNECTING,
        ClientState.CONNECTED,
        ClientState.RECONNECTING,
        ClientState.CONNECTED,
        ClientState.CLOSED,
    ]


@pytest.mark.parametrize("phase", ["connected", "reconnecting", "kicked"])
async def test_no_task_of_the_client_remains_after_disconnect(
    server: FakeServer, phase: str
) -> None:
    client = Client(server.url, reconnection=Backoff(initial=0.2, jitter=0))

    @client.on("slow")
    async def slow() -> None:
        await asyncio.sleep(60)

    peer = await connected(server, client)
    await peer.send('42["slow"]', "2")
    await peer.recv()  # the pong: the listener task has started
    if phase == "reconnecting":
        await peer.ws.close()
        await state_reached(client, ClientState.RECONNECTING)
    elif phase == "kicked":
        await peer.send("41")
        await state_reached(client, ClientState.DISCONNECTED)
    assert client_tasks()
    await client.disconnect()
    assert client_tasks() == set()


async def test_async_with_connects_and_disconnects(server: FakeServer) -> None:
    client = Client(server.url, reconnection=None)
    accept = asyncio.ensure_future(server.accept())
    async with client:
        await accept
        assert client.connected
    assert client.state is ClientState.CLOSED


def test_a_url_with_a_path_is_refused_with_advice() -> None:
    with pytest.raises(ValueError, match="namespaces="):
        Client("http://127.0.0.1:1/chat")


# -- emit_now ---------------------------------------------------------------------------


async def test_emit_now_sends_with_an_ack_id_and_calls_back_with_the_ack(
    server: FakeServer,
) -> None:
    client = Client(server.url, reconnection=FAST)
    peer = await connected(server, client)
    acks: list[Any] = []
    acked = asyncio.Event()

    def on_ack(*args: Any) -> None:
        acks.append(args)
        acked.set()

    assert await client.emit_now("note", 1, callback=on_ack)
    frame = await peer.recv()
    assert frame == '420["note",1]'
    await peer.send('430["ok",2]')
    await until(acked)
    assert acks == [("ok", 2)]
    assert await client.emit_now("plain")  # no callback: no ack asked
    assert await peer.recv() == '42["plain"]'
    await client.disconnect()


async def test_an_ack_id_from_a_lost_connection_never_calls_back(server: FakeServer) -> None:
    client = Client(server.url, reconnection=FAST)
    peer = await connected(server, client)
    acks: list[Any] = []
    assert await client.emit_now("note", callback=acks.append)
    assert await peer.recv() == '420["note"]'
    await peer.ws.close()
    await state_reached(client, ClientState.RECONNECTING)
    assert not await client.emit_now("note", callback=acks.append)  # nothing kept
    assert client.buffered == 0
    second = await server.accept()
    await state_reached(client, ClientState.CONNECTED)
    _, marked = recorder(client, "marker")
    # The old connection's ack id arrives on the new one, then an event behind it.
    await second.send('430["late"]', '42["marker"]')
    await until(marked)
    assert acks == []
    await client.disconnect()
