"""Tests for wslearn.handshake: the RFC 6455 opening handshake, by hand."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from wslearn.exceptions import HandshakeError, UsageError
from wslearn.handshake import (
    UpgradeRequest,
    UpgradeResponse,
    accept_key,
    generate_key,
    parse_request,
    parse_response,
)

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_accept_key_matches_the_rfc_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT


def test_generate_key_encodes_the_given_sixteen_bytes() -> None:
    assert generate_key(b"the sample nonce") == RFC_KEY


def test_generate_key_is_random_by_default_and_always_sixteen_bytes() -> None:
    keys = {generate_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(base64.b64decode(key)) == 16 for key in keys)


def test_generate_key_refuses_a_nonce_of_the_wrong_size() -> None:
    with pytest.raises(UsageError, match="exactly 16 bytes, got 3"):
        generate_key(b"abc")


def test_request_bytes_are_the_rfc_example() -> None:
    request = UpgradeRequest(path="/chat", host="server.example.com", key=RFC_KEY)
    assert request.to_bytes() == (
        b"GET /chat HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )


def test_request_round_trips_with_extra_headers() -> None:
    request = UpgradeRequest(
        path="/ws?room=1",
        host="127.0.0.1:9",
        key=generate_key(),
        headers=(("Origin", "http://localhost"), ("User-Agent", "wslearn")),
    )
    parsed = parse_request(request.to_bytes())
    assert parsed == request
    assert parsed.header("origin") == "http://localhost"
    assert parsed.header("Cookie") is None


def test_response_for_a_request_carries_the_accept_value() -> None:
    request = UpgradeRequest(path="/", host="h", key=RFC_KEY)
    response = UpgradeResponse.for_request(request)
    assert response.accept == RFC_ACCEPT
    assert parse_response(response.to_bytes(), RFC_KEY) == response


@given(
    nonce=st.binary(min_size=16, max_size=16),
    path=st.from_regex(r"/[a-z0-9/?=&]{0,20}", fullmatch=True),
)
def test_any_request_and_its_response_round_trip(nonce: bytes, path: str) -> None:
    request = UpgradeRequest(path=path, host="127.0.0.1:1", key=generate_key(nonce))
    assert parse_request(request.to_bytes()) == request
    response = UpgradeResponse.for_request(request)
    assert parse_response(response.to_bytes(), request.key).accept == accept_key(request.key)


def test_to_bytes_refuses_a_path_that_is_not_ascii() -> None:
    with pytest.raises(UsageError, match="percent-encode"):
        UpgradeRequest(path="/café", host="h", key=RFC_KEY).to_bytes()


def test_parse_request_accepts_header_case_and_connection_lists_like_firefox() -> None:
    data = (
        b"GET / HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\n"
        b"connection: keep-alive, Upgrade\r\nsec-websocket-key: "
        + RFC_KEY.encode()
        + b"\r\nsec-websocket-version: 13\r\n\r\n"
    )
    assert parse_request(data).key == RFC_KEY


GOOD = UpgradeRequest(path="/", host="h", key=RFC_KEY).to_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GOOD[:-2], "no blank line"),
        (GOOD + b"\x81\x00", "bytes follow the end"),
        (GOOD.replace(b"GET", b"POST"), "must use GET, not POST"),
        (GOOD.replace(b"HTTP/1.1", b"HTTP/1.0"), "must be HTTP/1.1"),
        (GOOD.replace(b"GET / ", b"GET  / "), "malformed request line"),
        (GOOD.replace(b"Host: h\r\n", b""), "no Host header"),
        (GOOD.replace(b"Upgrade: websocket", b"Upgrade: h2c"), "does not say 'websocket'"),
        (GOOD.replace(b"Connection: Upgrade", b"Connection: close"), "does not include"),
        (GOOD.replace(RFC_KEY.encode(), b"not base64!"), "is not base64"),
        (GOOD.replace(RFC_KEY.encode(), b"c2hvcnQ="), "must encode 16 bytes, it encodes 5"),
        (GOOD.replace(b"Version: 13", b"Version: 8"), "unsupported Sec-WebSocket-Version"),
        (GOOD.replace(b"Host: h", b"Host h"), "malformed header line"),
        (GOOD.replace(b"Host: h", b"Host: h\xe9"), "not ASCII"),
    ],
)
def test_parse_request_names_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(HandshakeError, match=message):
        parse_request(data)


OK = UpgradeResponse(accept=RFC_ACCEPT).to_bytes()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (OK.replace(b"101 Switching Protocols", b"404 Not Found"), "expected status 101"),
        (OK.replace(b"HTTP/1.1 101", b"HTTP/2 101"), "malformed status line"),
        (OK.replace(b"Upgrade: websocket\r\n", b""), "no Upgrade header"),
        (OK.replace(b"Connection: Upgrade", b"Connection: keep-alive"), "does not include"),
        (OK.replace(b"Sec-WebSocket-Accept: " + RFC_ACCEPT.encode() + b"\r\n", b""), "no Sec"),
        (OK.replace(RFC_ACCEPT.encode(), accept_key(generate_key()).encode()), "requires"),
    ],
)
def test_parse_response_names_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(HandshakeError, match=message):
        parse_response(data, RFC_KEY)


def test_websockets_server_accepts_our_request_and_we_accept_its_response() -> None:
    server = ServerProtocol()
    request = UpgradeRequest(path="/chat", host="127.0.0.1:9", key=generate_key())
    server.receive_data(request.to_bytes())
    [theirs] = server.events_received()
    assert isinstance(theirs, Request)
    assert theirs.path == "/chat"
    server.send_response(server.accept(theirs))
    [head] = server.data_to_send()
    response = parse_response(head, request.key)
    assert response.accept == accept_key(request.key)
    assert response.header("Date") is not None


def test_we_parse_the_websockets_client_request_and_it_accepts_our_response() -> None:
    client = ClientProtocol(parse_uri("ws://127.0.0.1:9/room"))
    client.send_request(client.connect())
    [head] = client.data_to_send()
    request = parse_request(head)
    assert request.path == "/room"
    client.receive_data(UpgradeResponse.for_request(request).to_bytes())
    assert client.handshake_exc is None
    assert client.state.name == "OPEN"
