"""A small HTTP/1.1 client for Engine.IO long-polling: keep-alive, bounded, asyncio.

One :class:`HttpChannel` is one TCP (or TLS) connection used for one request at a
time, reopened when the server closes it. Responses are framed by Content-Length,
chunked encoding, or the end of the connection, and bounded by ``max_size``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
from collections.abc import Mapping
from dataclasses import dataclass

from websockets.datastructures import Headers

__all__ = ["HttpChannel", "HttpReply", "HttpTransportError"]

_MAX_HEAD = 64 * 1024


class HttpTransportError(Exception):
    """The request could not be made, or its response was malformed or too big."""


@dataclass(frozen=True)
class HttpReply:
    """A response: status, headers, body."""

    status: int
    headers: Headers
    body: bytes


class HttpChannel:
    """One keep-alive connection to ``host:port``.

    Args:
        host: the server's host name or address.
        port: its port.
        ssl: a client TLS context for ``https``, or None.
        max_size: the largest response body accepted, in bytes.
    """

    def __init__(
        self, host: str, port: int, *, ssl: ssl_module.SSLContext | None, max_size: int
    ) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.max_size = max_size
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        """Send one request and read its whole response.

        Raises:
            HttpTransportError: the connection failed or the response is unusable.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in (1, 2):  # a kept-alive connection may have been closed meanwhile
            fresh = self._streams is None
            try:
                reader, writer = await self._connect()
                writer.write(head + body)
                await writer.drain()
                reply = await self._read(reader)
            except (OSError, asyncio.IncompleteReadError, EOFError) as exc:
                await self.close()
                if fresh or attempt == 2:
                    raise HttpTransportError(
                        f"{method} failed: {exc or type(exc).__name__}"
                    ) from exc
                continue
            except BaseException:
                await self.close()
                raise
            if reply.headers.get("Connection", "").lower() == "close":
                await self.close()
            return reply
        raise AssertionError("unreachable")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl is not None else None,
                limit=_MAX_HEAD,
            )
        return self._streams

    async def _read(self, reader: asyncio.StreamReader) -> HttpReply:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HttpTransportError("response head too large") from exc
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpTransportError(f"malformed status line {lines[0][:60]!r}")
        headers = Headers()
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
        status = int(parts[1])
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = await self._read_chunked(reader)
        elif "Content-Length" in headers:
            length = headers["Content-Length"].strip()
            if not length.isdigit() or int(length) > self.max_size:
                raise HttpTransportError(f"response body too large or unframed ({length[:20]})")
            body = await reader.readexactly(int(length))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # framed by the end of the connection
            body = await reader.read(self.max_size + 1)
            if len(body) > self.max_size:
                raise HttpTransportError("response body too large")
            headers["Connection"] = "close"
        return HttpReply(status, headers, body)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size_text = size_line.split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpTransportError("malformed chunk size") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailer fields, ignored
                return bytes(body)
            if len(body) + size > self.max_size:
                raise HttpTransportError("response body too large")
            body += await reader.readexactly(size)
            await reader.readexactly(2)

    async def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        streams, self._streams = self._streams, None
        if streams is not None:
            writer = streams[1]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
