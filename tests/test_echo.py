"""Tests for wslearn.echo: a real EchoServer and a real WebSocketClient on loopback."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from wslearn.echo import (
    CloseEvent,
    EchoServer,
    ErrorEvent,
    MessageEvent,
    OpenEvent,
    ReadyState,
    ServerEvent,
    WebSocketClient,
)
from wslearn.exceptions import NotConnectedError, UsageError
from wslearn.handshake import UpgradeRequest, UpgradeResponse, generate_key, parse_request


@pytest.fixture
async def server() -> AsyncIterator[EchoServer]:
    async with EchoServer() as running:
        yield running


def record_everything(client: WebSocketClient) -> list[object]:
    events: list[object] = []
    for name in ("open", "message", "error", "close"):
        client.add_event_listener(name, events.append)
    return events


def free_port() -> int:
    """A port nothing listens on: bound by the system, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds; fail after about 5 s."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


async def replies(events: list[object], count: int) -> None:
    """Wait until ``count`` message events were recorded."""
    await eventually(lambda: sum(isinstance(e, MessageEvent) for e in events) >= count)


async def no_other_tasks() -> bool:
    await asyncio.sleep(0)
    return asyncio.all_tasks() == {asyncio.current_task()}


async def test_text_is_echoed_with_the_prefix_and_binary_unchanged(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    events = record_everything(client)
    await client.opened()
    client.send("Hello Server!")
    client.send(b"\x00\xff")
    await replies(events, 2)
    client.close()
    await client.closed()
    assert events == [
        OpenEvent(),
        MessageEvent("Echo: Hello Server!"),
        MessageEvent(b"\x00\xff"),
        CloseEvent(1000, "", was_clean=True),
    ]


async def test_the_guide_flow_sends_from_the_open_listener(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    replies: list[str | bytes] = []
    client.add_event_listener("open", lambda event: client.send("Hello Server!"))
    client.add_event_listener("message", lambda event: replies.append(event.data))
    client.add_event_listener("message", lambda event: client.close())
    await client.closed()
    assert replies == ["Echo: Hello Server!"]


async def test_the_server_log_tells_the_story_in_order(server: EchoServer) -> None:
    async with WebSocketClient(server.url) as client:
        client.send("hi")
        client.send(b"\x01")
        client.close(4000, "done")
    assert [str(event) for event in server.log] == [
        "client 1 connected",
        "client 1 sent 'hi'",
        "client 1 sent b'\\x01'",
        "client 1 disconnected (code 4000)",
    ]


async def test_messages_queued_before_close_are_all_sent_first(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    await client.opened()
    for n in range(5):
        client.send(str(n))
    client.close()
    await client.closed()
    assert [event.data for event in server.log if event.kind == "message"] == list("01234")


async def test_the_log_keeps_only_the_latest_entries() -> None:
    async with EchoServer(log_size=3) as server, WebSocketClient(server.url) as client:
        for word in ("a", "b", "c", "d"):
            client.send(word)
        client.close()
    assert server.log == [
        ServerEvent("message", 1, "c"),
        ServerEvent("message", 1, "d"),
        ServerEvent("disconnect", 1, code=1000),
    ]


async def test_async_listeners_are_awaited_in_order(server: EchoServer) -> None:
    seen: list[str] = []

    async def slow(event: MessageEvent) -> None:
        await asyncio.sleep(0.01)
        seen.append(f"slow {event.data}")

    client = WebSocketClient(server.url)
    client.add_event_listener("message", slow)
    client.add_event_listener("message", lambda event: seen.append(f"fast {event.data}"))
    await client.opened()
    client.send("1")
    client.send("2")
    await eventually(lambda: len(seen) == 4)
    client.close()
    await client.closed()
    assert seen == ["slow Echo: 1", "fast Echo: 1", "slow Echo: 2", "fast Echo: 2"]


async def test_a_failing_listener_does_not_stop_the_others_nor_the_receive_loop(
    server: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: MessageEvent) -> None:
        raise ValueError(f"cannot handle {event.data}")

    client = WebSocketClient(server.url)
    client.add_event_listener("message", broken)
    events = record_everything(client)
    await client.opened()
    client.send("one")
    client.send("two")
    await replies(events, 2)
    client.close()
    with caplog.at_level(logging.ERROR, logger="wslearn.echo"):
        await client.closed()
    assert [e.data for e in events if isinstance(e, MessageEvent)] == ["Echo: one", "Echo: two"]
    assert [str(exc) for exc in client.listener_errors] == [
        "cannot handle Echo: one",
        "cannot handle Echo: two",
    ]
    assert "'message' listener" in caplog.text


async def test_listeners_can_be_removed_and_are_not_added_twice(server: EchoServer) -> None:
    calls: list[object] = []
    client = WebSocketClient(server.url)
    client.add_event_listener("message", calls.append)
    client.add_event_listener("message", calls.append)
    await client.opened()
    client.send("first")
    await replies(calls, 1)
    client.remove_event_listener("message", calls.append)
    client.remove_event_listener("message", calls.append)
    client.send("second")
    client.close()
    await client.closed()
    assert calls == [MessageEvent("Echo: first")]


async def test_an_unknown_event_name_is_refused_with_the_valid_names(server: EchoServer) -> None:
    async with WebSocketClient(server.url) as client:
        with pytest.raises(UsageError, match="use one of open, message, error, close"):
            client.add_event_listener("connect", print)  # type: ignore[arg-type]


async def test_ready_state_follows_the_browser_states(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    assert client.ready_state is ReadyState.CONNECTING
    await client.opened()
    assert client.ready_state is ReadyState.OPEN
    client.close()
    assert client.ready_state is ReadyState.CLOSING
    await client.closed()
    assert client.ready_state is ReadyState.CLOSED
    assert repr(client).endswith(" CLOSED>")


async def test_send_refuses_before_open_and_after_close(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    with pytest.raises(NotConnectedError, match="still connecting"):
        client.send("too early")
    await client.opened()
    client.close()
    with pytest.raises(NotConnectedError, match="CLOSING: nothing was sent"):
        client.send("too late")
    await client.closed()
    with pytest.raises(UsageError, match="str or bytes, not int"):
        client.send(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "reason", "message"),
    [(1001, "", "1000 or 3000-4999"), (5000, "", "1000 or 3000-4999"), (1000, "é" * 62, "123")],
)
async def test_close_refuses_codes_and_reasons_the_browser_refuses(
    server: EchoServer, code: int, reason: str, message: str
) -> None:
    async with WebSocketClient(server.url) as client:
        with pytest.raises(UsageError, match=message):
            client.close(code, reason)


async def test_a_custom_close_code_reaches_both_sides(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    await client.opened()
    client.close(4001, "bye for now")
    client.close(4002, "ignored: already closing")
    assert await client.closed() == CloseEvent(4001, "bye for now", was_clean=True)
    assert server.log[-1] == ServerEvent("disconnect", 1, code=4001)


async def test_stopping_the_server_gives_a_clean_going_away_close() -> None:
    server = await EchoServer().start()
    client = WebSocketClient(server.url)
    events = record_everything(client)
    await client.opened()
    await server.stop()
    assert await client.closed() == CloseEvent(1001, "", was_clean=True)
    assert events == [OpenEvent(), CloseEvent(1001, "", was_clean=True)]
    assert await no_other_tasks()


async def test_a_closed_port_gives_an_error_then_a_close_event() -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    client = WebSocketClient(url)
    events = record_everything(client)
    close = await client.closed()
    assert close == CloseEvent(1006, "", was_clean=False)
    assert len(events) == 2
    assert isinstance(events[0], ErrorEvent)
    assert events[0].message.startswith(f"could not connect to {url}")
    assert events[1] == close
    with pytest.raises(NotConnectedError, match="could not open"):
        await client.opened()
    assert await no_other_tasks()


async def test_closing_while_connecting_abandons_the_connection(server: EchoServer) -> None:
    client = WebSocketClient(server.url)
    events = record_everything(client)
    client.close()
    assert await client.closed() == CloseEvent(1006, "", was_clean=False)
    assert [type(event) for event in events] == [ErrorEvent, CloseEvent]


async def test_a_peer_that_vanishes_gives_error_then_close_1006() -> None:
    # A server written with wslearn.handshake that accepts, then drops the TCP connection.
    async def accept_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = parse_request(await reader.readuntil(b"\r\n\r\n"))
        writer.write(UpgradeResponse.for_request(request).to_bytes())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    tcp = await asyncio.start_server(accept_then_drop, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    client = WebSocketClient(f"ws://127.0.0.1:{port}")
    events = record_everything(client)
    assert await client.closed() == CloseEvent(1006, "", was_clean=False)
    assert [type(event) for event in events] == [OpenEvent, ErrorEvent, CloseEvent]
    tcp.close()
    await tcp.wait_closed()
    assert await no_other_tasks()


async def test_the_server_logs_a_client_that_vanishes_as_1006(server: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    request = UpgradeRequest("/", f"127.0.0.1:{server.port}", generate_key())
    writer.write(request.to_bytes())
    await reader.readuntil(b"\r\n\r\n")
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: server.log[-1].kind == "disconnect")
    assert server.log == [ServerEvent("connect", 1), ServerEvent("disconnect", 1, code=1006)]


async def test_start_and_stop_are_idempotent_and_port_needs_a_running_server() -> None:
    server = EchoServer()
    with pytest.raises(UsageError, match=r"await server\.start"):
        _ = server.url
    assert await server.start() is server
    port = server.port
    await server.start()
    assert server.port == port
    assert repr(server) == f"<EchoServer ws://127.0.0.1:{port}>"
    await server.stop()
    await server.stop()
    assert not server.running
    assert repr(server) == "<EchoServer stopped>"
    assert await no_other_tasks()


async def test_many_clients_are_numbered_and_served_independently(server: EchoServer) -> None:
    clients = [WebSocketClient(server.url) for _ in range(5)]
    await asyncio.gather(*(client.opened() for client in clients))
    received: list[object] = []
    for n, client in enumerate(clients):
        client.add_event_listener("message", received.append)
        client.send(f"from {n}")
    await replies(received, 5)
    for client in clients:
        client.close()
    await asyncio.gather(*(client.closed() for client in clients))
    assert sorted(e.data for e in received) == [f"Echo: from {n}" for n in range(5)]  # type: ignore[attr-defined]
    assert sorted(e.client for e in server.log if e.kind == "connect") == [1, 2, 3, 4, 5]


def test_a_client_needs_a_running_event_loop() -> None:
    with pytest.raises(UsageError, match="needs a running event loop"):
        WebSocketClient("ws://127.0.0.1:9")


def test_long_messages_are_shortened_in_log_lines() -> None:
    assert str(ServerEvent("message", 2, bytes(range(256)) + bytes(44))) == (
        "client 2 sent 300 bytes (00 01 02 03 04 05 06 07 ...)"
    )
    assert str(ServerEvent("message", 2, "x" * 50)) == (
        f"client 2 sent {'x' * 40!r}... (50 characters)"
    )


async def test_replies_arriving_after_close_are_not_delivered_as_in_the_browser(
    server: EchoServer,
) -> None:
    client = WebSocketClient(server.url)
    events = record_everything(client)

    def close_after_first(event: MessageEvent) -> None:
        client.close()

    client.add_event_listener("message", close_after_first)
    await client.opened()
    for n in range(5):
        client.send(str(n))
    await client.closed()
    assert [e.data for e in events if isinstance(e, MessageEvent)] == ["Echo: 0"]
    # The server still received (and logged) every message sent before the close.
    await eventually(lambda: server.log[-1].kind == "disconnect")
    assert [e.data for e in server.log if e.kind == "message"] == list("01234")
