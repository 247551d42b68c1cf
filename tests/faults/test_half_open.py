"""Fault test: a half-open link (LinkProxy paused), noticed by both sides' heartbeats.

With pingInterval = pingTimeout = 0.2 s, Engine.IO promises that each side notices a
silent peer within pingInterval + pingTimeout = 0.4 s. The assertions allow that
bound plus a margin of one second for a loaded CI machine: they check correctness
(the peer is dropped, its rooms are gone, the client comes back), not speed. The
measured times are printed (``-s``) and recorded as junit properties.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from wslearn.backoff import Backoff
from wslearn.chat import add_chat_handlers
from wslearn.client import Client, ClientState
from wslearn.namespace import Socket
from wslearn.proxy import LinkProxy
from wslearn.server import Server

pytestmark = pytest.mark.faults

INTERVAL = TIMEOUT = 0.2
BOUND = INTERVAL + TIMEOUT
MARGIN = 1.0


async def seconds_until(check: Callable[[], bool], within: float) -> float:
    """How long until ``check()`` holds (polled every 5 ms); fails after ``within``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - state spread over server, proxy and client
            await asyncio.sleep(0.005)
    return loop.time() - started


async def test_a_half_open_peer_is_dropped_its_rooms_cleaned_and_it_comes_back_on_resume(
    record_property: Callable[[str, object], None],
) -> None:
    server = Server(ping_interval=INTERVAL, ping_timeout=TIMEOUT, close_timeout=0.2)
    add_chat_handlers(server)
    reasons: list[str] = []

    @server.on("disconnect")
    def disconnected(socket: Socket, reason: str) -> None:
        reasons.append(reason)

    await server.start()
    link = await LinkProxy("127.0.0.1", server.port).start()
    client = Client(
        f"http://127.0.0.1:{link.port}",
        reconnection=Backoff(initial=0.05, maximum=0.2, jitter=0),
        connect_timeout=0.5,
        close_timeout=0.2,
    )
    namespace = server.of("/")
    try:
        await client.connect()
        sid = client.sid
        await client.call("join-room", "r1")
        assert "r1" in namespace.rooms
        await asyncio.sleep(2 * INTERVAL)  # a few heartbeats: the link is healthy
        assert client.connected

        link.pause()
        server_side, client_side = await asyncio.gather(
            seconds_until(lambda: sid not in namespace.sockets, BOUND + MARGIN),
            seconds_until(lambda: client.state is ClientState.RECONNECTING, BOUND + MARGIN),
        )
        assert "r1" not in namespace.rooms
        assert server.registry.rooms_of("/", sid) == frozenset()
        assert reasons == ["ping timeout"]
        await asyncio.sleep(BOUND)  # still paused: every attempt stalls
        assert client.state is ClientState.RECONNECTING

        link.resume()
        back = await seconds_until(lambda: client.connected, 0.5 + 0.2 + MARGIN)
        assert client.sid not in (None, sid)
        await client.call("join-room", "r1")  # a fresh session, usable at once
        assert "r1" in namespace.rooms
    finally:
        await client.disconnect()
        await link.stop()
        await server.stop()
    for name, value in {
        "server_dropped_after_s": server_side,
        "client_noticed_after_s": client_side,
        "reconnected_after_resume_s": back,
    }.items():
        record_property(name, round(value, 3))
    print(
        f"\nhalf-open (bound {BOUND:g} s): server dropped the peer after {server_side:.3f} s, "
        f"client noticed after {client_side:.3f} s, back {back:.3f} s after resume"
    )
