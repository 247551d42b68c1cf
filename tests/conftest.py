"""Shared fixtures: started servers (plain and with the chat handlers), raw wire
clients, python-socketio clients and chat panes, all on loopback, all closed at teardown.

Private modules have no test file of their own; they are tested through their public
users: ``_connection`` in test_server.py, ``_receiving`` and ``_client_base`` in
test_client.py, ``_session`` in test_session.py and test_client.py, ``_emitter`` in
test_emitter.py, and ``_service`` (the shared lifecycle) in test_service.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from hypothesis import settings
from support import (
    CLOCK,
    FAST,
    WIRE_TIMEOUT,
    PaneFactory,
    RawClient,
    RawFactory,
    ServerFactory,
    SioFactory,
    wire_url,
)
from websockets.asyncio.client import connect

from wslearn.chat import add_chat_handlers
from wslearn.server import Server
from wslearn.widgets import ChatPane

# Examples are checked for what they do, never for how long they take: a loaded CI
# machine must not turn a slow example into a failure (hypothesis' 200 ms deadline).
settings.register_profile("wslearn", deadline=None)
settings.load_profile("wslearn")


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


@pytest.fixture
async def chat_server(server: Server) -> Server:
    """A running server with the guide's chat handlers and a fixed clock (``CLOCK``)."""
    add_chat_handlers(server, clock=lambda: CLOCK)
    return server


@pytest.fixture
async def pane() -> AsyncIterator[PaneFactory]:
    """Open chat panes that own their clients; every one is closed at teardown."""
    panes: list[ChatPane] = []

    async def make(server: Server, name: str, room: str = "lobby", **options: Any) -> ChatPane:
        options.setdefault("reconnection", FAST)
        opened = await ChatPane.open(server.url, name=name, room=room, **options)
        panes.append(opened)
        return opened

    yield make
    for opened in panes:
        await opened.close()
