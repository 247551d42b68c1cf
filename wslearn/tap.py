"""A WebSocket wire tap: a loopback relay that records every frame it passes on.

Put it between a client and a server to see what really crosses the wire: how many
TCP connections there are, each frame's opcode, FIN and RSV1 bits, its size on the
wire and its payload (unmasked; still deflated when RSV1 says it is compressed)::

    tap = await WireTap(server.port).start()
    client = Client(tap.url())                # http://127.0.0.1:<tap port>
    ...
    for frame in tap.frames:
        print(frame)                          # "#1 client→server TEXT 12 B 42[...]"
    await tap.stop()

Each direction starts with the HTTP handshake (kept as text in
:attr:`TappedConnection.request` and :attr:`TappedConnection.response`); after a
``101`` response everything is parsed as frames. Bytes are forwarded unchanged as
soon as they arrive, parsed or not.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Literal, Self

from ._service import Service
from .exceptions import FrameError, UsageError
from .frames import Opcode, decode_frame, frame_size

__all__ = ["TappedConnection", "TappedFrame", "WireTap"]

Origin = Literal["client", "server"]


@dataclass(frozen=True)
class TappedFrame:
    """One WebSocket frame seen by the tap.

    Attributes:
        connection: the TCP connection's number, counting from 1.
        origin: ``"client"`` or ``"server"``: who sent it.
        opcode: the frame's opcode.
        fin: the FIN bit (False on all but the last frame of a fragmented message).
        rsv1: the RSV1 bit: set on the first frame of a compressed message.
        payload: the payload, unmasked (deflated if compressed).
        wire_size: bytes on the wire, header included.
    """

    connection: int
    origin: Origin
    opcode: Opcode
    fin: bool
    rsv1: bool
    payload: bytes
    wire_size: int

    @property
    def text(self) -> str | None:
        """The payload as text, for an uncompressed text frame; else None."""
        if self.opcode is not Opcode.TEXT or self.rsv1:
            return None
        return self.payload.decode("utf-8", errors="replace")

    def __str__(self) -> str:
        arrow = "client→server" if self.origin == "client" else "server→client"
        flags = " RSV1" if self.rsv1 else ""
        if self.text is not None:
            shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        elif self.rsv1:
            shown = "(compressed)"
        else:
            shown = self.payload[:12].hex(" ")
        return f"#{self.connection} {arrow} {self.opcode.name}{flags} {self.wire_size} B {shown}"


@dataclass
class TappedConnection:
    """One relayed TCP connection: its handshake and how many bytes went each way."""

    number: int
    request: str = ""
    response: str = ""
    bytes_from_client: int = 0
    bytes_from_server: int = 0
    open: bool = True

    @property
    def extensions(self) -> str | None:
        """The ``Sec-WebSocket-Extensions`` the server accepted, if any."""
        for line in self.response.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                return value.strip()
        return None


@dataclass
class _Stream:
    """Parsing state of one direction of one connection."""

    origin: Origin
    buffer: bytearray = field(default_factory=bytearray)
    handshake_done: bool = False
    framed: bool = False


class WireTap(Service):
    """A relay on 127.0.0.1 that forwards to ``target_port`` and records frames.

    Args:
        target_port: the port of the server to relay to.
        target_host: its address (loopback by default).
        max_frames: how many frames :attr:`frames` keeps (oldest dropped first).
    """

    def __init__(
        self, target_port: int, target_host: str = "127.0.0.1", *, max_frames: int = 10_000
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.max_frames = max_frames
        self.frames: list[TappedFrame] = []
        self.connections: list[TappedConnection] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self.port}" if self._server else "stopped"
        return f"<WireTap {where} → {self.target_host}:{self.target_port}>"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port clients connect to.

        Raises:
            UsageError: the tap is not started.
        """
        if self._server is None:
            raise UsageError("the tap is not started: `await tap.start()` first")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, scheme: str = "http", path: str = "") -> str:
        """The address to give a client instead of the server's."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def clear(self) -> None:
        """Forget the frames recorded so far (connections keep their numbers)."""
        self.frames.clear()

    async def start(self) -> Self:
        """Listen on a free loopback port. Starting a running tap does nothing."""
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        """Stop listening and close every relayed connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = TappedConnection(len(self.connections) + 1)
        self.connections.append(conn)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.close()
            conn.open = False
            self._writers.discard(writer)
            self._tasks.discard(task)
            return
        self._writers.add(up_writer)
        client, server = _Stream("client"), _Stream("server")
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, conn, client, server),
                self._pump(up_reader, writer, conn, server, client),
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            conn.open = False
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)
            self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: TappedConnection,
        stream: _Stream,
        other: _Stream,
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                if stream.origin == "client":
                    conn.bytes_from_client += len(data)
                else:
                    conn.bytes_from_server += len(data)
                self._parse(conn, stream, other, data)
                await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()

    def _parse(self, conn: TappedConnection, stream: _Stream, other: _Stream, data: bytes) -> None:
        stream.buffer += data
        if not stream.handshake_done:
            end = stream.buffer.find(b"\r\n\r\n")
            if end == -1:
                return
            head = bytes(stream.buffer[: end + 4]).decode("latin-1")
            del stream.buffer[: end + 4]
            stream.handshake_done = True
            if stream.origin == "client":
                conn.request = head
            else:
                conn.response = head
                upgraded = head.startswith("HTTP/1.1 101")
                stream.framed = other.framed = upgraded
        if not stream.framed:
            stream.buffer.clear()  # plain HTTP after all: relayed, not parsed
            return
        chunk, offset = bytes(stream.buffer), 0
        while len(chunk) - offset >= frame_size(chunk[offset : offset + 14]):
            try:
                frame, used = decode_frame(chunk[offset:], allow_rsv=True)
            except FrameError:
                stream.framed = False  # not WebSocket after all; keep relaying
                stream.buffer.clear()
                return
            offset += used
            self.frames.append(
                TappedFrame(
                    conn.number, stream.origin, frame.opcode, frame.fin, frame.rsv1,
                    frame.payload, used,
                )
            )  # fmt: skip
            if len(self.frames) > self.max_frames:
                del self.frames[0]
        del stream.buffer[:offset]
