"""Fault test: a half-open link (LinkProxy paused), noticed by both sides' heartbeats.

With pingInterval = pingTimeout = 0.2 s, Engine.IO promises that each side notices a
silent peer within pingInterval + pingTimeout = 0.4 s. The assertions allow that
bound plus a margin of one second for a loaded CI machine: they check correctness
(the peer is dropped, its rooms and presence are gone, the client comes back), not speed. The
measured times are printed (``-s``) and recorded as junit properties.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from wslearn.backoff import Backoff
from wslearn.chat import add_chat_handlers
from wslearn.client import Client, ClientState
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
    record_property: Callable[[str, object], None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wslearn.chat")
    server = Server(ping_interval=INTERVAL, ping_timeout=TIMEOUT, close_timeout=0.2)
    add_chat_handlers(server)  # its disconnect handler logs the reason, updates presence
    await server.start()
    link = await LinkProxy("127.0.0.1", server.port).start()
    client = Client(
        f"http://127.0.0.1:{link.port}",
        auth={"name": "Ghost"},
        reconnection=Backoff(initial=0.05, maximum=0.2, jitter=0),
        connect_timeout=0.5,
        close_timeout=0.2,
    )
    # A bystander on a healthy link, in the same room: it must see Ghost leave.
    watcher = Client(server.url, auth={"name": "Watcher"}, reconnection=None)
    presence: list[list[str]] = []
    watcher.on("presence", lambda data, *_: presence.append(data["users"]))
    namespace = server.of("/")
    try:
        await watcher.connect()
        await client.connect()
        sid = client.sid
        await client.call("join-room", "r1")
        await watcher.call("join-room", "r1")
        assert "r1" in namespace.rooms
        assert presence[-1] == ["Ghost", "Watcher"]
        await asyncio.sleep(2 * INTERVAL)  # a few heartbeats: the link is healthy
        assert client.connected

        link.pause()
        server_side, client_side = await asyncio.gather(
            seconds_until(lambda: sid not in namespace.sockets, BOUND + MARGIN),
            seconds_until(lambda: client.state is ClientState.RECONNECTING, BOUND + MARGIN),
        )
        assert server.registry.members("/", "r1") == {watcher.sid}  # only the bystander
        assert server.registry.rooms_of("/", sid) == frozenset()
        assert f"{sid} disconnected (ping timeout)" in caplog.messages
        await seconds_until(lambda: presence[-1] == ["Watcher"], MARGIN)  # presence too
        await asyncio.sleep(BOUND)  # still paused: every attempt stalls
        assert client.state is ClientState.RECONNECTING

        link.resume()
        back = await seconds_until(lambda: client.connected, 0.5 + 0.2 + MARGIN)
        assert client.sid not in (None, sid)
        await client.call("join-room", "r1")  # a fresh session, usable at once
        assert server.registry.members("/", "r1") == {watcher.sid, client.sid}
    finally:
        await client.disconnect()
        await watcher.disconnect()
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
