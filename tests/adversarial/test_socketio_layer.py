"""Bad input, faults and attacks against the Socket.IO layer of wslearn.Server.

One test per row of the "Socket.IO layer" table of adversarial.md, plus the transport
rows that are wslearn's own wiring (path, query, Origin, size limit, connection cap).
Every test ends by proving that a bystander connected all along lost nothing and that
a fresh, well-behaved client is still served.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket as pysocket
import struct

import pytest
from support import RawFactory, ServerFactory, Witness, add_echo, eventually, wire_url
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wslearn.exceptions import AckTimeoutError
from wslearn.namespace import Socket
from wslearn.server import Server

# -- Socket.IO layer ------------------------------------------------------------------


async def test_a_first_packet_that_is_not_connect_closes_the_connection(
    attacked: Server, witness: Witness, raw_client: RawFactory
) -> None:
    client = await raw_client(attacked)
    await client.send('42["echo",1]')
    assert await client.closed() == 1002
    assert client.ws.close_reason == "the first Socket.IO packet must be CONNECT"
    await witness.finish()


async def test_no_connect_within_the_connect_timeout_closes_the_connection(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(connect_timeout=0.2)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    silent = await raw_client(server)
    assert await silent.closed() == 1008
    assert silent.ws.close_reason == "no CONNECT within 0.2 s"
    await witness.finish()


@pytest.mark.parametrize(
    "frame",
    [
        "7",  # unknown Engine.IO packet type
        "49",  # unknown Socket.IO packet type
        '42["echo",',  # payload that is not valid JSON
        '42{"event":"echo"}',  # EVENT payload not an array
        "42[]",  # EVENT payload an empty array
        "42[1,2]",  # EVENT name not a string
        "43x[]",  # non-numeric ack id
        "",  # empty frame
        "5",  # an upgrade nobody offered
    ],
)
async def test_a_malformed_packet_closes_only_that_connection(
    attacked: Server, witness: Witness, raw_client: RawFactory, frame: str
) -> None:
    client = await raw_client(attacked)
    await client.connect()
    await client.send(frame)
    assert await client.closed() == 1002
    await eventually(lambda: client.sid not in attacked.of("/").sockets)
    await witness.finish()


async def test_connect_to_an_unregistered_namespace_gets_invalid_namespace(
    attacked: Server, witness: Witness, raw_client: RawFactory
) -> None:
    client = await raw_client(attacked)
    await client.send("40/admin,")
    assert await client.recv() == '44/admin,{"message":"Invalid namespace"}'
    await witness.finish()


async def test_a_client_that_sends_ping_is_closed(
    attacked: Server, witness: Witness, raw_client: RawFactory
) -> None:
    client = await raw_client(attacked)
    await client.connect()
    await client.send("2")
    assert await client.closed() == 1002
    assert client.ws.close_reason == "invalid heartbeat direction"
    await witness.finish()


async def test_acks_never_issued_or_duplicated_are_ignored_and_timeouts_still_fire(
    attacked: Server, witness: Witness, raw_client: RawFactory
) -> None:
    client = await raw_client(attacked)
    sid = await client.connect()
    socket = attacked.of("/").sockets[sid]
    await client.send("43123[1]", "430[1]")  # before any call: never issued
    await client.send('429["echo"]')  # a round trip: the server has read them
    assert await client.recv() == "439[]"
    answered = asyncio.create_task(socket.call("question"))
    assert await client.recv() == '420["question"]'
    await client.send("430[2]", "430[3]")  # the answer, then a duplicate
    assert await answered == [2]
    waiting = asyncio.create_task(socket.call("question", timeout=0.2))
    assert await client.recv() == '421["question"]'
    await client.send("430[4]", "4399[5]")
    with pytest.raises(AckTimeoutError):
        await waiting
    await client.send('428["echo","ok"]')
    assert await client.recv() == '438["ok"]'
    await witness.finish()


async def test_a_handler_that_raises_answers_with_an_error_event_and_is_logged(
    attacked: Server, witness: Witness, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    @attacked.on("explode")
    async def explode(socket: Socket) -> None:
        raise ZeroDivisionError("private")

    client = await raw_client(attacked)
    await client.connect()
    with caplog.at_level(logging.ERROR, logger="wslearn.server"):
        await client.send('42["explode"]')
        assert await client.recv_event() == [
            "error",
            {"message": "the 'explode' handler failed (ZeroDivisionError)", "event": "explode"},
        ]
    assert "ZeroDivisionError: private" in caplog.text
    await client.send('421["echo",1]')
    assert await client.recv() == "431[1]"
    await witness.finish()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("no-such-event", "unknown event 'no-such-event'"),
        ("x" * 10_000, "event name too long (10000 characters, at most 256)"),
        ("__proto__", "event name '__proto__' is reserved"),
        ("constructor", "unknown event 'constructor'"),
        ("disconnect", "event name 'disconnect' is reserved"),
        ("", "event name must be non-empty printable text"),
    ],
)
async def test_bad_event_names_get_an_error_event_naming_the_problem(
    attacked: Server, witness: Witness, raw_client: RawFactory, event: str, message: str
) -> None:
    disconnects: list[str] = []
    attacked.on("disconnect")(lambda socket, reason: disconnects.append(reason))
    client = await raw_client(attacked)
    await client.connect()
    await client.send("42" + json.dumps([event, 1]))
    name, error = await client.recv_event()
    assert name == "error" and error["message"] == message
    assert len(json.dumps(error)) < 400  # a huge name is not echoed back
    assert disconnects == []  # a client cannot fake lifecycle events
    await witness.finish()


@pytest.mark.parametrize(
    "frames",
    [
        ['451-["echo",{"_placeholder":true,"num":0}]', '42["echo"]'],  # text, not binary
        ['452-["echo",{"_placeholder":true,"num":0}]'],  # 2 announced, 1 placeholder
        ['451-["echo",{"_placeholder":true,"num":3}]'],  # placeholder past the end
        [b"\x00\x01"],  # a binary frame nobody announced
    ],
)
async def test_attachment_counts_that_do_not_match_close_the_connection(
    attacked: Server, witness: Witness, raw_client: RawFactory, frames: list[str | bytes]
) -> None:
    client = await raw_client(attacked)
    await client.connect()
    await client.send(*frames)
    assert await client.closed() == 1002
    await witness.finish()


async def test_a_client_that_never_reads_is_dropped_and_the_others_keep_up(
    make_server: ServerFactory, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    limit = 1_000_000
    server = await make_server(max_buffered_bytes=limit, close_timeout=0.5)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    slow = await raw_client(server)
    slow_sid = await slow.connect()
    server.of("/").sockets[slow_sid].join("lobby")
    slow.ws.transport.pause_reading()  # from now on it reads nothing at all
    payload = secrets.token_urlsafe(48_000)  # ~64 KB, poorly compressible
    sent = 0
    with caplog.at_level(logging.WARNING, logger="wslearn.server"):
        while slow_sid in server.of("/").sockets and sent < 2000:  # ~128 MB bound
            witness.ticks += 1
            sent += 1
            await server.to("lobby").emit("tick", witness.ticks, payload)
            frame = await asyncio.wait_for(witness.events.get(), 5)
            assert frame == f'42["tick",{witness.ticks},"{payload}"]'  # in step, no loss
            for session in server.connections:  # memory per client stays bounded
                assert session.buffered_bytes <= limit + len(payload) + 100
    assert slow_sid not in server.of("/").sockets
    assert "bytes unread (max_buffered_bytes is 1000000)" in caplog.text
    await eventually(lambda: len(server.connections) == 1)  # aborted after close_timeout
    await witness.finish()


async def test_a_half_open_peer_is_closed_and_its_rooms_cleaned_up(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(ping_interval=0.1, ping_timeout=0.1)
    add_echo(server)
    reasons: list[str] = []
    server.on("disconnect")(lambda socket, reason: reasons.append(reason))
    witness = Witness(server, raw_client)
    await witness.start()
    mute = await raw_client(server, answer_pings=False)
    mute_sid = await mute.connect()
    server.of("/").sockets[mute_sid].join("presence")
    assert server.registry.members("/", "presence") == {mute_sid}
    await eventually(lambda: mute_sid not in server.of("/").sockets)
    await eventually(lambda: reasons == ["ping timeout"])  # the handler runs in a task
    assert server.registry.rooms_of("/", mute_sid) == frozenset()
    assert "presence" not in server.of("/").rooms
    await witness.finish()


async def test_a_tcp_reset_mid_message_is_cleaned_up_like_any_disconnect(
    attacked: Server, witness: Witness, raw_client: RawFactory
) -> None:
    reasons: list[str] = []
    attacked.on("disconnect")(lambda socket, reason: reasons.append(reason))
    client = await raw_client(attacked)
    sid = await client.connect()
    attacked.of("/").sockets[sid].join("r1")
    # Half a masked text frame announcing 4096 bytes, then a reset (SO_LINGER 0).
    client.ws.transport.write(b"\x81\xfe\x10\x00" + b"mask" + b"x" * 100)
    sock = client.ws.transport.get_extra_info("socket")
    sock.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_LINGER, struct.pack("ii", 1, 0))
    client.ws.transport.abort()
    await eventually(lambda: bool(reasons))
    assert sid not in attacked.of("/").sockets
    assert reasons == ["transport error"]
    assert "r1" not in attacked.of("/").rooms
    await eventually(lambda: len(attacked.connections) == 1)
    assert attacked._per_address["127.0.0.1"] == 1
    await witness.finish()


# -- transport rows wired by wslearn --------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "status", "explains"),
    [
        ("/chat/", "EIO=4&transport=websocket", 404, "/socket.io/"),
        ("/socket.io/", "transport=websocket", 400, "EIO=4 is required"),
        ("/socket.io/", "EIO=3&transport=websocket", 400, "got EIO='3'"),
        ("/socket.io/", "EIO=4", 400, "Transport unknown"),
        ("/socket.io/", "EIO=4&transport=polling", 400, "got transport='polling'"),
        ("/socket.io/", "EIO=4&transport=websocket&sid=abc", 400, "Session ID unknown"),
    ],
)
async def test_wrong_paths_and_queries_are_refused_with_a_clear_status(
    attacked: Server, witness: Witness, path: str, query: str, status: int, explains: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(wire_url(attacked, query, path))
    assert refused.value.response.status_code == status
    assert explains in refused.value.response.body.decode()
    await witness.finish()


async def test_query_parameters_are_parsed_not_string_matched(
    attacked: Server, raw_client: RawFactory
) -> None:
    # python-socketio's order, with a cache-buster, and no trailing slash on the path
    async with connect(wire_url(attacked, "transport=websocket&EIO=4&t=123", "/socket.io")) as ws:
        assert str(await ws.recv()).startswith('0{"sid":')


async def test_an_origin_outside_the_allow_list_gets_403_and_a_missing_one_follows_policy(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(origins=["https://good.example"])
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()  # no Origin header: accepted by the default policy
    with pytest.raises(InvalidStatus) as refused:
        await connect(wire_url(server), origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    async with connect(wire_url(server), origin="https://good.example") as ws:  # type: ignore[arg-type]
        assert str(await ws.recv()).startswith("0")
    strict = await make_server(origins=["https://good.example"], allow_missing_origin=False)
    with pytest.raises(InvalidStatus) as refused:
        await connect(wire_url(strict))
    assert refused.value.response.status_code == 403
    await witness.finish()


async def test_a_message_over_max_payload_closes_with_1009(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(max_payload=1000)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    client = await raw_client(server)
    await client.connect()
    await client.send('42["echo","' + "x" * 2000 + '"]')
    assert await client.closed() == 1009
    await witness.finish()


async def test_connections_over_the_per_address_cap_are_refused_until_one_leaves(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(max_connections_per_address=3)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()  # connection 1
    second = await raw_client(server)
    third = await raw_client(server)
    with pytest.raises(InvalidStatus) as refused:
        await connect(wire_url(server))
    assert refused.value.response.status_code == 429
    assert "at most 3 sessions" in refused.value.response.body.decode()
    await second.send("1")  # leave politely
    assert await second.closed() == 1000
    await eventually(lambda: server._per_address["127.0.0.1"] == 2)
    await third.ws.close()
    await eventually(lambda: server._per_address["127.0.0.1"] == 1)
    await witness.finish()  # the fresh client fits again
