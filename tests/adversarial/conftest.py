"""Fixtures of the adversarial tests: a server under attack and a bystander on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support import RawFactory, ServerFactory, Witness, add_echo

from wslearn.server import Server


@pytest.fixture
async def attacked(make_server: ServerFactory) -> Server:
    server = await make_server()
    add_echo(server)
    return server


@pytest.fixture
async def witness(attacked: Server, raw_client: RawFactory) -> AsyncIterator[Witness]:
    witness = Witness(attacked, raw_client)
    await witness.start()
    yield witness
    witness._reader.cancel()
