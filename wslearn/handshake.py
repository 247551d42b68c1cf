"""RFC 6455 by hand: the opening handshake.

Teaching helpers with no I/O inside: functions take bytes or values and return bytes
or values, so a notebook can build a request, write it to a raw socket itself, and
check the server's answer. The frames that follow the handshake live in
:mod:`wslearn.frames`.

::

    client                                    server
    GET /chat HTTP/1.1                        HTTP/1.1 101 Switching Protocols
    Host: example.com                         Upgrade: websocket
    Upgrade: websocket                        Connection: Upgrade
    Connection: Upgrade                       Sec-WebSocket-Accept: <accept_key(key)>
    Sec-WebSocket-Key: <16 random bytes, base64>
    Sec-WebSocket-Version: 13

The accept value is base64(SHA-1(key + GUID)): proof that the server read this very
request and speaks WebSocket, not that anyone is who they claim to be.
Malformed input raises :class:`~wslearn.exceptions.HandshakeError` naming what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from .exceptions import HandshakeError, UsageError

__all__ = [
    "GUID",
    "UpgradeRequest",
    "UpgradeResponse",
    "accept_key",
    "generate_key",
    "parse_request",
    "parse_response",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The fixed string RFC 6455 appends to the client's key before hashing."""

Headers = tuple[tuple[str, str], ...]


# --- the opening handshake -----------------------------------------------------------


def accept_key(client_key: str) -> str:
    """Compute the ``Sec-WebSocket-Accept`` value the server must send back.

    Args:
        client_key: the client's ``Sec-WebSocket-Key`` header value.

    Returns:
        base64 of the SHA-1 digest of ``client_key + GUID``.
    """
    digest = hashlib.sha1((client_key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_key(nonce: bytes | None = None) -> str:
    """Make a ``Sec-WebSocket-Key``: 16 bytes, base64-encoded.

    Args:
        nonce: the 16 bytes to encode; random (``os.urandom``) when omitted. Pass a
            fixed value to get the same key every run, as a notebook does.

    Raises:
        UsageError: if ``nonce`` is not exactly 16 bytes.
    """
    if nonce is None:
        nonce = os.urandom(16)
    if len(nonce) != 16:
        raise UsageError(f"a WebSocket key encodes exactly 16 bytes, got {len(nonce)}")
    return base64.b64encode(nonce).decode("ascii")


def _header(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _tokens(value: str | None) -> set[str]:
    return {token.strip().lower() for token in (value or "").split(",")}


_REQUEST_FIELDS = frozenset(
    {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version"}
)
_RESPONSE_FIELDS = frozenset({"upgrade", "connection", "sec-websocket-accept"})


@dataclass(frozen=True)
class UpgradeRequest:
    """The client's HTTP request asking to switch to the WebSocket protocol.

    Attributes:
        path: the request target, e.g. ``"/chat"``.
        host: the ``Host`` header, e.g. ``"127.0.0.1:8765"``.
        key: the ``Sec-WebSocket-Key`` (see :func:`generate_key`).
        version: the ``Sec-WebSocket-Version``; only ``"13"`` is defined.
        headers: any other headers (``Origin``, ``User-Agent``...), in order.
    """

    path: str
    host: str
    key: str
    version: str = "13"
    headers: Headers = ()

    def header(self, name: str) -> str | None:
        """Return the value of an extra header (case-insensitive), or None."""
        return _header(self.headers, name)

    def to_bytes(self) -> bytes:
        """Serialize to the bytes a client writes on the TCP connection."""
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.key}",
            f"Sec-WebSocket-Version: {self.version}",
            *(f"{k}: {v}" for k, v in self.headers if k.lower() not in _REQUEST_FIELDS),
        ]
        return _encode_head(lines)


@dataclass(frozen=True)
class UpgradeResponse:
    """The server's ``101 Switching Protocols`` answer.

    Attributes:
        accept: the ``Sec-WebSocket-Accept`` value (see :func:`accept_key`).
        headers: any other headers (``Server``, ``Date``...), in order.
    """

    accept: str
    headers: Headers = ()

    @classmethod
    def for_request(cls, request: UpgradeRequest) -> UpgradeResponse:
        """Build the response a server sends to ``request``."""
        return cls(accept=accept_key(request.key))

    def header(self, name: str) -> str | None:
        """Return the value of an extra header (case-insensitive), or None."""
        return _header(self.headers, name)

    def to_bytes(self) -> bytes:
        """Serialize to the bytes a server writes on the TCP connection."""
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {self.accept}",
            *(f"{k}: {v}" for k, v in self.headers if k.lower() not in _RESPONSE_FIELDS),
        ]
        return _encode_head(lines)


def _encode_head(lines: list[str]) -> bytes:
    text = "\r\n".join(lines) + "\r\n\r\n"
    if not text.isascii():
        raise UsageError("an HTTP head is ASCII: percent-encode the path and header values")
    return text.encode("ascii")


def _split_head(data: bytes, what: str) -> tuple[str, Headers]:
    """Split an HTTP head into its first line and its headers."""
    if not data.endswith(b"\r\n\r\n"):
        if b"\r\n\r\n" in data:
            raise HandshakeError(
                f"bytes follow the end of the {what}: pass only the head, "
                "up to and including the blank line"
            )
        raise HandshakeError(f"incomplete {what}: no blank line (CRLF CRLF) ends the head")
    try:
        text = data[:-4].decode("ascii")
    except UnicodeDecodeError as exc:
        raise HandshakeError(f"the {what} head is not ASCII (byte {exc.start})") from exc
    first, *rest = text.split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in rest:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HandshakeError(f"malformed header line in the {what}: {line!r}")
        headers.append((name, value.strip()))
    return first, tuple(headers)


def _require(headers: Headers, name: str, what: str) -> str:
    value = _header(headers, name)
    if value is None:
        raise HandshakeError(f"the {what} has no {name} header")
    return value


def _check_upgrade_headers(headers: Headers, what: str) -> None:
    if "websocket" not in _tokens(_require(headers, "Upgrade", what)):
        raise HandshakeError(f"the {what}'s Upgrade header does not say 'websocket'")
    if "upgrade" not in _tokens(_require(headers, "Connection", what)):
        raise HandshakeError(f"the {what}'s Connection header does not include 'Upgrade'")


def parse_request(data: bytes) -> UpgradeRequest:
    """Parse and validate a client's upgrade request.

    Args:
        data: the request head, ending with the blank line and nothing after it.

    Returns:
        The request; its ``headers`` hold only the headers that are not fields.

    Raises:
        HandshakeError: naming what is wrong (method, version, a missing or wrong
            header, a key that is not 16 base64-encoded bytes).
    """
    first, headers = _split_head(data, "request")
    parts = first.split(" ")
    if len(parts) != 3:
        raise HandshakeError(f"malformed request line: {first!r}")
    method, path, http = parts
    if method != "GET":
        raise HandshakeError(f"the upgrade request must use GET, not {method}")
    if http != "HTTP/1.1":
        raise HandshakeError(f"the upgrade request must be HTTP/1.1, not {http}")
    host = _require(headers, "Host", "request")
    _check_upgrade_headers(headers, "request")
    key = _require(headers, "Sec-WebSocket-Key", "request")
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error as exc:
        raise HandshakeError(f"Sec-WebSocket-Key is not base64: {key!r}") from exc
    if len(raw) != 16:
        raise HandshakeError(f"Sec-WebSocket-Key must encode 16 bytes, it encodes {len(raw)}")
    version = _require(headers, "Sec-WebSocket-Version", "request")
    if version != "13":
        raise HandshakeError(f"unsupported Sec-WebSocket-Version {version!r}: expected '13'")
    extra = tuple((k, v) for k, v in headers if k.lower() not in _REQUEST_FIELDS)
    return UpgradeRequest(path=path, host=host, key=key, version=version, headers=extra)


def parse_response(data: bytes, key: str) -> UpgradeResponse:
    """Parse a server's answer and check that it accepts the upgrade.

    Args:
        data: the response head, ending with the blank line and nothing after it.
        key: the ``Sec-WebSocket-Key`` the client sent; the accept value must match it.

    Returns:
        The response; its ``headers`` hold only the headers that are not fields.

    Raises:
        HandshakeError: if the status is not 101, a header is missing or wrong, or
            ``Sec-WebSocket-Accept`` does not match ``key``.
    """
    first, headers = _split_head(data, "response")
    http, _, status = first.partition(" ")
    if http != "HTTP/1.1" or not status:
        raise HandshakeError(f"malformed status line: {first!r}")
    if not status.startswith("101"):
        raise HandshakeError(f"expected status 101 Switching Protocols, got {status!r}")
    _check_upgrade_headers(headers, "response")
    accept = _require(headers, "Sec-WebSocket-Accept", "response")
    expected = accept_key(key)
    if accept != expected:
        raise HandshakeError(
            f"Sec-WebSocket-Accept is {accept!r} but the key {key!r} requires {expected!r}"
        )
    extra = tuple((k, v) for k, v in headers if k.lower() not in _RESPONSE_FIELDS)
    return UpgradeResponse(accept=accept, headers=extra)
