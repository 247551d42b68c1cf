"""python-socketio's AsyncClient (a real Socket.IO v5 peer) against wslearn.Server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from support import ServerFactory, SioFactory, eventually

from wslearn.exceptions import ConnectRefusedError
from wslearn.namespace import Socket
from wslearn.server import Server

pytestmark = pytest.mark.interop


def inbox(client: socketio.AsyncClient, event: str, namespace: str = "/") -> asyncio.Queue[Any]:
    """Collect an event's arguments (a tuple when there are several)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def handler(*args: Any) -> None:
        queue.put_nowait(args[0] if len(args) == 1 else args)

    client.on(event, handler, namespace=namespace)
    return queue


async def next_item(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), 5)


async def test_connect_without_and_with_auth(server: Server, sio_client: SioFactory) -> None:
    seen: list[dict[str, Any]] = []
    server.on("connect")(lambda socket: seen.append(socket.handshake.auth))
    plain = await sio_client(server)
    authed = await sio_client(server, auth={"token": "abc"})
    assert plain.connected and authed.connected
    await eventually(lambda: len(seen) == 2)
    assert sorted(seen, key=len) == [{}, {"token": "abc"}]
    assert plain.get_sid() in server.of("/").sockets


async def test_middleware_refusal_reaches_connect_error(
    server: Server, sio_client: SioFactory
) -> None:
    @server.use
    def needs_token(socket: Socket, auth: dict[str, Any]) -> None:
        if auth.get("token") != "good":
            raise ConnectRefusedError("Not authorized", {"hint": "send a token"})

    client = await sio_client(connect_now=False)
    errors = inbox(client, "connect_error")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, transports=["websocket"], auth={"token": "bad"})
    assert await next_item(errors) == {
        "message": "Not authorized",
        "data": {"hint": "send a token"},
    }
    assert server.of("/").sockets == {}
    assert (await sio_client(server, auth={"token": "good"})).connected


async def test_events_both_ways(server: Server, sio_client: SioFactory) -> None:
    @server.on("hello")
    async def hello(socket: Socket, name: str, extra: dict[str, Any]) -> None:
        await socket.emit("welcome", f"hi {name}", extra)

    client = await sio_client(server)
    welcome = inbox(client, "welcome")
    await client.emit("hello", ("ada", {"n": 1}))
    assert await next_item(welcome) == ("hi ada", {"n": 1})


async def test_acks_both_ways(server: Server, sio_client: SioFactory) -> None:
    server.on("add")(lambda socket, a, b: a + b)
    client = await sio_client(server)

    @client.on("question")
    async def question(x: int) -> tuple[int, str]:
        return x * 2, "twice"

    assert await client.call("add", (2, 3), timeout=5) == 5
    socket = server.of("/").sockets[client.get_sid()]
    assert await socket.call("question", 21) == [42, "twice"]


async def test_rooms_and_broadcast_with_three_clients(
    server: Server, sio_client: SioFactory
) -> None:
    @server.on("join-room")
    async def join_room(socket: Socket, room: str) -> None:
        socket.join(room)
        await socket.to(room).emit("user-joined", socket.id)

    alice, bob, carol = [await sio_client(server) for _ in range(3)]
    joined = inbox(alice, "user-joined")
    news = [inbox(c, "news") for c in (alice, bob, carol)]
    await alice.call("join-room", "r1", timeout=5)
    await bob.call("join-room", "r1", timeout=5)
    assert await next_item(joined) == bob.get_sid()
    await server.to("r1").emit("news", "room only")
    await server.emit("news", "everyone")
    assert [await next_item(q) for q in news[0:1]] == ["room only"]
    assert await next_item(news[1]) == "room only"
    assert await next_item(news[2]) == "everyone"  # carol got nothing before it
    assert await next_item(news[0]) == "everyone"
    assert await next_item(news[1]) == "everyone"
    assert joined.empty()


async def test_namespaces(server: Server, sio_client: SioFactory) -> None:
    chat = server.of("/chat")
    chat.on("where")(lambda socket: socket.namespace)
    server.on("where")(lambda socket: "main")
    client = await sio_client(server, namespaces=["/", "/chat"])
    assert await client.call("where", namespace="/chat", timeout=5) == "/chat"
    assert await client.call("where", timeout=5) == "main"
    only_chat = inbox(client, "ping-chat", namespace="/chat")
    await chat.emit("ping-chat", 1)
    assert await next_item(only_chat) == 1


async def test_an_unknown_namespace_is_refused(server: Server, sio_client: SioFactory) -> None:
    client = await sio_client(connect_now=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, transports=["websocket"], namespaces=["/nope"])


async def test_binary_attachments_nested_both_ways(server: Server, sio_client: SioFactory) -> None:
    @server.on("upload")
    async def upload(socket: Socket, meta: dict[str, Any]) -> dict[str, Any]:
        await socket.emit("download", {"parts": [b"\x00\xff", {"deep": b"abc"}], "n": 2})
        return {"sizes": [len(part) for part in meta["parts"]]}

    client = await sio_client(server)
    download = inbox(client, "download")
    reply = await client.call("upload", {"parts": [b"12345", b"\x00"], "name": "f"}, timeout=5)
    assert reply == {"sizes": [5, 1]}
    assert await next_item(download) == {"parts": [b"\x00\xff", {"deep": b"abc"}], "n": 2}


async def test_the_error_event_reaches_the_client(server: Server, sio_client: SioFactory) -> None:
    client = await sio_client(server)
    errors = inbox(client, "error")
    await client.emit("no-such-event")
    assert await next_item(errors) == {
        "message": "unknown event 'no-such-event'",
        "event": "no-such-event",
    }


async def test_a_kicked_client_does_not_reconnect(server: Server, sio_client: SioFactory) -> None:
    client = await sio_client(server)
    reasons = inbox(client, "disconnect")
    connects = inbox(client, "connect")
    await server.of("/").sockets[client.get_sid()].disconnect()
    assert await next_item(reasons) == client.reason.SERVER_DISCONNECT
    await asyncio.sleep(0.5)  # several reconnection delays (0.05 s to 0.2 s)
    assert connects.empty() and not client.connected
    assert server.of("/").sockets == {}


async def test_a_client_reconnects_after_a_restart_on_the_same_port(
    make_server: ServerFactory, sio_client: SioFactory
) -> None:
    first = await make_server()
    client = await sio_client(first)
    connects = inbox(client, "connect")
    reasons = inbox(client, "disconnect")
    port = first.port
    await first.stop()
    assert await next_item(reasons) == client.reason.TRANSPORT_ERROR
    second = await make_server(port=port)
    second.on("who")(lambda socket: "second")
    assert await next_item(connects) == ()
    assert await client.call("who", timeout=5) == "second"
    assert client.get_sid() in second.of("/").sockets
