"""The HTTP/1.1 pieces parse, build and read real messages."""

from __future__ import annotations

import asyncio

import pytest

from wslearn.http11 import (
    HttpClient,
    HttpError,
    build_response,
    parse_request,
    read_response,
)


def test_a_request_head_is_parsed_with_lowercased_header_names() -> None:
    request = parse_request(b"GET /updates?since=3 HTTP/1.1\r\nHost: a:1\r\nX-Y:  z \r\n\r\n")
    assert (request.method, request.path, request.version) == ("GET", "/updates", "HTTP/1.1")
    assert request.query == {"since": ["3"]}
    assert request.headers == {"host": "a:1", "x-y": "z"}


@pytest.mark.parametrize(
    ("version", "connection", "keep"),
    [
        ("HTTP/1.1", None, True),
        ("HTTP/1.1", "close", False),
        ("HTTP/1.1", "Keep-Alive, Close", False),
        ("HTTP/1.0", None, False),
        ("HTTP/1.0", "keep-alive", True),
    ],
)
def test_keep_alive_follows_the_version_and_connection_header(
    version: str, connection: str | None, keep: bool
) -> None:
    extra = f"Connection: {connection}\r\n" if connection else ""
    request = parse_request(f"GET / {version}\r\n{extra}\r\n".encode())
    assert request.keep_alive is keep


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET no-slash HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n : empty name\r\n\r\n", 400),
    ],
)
def test_a_malformed_request_head_raises_with_the_status_to_answer(
    head: bytes, status: int
) -> None:
    with pytest.raises(HttpError) as caught:
        parse_request(head)
    assert caught.value.status == status
    assert str(caught.value).startswith(f"HTTP {status}:")


def test_a_built_response_carries_realistic_headers_and_a_matching_length() -> None:
    raw = build_response(200, b'[{"seq":1}]', keep_alive=False)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    names = [line.split(":", 1)[0] for line in lines[1:]]
    assert names == [
        "Date",
        "Server",
        "Content-Type",
        "Content-Length",
        "Cache-Control",
        "Connection",
    ]
    assert f"Content-Length: {len(body)}" in lines
    assert "Connection: close" in lines
    assert lines[1].endswith(" GMT")


async def _reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_response_reads_exactly_content_length_bytes() -> None:
    raw = build_response(404, b'{"error":"x"}', keep_alive=True) + b"NEXT"
    reader = await _reader_of(raw)
    response = await read_response(reader)
    assert (response.status, response.body, response.json()) == (
        404,
        b'{"error":"x"}',
        {"error": "x"},
    )
    assert response.headers["connection"] == "keep-alive"
    assert await reader.read() == b"NEXT"


async def test_a_response_without_content_length_is_refused() -> None:
    reader = await _reader_of(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi")
    with pytest.raises(HttpError, match="Content-Length"):
        await read_response(reader)


async def test_the_client_opens_one_connection_per_request_unless_keep_alive() -> None:
    heads: list[bytes] = []

    async def serve_two(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            heads.append(head)
            keep = parse_request(head).keep_alive
            writer.write(build_response(200, b"[]", keep_alive=keep))
            await writer.drain()
            if not keep:
                break
        writer.close()

    server = await asyncio.start_server(serve_two, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for keep_alive, connections in ((False, 3), (True, 1)):
            client = HttpClient("127.0.0.1", port, keep_alive=keep_alive)
            for _ in range(3):
                assert (await client.get("/x")).body == b"[]"
            await client.close()
            assert (client.requests, client.connections) == (3, connections)
        assert heads[-1] == client.last_request == client.request_bytes("/x")
    finally:
        server.close()
        await server.wait_closed()
