"""Shared fixtures for the server tests: started servers, raw wire clients, and
python-socketio clients, all on loopback and all closed at teardown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import socketio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wslearn.server import Server

WIRE_TIMEOUT = 5.0  # generous upper bound for anything on loopback; never decides a pass


class RawClient:
    """A Socket.IO client written frame by frame, to test the exact wire format.

    It answers the server's pings (``2`` -> ``3``) while it waits for other frames,
    unless ``answer_pings`` is False.
    """

    def __init__(self, ws: ClientConnection, *, answer_pings: bool = True) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.open_packet: dict[str, Any] = {}
        self.sid = ""

    async def send(self, *frames: str | bytes) -> None:
        for frame in frames:
            await self.ws.send(frame)

    async def recv(self, within: float = WIRE_TIMEOUT) -> str | bytes:
        """The next frame that is not a ping."""
        async with asyncio.timeout(within):
            while True:
                frame = await self.ws.recv()
                if frame == "2" and self.answer_pings:
                    await self.ws.send("3")
                    continue
                return frame

    async def recv_event(self, within: float = WIRE_TIMEOUT) -> list[Any]:
        """The next EVENT on ``/``, decoded: ``[name, *args]``."""
        frame = await self.recv(within)
        assert isinstance(frame, str) and frame.startswith("42"), frame
        data: list[Any] = json.loads(frame[2:])
        return data

    async def connect(self, namespace: str = "/", auth: str = "") -> str:
        """Send CONNECT and return the socket id from the server's reply."""
        prefix = "" if namespace == "/" else namespace + ","
        await self.send(f"40{prefix}{auth}")
        reply = await self.recv()
        assert isinstance(reply, str) and reply.startswith(f"40{prefix}"), reply
        sid: str = json.loads(reply[2 + len(prefix) :])["sid"]
        if namespace == "/":
            self.sid = sid
        return sid

    async def closed(self, within: float = WIRE_TIMEOUT) -> int | None:
        """Read until the server closes; return the close code it sent."""
        try:
            async with asyncio.timeout(within):
                while True:
                    frame = await self.ws.recv()
                    if frame == "2" and self.answer_pings:
                        await self.ws.send("3")
        except ConnectionClosed:
            pass
        rcvd = self.ws.protocol.close_rcvd
        return None if rcvd is None else rcvd.code


ServerFactory = Callable[..., Awaitable[Server]]
RawFactory = Callable[..., Awaitable[RawClient]]
SioFactory = Callable[..., Awaitable[socketio.AsyncClient]]


def wire_url(
    server: Server, query: str = "EIO=4&transport=websocket", path: str = "/socket.io/"
) -> str:
    return f"ws://127.0.0.1:{server.port}{path}?{query}"


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    """Start servers with test-sized timings; every one is stopped at teardown."""
    servers: list[Server] = []

    async def make(port: int = 0, **options: Any) -> Server:
        options.setdefault("ping_interval", 5.0)
        options.setdefault("ping_timeout", 5.0)
        options.setdefault("connect_timeout", 5.0)
        options.setdefault("close_timeout", 1.0)
        server = Server(**options)
        servers.append(server)
        await server.start(port=port)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    """A running server with default test settings and no handlers yet."""
    return await make_server()


@pytest.fixture
async def raw_client() -> AsyncIterator[RawFactory]:
    """Open raw WebSocket clients on a server; the OPEN packet is read already."""
    clients: list[RawClient] = []

    async def make(server: Server, *, answer_pings: bool = True, **options: Any) -> RawClient:
        ws = await connect(wire_url(server), **options)
        client = RawClient(ws, answer_pings=answer_pings)
        clients.append(client)
        first = await client.recv()
        assert isinstance(first, str) and first.startswith("0"), first
        client.open_packet = json.loads(first[1:])
        return client

    yield make
    for client in clients:
        client.ws.transport.abort()


@pytest.fixture
async def sio_client() -> AsyncIterator[SioFactory]:
    """python-socketio AsyncClients on the WebSocket transport, fast reconnection."""
    clients: list[socketio.AsyncClient] = []

    async def make(
        server: Server | None = None,
        *,
        connect_now: bool = True,
        namespaces: list[str] | None = None,
        auth: Any = None,
        **options: Any,
    ) -> socketio.AsyncClient:
        options.setdefault("reconnection_delay", 0.05)
        options.setdefault("reconnection_delay_max", 0.2)
        options.setdefault("randomization_factor", 0.0)
        client = socketio.AsyncClient(**options)
        clients.append(client)
        if connect_now:
            assert server is not None
            await client.connect(
                server.url,
                transports=["websocket"],
                namespaces=namespaces,
                auth=auth,
                wait_timeout=WIRE_TIMEOUT,
            )
        return client

    yield make
    for client in clients:
        client.reconnection = False
        await client.disconnect()


async def eventually(check: Callable[[], bool], within: float = WIRE_TIMEOUT) -> None:
    """Wait until ``check()`` is true (polling); fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        # Polling is the point: the condition is server state with no event to await.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
