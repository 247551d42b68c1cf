"""Attacks on the HTTP long-polling transport of wslearn.Server.

=====================================  =============================================
case                                   expected
=====================================  =============================================
a head that never completes            the connection is closed after http_timeout
a body sent a byte at a time, slowly   408 after http_timeout, the session goes on
a body over max_payload                413 at once, the body is never read
guessed or stale sids                  400 "Session ID unknown", nothing created
two GETs held at once on one session   the second is refused (400), the session ends
a flood of polling handshakes          refused with 429 past the per-address cap; an
                                       uncapped server forgets them at connect_timeout
pipelined requests on one connection   answered one at a time, reading paused
a polling client that never polls      its queue is bounded by max_buffered_bytes
again while a room is broadcast to
=====================================  =============================================

Each test ends with the bystander check (a WebSocket member of a room lost nothing)
and a fresh client served.
"""

from __future__ import annotations

import asyncio
import json

from support import (
    POLL,
    RawFactory,
    RawHttp,
    ServerFactory,
    Witness,
    add_echo,
    eventually,
    http,
    open_polling,
    wire_url,
)
from websockets.asyncio.client import connect

from wslearn.server import Server


def poll_of(sid: str) -> str:
    return f"{POLL}&sid={sid}"


async def start(
    make_server: ServerFactory, raw_client: RawFactory, **options: object
) -> tuple[Server, Witness]:
    server = await make_server(**options)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    return server, witness


async def test_a_head_that_never_completes_is_closed_after_the_http_timeout(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client, http_timeout=0.3)
    connections = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        connections.append((reader, writer))
    for reader, writer in connections:
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, no answer
        writer.close()
    await eventually(lambda: server._http == set())
    await witness.finish()


async def test_a_slow_body_gets_408_and_the_session_goes_on(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client, http_timeout=0.3)
    sid, _ = await open_polling(server.port)
    slow = RawHttp(server.port)
    try:
        await slow.send("POST", poll_of(sid), headers={"Content-Length": "1000"})
        assert slow.writer is not None
        for _ in range(3):
            slow.writer.write(b"4")  # a trickle, never the whole body
            await asyncio.sleep(0.05)
        answer = await slow.answer()
        assert answer.status == 408
    finally:
        await slow.close()
    assert (await http(server.port, "POST", poll_of(sid), b"40")).text == "ok"
    assert (await http(server.port, "GET", poll_of(sid))).text.startswith("40")
    await witness.finish()


async def test_an_oversized_body_is_refused_before_it_is_read(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client, max_payload=10_000)
    sid, _ = await open_polling(server.port)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            f"POST {poll_of(sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n".encode()
        )
        answer = await asyncio.wait_for(reader.read(), 5)  # answered and closed at once
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert sid in server.sessions  # the session itself is fine
    await witness.finish()


async def test_guessed_sids_are_refused_and_create_nothing(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client)
    real, _ = await open_polling(server.port)
    sessions = len(server.sessions)
    guesses = [real[:-1] + "A", "", "x" * 10_000, "../" + real, real.upper()]
    for guess in guesses:
        for method, body in (("GET", b""), ("POST", b"40")):
            answer = await http(server.port, method, poll_of(guess), body)
            assert answer.status in (400, 414, 431)
            if answer.status == 400:
                assert answer.json() == {"code": 1, "message": "Session ID unknown"}
    assert len(server.sessions) == sessions
    await witness.finish()


async def test_two_held_gets_on_one_session_end_it_and_only_it(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client)
    victim, _ = await open_polling(server.port)
    other, _ = await open_polling(server.port)
    first = asyncio.create_task(http(server.port, "GET", poll_of(victim)))
    await asyncio.sleep(0.05)
    assert (await http(server.port, "GET", poll_of(victim))).status == 400
    assert (await first).text == "1"
    assert victim not in server.sessions and other in server.sessions
    await witness.finish()


async def test_a_flood_of_handshakes_is_capped_per_address(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client, max_connections_per_address=20)
    answers = await asyncio.gather(*(http(server.port, "GET", POLL) for _ in range(60)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(200) == 19  # the bystander holds one of the 20 places
    assert statuses.count(429) == 41
    assert len(server.sessions) == 20
    await witness.check_no_loss()
    # 127.0.0.1 is at its cap; a client from another address is served at once.
    async with connect(wire_url(server), local_addr=("127.0.0.2", 0)) as ws:
        assert str(await ws.recv()).startswith("0{")
        await ws.send("40")
        assert str(await ws.recv()).startswith("40{")


async def test_an_uncapped_flood_of_idle_sessions_is_forgotten_at_the_connect_timeout(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client, connect_timeout=3.0)
    answers = await asyncio.gather(*(http(server.port, "GET", POLL) for _ in range(200)))
    assert all(answer.status == 200 for answer in answers)
    assert len(server.sessions) > 1
    await eventually(lambda: len(server.sessions) == 1)  # only the bystander is left
    assert dict(server._per_address) == {"127.0.0.1": 1}
    await witness.finish()


async def test_pipelined_requests_are_answered_in_order_one_at_a_time(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server, witness = await start(make_server, raw_client)
    sid, _ = await open_polling(server.port)
    connection = RawHttp(server.port)
    try:
        await connection.send("POST", poll_of(sid), b"40")
        for n in range(5):  # five more POSTs, each written before any answer came
            await connection.send("POST", poll_of(sid), f'42["echo",{n}]'.encode())
        for _ in range(6):
            assert (await connection.answer()).text == "ok"
    finally:
        await connection.close()
    await witness.finish()


async def test_a_polling_member_that_never_polls_again_is_bounded_and_dropped(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    limit = 1 << 20
    server, witness = await start(make_server, raw_client, max_buffered_bytes=limit)
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    connected = (await http(server.port, "GET", poll_of(sid))).text
    socket_id = json.loads(connected[2:])["sid"]
    server.of("/").sockets[socket_id].join("lobby")
    payload = "x" * 100_000
    most = 0
    for _ in range(30):  # 3 MB to a member that stopped polling
        witness.ticks += 1
        await server.to("lobby").emit("tick", witness.ticks, payload)
        frame = await asyncio.wait_for(witness.events.get(), 5)
        assert frame == f'42["tick",{witness.ticks},"{payload}"]'
        if sid in server.sessions:
            most = max(most, server.sessions[sid].buffered_bytes)
    assert sid not in server.sessions
    assert most <= limit
    await witness.finish()
