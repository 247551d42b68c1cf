"""The polling server speaks correct HTTP; pollers and push clients get every update."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wslearn.polling import (
    PollingServer,
    PushServer,
    UpdateFeed,
    poll_updates,
    receive_pushes,
)

SOON = 5.0  # a bound on "should finish", never a timing assertion


@pytest.fixture
def feed() -> UpdateFeed:
    return UpdateFeed(capacity=50)


@pytest.fixture
async def web(feed: UpdateFeed) -> AsyncIterator[PollingServer]:
    async with PollingServer(feed) as server:
        yield server


@pytest.fixture
async def push(feed: UpdateFeed) -> AsyncIterator[PushServer]:
    async with PushServer(feed) as server:
        yield server


async def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes: no client code involved."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), SOON)
    writer.close()
    return data


def split(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    first, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return first, headers, body


def test_the_feed_numbers_updates_and_keeps_only_the_latest(feed: UpdateFeed) -> None:
    for i in range(60):
        feed.publish({"n": i})
    assert feed.latest == 60
    assert [u.seq for u in feed.since(57)] == [58, 59, 60]
    assert feed.get(60) is not None and json.loads(feed.get(60).body) == {"seq": 60, "n": 59}  # type: ignore[union-attr]
    assert feed.get(10) is None  # dropped: only 50 kept
    assert len(feed.since(0)) == 50


async def test_a_subscriber_that_falls_behind_is_dropped_not_grown(feed: UpdateFeed) -> None:
    queue = feed.subscribe()
    for i in range(51):
        feed.publish({"n": i})
    assert queue.qsize() == 1 and queue.get_nowait() is None
    feed.publish({"n": "after"})
    assert queue.empty()


async def test_the_server_answers_correct_http_with_matching_content_length(
    web: PollingServer, feed: UpdateFeed
) -> None:
    feed.publish({"price": 1.5})
    feed.publish({"price": 2.5})
    raw = await raw_exchange(
        web.port, b"GET /updates?since=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = split(raw)
    assert status == "HTTP/1.1 200 OK"
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Connection"] == "close"
    assert headers["Date"].endswith(" GMT")
    assert json.loads(body) == [{"seq": 2, "price": 2.5}]


async def test_no_news_is_an_empty_array_with_full_headers(web: PollingServer) -> None:
    raw = await raw_exchange(web.port, b"GET /updates HTTP/1.0\r\n\r\n")
    status, headers, body = split(raw)
    assert (status, body, headers["Content-Length"]) == ("HTTP/1.1 200 OK", b"[]", "2")


async def test_keep_alive_serves_several_requests_on_one_connection(
    web: PollingServer, feed: UpdateFeed
) -> None:
    feed.publish({"x": 1})
    one = b"GET /updates?since=0 HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /updates?since=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = await raw_exchange(web.port, one + one + last)
    assert raw.count(b"HTTP/1.1 200 OK") == 3
    assert raw.count(b"Connection: keep-alive") == 2
    assert web.requests == 3


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (
            b"POST /updates HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (b"GET /updates?since=-1 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET /updates HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 400 Bad Request"),
        (b"nonsense\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/3\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
    ],
)
async def test_bad_requests_get_a_clear_status_and_the_server_keeps_serving(
    web: PollingServer, request_bytes: bytes, status: str
) -> None:
    first, headers, body = split(await raw_exchange(web.port, request_bytes))
    assert first == status
    assert "error" in json.loads(body)
    assert int(headers["Content-Length"]) == len(body)
    ok = await raw_exchange(web.port, b"GET /updates HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 OK")


async def test_an_oversized_head_gets_431(web: PollingServer) -> None:
    huge = b"GET /updates HTTP/1.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    first, _, _ = split(await raw_exchange(web.port, huge))
    assert first == "HTTP/1.1 431 Request Header Fields Too Large"


async def _publish_slowly(feed: UpdateFeed, count: int, gap: float) -> None:
    for i in range(count):
        await asyncio.sleep(gap)
        feed.publish({"i": i})


@pytest.mark.parametrize("keep_alive", [False, True])
async def test_the_poller_receives_every_update_in_order(
    web: PollingServer, feed: UpdateFeed, keep_alive: bool
) -> None:
    publishing = asyncio.create_task(_publish_slowly(feed, 8, 0.01))
    async with asyncio.timeout(SOON):
        report = await poll_updates(
            "127.0.0.1", web.port, interval=0.02, until_seq=8, keep_alive=keep_alive
        )
    await publishing
    assert [r.seq for r in report.receipts] == list(range(1, 9))
    assert report.requests == web.requests
    assert report.connections == (1 if keep_alive else report.requests)


async def test_push_delivers_every_update_in_order(push: PushServer, feed: UpdateFeed) -> None:
    connected = asyncio.Event()
    receiving = asyncio.create_task(
        receive_pushes(f"ws://127.0.0.1:{push.port}/updates", until_seq=10, connected=connected)
    )
    await asyncio.wait_for(connected.wait(), SOON)
    await _publish_slowly(feed, 10, 0.0)
    report = await asyncio.wait_for(receiving, SOON)
    assert [r.seq for r in report.receipts] == list(range(1, 11))


async def test_push_with_since_replays_what_was_missed_first(
    push: PushServer, feed: UpdateFeed
) -> None:
    for i in range(3):
        feed.publish({"i": i})
    report = await asyncio.wait_for(
        receive_pushes(f"ws://127.0.0.1:{push.port}/updates?since=1", until_seq=3), SOON
    )
    assert [r.seq for r in report.receipts] == [2, 3]


async def test_push_refuses_other_paths_with_404(push: PushServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"ws://127.0.0.1:{push.port}/elsewhere", proxy=None):
            pass
    assert caught.value.response.status_code == 404


async def test_stopping_the_push_server_closes_clients_with_going_away(
    feed: UpdateFeed,
) -> None:
    server = await PushServer(feed).start()
    async with connect(f"ws://127.0.0.1:{server.port}/updates", proxy=None) as ws:
        await asyncio.wait_for(server.stop(), SOON)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), SOON)
        assert ws.close_code == 1001
