"""Fixtures for the interop tests: Node.js peers started on demand, always stopped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from node_peers import NodeClient, NodeClientFactory, NodeServer, NodeServerFactory

from wslearn.server import Server


@pytest.fixture
async def node_client() -> AsyncIterator[NodeClientFactory]:
    peers: list[NodeClient] = []

    async def make(server: Server | str) -> NodeClient:
        url = server if isinstance(server, str) else server.url
        peer = await NodeClient.start("client.mjs", url)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        await peer.stop()


@pytest.fixture
async def node_server() -> AsyncIterator[NodeServerFactory]:
    peers: list[NodeServer] = []

    async def make(port: int = 0, **options: Any) -> NodeServer:
        peer = await NodeServer.start("server.mjs", str(port), json.dumps(options))
        peers.append(peer)
        peer.port = (await peer.next("listening"))["port"]
        return peer

    yield make
    for peer in peers:
        await peer.stop()
