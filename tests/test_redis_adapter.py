"""Tests for wslearn.redis_adapter against a real redis-server started by the tests.

Each test gets its own ``redis-server`` (wslearn.local_redis: a free loopback port,
a temporary directory, nothing persisted), stopped at teardown. Servers share rooms
through it, in this process or as ``python -m wslearn serve --redis`` subprocesses.
No fake Redis anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from wslearn.backoff import Backoff
from wslearn.client import Client
from wslearn.exceptions import ConnectFailedError
from wslearn.local_redis import INSTALL_HINT, LocalRedis, redis_server_path
from wslearn.redis_adapter import RedisAdapter
from wslearn.server import Server

if redis_server_path() is None:
    pytest.skip(f"SKIPPED Redis adapter tests: {INSTALL_HINT}", allow_module_level=True)

pytestmark = pytest.mark.faults

FAST = Backoff(initial=0.05, maximum=0.2, jitter=0.0)
WAIT = 10.0


@pytest.fixture
async def redis() -> AsyncIterator[LocalRedis]:
    async with LocalRedis() as running:
        yield running


Cluster = Callable[..., Awaitable[Server]]


@pytest.fixture
async def cluster(redis: LocalRedis) -> AsyncIterator[Cluster]:
    """Start servers that share rooms through ``redis``; all stopped at teardown."""
    servers: list[Server] = []

    async def make(**options: Any) -> Server:
        adapter = RedisAdapter(redis.url, reconnection=FAST, **options)
        server = Server(adapter=adapter, ping_interval=5.0, ping_timeout=5.0)
        server.on("join", lambda socket, room: socket.join(room))
        server.on("leave", lambda socket, room: socket.leave(room))

        @server.on("shout")
        async def shout(socket: Any, room: str, text: str) -> None:
            await socket.to(room).emit("heard", text)  # everyone in the room but me

        servers.append(await server.start())
        return server

    yield make
    for server in servers:
        await server.stop()


class Member:
    """A client on one server, recording every ``heard`` / ``news`` it receives."""

    def __init__(self, server: Server, name: str) -> None:
        self.name = name
        self.client = Client(server.url, reconnection=FAST)
        self.got: list[Any] = []
        self.client.on("heard", lambda text: self.got.append(text))
        self.client.on("news", lambda text: self.got.append(text))

    async def __aenter__(self) -> Member:
        await self.client.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.disconnect()

    async def join(self, room: str) -> None:
        await self.client.emit("join", room)


async def eventually(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def settle() -> None:
    """Long enough for a publish to cross Redis and be delivered (loopback)."""
    await asyncio.sleep(0.2)


async def test_a_room_broadcast_from_either_process_reaches_members_in_both(
    cluster: Cluster,
) -> None:
    a, b = await cluster(), await cluster()
    async with (
        Member(a, "a1") as a1,
        Member(a, "a2") as a2,
        Member(b, "b1") as b1,
        Member(b, "b2") as b2,
    ):
        for member in (a1, b1, b2):
            await member.join("r1")
        await settle()
        await a.to("r1").emit("news", "from a")
        await b.to("r1").emit("news", "from b")
        await eventually(lambda: len(b2.got) == 2)
        await settle()
        for member in (a1, b1, b2):
            assert sorted(member.got) == ["from a", "from b"], member.name
        assert a2.got == []  # not in the room, in either process


async def test_broadcasts_to_all_and_with_exclusions_cross_processes(cluster: Cluster) -> None:
    a, b = await cluster(), await cluster()
    async with Member(a, "a1") as a1, Member(b, "b1") as b1, Member(b, "b2") as b2:
        await b2.join("muted")
        await a1.join("r1")
        await b1.join("r1")
        await settle()
        await a.emit("news", "everyone")
        await a.except_("muted").emit("news", "not muted")
        assert b1.client.sid is not None
        await a.to("r1").except_(b1.client.sid).emit("news", "r1 but b1")  # a remote sid
        await a1.client.emit("shout", "r1", "a1 speaks")  # socket.to(): not the sender
        await eventually(lambda: len(b1.got) == 3)
        await settle()
        assert a1.got == ["everyone", "not muted", "r1 but b1"]
        assert b1.got == ["everyone", "not muted", "a1 speaks"]
        assert b2.got == ["everyone"]


async def test_an_emit_to_a_socket_id_reaches_it_in_the_other_process(cluster: Cluster) -> None:
    a, b = await cluster(), await cluster()
    async with Member(b, "b1") as b1:
        assert b1.client.sid is not None
        await a.to(b1.client.sid).emit("news", "just for you")
        await eventually(lambda: b1.got == ["just for you"])


async def test_a_process_with_no_sockets_can_broadcast_to_the_others(cluster: Cluster) -> None:
    worker, web = await cluster(), await cluster()
    async with Member(web, "w1") as w1:
        await w1.join("alerts")
        await settle()
        assert worker.of("/").sockets == {}
        await worker.to("alerts").emit("news", "from the worker")
        await eventually(lambda: w1.got == ["from the worker"])
    assert worker.adapter.stats.published == 1  # type: ignore[attr-defined]


async def test_joins_and_leaves_stay_local_and_publish_nothing(
    cluster: Cluster, redis: LocalRedis
) -> None:
    a, b = await cluster(), await cluster()
    async with Member(a, "a1") as a1, Member(b, "b1") as b1:
        for _ in range(3):
            await b1.join("r1")
            await b1.client.emit("leave", "r1")
        await a1.join("r1")
        await settle()
        stats_a, stats_b = a.adapter.stats, b.adapter.stats  # type: ignore[attr-defined]
        assert stats_a.published == stats_b.published == 0
        assert a.registry.members("/", "r1") == {a1.client.sid}  # a knows only its own
        await a.to("r1").emit("news", "r1 only")
        await eventually(lambda: a1.got == ["r1 only"])
        await settle()
        assert b1.got == []  # b1 left: b knows it, a never needed to
        assert stats_a.published == 1 and stats_b.received == 1


async def test_a_redis_restart_drops_only_what_was_sent_while_it_was_down_and_says_so(
    cluster: Cluster, redis: LocalRedis
) -> None:
    a, b = await cluster(), await cluster()
    adapter_a: RedisAdapter = a.adapter  # type: ignore[assignment]
    adapter_b: RedisAdapter = b.adapter  # type: ignore[assignment]
    async with Member(a, "a1") as a1, Member(b, "b1") as b1:
        await a1.join("r")
        await b1.join("r")
        await settle()
        await a.to("r").emit("news", "before")
        await eventually(lambda: b1.got == ["before"])

        await redis.kill()  # a crash: no goodbye
        await eventually(lambda: not adapter_a.connected and not adapter_b.connected)
        for i in range(5):
            await a.to("r").emit("news", f"during {i}")
        await eventually(lambda: len(a1.got) == 6)  # local sockets lose nothing
        assert adapter_a.stats.dropped == 5

        await redis.start()  # same port
        async with asyncio.timeout(WAIT):
            await adapter_a.wait_connected()
            await adapter_b.wait_connected()
        await a.to("r").emit("news", "after")
        await b.to("r").emit("news", "after, from b")
        await eventually(lambda: len(b1.got) == 3 and len(a1.got) == 8)
        await settle()
    # The bound: exactly the broadcasts sent while Redis was down missed the other
    # process; before and after, everything arrived, once.
    # (Across processes only each sender's own order is kept: the last two may swap.)
    assert b1.got[0] == "before" and sorted(b1.got[1:]) == ["after", "after, from b"]
    assert a1.got[:6] == ["before", *(f"during {i}" for i in range(5))]
    assert sorted(a1.got[6:]) == ["after", "after, from b"]
    kinds = [event.kind for event in adapter_a.events]
    assert kinds == ["connected", "lost", "reconnected"]
    reconnected = adapter_a.events[-1]
    assert reconnected.count == 5 and "5 broadcast(s)" in reconnected.detail
    assert adapter_a.stats.outages == 1 and adapter_b.stats.outages == 1


async def test_a_malformed_message_on_the_channel_is_counted_and_ignored(
    cluster: Cluster, redis: LocalRedis
) -> None:
    import redis.asyncio as aioredis

    a, b = await cluster(), await cluster()
    async with Member(b, "b1") as b1:
        intruder = aioredis.Redis.from_url(redis.url)
        try:
            await intruder.publish("wslearn", b"not an envelope")
            await intruder.publish("wslearn", b'{"v":1}\n')
        finally:
            await intruder.aclose()
        await a.emit("news", "still fine")
        await eventually(lambda: b1.got == ["still fine"])
    assert b.adapter.stats.invalid == 2  # type: ignore[attr-defined]
    assert [e.kind for e in b.adapter.events][-2:] == ["invalid", "invalid"]  # type: ignore[attr-defined]


async def test_a_server_refuses_to_start_when_redis_cannot_be_reached(redis: LocalRedis) -> None:
    url = redis.url
    await redis.stop()
    server = Server(adapter=RedisAdapter(url))
    with pytest.raises(ConnectFailedError, match="Redis did not answer"):
        await server.start()
    assert not server.running


# -- separate processes ---------------------------------------------------------------


async def serve_process(redis_url: str) -> tuple[asyncio.subprocess.Process, int]:
    """``python -m wslearn serve --redis``; returns the process and its port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wslearn", "serve", "--port", "0", "--redis", redis_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT):
        line = (await proc.stdout.readline()).decode()
    assert "listening on http://127.0.0.1:" in line, line
    return proc, int(line.split("127.0.0.1:")[1].split()[0])


class Failover:
    """A TCP front that sends each new connection to the first backend that accepts."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.ports:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in self.writers:
                writer.close()
            await self.server.wait_closed()


async def test_two_server_processes_share_a_room_and_a_killed_ones_sockets_move_over(
    redis: LocalRedis,
) -> None:
    (proc_a, port_a), (proc_b, port_b) = (
        await serve_process(redis.url),
        await serve_process(redis.url),
    )
    front = Failover([port_a, port_b])
    front_port = await front.start()
    roaming = Client(f"http://127.0.0.1:{front_port}", reconnection=FAST, auth={"name": "Ro"})
    staying = Client(f"http://127.0.0.1:{port_b}", reconnection=FAST, auth={"name": "St"})
    heard: list[str] = []
    roaming.on("receive-message", lambda m: heard.append(m["message"]))
    try:
        await roaming.connect()  # through the front: process A
        await staying.connect()
        await roaming.emit("join-room", "lobby")
        await staying.emit("join-room", "lobby")
        await asyncio.sleep(0.3)
        await staying.emit("send-message", {"roomId": "lobby", "message": "one"})
        await eventually(lambda: heard == ["one"])  # B → Redis → A → roaming

        proc_a.send_signal(signal.SIGKILL)  # a crash: no DISCONNECT, the client reconnects
        await proc_a.wait()
        await eventually(lambda: roaming.connected and roaming.sid is not None)
        await roaming.emit("join-room", "lobby")  # rooms lived in the dead process
        await asyncio.sleep(0.3)
        await staying.emit("send-message", {"roomId": "lobby", "message": "two"})
        await eventually(lambda: heard == ["one", "two"])  # now on B itself
    finally:
        await roaming.disconnect()
        await staying.disconnect()
        await front.stop()
        for proc in (proc_a, proc_b):
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
    assert proc_b.returncode == 0


async def test_local_redis_restarts_on_the_same_port_and_cleans_up_its_directory() -> None:
    redis = await LocalRedis().start()
    port, folder = redis.port, redis._dir
    assert folder is not None and folder.is_dir()
    await redis.restart()
    assert redis.port == port and redis.running
    await redis.stop()
    assert not redis.running and not folder.exists()
    await redis.stop()  # twice: nothing
