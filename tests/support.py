"""Helpers shared by the test modules: a frame-by-frame Socket.IO client, URLs, waiting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from wslearn.backoff import Backoff
from wslearn.kernel import wait_until
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
