"""Tests for wslearn.keepalive: the guide's ping/pong events on a real server.

Bounds are correctness bounds (detection within two intervals, plus a margin for a
loaded machine), never performance timings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from support import WIRE_TIMEOUT, eventually

from wslearn.client import Client, ClientState
from wslearn.keepalive import AppHeartbeatMonitor, answer_app_pings
from wslearn.namespace import Socket
from wslearn.server import Server

INTERVAL = 0.05


@pytest.fixture
async def monitored() -> AsyncIterator[tuple[Server, AppHeartbeatMonitor]]:
    server = Server(close_timeout=0.5)
    beats = AppHeartbeatMonitor(server.of("/"), INTERVAL)

    @server.on("connect")
    def on_connect(socket: Socket) -> None:
        socket.join("lobby")
        beats.watch(socket)

    await server.start()
    yield server, beats
    beats.stop()
    await server.stop()


async def test_a_client_that_answers_stays_connected_across_many_ticks(
    monitored: tuple[Server, AppHeartbeatMonitor],
) -> None:
    server, beats = monitored
    client = Client(server.url, reconnection=None)
    pings: list[int] = []
    client.on("ping", lambda: pings.append(1))
    answer_app_pings(client)
    await client.connect()
    try:
        await eventually(lambda: len(pings) >= 5)
        assert client.connected
        assert beats.dropped == []
        assert beats.watching == 1
    finally:
        await client.disconnect()
    await eventually(lambda: beats.watching == 0)


async def test_a_client_that_never_answers_is_dropped_and_leaves_its_rooms(
    monitored: tuple[Server, AppHeartbeatMonitor],
) -> None:
    server, beats = monitored
    told: list[str] = []
    beats.on_drop = lambda socket: told.append(socket.id)
    client = Client(server.url, reconnection=None)  # hears "ping", never answers
    await client.connect()
    sid = client.sid
    try:
        assert "lobby" in server.of("/").rooms
        loop = asyncio.get_running_loop()
        started = loop.time()
        await eventually(lambda: beats.dropped == [sid])
        # One interval to send the first ping, one more to find it unanswered.
        assert loop.time() - started < 2 * INTERVAL + WIRE_TIMEOUT
        await eventually(lambda: client.state is ClientState.DISCONNECTED)
        assert "lobby" not in server.of("/").rooms
        assert beats.watching == 0
        assert told == [sid]
    finally:
        await client.disconnect()


async def test_stop_ends_every_heartbeat(monitored: tuple[Server, AppHeartbeatMonitor]) -> None:
    server, beats = monitored
    client = Client(server.url, reconnection=None)
    await client.connect()
    try:
        assert beats.watching == 1
        beats.stop()
        await eventually(lambda: beats.watching == 0)
        await asyncio.sleep(3 * INTERVAL)
        assert client.connected  # nobody checks it any more
    finally:
        await client.disconnect()


def test_a_bad_interval_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="interval"):
        AppHeartbeatMonitor(Server().of("/"), 0)
