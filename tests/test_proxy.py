"""LinkProxy relays real TCP traffic to a real echo server and breaks it on request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from wslearn.exceptions import UsageError
from wslearn.proxy import TRANSITIONS, LinkProxy, LinkState

# Generous bound for "this should happen soon"; it never decides a timing question.
SOON = 5.0


@dataclass
class EchoServer:
    """A plain TCP echo server that remembers how its connections ended."""

    server: asyncio.Server | None = None
    ended: list[str] = field(default_factory=list)
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        how = "eof"
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionResetError:
            how = "reset"
        finally:
            self.ended.append(how)
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    echo = EchoServer()
    echo.server = await asyncio.start_server(echo.handle, "127.0.0.1", 0)
    yield echo
    echo.server.close()
    await echo.server.wait_closed()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[LinkProxy]:
    async with LinkProxy("127.0.0.1", echo.port) as proxy:
        yield proxy


async def read_exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), SOON)


async def read_end(reader: asyncio.StreamReader) -> bytes:
    """Read until the connection ends; a reset counts as an end with no more data."""
    try:
        return await asyncio.wait_for(reader.read(), SOON)
    except ConnectionResetError:
        return b""


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll a condition the proxy exposes no event for (counters, task sets)."""
    async with asyncio.timeout(SOON):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.005)


async def test_counters_are_exact_for_known_payloads(proxy: LinkProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"x" * 1000)
    assert await read_exactly(reader, 1000) == b"x" * 1000
    writer.write(b"hello")
    assert await read_exactly(reader, 5) == b"hello"
    stats = proxy.stats()
    assert (stats.client_to_server, stats.server_to_client, stats.total) == (1005, 1005, 2010)
    assert stats.accepted == 1 and stats.open == 1
    (conn,) = stats.connections
    assert (conn.client_to_server, conn.server_to_client, conn.open) == (1005, 1005, True)
    writer.close()
    await writer.wait_closed()


async def test_each_connection_is_counted_separately_and_kept_after_closing(
    proxy: LinkProxy,
) -> None:
    for size in (10, 20):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a" * size)
        await read_exactly(reader, size)
        writer.write_eof()
        assert await read_end(reader) == b""
        writer.close()
    await wait_until(lambda: proxy.stats().open == 0)
    stats = proxy.stats()
    assert [(c.id, c.client_to_server, c.ended) for c in stats.connections] == [
        (2, 20, "closed"),
        (1, 10, "closed"),
    ]
    assert stats.total == 60


async def test_reset_stats_zeroes_counters_and_forgets_ended_connections(
    proxy: LinkProxy,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"abc")
    await read_exactly(reader, 3)
    proxy.reset_stats()
    stats = proxy.stats()
    assert (stats.total, stats.accepted) == (0, 0)
    assert stats.connections[0].client_to_server == 0
    writer.write(b"de")
    await read_exactly(reader, 2)
    assert proxy.stats().client_to_server == 2
    writer.close()


async def test_latency_delays_a_round_trip_by_at_least_twice_the_delay(
    proxy: LinkProxy,
) -> None:
    proxy.set_latency(0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    started = time.monotonic()
    writer.write(b"ping")
    await read_exactly(reader, 4)
    assert time.monotonic() - started >= 2 * 0.05
    writer.close()


async def test_latency_keeps_the_order_of_many_small_writes(proxy: LinkProxy) -> None:
    proxy.set_latency(0.01)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    sent = b""
    for i in range(50):
        piece = f"<{i}>".encode()
        writer.write(piece)
        await writer.drain()
        sent += piece
        proxy.set_latency(0.01 if i % 2 else 0.0)  # later chunks may be due earlier
    assert await read_exactly(reader, len(sent)) == sent
    writer.close()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
async def test_latency_refuses_values_that_are_not_a_delay(proxy: LinkProxy, bad: float) -> None:
    with pytest.raises(ValueError, match="latency"):
        proxy.set_latency(bad)


async def test_pause_holds_data_and_resume_delivers_it(proxy: LinkProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    proxy.pause()
    writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.2)
    assert proxy.stats().held == 4
    assert proxy.stats().client_to_server == 0
    proxy.resume()
    assert await read_exactly(reader, 4) == b"held"
    assert proxy.stats().held == 0
    writer.close()


async def test_pause_holds_at_most_max_held_and_loses_nothing(echo: EchoServer) -> None:
    async with LinkProxy("127.0.0.1", echo.port, max_held=4096) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        payload = bytes(range(256)) * 1024  # 256 KiB, far more than the hold
        proxy.pause()
        sending = asyncio.create_task(_send(writer, payload))
        await wait_until(lambda: proxy.stats().held == 4096)
        await asyncio.sleep(0.05)
        assert proxy.stats().held == 4096  # stopped reading: TCP pushes back
        proxy.resume()
        assert await read_exactly(reader, len(payload)) == payload
        await sending
        writer.close()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def test_cut_closes_both_sides_and_new_connections_still_work(
    proxy: LinkProxy, echo: EchoServer
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"hi")
    await read_exactly(reader, 2)
    assert await proxy.cut() == 1
    assert await read_end(reader) == b""
    await wait_until(lambda: len(echo.ended) == 1)
    assert proxy.stats().connections[0].ended == "cut"
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"again")
    assert await read_exactly(reader, 5) == b"again"
    writer.close()


async def test_down_cuts_and_refuses_until_up(proxy: LinkProxy, echo: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"hi")
    await read_exactly(reader, 2)
    await proxy.down()
    assert proxy.state is LinkState.DOWN
    assert await read_end(reader) == b""
    writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await read_end(reader) == b""
    writer.close()
    assert proxy.stats().refused == 1
    assert echo.connections == 1  # the refused one never reached the server

    proxy.up()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"back")
    assert await read_exactly(reader, 4) == b"back"
    writer.close()


async def test_connections_over_the_cap_are_refused(echo: EchoServer) -> None:
    async with LinkProxy("127.0.0.1", echo.port, max_connections=1) as proxy:
        _, first = await asyncio.open_connection("127.0.0.1", proxy.port)
        await wait_until(lambda: proxy.stats().open == 1)
        reader, second = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await read_end(reader) == b""
        assert proxy.stats().refused == 1
        first.close()
        second.close()


async def test_an_unreachable_server_resets_the_client_and_is_counted() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    async with LinkProxy("127.0.0.1", port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await read_end(reader) == b""
        await wait_until(lambda: proxy.stats().upstream_failures == 1)
        writer.close()


async def test_state_changes_are_reported_to_callbacks_in_order(echo: EchoServer) -> None:
    proxy = LinkProxy("127.0.0.1", echo.port)
    seen: list[LinkState] = []
    unsubscribe = proxy.on_change(seen.append)
    await proxy.start()
    proxy.pause()
    proxy.pause()  # already paused: no change, no callback
    proxy.resume()
    await proxy.down()
    proxy.up()
    await proxy.stop()
    unsubscribe()
    await proxy.start()
    await proxy.stop()
    assert seen == [
        LinkState.UP,
        LinkState.PAUSED,
        LinkState.UP,
        LinkState.DOWN,
        LinkState.UP,
        LinkState.STOPPED,
    ]


async def test_a_move_the_table_does_not_allow_says_what_to_do(proxy: LinkProxy) -> None:
    await proxy.down()
    with pytest.raises(UsageError, match=r"call up\(\)"):
        proxy.pause()
    assert (LinkState.DOWN, "pause") not in TRANSITIONS


async def test_using_the_port_before_start_is_a_usage_error(echo: EchoServer) -> None:
    with pytest.raises(UsageError, match="start"):
        _ = LinkProxy("127.0.0.1", echo.port).port


async def test_stop_resets_connections_and_leaves_no_tasks(echo: EchoServer) -> None:
    before = asyncio.all_tasks()
    proxy = await LinkProxy("127.0.0.1", echo.port).start()
    port = proxy.port
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    for reader, writer in streams:
        writer.write(b"z")
        await read_exactly(reader, 1)
    proxy.pause()
    streams[0][1].write(b"held while stopping")
    await proxy.stop()
    await proxy.stop()  # twice is fine
    assert proxy.state is LinkState.STOPPED
    for reader, writer in streams:
        assert await read_end(reader) == b""
        writer.close()
    await wait_until(lambda: len(echo.ended) == 3)
    await wait_until(lambda: asyncio.all_tasks() <= before)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_paused_link_is_noticed_only_by_heartbeats() -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with (
        serve(silent, "127.0.0.1", 0, ping_interval=None) as server,
        LinkProxy("127.0.0.1", server.sockets[0].getsockname()[1]) as proxy,
    ):
        quiet = await connect(proxy.url("/"), ping_interval=None, proxy=None)
        # close_timeout: the closing handshake cannot cross a paused link either.
        beating = await connect(
            proxy.url("/"), ping_interval=0.05, ping_timeout=0.1, close_timeout=0.1, proxy=None
        )
        proxy.pause()
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(beating.recv(), SOON)
        # The client gave up: it sent 1011 "keepalive ping timeout", heard nothing back.
        assert caught.value.sent is not None and caught.value.sent.code == 1011
        assert caught.value.rcvd is None
        assert quiet.state.name == "OPEN"  # without pings, nothing looks wrong
        proxy.resume()
        await quiet.close()


async def test_a_connection_opened_while_paused_carries_nothing_until_resume(
    proxy: LinkProxy,
) -> None:
    proxy.pause()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"early")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(5), 0.2)
    proxy.resume()
    assert await read_exactly(reader, 5) == b"early"
    assert proxy.url("/chat") == f"ws://127.0.0.1:{proxy.port}/chat"
    writer.close()
