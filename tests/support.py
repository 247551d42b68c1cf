"""Helpers shared by the test modules: a frame-by-frame Socket.IO client, URLs, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from wslearn.backoff import Backoff
from wslearn.kernel import wait_until
from wslearn.namespace import Socket
from wslearn.server import Server
from wslearn.widgets import ChatPane

WIRE_TIMEOUT = 5.0  # generous upper bound for anything on loopback; never decides a pass
FAST = Backoff(initial=0.05, maximum=0.2, jitter=0)
"""Reconnection delays for tests: quick, and the same every run (no jitter)."""
CLOCK = "2024-01-01T12:34:56.000Z"
"""The chat server's fixed clock in tests, so timestamps can be asserted."""


class RawClient:
    """A Socket.IO client written frame by frame, to test the exact wire format.

    It answers the server's pings (``2`` -> ``3``) while it waits for other frames,
    unless ``answer_pings`` is False.
    """

    def __init__(self, ws: ClientConnection, *, answer_pings: bool = True) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.open_packet: dict[str, Any] = {}
        self.sid = ""

    async def send(self, *frames: str | bytes) -> None:
        for frame in frames:
            await self.ws.send(frame)

    async def recv(self, within: float = WIRE_TIMEOUT) -> str | bytes:
        """The next frame that is not a ping."""
        async with asyncio.timeout(within):
            while True:
                frame = await self.ws.recv()
                if frame == "2" and self.answer_pings:
                    await self.ws.send("3")
                    continue
                return frame

    async def recv_event(self, within: float = WIRE_TIMEOUT) -> list[Any]:
        """The next EVENT on ``/``, decoded: ``[name, *args]``."""
        frame = await self.recv(within)
        assert isinstance(frame, str) and frame.startswith("42"), frame
        data: list[Any] = json.loads(frame[2:])
        return data

    async def connect(self, namespace: str = "/", auth: str = "") -> str:
        """Send CONNECT and return the socket id from the server's reply."""
        prefix = "" if namespace == "/" else namespace + ","
        await self.send(f"40{prefix}{auth}")
        reply = await self.recv()
        assert isinstance(reply, str) and reply.startswith(f"40{prefix}"), reply
        sid: str = json.loads(reply[2 + len(prefix) :])["sid"]
        if namespace == "/":
            self.sid = sid
        return sid

    async def closed(self, within: float = WIRE_TIMEOUT) -> int | None:
        """Read until the server closes; return the close code it sent."""
        try:
            async with asyncio.timeout(within):
                while True:
                    frame = await self.ws.recv()
                    if frame == "2" and self.answer_pings:
                        await self.ws.send("3")
        except ConnectionClosed:
            pass
        rcvd = self.ws.protocol.close_rcvd
        return None if rcvd is None else rcvd.code


ServerFactory = Callable[..., Awaitable[Server]]
RawFactory = Callable[..., Awaitable[RawClient]]
SioFactory = Callable[..., Awaitable[socketio.AsyncClient]]
PaneFactory = Callable[..., Awaitable[ChatPane]]


def wire_url(
    server: Server, query: str = "EIO=4&transport=websocket", path: str = "/socket.io/"
) -> str:
    return f"ws://127.0.0.1:{server.port}{path}?{query}"


async def eventually(check: Callable[[], bool], within: float = WIRE_TIMEOUT) -> None:
    """Wait until ``check()`` is true (polling); fail after ``within`` seconds."""
    await wait_until(check, within)


def recorder(client: Any, event: str, **kwargs: Any) -> tuple[list[Any], asyncio.Event]:
    """Record every call of a wslearn Client's ``event``; the Event is set at each call."""
    calls: list[Any] = []
    flag = asyncio.Event()

    def listener(*args: Any) -> None:
        calls.append(args[0] if len(args) == 1 else args)
        flag.set()

    client.on(event, listener, **kwargs)
    return calls, flag


async def until(flag: asyncio.Event, within: float = WIRE_TIMEOUT) -> None:
    """Wait for ``flag`` (at most ``within`` seconds), then clear it for the next wait."""
    await asyncio.wait_for(flag.wait(), within)
    flag.clear()


async def assert_greeting_follows_connect(client: Any) -> None:
    """Connect ``client``; a ``welcome`` the server emits from its connect handler must
    reach the listeners after ``connect`` (it may arrive before the CONNECT reply)."""
    order: list[str] = []
    greeted = asyncio.Event()
    client.on("connect", lambda: order.append("connect"))

    def welcome(text: str) -> None:
        order.append(f"welcome {text}")
        greeted.set()

    client.on("welcome", welcome)
    async with client:
        await until(greeted)
        assert order == ["connect", "welcome hello"]


# -- raw HTTP, for the long-polling transport -------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    """A response read off the wire: status, headers (names lower-cased), body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class RawHttp:
    """One keep-alive HTTP/1.1 connection, requests written byte for byte."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        within: float = WIRE_TIMEOUT,
    ) -> HttpAnswer:
        await self.send(method, target, body, headers)
        return await self.answer(within)

    async def send(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if (body or method == "POST") and "Content-Length" not in (headers or {}):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()

    async def answer(self, within: float = WIRE_TIMEOUT) -> HttpAnswer:
        assert self.reader is not None
        async with asyncio.timeout(within):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.close()
        return HttpAnswer(int(status_line.split()[1]), headers, body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def http(
    port: int,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """One request on a connection of its own."""
    connection = RawHttp(port)
    try:
        return await connection.request(method, target, body, headers)
    finally:
        await connection.close()


POLL = "/socket.io/?EIO=4&transport=polling"


async def open_polling(port: int) -> tuple[str, dict[str, Any]]:
    """The handshake GET of a polling session: its sid and its OPEN packet."""
    answer = await http(port, "GET", POLL)
    assert answer.status == 200 and answer.text.startswith("0"), answer
    info: dict[str, Any] = json.loads(answer.text[1:])
    return info["sid"], info


# -- the bystander of the adversarial tests ----------------------------------------------


class Witness:
    """A bystander that stays connected through an attack, answering pings in the
    background, plus the checks every test ends with."""

    def __init__(self, server: Server, raw_client: RawFactory) -> None:
        self.server = server
        self.raw_client = raw_client
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.ticks = 0
        self.client: RawClient
        self._reader: asyncio.Task[None]

    async def start(self) -> None:
        self.client = await self.raw_client(self.server)
        await self.client.connect()
        self.server.of("/").sockets[self.client.sid].join("lobby")
        self._reader = asyncio.create_task(self._read())
        await self.check_no_loss()

    async def _read(self) -> None:
        while True:
            frame = await self.client.recv(within=3600)  # answers pings itself
            self.events.put_nowait(frame)

    async def check_no_loss(self) -> None:
        """A broadcast reaches the bystander next, with nothing lost or extra."""
        self.ticks += 1
        await self.server.to("lobby").emit("tick", self.ticks)
        frame = await asyncio.wait_for(self.events.get(), 5)
        assert frame == f'42["tick",{self.ticks}]'
        assert self.client.sid in self.server.of("/").sockets

    async def check_fresh_client_served(self) -> None:
        fresh = await self.raw_client(self.server)
        await fresh.connect()
        await fresh.send('427["echo","still here"]')
        assert await fresh.recv() == '437["still here"]'

    async def finish(self) -> None:
        await self.check_no_loss()
        await self.check_fresh_client_served()
        self._reader.cancel()


def add_echo(server: Server) -> None:
    @server.on("echo")
    def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        return args
