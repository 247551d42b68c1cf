"""Tests for the server's HTTP long-polling transport and the upgrade to WebSocket
(wslearn._http, wslearn._longpoll, wslearn._websocket), written from the Engine.IO v4
protocol: requests byte for byte, answers checked byte for byte.

The scenarios follow the protocol's own rules (and the official test suite's cases):
handshake, messages both ways, heartbeat, close, duplicate and cancelled polls, and
the upgrade with ``2probe``, ``3probe``, the noop and ``5``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support import (
    POLL,
    WIRE_TIMEOUT,
    RawHttp,
    ServerFactory,
    eventually,
    http,
    open_polling,
    wire_url,
)
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wslearn.namespace import Socket
from wslearn.server import Server


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    server = await make_server(ping_interval=0.3, ping_timeout=0.2)
    server.on("echo")(lambda socket, *args: args)
    return server


def poll_of(sid: str) -> str:
    return f"{POLL}&sid={sid}"


# -- handshake ------------------------------------------------------------------------


async def test_the_handshake_get_answers_the_open_packet_offering_the_upgrade(
    server: Server,
) -> None:
    answer = await http(server.port, "GET", POLL)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/plain; charset=UTF-8"
    info = json.loads(answer.text[1:])
    assert answer.text[0] == "0"
    assert set(info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert info["upgrades"] == ["websocket"]
    assert (info["pingInterval"], info["pingTimeout"], info["maxPayload"]) == (300, 200, 1_000_000)
    assert info["sid"] in server.sessions


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("transport=polling", 5),
        ("EIO=abc&transport=polling", 5),
        ("EIO=4", 0),
        ("EIO=4&transport=abc", 0),
    ],
)
async def test_a_bad_eio_or_transport_is_a_400_with_the_engine_io_error_code(
    server: Server, query: str, code: int
) -> None:
    answer = await http(server.port, "GET", f"/socket.io/?{query}")
    assert answer.status == 400
    assert answer.json()["code"] == code
    assert server.sessions == {}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_a_handshake_with_another_method_is_a_400(server: Server, method: str) -> None:
    answer = await http(server.port, method, POLL)
    assert answer.status == 400
    assert server.sessions == {}


async def test_an_unknown_sid_is_a_400_session_id_unknown(server: Server) -> None:
    for method, body in (("GET", b""), ("POST", b"4hello")):
        answer = await http(server.port, method, poll_of("nope"), body)
        assert answer.status == 400 and answer.json() == {
            "code": 1,
            "message": "Session ID unknown",
        }


# -- messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    ["4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "4é ☃ 😀"],
)
async def test_engine_messages_posted_come_back_in_order_on_the_next_poll(
    make_server: ServerFactory, payload: str
) -> None:
    server = await make_server()
    sid, _ = await open_polling(server.port)
    session = server.sessions[sid]
    # Engine.IO messages that are not Socket.IO packets: echo them at that layer.
    session._on_message = lambda frame: session.send_frames((frame,))  # type: ignore[method-assign]
    posted = await http(server.port, "POST", poll_of(sid), payload.encode())
    assert (posted.status, posted.text) == (200, "ok")
    polled = await http(server.port, "GET", poll_of(sid))
    assert polled.status == 200 and polled.text == payload


async def test_socketio_events_acks_and_binary_travel_over_polling(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    assert (await http(server.port, "GET", poll_of(sid))).text.startswith('40{"sid":')
    posted = '451-7["echo",{"_placeholder":true,"num":0},"x"]\x1ebAAEC'
    assert (await http(server.port, "POST", poll_of(sid), posted.encode())).text == "ok"
    answer = (await http(server.port, "GET", poll_of(sid))).text
    assert answer == '461-7[{"_placeholder":true,"num":0},"x"]\x1ebAAEC'


async def test_a_held_get_is_answered_as_soon_as_there_is_a_packet(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    await http(server.port, "GET", poll_of(sid))  # the CONNECT reply
    held = asyncio.create_task(http(server.port, "GET", poll_of(sid)))
    await asyncio.sleep(0.05)
    assert not held.done()  # nothing to send yet: the poll is held
    await server.emit("news", 1)
    await server.emit("news", 2)  # sent in the same turn: one response
    assert (await held).text == '42["news",1]\x1e42["news",2]'


async def test_a_malformed_payload_is_a_400_and_ends_the_session(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    answer = await http(server.port, "POST", poll_of(sid), b"abc")
    assert answer.status == 400
    await eventually(lambda: sid not in server.sessions)
    assert (await http(server.port, "GET", poll_of(sid))).status == 400


async def test_a_body_over_max_payload_is_a_413_and_the_session_goes_on(
    make_server: ServerFactory,
) -> None:
    server = await make_server(max_payload=1000)
    sid, _ = await open_polling(server.port)
    answer = await http(server.port, "POST", poll_of(sid), b"4" + b"x" * 2000)
    assert answer.status == 413 and "max_payload" in answer.json()["message"]
    assert (await http(server.port, "POST", poll_of(sid), b"40")).text == "ok"
    assert (await http(server.port, "GET", poll_of(sid))).text.startswith("40")


# -- protocol violations by the client -------------------------------------------------


async def test_a_second_get_while_one_is_held_is_refused_and_ends_the_session(
    server: Server,
) -> None:
    sid, _ = await open_polling(server.port)
    first = asyncio.create_task(http(server.port, "GET", poll_of(sid)))
    await asyncio.sleep(0.05)
    second = await http(server.port, "GET", poll_of(sid) + "&t=burst")
    assert second.status == 400
    assert (await first).text == "1"  # the held poll learns that the session closed
    assert (await http(server.port, "GET", poll_of(sid))).status == 400


async def test_a_second_post_while_one_is_in_progress_is_refused(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    slow = RawHttp(server.port)
    assert slow.writer is None
    await slow.send("POST", poll_of(sid), headers={"Content-Length": "6"})  # no body yet
    try:
        await asyncio.sleep(0.05)
        answer = await http(server.port, "POST", poll_of(sid), b"4hello")
        assert answer.status == 400
        await eventually(lambda: sid not in server.sessions)
    finally:
        await slow.close()


async def test_a_client_that_drops_its_held_get_ends_its_session(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    connection = RawHttp(server.port)
    await connection.send("GET", poll_of(sid))
    await asyncio.sleep(0.05)
    await connection.close()
    await eventually(lambda: sid not in server.sessions)


# -- heartbeat and close ------------------------------------------------------------------


async def test_pings_arrive_by_poll_and_pongs_by_post(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    for _ in range(3):
        polled = await http(server.port, "GET", poll_of(sid))
        assert polled.text == "2"
        assert (await http(server.port, "POST", poll_of(sid), b"3")).text == "ok"
    assert sid in server.sessions


async def test_a_polling_client_that_vanished_is_forgotten_after_the_ping_timeout(
    server: Server,
) -> None:
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    assert server.registry.namespaces() == {"/"}
    await eventually(lambda: sid not in server.sessions, within=2)
    assert server.registry.namespaces() == frozenset()
    assert dict(server._per_address) == {}
    assert server._http == set()
    assert (await http(server.port, "GET", poll_of(sid))).status == 400


async def test_a_close_packet_answers_the_held_get_with_a_noop(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    held = asyncio.create_task(http(server.port, "GET", poll_of(sid)))
    await asyncio.sleep(0.05)
    assert (await http(server.port, "POST", poll_of(sid), b"1")).text == "ok"
    assert (await held).text == "6"
    assert (await http(server.port, "GET", poll_of(sid))).status == 400


async def test_a_kick_with_close_answers_the_held_get_with_disconnect_then_close(
    server: Server,
) -> None:
    sockets: list[Socket] = []
    server.on("connect")(sockets.append)
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    assert (await http(server.port, "GET", poll_of(sid))).text.startswith("40")
    held = asyncio.create_task(http(server.port, "GET", poll_of(sid)))
    await asyncio.sleep(0.05)
    await sockets[0].disconnect(close=True)
    answers = [(await held).text]
    if answers[0] != "41\x1e1":  # the DISCONNECT and the close may take two polls
        answers.append((await http(server.port, "GET", poll_of(sid))).text)
    assert "41" in "\x1e".join(answers)
    await eventually(lambda: sid not in server.sessions)


# -- keep-alive -------------------------------------------------------------------------


async def test_polls_and_posts_reuse_one_keep_alive_connection(server: Server) -> None:
    connection = RawHttp(server.port)
    try:
        opened = await connection.request("GET", POLL)
        sid = json.loads(opened.text[1:])["sid"]
        writer = connection.writer
        for _ in range(2):
            assert (await connection.request("POST", poll_of(sid), b"3")).text == "ok"
            assert (await connection.request("GET", poll_of(sid))).text == "2"
        assert connection.writer is writer  # the same TCP connection all along
    finally:
        await connection.close()


# -- the upgrade ----------------------------------------------------------------------------


async def probe(server: Server, sid: str) -> Any:
    ws = await connect(wire_url(server, f"EIO=4&transport=websocket&sid={sid}"))
    await ws.send("2probe")
    assert await asyncio.wait_for(ws.recv(), WIRE_TIMEOUT) == "3probe"
    return ws


async def test_the_upgrade_probes_releases_the_poll_with_a_noop_then_moves_to_websocket(
    server: Server,
) -> None:
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    await http(server.port, "GET", poll_of(sid))
    held = asyncio.create_task(http(server.port, "GET", poll_of(sid)))
    await asyncio.sleep(0.05)
    async with await probe(server, sid) as ws:
        assert (await held).text == "6"  # the pending poll ends cleanly
        assert server.sessions[sid].transport.name == "polling"  # not before "5"
        await ws.send("5")
        await ws.send('421["echo","over websocket"]')
        frame = await asyncio.wait_for(ws.recv(), WIRE_TIMEOUT)
        while frame == "2":
            await ws.send("3")
            frame = await asyncio.wait_for(ws.recv(), WIRE_TIMEOUT)
        assert frame == '431["over websocket"]'
        assert server.sessions[sid].transport.name == "websocket"
        # Polling with that sid is over, and a second WebSocket is refused.
        assert (await http(server.port, "GET", poll_of(sid))).status == 400
        with pytest.raises(InvalidStatus) as refused:
            await connect(wire_url(server, f"EIO=4&transport=websocket&sid={sid}"))
        assert refused.value.response.status_code == 400


async def test_packets_sent_during_the_upgrade_are_not_lost_duplicated_or_reordered(
    server: Server,
) -> None:
    sid, _ = await open_polling(server.port)
    await http(server.port, "POST", poll_of(sid), b"40")
    await http(server.port, "GET", poll_of(sid))
    received: list[str] = []
    ws = await probe(server, sid)
    try:
        for n in range(5):  # queued on polling while the client pauses
            await server.emit("n", n)
        polled = await http(server.port, "GET", poll_of(sid))  # the client's last poll
        received += [p for p in polled.text.split("\x1e") if p.startswith("42")]
        for n in range(5, 10):  # still polling: queued until "5"
            await server.emit("n", n)
        await ws.send("5")
        for n in range(10, 15):  # WebSocket from now on
            await server.emit("n", n)
        while len(received) < 15:
            frame = await asyncio.wait_for(ws.recv(), WIRE_TIMEOUT)
            if frame == "2":
                await ws.send("3")
            elif isinstance(frame, str) and frame.startswith("42"):
                received.append(frame)
    finally:
        await ws.close()
    assert [json.loads(p[2:])[1] for p in received] == list(range(15))


async def test_an_abandoned_probe_leaves_the_session_on_polling(server: Server) -> None:
    sid, _ = await open_polling(server.port)
    ws = await probe(server, sid)
    await ws.close()
    await eventually(lambda: server.sessions[sid].upgrading is None)
    assert (await http(server.port, "POST", poll_of(sid), b"3")).text == "ok"
    held = asyncio.create_task(http(server.port, "GET", poll_of(sid)))
    assert (await held).text == "2"  # held until the next ping, as before the probe
    assert server.sessions[sid].transport.name == "polling"


# -- what is offered ---------------------------------------------------------------------


async def test_a_websocket_only_server_refuses_polling_and_offers_no_upgrade(
    make_server: ServerFactory,
) -> None:
    server = await make_server(transports=["websocket"])
    answer = await http(server.port, "GET", POLL)
    assert answer.status == 400 and "offers websocket" in answer.json()["message"]
    async with connect(wire_url(server)) as ws:
        assert json.loads(str(await ws.recv())[1:])["upgrades"] == []


async def test_a_polling_only_server_refuses_websocket_and_offers_no_upgrade(
    make_server: ServerFactory,
) -> None:
    server = await make_server(transports=["polling"])
    _, info = await open_polling(server.port)
    assert info["upgrades"] == []
    with pytest.raises(InvalidStatus) as refused:
        await connect(wire_url(server))
    assert refused.value.response.status_code == 400


def test_transports_must_name_known_transports() -> None:
    with pytest.raises(Exception, match="polling' and/or 'websocket"):
        Server(transports=["carrier-pigeon"])
    with pytest.raises(Exception, match="polling' and/or 'websocket"):
        Server(transports=[])


# -- CORS -------------------------------------------------------------------------------


async def test_any_origin_is_allowed_by_default_with_a_star_as_the_guide_sets_it(
    server: Server,
) -> None:
    answer = await http(server.port, "GET", POLL, headers={"Origin": "https://a.example"})
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == "*"
    preflight = await http(
        server.port,
        "OPTIONS",
        POLL,
        headers={
            "Origin": "https://a.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "content-type"


async def test_an_allow_list_echoes_allowed_origins_and_refuses_others(
    make_server: ServerFactory,
) -> None:
    server = await make_server(origins=["https://good.example"], cors_credentials=True)
    good = await http(server.port, "GET", POLL, headers={"Origin": "https://good.example"})
    assert good.headers["access-control-allow-origin"] == "https://good.example"
    assert good.headers["access-control-allow-credentials"] == "true"
    assert good.headers["vary"] == "Origin"
    bad = await http(server.port, "GET", POLL, headers={"Origin": "https://evil.example"})
    assert bad.status == 403 and bad.json()["code"] == 4
    preflight = await http(
        server.port, "OPTIONS", POLL, headers={"Origin": "https://evil.example"}
    )
    assert preflight.status == 403
    assert len(server.sessions) == 1


async def test_a_missing_origin_follows_the_policy_on_polling_too(
    make_server: ServerFactory,
) -> None:
    strict = await make_server(origins=["https://good.example"], allow_missing_origin=False)
    assert (await http(strict.port, "GET", POLL)).status == 403
    lenient = await make_server(origins=["https://good.example"])
    assert (await http(lenient.port, "GET", POLL)).status == 200


# -- bounds -------------------------------------------------------------------------------


async def test_the_per_address_cap_counts_polling_sessions(make_server: ServerFactory) -> None:
    server = await make_server(max_connections_per_address=2)
    await open_polling(server.port)
    await open_polling(server.port)
    refused = await http(server.port, "GET", POLL)
    assert refused.status == 429 and "at most 2 sessions" in refused.text
    with pytest.raises(InvalidStatus):
        await connect(wire_url(server))  # WebSocket sessions count against the same cap


async def test_a_body_that_does_not_arrive_in_time_is_a_408(make_server: ServerFactory) -> None:
    server = await make_server(http_timeout=0.2)
    sid, _ = await open_polling(server.port)
    slow = RawHttp(server.port)
    try:
        await slow.send("POST", poll_of(sid), headers={"Content-Length": "100"})
        answer = await slow.answer()
        assert answer.status == 408
    finally:
        await slow.close()


async def test_an_idle_connection_is_closed_after_the_http_timeout(
    make_server: ServerFactory,
) -> None:
    server = await make_server(http_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        assert await asyncio.wait_for(reader.read(), WIRE_TIMEOUT) == b""  # closed, silent
    finally:
        writer.close()
    await eventually(lambda: server._http == set())


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
        (b"POST /socket.io/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"POST /socket.io/ HTTP/1.1\r\n\r\n", 411),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    ],
)
async def test_oversized_or_malformed_heads_get_their_status_and_the_connection_closes(
    server: Server, head: bytes, status: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head)
        data = await asyncio.wait_for(reader.read(), WIRE_TIMEOUT)
    finally:
        writer.close()
    assert data.startswith(f"HTTP/1.1 {status} ".encode())
