"""wslearn's ReliableEmitter against a python-socketio server that follows the
reliable-delivery convention in a few lines: a trailing ``{"_id": ...}``, applied
once, acked always (see wslearn.reliable)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from aiohttp import web

from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.reliable import ReliableEmitter

pytestmark = pytest.mark.interop

WAIT = 5.0  # upper bound for anything awaited; never reached when a test passes


async def test_a_python_socketio_server_applies_each_reliable_message_once_in_order() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    applied: list[Any] = []
    seen: set[str] = set()  # a real server persists this with its state

    @sio.on("send-message")
    async def send_message(sid: str, data: Any, meta: dict[str, str]) -> dict[str, Any]:
        duplicate = meta["_id"] in seen
        if not duplicate:
            applied.append(data)
            seen.add(meta["_id"])
        return {"_id": meta["_id"], "duplicate": duplicate}

    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    client = Client(f"http://127.0.0.1:{port}", reconnection=Backoff(initial=0.05, jitter=0))
    try:
        await client.connect()
        async with ReliableEmitter(client) as reliable:
            for n in range(10):
                reliable.send("send-message", {"n": n})
            await reliable.drain(WAIT)
            await runner.cleanup()  # the server goes away without a DISCONNECT
            async with asyncio.timeout(WAIT):
                while client.state is not ClientState.RECONNECTING:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            for n in range(10, 20):
                reliable.send("send-message", {"n": n})
            runner = web.AppRunner(app, shutdown_timeout=0.2)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await reliable.drain(WAIT)
            assert reliable.stats().acked == 20
    finally:
        await client.disconnect()
        await runner.cleanup()
    assert applied == [{"n": n} for n in range(20)]
