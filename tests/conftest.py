"""Shared fixtures for the server tests: started servers, raw wire clients, and
python-socketio clients, all on loopback and all closed at teardown."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from support import (
    WIRE_TIMEOUT,
    RawClient,
    RawFactory,
    ServerFactory,
    SioFactory,
    wire_url,
)
from websockets.asyncio.client import connect

from wslearn.server import Server


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
