"""Just enough HTTP/1.1 to poll: parse a request, build a response, read one back.

No dependency beyond the standard library. Messages are framed by Content-Length
only (no chunked encoding): that is all :mod:`wslearn.polling` needs, and it keeps
every byte of the exchange visible. A learner can print :meth:`HttpClient.request_bytes`
and :attr:`HttpResponse.head` to see exactly what each poll costs on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .exceptions import ProtocolError

__all__ = [
    "DEFAULT_POLL_HEADERS",
    "MAX_HEAD",
    "HttpClient",
    "HttpError",
    "HttpRequest",
    "HttpResponse",
    "build_response",
    "json_body",
    "parse_request",
    "read_response",
]

MAX_HEAD = 16 * 1024  # bytes of request line + headers a server accepts

#: What a browser-ish ``fetch()`` sends on every poll (a real browser sends more:
#: cookies, sec-ch-ua-*, sec-fetch-*). Each poll repeats all of it.
DEFAULT_POLL_HEADERS: Mapping[str, str] = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) wslearn-poller/0.1",
    "Accept": "application/json",
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "identity",
    "Cache-Control": "no-cache",
}


class HttpError(ProtocolError):
    """An HTTP message is malformed; ``status`` is what a server answers."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(status, message)

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A parsed request head. Header names are lower-cased."""

    method: str
    target: str
    version: str
    headers: Mapping[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told ``close``; 1.0 the other way."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response as a client read it: ``head`` is the raw status line and headers."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    head: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _split_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, f"malformed header line {line[:40]!r}")
        headers[name.lower()] = value.strip()
    return lines[0], headers


def parse_request(head: bytes) -> HttpRequest:
    """Parse a request line and headers, up to and including the blank line.

    Raises:
        HttpError: 400 for a malformed head, 505 for a version other than HTTP/1.x.
    """
    first, headers = _split_head(head)
    parts = first.split(" ")
    if len(parts) != 3 or not parts[1].startswith("/"):
        raise HttpError(400, f"malformed request line {first[:60]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, f"only HTTP/1.0 and HTTP/1.1 are spoken here, not {version!r}")
    return HttpRequest(method, target, version, headers)


def build_response(
    status: int,
    body: bytes,
    *,
    keep_alive: bool,
    content_type: str = "application/json; charset=utf-8",
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """Encode a complete HTTP/1.1 response with the headers a real API sends."""
    lines = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: wslearn-polling/0.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{k}: {v}" for k, v in (extra or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> HttpResponse:
    """Read one response framed by Content-Length.

    Raises:
        HttpError: if the head is malformed or has no Content-Length.
        asyncio.IncompleteReadError: if the server closed mid-response.
    """
    head = await reader.readuntil(b"\r\n\r\n")
    first, headers = _split_head(head)
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(502, f"malformed status line {first[:60]!r}")
    if "content-length" not in headers or not headers["content-length"].isdigit():
        raise HttpError(502, "response without a usable Content-Length")
    body = await reader.readexactly(int(headers["content-length"]))
    return HttpResponse(int(parts[1]), headers, body, head)


def json_body(value: Any) -> bytes:
    """Compact JSON, as APIs send it."""
    return json.dumps(value, separators=(",", ":")).encode()


class HttpClient:
    """A minimal HTTP/1.1 GET client: a new connection per request, or keep-alive.

    Args:
        host: server host.
        port: server port.
        keep_alive: reuse one connection while the server allows it.
        headers: sent with every request, after Host and Connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        keep_alive: bool = False,
        headers: Mapping[str, str] = DEFAULT_POLL_HEADERS,
    ) -> None:
        self.host, self.port, self.keep_alive = host, port, keep_alive
        self.headers = dict(headers)
        self.requests = 0
        self.connections = 0
        self.last_request = b""
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def request_bytes(self, target: str) -> bytes:
        """The exact bytes a GET for ``target`` sends."""
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Connection: {'keep-alive' if self.keep_alive else 'close'}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def get(self, target: str) -> HttpResponse:
        """GET ``target`` (a path with its query) and read the whole response."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
            self.connections += 1
        reader, writer = self._streams
        self.last_request = self.request_bytes(target)
        self.requests += 1
        try:
            writer.write(self.last_request)
            await writer.drain()
            response = await read_response(reader)
        except BaseException:
            await self.close()
            raise
        if not self.keep_alive or response.headers.get("connection") == "close":
            await self.close()
        return response

    async def close(self) -> None:
        """Close the connection, if one is open."""
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
