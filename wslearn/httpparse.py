"""HTTP/1.1 request heads for the server: strict, bounded, no I/O.

The Socket.IO server answers plain HTTP on its port (long-polling, CORS preflights,
static files) next to WebSocket upgrades, so it reads request heads itself::

    head = find_head(buffer)            # None until the blank line has arrived
    request = parse_head(buffer[:head]) # or HttpError(status, message)

Everything a peer controls is bounded, and a violation names the HTTP status to
answer with:

======  =================================================================
400     malformed request line or header, bad Content-Length, folded line
411     a POST without Content-Length
414     request line over :data:`MAX_LINE` bytes
431     a header line over :data:`MAX_LINE`, more than :data:`MAX_HEADERS`
        headers, or a head over :data:`MAX_HEAD` bytes
501     ``Transfer-Encoding`` in a request (bodies are framed by length only)
505     a version other than HTTP/1.0 or HTTP/1.1
======  =================================================================

Header names are kept in a :class:`websockets.datastructures.Headers` multidict
(case-insensitive, repeated headers kept), the type websockets' own handshake uses.
"""

from __future__ import annotations

import email.utils
import http
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.datastructures import Headers

from .exceptions import ProtocolError

__all__ = [
    "MAX_CONTENT_LENGTH_DIGITS",
    "MAX_HEAD",
    "MAX_HEADERS",
    "MAX_LINE",
    "HttpError",
    "RequestHead",
    "build_response",
    "find_head",
    "http_date",
    "parse_head",
]

MAX_LINE = 8190
"""The longest request line or header line, in bytes (as nginx, websockets: 8 KiB)."""
MAX_HEADERS = 128
"""The most header lines one request may carry."""
MAX_HEAD = 16 * 1024
"""The largest request head (request line, headers, blank line), in bytes."""
MAX_CONTENT_LENGTH_DIGITS = 18
"""Content-Length values with more digits are refused before they become an int."""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"[\x09\x20-\x7e\x80-\xff]*")


class HttpError(ProtocolError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(status, message)

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A parsed request head.

    Attributes:
        method: e.g. ``"GET"`` (case-sensitive, as HTTP says).
        target: the request target as sent, e.g. ``"/socket.io/?EIO=4"``.
        path: the target's path, percent-decoded.
        query: the query parameters, first value of each.
        version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
        headers: the header fields.
        content_length: the body's length in bytes (0 when there is none).
        raw: the head's bytes exactly as received, blank line included.
    """

    method: str
    target: str
    path: str
    query: Mapping[str, str]
    version: str
    headers: Headers
    content_length: int = 0
    raw: bytes = field(default=b"", repr=False)

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told ``close``; 1.0 the other way."""
        tokens = {
            token.strip().lower()
            for value in self.headers.get_all("Connection")
            for token in value.split(",")
        }
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens

    @property
    def is_websocket_upgrade(self) -> bool:
        """True when the request asks to switch to the WebSocket protocol."""
        return any(
            token.strip().lower() == "websocket"
            for value in self.headers.get_all("Upgrade")
            for token in value.split(",")
        )


def find_head(buffer: bytes | bytearray) -> int | None:
    """The length of the request head at the start of ``buffer``, blank line included.

    Returns:
        None while the blank line has not arrived yet.

    Raises:
        HttpError: 414 or 431 when the head is already too long to be accepted.
    """
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD)
    if end != -1:
        return end + 4
    first = buffer.find(b"\r\n", 0, MAX_LINE + 2)
    if first == -1 and len(buffer) > MAX_LINE:
        raise HttpError(414, f"the request line is longer than {MAX_LINE} bytes")
    if len(buffer) >= MAX_HEAD:
        raise HttpError(431, f"the request head is longer than {MAX_HEAD} bytes")
    return None


def parse_head(raw: bytes) -> RequestHead:
    """Parse a complete request head (as delimited by :func:`find_head`).

    Raises:
        HttpError: the head breaks HTTP/1.1 or a bound; ``status`` says which.
    """
    if len(raw) > MAX_HEAD:
        raise HttpError(431, f"the request head is longer than {MAX_HEAD} bytes")
    lines = raw[:-4].split(b"\r\n") if raw.endswith(b"\r\n\r\n") else raw.split(b"\r\n")
    request_line = lines[0]
    if len(request_line) > MAX_LINE:
        raise HttpError(414, f"the request line is longer than {MAX_LINE} bytes")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise HttpError(400, "malformed request line")
    method, target_bytes, version_bytes = parts
    if version_bytes not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HttpError(505, "only HTTP/1.0 and HTTP/1.1 are served")
    if not target_bytes.startswith(b"/") or not target_bytes.isascii():
        raise HttpError(400, "the request target must be an absolute path")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header fields")

    headers = Headers()
    for line in lines[1:]:
        if len(line) > MAX_LINE:
            raise HttpError(431, f"a header line is longer than {MAX_LINE} bytes")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header line (obsolete line folding is refused)")
        value = value.strip(b" \t")
        if not _FIELD_VALUE.fullmatch(value):
            raise HttpError(400, f"control characters in the {name.decode()} header")
        headers[name.decode("ascii")] = value.decode("latin-1")

    if "Transfer-Encoding" in headers:
        raise HttpError(501, "Transfer-Encoding is not supported: send Content-Length")
    content_length = _content_length(headers.get_all("Content-Length"))
    if method == b"POST" and content_length is None:
        raise HttpError(411, "a POST needs a Content-Length header")

    target = target_bytes.decode("ascii")
    url = urlsplit(target)
    query: dict[str, str] = {}
    for key, item in parse_qsl(url.query, keep_blank_values=True):
        query.setdefault(key, item)
    return RequestHead(
        method=method.decode("ascii"),
        target=target,
        path=unquote(url.path),
        query=query,
        version=version_bytes.decode("ascii"),
        headers=headers,
        content_length=content_length or 0,
        raw=raw,
    )


def _content_length(values: list[str]) -> int | None:
    if not values:
        return None
    distinct = {value.strip() for value in values}
    if len(distinct) != 1:
        raise HttpError(400, "conflicting Content-Length headers")
    (text,) = distinct
    if not text.isascii() or not text.isdigit():
        raise HttpError(400, "Content-Length must be a decimal number")
    if len(text) > MAX_CONTENT_LENGTH_DIGITS:
        raise HttpError(400, "Content-Length is out of range")
    return int(text)


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The current time as an HTTP date (IMF-fixdate), computed once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def build_response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = "text/plain; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
    keep_alive: bool = True,
    head_only: bool = False,
    length: int | None = None,
) -> bytes:
    """Encode a complete HTTP/1.1 response.

    Args:
        status: the status code.
        body: the body; its length goes in Content-Length.
        content_type: the Content-Type, or None for none (204, 304).
        headers: further header fields, in order.
        keep_alive: False adds ``Connection: close`` (the server closes after it).
        head_only: the answer to a HEAD request: the headers of ``body``, no body.
        length: the Content-Length to announce when it is not ``len(body)`` (a HEAD
            answer whose body was never read).
    """
    reason = http.HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {http_date()}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if status != 204 and status >= 200:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body
