"""TLS: Server(ssl=...) serves wss:// and Client(url, ssl=...) connects to it, with
certificates made on the fly by trustme; what a relay in the middle can read."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
import trustme
from support import ServerFactory, eventually

from wslearn.client import Client
from wslearn.exceptions import ConnectFailedError
from wslearn.namespace import Socket
from wslearn.proxy import LinkProxy
from wslearn.server import Server
from wslearn.wiretap import read_capture


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


@pytest.fixture
async def tls_server(make_server: ServerFactory, server_context: ssl.SSLContext) -> Server:
    server = await make_server(ssl=server_context)

    @server.on("echo")
    def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        return args

    return server


async def test_the_server_url_is_https_and_a_trusting_client_talks_over_wss(
    tls_server: Server, client_context: ssl.SSLContext
) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    async with Client(tls_server.url, ssl=client_context) as client:
        assert client.ws_url.startswith("wss://")
        assert await client.call("echo", "over TLS") == ["over TLS"]


@pytest.mark.parametrize("transports", [("polling",), ("polling", "websocket")])
async def test_long_polling_and_the_upgrade_run_over_https(
    tls_server: Server, client_context: ssl.SSLContext, transports: tuple[str, ...]
) -> None:
    async with Client(tls_server.url, ssl=client_context, transports=transports) as client:
        assert await client.call("echo", "polled over TLS") == ["polled over TLS"]
        if len(transports) == 2:
            await eventually(lambda: client.transport == "websocket")
            assert await client.call("echo", "upgraded") == ["upgraded"]
        else:
            assert client.transport == "polling"


async def test_a_client_that_does_not_trust_the_certificate_cannot_connect(
    tls_server: Server,
) -> None:
    client = Client(tls_server.url, ssl=ssl.create_default_context(), reconnection=None)
    with pytest.raises(ConnectFailedError, match="CERTIFICATE_VERIFY_FAILED"):
        await client.connect()


async def test_a_certificate_for_another_name_is_refused(
    make_server: ServerFactory, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    elsewhere = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("chat.example.org").configure_cert(elsewhere)
    server = await make_server(ssl=elsewhere)
    client = Client(server.url, ssl=client_context, reconnection=None)
    with pytest.raises(ConnectFailedError, match=r"match|mismatch"):
        await client.connect()


async def test_a_plain_client_on_the_tls_port_fails_and_the_server_keeps_serving(
    tls_server: Server, client_context: ssl.SSLContext
) -> None:
    plain = Client(tls_server.url.replace("https://", "http://"), reconnection=None)
    with pytest.raises(ConnectFailedError):
        await plain.connect()
    async with Client(tls_server.url, ssl=client_context) as client:
        assert await client.call("echo", 1) == [1]


def test_ssl_with_a_plain_url_says_to_use_https() -> None:
    with pytest.raises(ValueError, match="https:// or wss://"):
        Client("http://127.0.0.1:8000", ssl=ssl.create_default_context())


@pytest.fixture
async def trusting_session(client_context: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context))
    yield session
    await session.close()


@pytest.mark.parametrize("transports", [["websocket"], None], ids=["websocket", "defaults"])
async def test_python_socketio_connects_over_wss_and_https_polling(
    tls_server: Server, trusting_session: aiohttp.ClientSession, transports: list[str] | None
) -> None:
    client = socketio.AsyncClient(reconnection=False, http_session=trusting_session)
    await client.connect(tls_server.url, transports=transports, wait_timeout=5)
    try:
        assert await client.call("echo", "hi", timeout=5) == "hi"
    finally:
        await client.disconnect()


async def test_a_relay_in_the_middle_sees_only_ciphertext(
    tls_server: Server, client_context: ssl.SSLContext
) -> None:
    seen: dict[str, bytearray] = {"client_to_server": bytearray(), "server_to_client": bytearray()}
    async with LinkProxy("127.0.0.1", tls_server.port) as link:
        link.on_bytes(lambda direction, data: seen[direction].extend(data))
        url = link.url("", scheme="https")
        # The certificate names 127.0.0.1, which is also where the relay listens.
        async with Client(url, ssl=client_context) as client:
            assert await client.call("echo", "the secret plan") == ["the secret plan"]
        await asyncio.sleep(0.05)
    upstream, downstream = bytes(seen["client_to_server"]), bytes(seen["server_to_client"])
    assert upstream[:1] == b"\x16" and downstream[:1] == b"\x16"  # TLS handshake records
    for wire in (upstream, downstream):
        assert b"the secret plan" not in wire
        assert b"socket.io" not in wire and b"Upgrade" not in wire  # not even the request
        assert not read_capture(wire).readable


async def test_without_tls_the_same_relay_reads_everything(make_server: ServerFactory) -> None:
    server = await make_server()
    server.on("echo", lambda socket, *args: args)
    seen: dict[str, bytearray] = {"client_to_server": bytearray(), "server_to_client": bytearray()}
    async with LinkProxy("127.0.0.1", server.port) as link:
        link.on_bytes(lambda direction, data: seen[direction].extend(data))
        auth = {"token": "a-bearer-token"}
        async with Client(link.url("", scheme="http"), auth=auth) as client:
            await client.call("echo", "the secret plan")
        await asyncio.sleep(0.05)
    upstream = read_capture(bytes(seen["client_to_server"]))
    downstream = read_capture(bytes(seen["server_to_client"]))
    assert upstream.head.startswith("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1")
    assert downstream.head.startswith("HTTP/1.1 101 Switching Protocols")
    # Masked and compressed on the wire, yet plain to anyone who reads it:
    assert b"the secret plan" not in seen["client_to_server"]
    assert '40{"token":"a-bearer-token"}' in upstream.messages
    assert '420["echo","the secret plan"]' in upstream.messages
    assert '430["the secret plan"]' in downstream.messages
