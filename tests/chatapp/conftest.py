"""Fixtures for the chat app: an app on a real server with test-sized timings, and
ChatClients that are closed at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from support import FAST

from wslearn.chatapp.app import PAGE_DIR, ChatApp
from wslearn.chatapp.client import ChatClient
from wslearn.chatapp.presence import Presence
from wslearn.server import Server

AppFactory = Callable[..., Awaitable[ChatApp]]
ChatFactory = Callable[..., Awaitable[ChatClient]]
"""The same aliases are spelled out in the test modules (conftest is not importable)."""


@pytest.fixture
async def make_app() -> AsyncIterator[AppFactory]:
    apps: list[ChatApp] = []

    async def make(
        grace: float = 0.0, typing_ttl: float = 5.0, limits: bool = True, **server: Any
    ) -> ChatApp:
        server.setdefault("ping_interval", 5.0)
        server.setdefault("ping_timeout", 5.0)
        server.setdefault("close_timeout", 0.5)
        app = ChatApp(
            Server(static={"/": PAGE_DIR}, **server),
            presence=Presence(grace=grace, typing_ttl=typing_ttl),
            tick=0.05,
            limits=limits,
        )
        apps.append(app)
        return await app.start()

    yield make
    for app in apps:
        await app.stop()


@pytest.fixture
async def app(make_app: AppFactory) -> ChatApp:
    return await make_app()


@pytest.fixture
async def chat() -> AsyncIterator[ChatFactory]:
    clients: list[ChatClient] = []

    async def make(where: ChatApp | str, name: str, connect: bool = True) -> ChatClient:
        url = where if isinstance(where, str) else where.url
        client = ChatClient(url, name, reconnection=FAST)
        clients.append(client)
        if connect:
            await client.connect()
        return client

    yield make
    for client in clients:
        await client.close()
