"""wslearn's Client against python-socketio's AsyncServer, a real Socket.IO v5 peer.

The server runs on aiohttp in the test's own loop, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from support import assert_greeting_follows_connect, recorder, until

import wslearn
from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.exceptions import ConnectRefusedError, NotConnectedError

pytestmark = pytest.mark.interop

FAST = Backoff(initial=0.05, maximum=0.2)
WAIT = 5.0  # upper bound for anything awaited; never reached when a test passes


class SioServer:
    """A python-socketio AsyncServer on an aiohttp AppRunner, started and stopped by hand.

    Handlers record what they receive in ``self.received`` (event, sid, args) and
    ``self.connects`` (sid, auth); ``self.arrived`` is set at each record.
    """

    def __init__(self, **options: Any) -> None:
        self.sio = socketio.AsyncServer(async_mode="aiohttp", namespaces="*", **options)
        self.app = web.Application()
        self.sio.attach(self.app)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.connects: list[tuple[str, Any]] = []
        self.received: list[tuple[str, str, tuple[Any, ...]]] = []
        self.arrived = asyncio.Event()
        self.refuse: str | None = None
        self.greeting: str | None = None
        self._install()

    def _install(self) -> None:
        sio = self.sio

        @sio.on("connect", namespace="*")
        async def connect(namespace: str, sid: str, environ: Any, auth: Any) -> None:
            if self.refuse is not None:
                raise socketio.exceptions.ConnectionRefusedError(self.refuse)
            self.connects.append((sid, auth))
            self.arrived.set()
            if self.greeting is not None:
                # python-socketio sends this before its CONNECT reply reaches the client
                await sio.emit("welcome", self.greeting, to=sid, namespace=namespace)

        @sio.on("*", namespace="*")
        async def any_event(event: str, namespace: str, sid: str, *args: Any) -> Any:
            self.received.append((event, sid, args))
            self.arrived.set()
            if event == "join-room":
                await sio.enter_room(sid, args[0], namespace=namespace)
                return "joined", args[0]
            if event == "echo":
                return args
            return None

    async def start(self, port: int = 0) -> None:
        self.runner = web.AppRunner(self.app, shutdown_timeout=0.2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop like a crashed process: sockets close without a Socket.IO DISCONNECT."""
        if self.runner is None:
            return
        await self.runner.cleanup()
        self.runner = None
        await self.sio.shutdown()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_for(self, predicate: Any) -> None:
        async def poll() -> None:
            while not predicate():
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(poll(), WAIT)


@pytest.fixture
async def server() -> AsyncIterator[SioServer]:
    srv = SioServer()
    await srv.start()
    yield srv
    await srv.stop()


async def test_connect_without_auth(server: SioServer) -> None:
    async with Client(server.url, reconnection=None) as client:
        await server.wait_for(lambda: server.connects)
        assert server.connects == [(client.sid, None)]


async def _token() -> dict[str, str]:
    return {"token": "abc"}


@pytest.mark.parametrize(
    "auth", [{"token": "abc"}, lambda: {"token": "abc"}, _token], ids=["dict", "sync", "async"]
)
async def test_connect_with_auth(server: SioServer, auth: Any) -> None:
    async with Client(server.url, auth=auth, reconnection=None) as client:
        await server.wait_for(lambda: server.connects)
        assert server.connects == [(client.sid, {"token": "abc"})]


async def test_an_emit_from_the_servers_connect_handler_arrives_after_connect(
    server: SioServer,
) -> None:
    server.greeting = "hello"
    client = Client(server.url, reconnection=None)
    await assert_greeting_follows_connect(client)


async def test_a_refusal_raises_connect_refused_and_is_not_retried(server: SioServer) -> None:
    server.refuse = "Not authorized"
    client = Client(server.url, reconnection=FAST)
    errors, _ = recorder(client, "connect_error")
    with pytest.raises(ConnectRefusedError, match="Not authorized"):
        await client.connect()
    assert [e.message for e in errors] == ["Not authorized"]
    assert client.state is ClientState.DISCONNECTED
    server.refuse = None
    await asyncio.sleep(0.3)  # several reconnection delays
    assert server.connects == []


async def test_events_travel_both_ways(server: SioServer) -> None:
    async with Client(server.url, reconnection=None) as client:
        got, flag = recorder(client, "receive-message")
        await client.emit("send-message", {"roomId": "r1", "message": "hi"})
        await server.wait_for(lambda: server.received)
        assert server.received == [
            ("send-message", client.sid, ({"roomId": "r1", "message": "hi"},))
        ]
        await server.sio.emit("receive-message", ({"text": "yo"}, 2), to=client.sid)
        await until(flag)
        assert got == [({"text": "yo"}, 2)]


async def test_acks_travel_both_ways(server: SioServer) -> None:
    async with Client(server.url, reconnection=None) as client:
        assert await client.call("echo", 1, "two", timeout=WAIT) == [1, "two"]

        @client.on("add")
        async def add(a: int, b: int) -> tuple[int, str]:
            return a + b, "done"

        assert await server.sio.call("add", (2, 3), to=client.sid, timeout=WAIT) == (5, "done")


async def test_rooms_and_broadcast_reach_exactly_the_members(server: SioServer) -> None:
    clients = [Client(server.url, reconnection=None) for _ in range(3)]
    inboxes = [recorder(c, "receive-message") for c in clients]
    for client in clients:
        await client.connect()
    try:
        for client in clients[:2]:
            assert await client.call("join-room", "r1", timeout=WAIT) == ["joined", "r1"]
        await server.sio.emit("receive-message", "to r1", room="r1")
        await server.sio.emit("receive-message", "to all")
        # One connection keeps the server's order: once "to all" is in, a "to r1"
        # meant for this client would already be there too.
        for got, flag in inboxes:
            while "to all" not in got:
                await until(flag)
        assert [got for got, _ in inboxes] == [["to r1", "to all"]] * 2 + [["to all"]]
    finally:
        for client in clients:
            await client.disconnect()


async def test_namespaces_share_one_connection(server: SioServer) -> None:
    client = Client(server.url, namespaces=("/", "/chat"), reconnection=None)
    got, flag = recorder(client, "typing", namespace="/chat")
    async with client:
        assert client.get_sid("/chat") not in (None, client.sid)
        await client.emit("typing", True, namespace="/chat")
        await server.wait_for(lambda: server.received)
        assert server.received == [("typing", client.get_sid("/chat"), (True,))]
        await server.sio.emit("typing", "bob", namespace="/chat", to=client.get_sid("/chat"))
        await until(flag)
        assert got == ["bob"]


async def test_an_unknown_namespace_is_refused() -> None:
    strict = SioServer()
    strict.sio.namespaces = ["/"]  # only "/" is served
    await strict.start()
    try:
        client = Client(strict.url, namespaces=("/nope",), reconnection=None)
        with pytest.raises(ConnectRefusedError) as info:
            await client.connect()
        assert info.value.namespace == "/nope"
    finally:
        await strict.stop()


async def test_nested_bytes_travel_both_ways_as_attachments(server: SioServer) -> None:
    payload = {"name": "pic", "parts": [b"\x00\x01", {"tail": b"\xff" * 3}]}
    async with Client(server.url, reconnection=None) as client:
        got, flag = recorder(client, "file")
        assert await client.call("echo", payload, b"raw", timeout=WAIT) == [payload, b"raw"]
        assert server.received == [("echo", client.sid, (payload, b"raw"))]
        await server.sio.emit("file", {"chunks": [b"a", b"b"]}, to=client.sid)
        await until(flag)
        assert got == [{"chunks": [b"a", b"b"]}]


async def test_a_kick_disconnects_for_good(server: SioServer) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    await client.connect()
    await server.wait_for(lambda: server.connects)
    await server.sio.disconnect(client.sid)
    await until(lost)
    assert reasons == ["io server disconnect"]
    await asyncio.sleep(0.3)
    assert client.state is ClientState.DISCONNECTED
    assert len(server.connects) == 1
    with pytest.raises(NotConnectedError):
        await client.emit("hello")
    await client.disconnect()


async def test_pings_are_answered_so_the_server_keeps_the_connection() -> None:
    # python-socketio advertises int(interval + grace) seconds, so a sub-second
    # interval needs a grace period to keep the OPEN packet's pingInterval above 0.
    quick = SioServer(ping_interval=(0.1, 1), ping_timeout=0.1)
    await quick.start()
    try:
        client = Client(quick.url, reconnection=FAST)
        reasons, _ = recorder(client, "disconnect")
        async with client:
            await asyncio.sleep(0.6)  # three ping rounds and more
            assert reasons == [] and client.connected
            assert await client.call("echo", "alive", timeout=WAIT) == ["alive"]
    finally:
        await quick.stop()


async def test_after_a_restart_the_client_reconnects_and_flushes_its_buffer(
    server: SioServer,
) -> None:
    client = Client(server.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    attempts, back = recorder(client, "reconnect")
    await client.connect()
    port = server.port
    await server.stop()
    await until(lost)
    assert reasons == ["transport close"]
    assert client.state is ClientState.RECONNECTING
    for n in range(3):
        await client.emit("note", n)
    restarted = SioServer()
    await restarted.start(port)
    try:
        await until(back)
        assert attempts and attempts[0] >= 1
        await restarted.wait_for(lambda: len(restarted.received) == 3)
        assert [args for _, _, args in restarted.received] == [(0,), (1,), (2,)]
        assert client.connected and client.sid == restarted.connects[0][0]
        await client.disconnect()
        left = [t for t in asyncio.all_tasks() if _runs_wslearn(t)]
        assert left == []
    finally:
        await client.disconnect()
        await restarted.stop()


PACKAGE = Path(wslearn.__file__).resolve().parent


def _runs_wslearn(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` runs code of the wslearn package (not of a checkout's tests:
    a checkout may itself live in a folder named wslearn)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(PACKAGE)
