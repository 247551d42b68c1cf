"""HTTP long-polling and the upgrade, against the official peers with their defaults.

The guide's client line is ``io("http://localhost:3000")`` with no options: the
reference clients then open the session with long-polling and upgrade it to
WebSocket. Each peer is tried that way and with polling alone:

- Node's socket.io-client 4.x and python-socketio's AsyncClient against wslearn's
  Server;
- wslearn's Client, with polling alone and with the upgrade, against Node's socket.io
  server and python-socketio's AsyncServer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from aiohttp import web
from node_peers import WAIT, NodeClientFactory, NodeServerFactory, node_missing, until_true
from support import ServerFactory

from wslearn.backoff import Backoff
from wslearn.client import Client
from wslearn.namespace import Socket
from wslearn.server import Server

pytestmark = pytest.mark.interop

needs_node = pytest.mark.skipif(node_missing() is not None, reason=node_missing() or "")

FAST = Backoff(initial=0.05, maximum=0.2, jitter=0)
DEFAULTS = None  # the Node client's own options: polling first, then the upgrade
TRANSPORTS = pytest.mark.parametrize(
    "transports", [DEFAULTS, ["polling"]], ids=["defaults", "polling"]
)


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    # Pings every 0.5 s keep the tests short; a generous timeout keeps a loaded machine
    # from turning a slow pong into a disconnect.
    server = await make_server(ping_interval=0.5, ping_timeout=1.0)
    server.on("echo")(lambda socket, *args: args)

    @server.on("join")
    def join(socket: Socket, room: str) -> str:
        socket.join(room)
        return room

    @server.on("shout")
    async def shout(socket: Socket, room: str, text: str) -> None:
        await server.to(room).emit("heard", text)

    return server


# -- Node's socket.io-client against wslearn.Server ------------------------------------


@needs_node
@TRANSPORTS
async def test_node_client_connects_and_chats_with_its_transports(
    server: Server, node_client: NodeClientFactory, transports: list[str] | None
) -> None:
    node = await node_client(server)
    node.open("a", transports=transports)
    node.open("b", transports=transports)
    node.listen("a", "heard")
    node.listen("b", "heard")
    node.listen("a", "question")
    connected = await node.next("connect", name="a")
    await node.connected("b")
    if transports is DEFAULTS:  # it opened on polling; the upgrade may beat the CONNECT
        assert (await node.next("upgrade", name="a"))["transport"] == "websocket"
        await node.next("upgrade", name="b")
        await until_true(lambda: all(s.transport.name == "websocket" for s in server.connections))
    else:
        assert connected["transport"] == "polling"
        assert all(s.transport.name == "polling" for s in server.connections)
    assert await node.request("call", name="a", event="join", args=["r"]) == "r"
    assert await node.request("call", name="b", event="join", args=["r"]) == "r"
    node.send("emit", name="a", event="shout", args=["r", "hello"])
    assert await node.received("a", "heard") == ["hello"]
    assert await node.received("b", "heard") == ["hello"]
    # acks with nested binary, both ways
    blob = {"file": b"\x00\x01\x02", "list": [b"\xff"]}
    assert await node.request("call", name="a", event="echo", args=[blob], all=True) == [blob]
    socket = server.of("/").sockets[connected["id"]]
    assert await socket.call("question", b"\x10bytes") == [b"\x10bytes"]
    # heartbeats keep it alive on either transport (two or three pings)
    await asyncio.sleep(1.2)
    assert node.seen("disconnect", name="a") == []
    node.send("close", name="a")
    assert (await node.next("disconnect", name="a"))["reason"] == "io client disconnect"
    await until_true(lambda: len(server.of("/").sockets) == 1)


@needs_node
@TRANSPORTS
async def test_node_client_reconnects_after_a_restart_with_its_transports(
    make_server: ServerFactory, node_client: NodeClientFactory, transports: list[str] | None
) -> None:
    server = await make_server(ping_interval=0.5, ping_timeout=1.0)
    node = await node_client(server)
    node.open("a", transports=transports)
    await node.connected("a")
    port = server.port
    await server.stop()
    assert (await node.next("disconnect", name="a"))["reason"] in (
        "transport close",
        "transport error",
    )
    again = await make_server(port=port, ping_interval=0.5, ping_timeout=1.0)
    await node.next("reconnect", name="a")
    await until_true(lambda: len(again.of("/").sockets) == 1)


# -- python-socketio's AsyncClient against wslearn.Server --------------------------------


@pytest.mark.parametrize("transports", [None, ["polling"]], ids=["defaults", "polling"])
async def test_python_socketio_client_connects_and_chats_with_its_transports(
    server: Server, transports: list[str] | None
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    heard: list[Any] = []
    client.on("heard", heard.append)
    await client.connect(server.url, transports=transports, wait_timeout=WAIT)
    try:
        expected = "websocket" if transports is None else "polling"
        await until_true(lambda: client.transport() == expected)
        assert await client.call("join", "r", timeout=WAIT) == "r"
        await client.emit("shout", ("r", "hi"))
        await until_true(lambda: heard == ["hi"])
        blob = {"b": b"\x00\x01", "n": [1, b"\x02"]}
        assert await client.call("echo", blob, timeout=WAIT) == blob  # one argument
        await asyncio.sleep(1.2)  # through two or three heartbeats
        assert client.connected
        assert [s.transport.name for s in server.connections] == [expected]
    finally:
        await client.disconnect()
    await until_true(lambda: server.connections == [])


# -- wslearn's Client against the reference servers --------------------------------------


@pytest.fixture
async def aiohttp_server() -> AsyncIterator[tuple[socketio.AsyncServer, str]]:
    # python-socketio takes whole seconds here (0.3 would be announced as 0 ms).
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=1, ping_timeout=1)

    @sio.on("echo")
    async def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.on("join")
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        await sio.emit("joined", room, to=room)
        return room

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield sio, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
async def test_client_talks_to_python_socketio_over_polling_and_the_upgrade(
    aiohttp_server: tuple[socketio.AsyncServer, str], transports: list[str]
) -> None:
    _, url = aiohttp_server
    client = Client(url, transports=transports, reconnection=None)
    upgrades: list[str] = []
    client.on("upgrade", upgrades.append)
    joined: list[str] = []
    client.on("joined", joined.append)
    async with client:
        assert client.transport == "polling" or upgrades
        blob = {"b": b"\x01\x02", "t": "ü"}
        assert await client.call("echo", blob) == [blob]
        assert await client.call("join", "r") == ["r"]
        await until_true(lambda: joined == ["r"])
        await asyncio.sleep(2.5)  # heartbeats (every second) answered on either transport
        assert client.connected
        if len(transports) == 2:
            await until_true(lambda: client.transport == "websocket")
            assert upgrades == ["websocket"]
        else:
            assert client.transport == "polling" and upgrades == []


@needs_node
@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
async def test_client_talks_to_node_over_polling_and_the_upgrade(
    node_server: NodeServerFactory, transports: list[str]
) -> None:
    node = await node_server(
        transports=["polling", "websocket"], pingInterval=300, pingTimeout=300
    )
    client = Client(node.url, transports=transports, reconnection=None)
    upgrades: list[str] = []
    client.on("upgrade", upgrades.append)
    async with client:
        reply = await client.call("echo", {"b": b"\x01\x02"}, [b"\x03"])
        assert reply == [{"b": b"\x01\x02"}, [b"\x03"]]
        assert await client.call("join-room", "r1") == ["joined", "r1"]
        await asyncio.sleep(1.2)  # Node pings every 0.5 s: answered, so still connected
        assert client.connected
        if len(transports) == 2:
            await until_true(lambda: client.transport == "websocket")
            assert upgrades == ["websocket"]
        else:
            assert client.transport == "polling"
        report = await node.received("echo")
        assert report["args"] == [{"b": b"\x01\x02"}, [b"\x03"]]
