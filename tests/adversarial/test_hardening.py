"""One bad message must never hurt anyone else; every buffer is bounded in bytes.

Each class of attack below was tried against ``python -m wslearn serve`` and a plain
``Server()``; each test shows the attacker's outcome, that a bystander in the same room
lost nothing, that a fresh client is served at once, and that the server's memory
stays within a stated bound. The project's own rows, in the spirit of adversarial.md:

=====================================  =============================================
case                                   expected
=====================================  =============================================
a lone surrogate (``"\\ud800"``) in a  it becomes U+FFFD on the way in; the room gets
chat message, to a room and to all     the message, nobody is dropped
server code emitting a lone surrogate  ValueError to that caller, before anyone is sent
                                       anything
an ack id or attachment count of       close 1002 (never 1011), nothing converted
thousands of digits
an OPEN packet whose pingInterval has  ``connect()`` raises ConnectFailedError naming
400 digits (a hostile server)          the field, the client keeps its state
a member that reads nothing while      dropped with 1008 past ``max_buffered_bytes``;
900 KB messages go to its room         the server holds at most that much for it
a peer that sends pings, never reads   its write buffer stops growing: the server stops
                                       reading it, then drops it at the ping timeout
100,000 joins, 990 KB room names       refused past ``max_rooms_per_socket`` and
                                       ``max_room_name_length``, with an error event
1,000 connections from one address     the command line caps sessions per address
to ``python -m wslearn serve``         (429 past 50, flags to change it)
a binary packet whose attachments      closed 1008 after ``ping_timeout``; over
never all come, or add up too much     ``max_payload`` in total, 1009
=====================================  =============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import RawFactory, ServerFactory, Witness, add_echo, eventually, http
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus

from wslearn.chat import add_chat_handlers
from wslearn.client import Client
from wslearn.exceptions import ConnectFailedError
from wslearn.namespace import Socket
from wslearn.server import Server


def rss() -> int:
    """This process's resident memory, in bytes (the servers under test run in it)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


MB = 1 << 20


# -- 1. lone surrogates ------------------------------------------------------------------


@pytest.fixture
async def chat(make_server: ServerFactory, raw_client: RawFactory) -> AsyncIterator[Server]:
    server = await make_server()
    add_chat_handlers(server, clock=lambda: "T")
    add_echo(server)
    yield server


async def joined(raw_client: RawFactory, server: Server, name: str, room: str) -> Any:
    client = await raw_client(server)
    await client.connect(auth=json.dumps({"name": name}))
    await client.send(f'42["join-room","{room}"]')
    while True:  # presence and user-joined notices until its own presence arrives
        name_, data = await client.recv_event()
        if name_ == "presence" and name in data["users"]:
            return client


async def next_message(client: Any) -> dict[str, Any]:
    while True:
        name, data = await client.recv_event()
        if name == "receive-message":
            message: dict[str, Any] = data
            return message


async def test_a_lone_surrogate_becomes_a_replacement_character_and_nobody_is_dropped(
    chat: Server, raw_client: RawFactory
) -> None:
    attacker = await joined(raw_client, chat, "Mallory", "r")
    bystander = await joined(raw_client, chat, "Bob", "r")
    before = rss()
    # Raw JSON, as a JavaScript client that cut an emoji in half would send it.
    await attacker.send('42["send-message",{"roomId":"r","message":"half \\ud83d here"}]')
    for member in (attacker, bystander):
        message = await next_message(member)
        assert message["message"] == "half \ufffd here"
    await attacker.send('42["broadcast","\\udfff"]')  # the broadcast handler: everyone
    for member in (attacker, bystander):
        assert await member.recv_event() == ["broadcast-message", "\ufffd"]
    assert len(chat.connections) == 2  # both still connected
    # A pair of escapes is one emoji, and stays one.
    await attacker.send('42["send-message",{"roomId":"r","message":"\\ud83d\\ude00"}]')
    assert (await next_message(bystander))["message"] == "😀"
    witness = Witness(chat, raw_client)
    await witness.start()
    await witness.finish()
    assert rss() - before < 10 * MB


async def test_server_code_emitting_a_lone_surrogate_hears_of_it_first(
    chat: Server, raw_client: RawFactory
) -> None:
    bystander = await joined(raw_client, chat, "Bob", "r")
    with pytest.raises(ValueError, match="not valid Unicode"):
        chat.to("r").emit("news", "bad \udc80 text")
    with pytest.raises(ValueError, match="not valid Unicode"):
        chat.emit("news", {"k\ud800": 1})
    await chat.to("r").emit("news", "fine")
    assert await bystander.recv_event() == ["news", "fine"]  # nothing else came first
    assert len(chat.connections) == 1


# -- 2. unbounded integers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "42" + "1" * 5000 + '["echo"]',  # an ack id of 5000 digits
        "45" + "1" * 5000 + '-["echo",{"_placeholder":true,"num":0}]',  # an attachment count
        '4299999999999999999["echo"]',  # 17 digits: over 2**53 - 1
        '451-["echo",{"_placeholder":true,"num":' + "9" * 5000 + "}]",
        '42["echo",' + "9" * 5000 + "]",  # an integer over Python's digit limit
        '42["echo",1e999]',  # a float that overflows to infinity
    ],
    ids=["ack-id", "attachment-count", "ack-id-over-2**53", "placeholder", "int", "float"],
)
async def test_numbers_out_of_range_close_with_1002_and_hurt_nobody(
    attacked: Server, witness: Witness, raw_client: RawFactory, frame: str
) -> None:
    client = await raw_client(attacked)
    await client.connect()
    await client.send(frame)
    assert await client.closed() == 1002
    await witness.finish()


async def hostile_server(frames: list[str]) -> tuple[Any, int]:
    """A WebSocket server that sends ``frames`` to whoever connects, then waits."""

    async def handler(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()

    server = await serve(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_an_open_packet_with_a_huge_ping_interval_is_refused_by_the_client() -> None:
    opening = '0{"sid":"x","upgrades":[],"pingInterval":' + "9" * 400 + ',"pingTimeout":1}'
    server, port = await hostile_server([opening])
    try:
        client = Client(f"http://127.0.0.1:{port}", reconnection=None, connect_timeout=2)
        with pytest.raises(ConnectFailedError, match="pingInterval must be an integer"):
            await client.connect()
        assert client.state.value == "disconnected"
    finally:
        server.close()
        await server.wait_closed()


async def test_an_ack_id_of_thousands_of_digits_from_a_server_ends_that_connection() -> None:
    frames = [
        '0{"sid":"x","upgrades":[],"pingInterval":5000,"pingTimeout":5000}',
        '40{"sid":"s"}',
        "43" + "1" * 5000 + "[]",
    ]
    server, port = await hostile_server(frames)
    try:
        client = Client(f"http://127.0.0.1:{port}", reconnection=None, connect_timeout=2)
        reasons: list[str] = []
        client.on("disconnect", reasons.append)
        await client.connect()
        await eventually(lambda: reasons == ["parse error"])
    finally:
        server.close()
        await server.wait_closed()


# -- 3. a slow reader ----------------------------------------------------------------------


async def test_a_member_that_reads_nothing_is_dropped_at_the_byte_bound_and_others_keep_up(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    limit = 4 * MB  # the default max_buffered_bytes
    server = await make_server()
    assert server.max_buffered_bytes == limit
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    slow = await raw_client(server)
    slow_sid = await slow.connect()
    server.of("/").sockets[slow_sid].join("lobby")
    slow.ws.transport.pause_reading()  # from now on it reads nothing at all
    payload = secrets.token_urlsafe(675_000)  # 900 KB, poorly compressible
    before, most, sent = rss(), 0, 0
    while sent < 70:  # 63 MB in all: what an unbounded queue would have held
        sent += 1
        witness.ticks += 1
        await server.to("lobby").emit("tick", witness.ticks, payload)
        frame = await asyncio.wait_for(witness.events.get(), 5)
        assert frame == f'42["tick",{witness.ticks},"{payload}"]'  # in step, nothing lost
        most = max(most, *(session.buffered_bytes for session in server.connections))
    assert slow_sid not in server.of("/").sockets  # dropped, with 1008 sent after the rest
    assert most <= limit + len(payload) + 64  # never more than the bound and one message
    assert rss() - before < limit + 24 * MB  # not the +65 MB an unbounded queue held
    await eventually(lambda: len(server.connections) == 1)  # aborted after close_timeout
    await witness.finish()


# -- 4. ping floods -------------------------------------------------------------------------


async def raw_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand, so that it can misbehave at the frame level."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_a_ping_flood_that_never_reads_is_not_buffered_and_is_dropped(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    # A generous ping timeout: the bystander must keep up on a loaded machine too.
    server = await make_server(ping_interval=0.5, ping_timeout=2.0)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    _, writer = await raw_websocket(server.port)
    (flooder,) = (session for session in server.connections if not session.sockets)
    # A blocking socket in a thread sends pings as fast as the kernel takes them and
    # never reads a pong: it blocks as soon as the server stops reading it.
    sock = writer.get_extra_info("socket").dup()
    sock.setblocking(True)
    writer.transport.pause_reading()
    ping = (bytes([0x89, 0x80 | 20]) + b"mask" + bytes(b ^ 0x20 for b in b"x" * 20)) * 2000
    stop = threading.Event()

    def flood() -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                sock.sendall(ping)

    before, most = rss(), 0
    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        async with asyncio.timeout(10):
            while flooder.sid in server.sessions:
                most = max(most, flooder.buffered_bytes)
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        sock.close()
        writer.transport.abort()
        await asyncio.to_thread(thread.join, 5)
    assert flooder.sid not in server.sessions  # dropped: it never answered the heartbeat
    assert most <= 256 * 1024  # its unread pongs stayed near asyncio's high-water mark
    assert rss() - before < 16 * MB  # not the +70 MB seen before
    await witness.finish()


# -- 5. rooms -------------------------------------------------------------------------------


async def test_joins_past_the_room_cap_and_oversized_names_are_refused(
    attacked: Server, witness: Witness, raw_client: RawFactory
) -> None:
    @attacked.on("join")
    def join(socket: Socket, room: Any) -> None:
        socket.join(room)

    client = await raw_client(attacked)
    sid = await client.connect()
    before = rss()
    for n in range(0, 100_000, 500):  # 100,000 joins, 500 to a burst
        await client.send(*(f'42["join","room-{n + k}"]' for k in range(500)))
        refused = 400 if n == 0 else 500  # the first 100 are let in
        for _ in range(refused):
            name, data = await client.recv_event()
            assert name == "error" and "already in 100 rooms" in data["message"]
            assert data["rule"] == "room limit"
    rooms = attacked.registry.rooms_of("/", sid)
    assert len(rooms) == 101  # the cap, plus its own room
    await client.send('42["join","' + "x" * 990_000 + '"]')
    name, data = await client.recv_event()
    assert name == "error" and "room name too long" in data["message"]
    assert attacked.registry.rooms_of("/", sid) == rooms
    assert sum(len(room) for room in attacked.of("/").rooms) < 101 * 256 + 100
    assert rss() - before < 16 * MB  # not the +41 MB and +74 MB seen before
    await witness.finish()


# -- 6. the command line's defaults ---------------------------------------------------------


@pytest.fixture
async def cli_server() -> AsyncIterator[int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wslearn",
        "serve",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    port = int(line.split("127.0.0.1:")[1].split()[0])
    yield port
    proc.terminate()
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0 and b"stopped" in out  # SIGTERM: a clean stop


async def test_the_command_line_caps_sessions_per_address_by_default(cli_server: int) -> None:
    url = f"ws://127.0.0.1:{cli_server}/socket.io/?EIO=4&transport=websocket"
    opened = [await connect(url) for _ in range(50)]
    try:
        with pytest.raises(InvalidStatus) as refused:
            await connect(url)
        assert refused.value.response.status_code == 429
        polling = await http(cli_server, "GET", "/socket.io/?EIO=4&transport=polling")
        assert polling.status == 429  # sessions of either transport count
        await opened.pop().close()
        async with asyncio.timeout(5):
            while True:  # the freed place is served again
                try:
                    opened.append(await connect(url))
                    break
                except InvalidStatus:
                    await asyncio.sleep(0.05)
    finally:
        for ws in opened:
            await ws.close()


def test_the_command_line_says_what_a_bad_limit_is() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wslearn", "serve", "--port", "0", "--max-payload", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "max_payload must be positive" in done.stderr


# -- 7. half-sent binary packets --------------------------------------------------------------


async def test_attachments_that_never_come_close_the_connection_after_the_ping_timeout(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(ping_interval=0.3, ping_timeout=0.3)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    client = await raw_client(server)
    await client.connect()
    header = '452-["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    await client.send(header, b"x" * 100_000)  # one of the two announced attachments
    assert await client.closed() == 1008
    await witness.finish()


async def test_attachments_adding_up_past_max_payload_close_with_1009(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server(max_payload=100_000)
    add_echo(server)
    witness = Witness(server, raw_client)
    await witness.start()
    client = await raw_client(server)
    await client.connect()
    placeholders = ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(10))
    await client.send(f'4510-["echo",{placeholders}]', *(b"x" * 60_000 for _ in range(3)))
    assert await client.closed() == 1009
    await witness.finish()
