"""What the exercise checks share, and the checks that run the learner's code on loopback.

:mod:`wslearn.exercises` is the public side (``check.<exercise>(...)``); this module holds
the :class:`Verdict`, and the scenarios that start a server, run the learner's
function against it, and say what went wrong.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

WAIT = 3.0  # seconds any check waits for the network; loopback needs far less


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    Attributes:
        exercise: which exercise, in words.
        passed: whether the answer works.
        message: what was checked, or what is wrong and a hint.
    """

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'Correct' if self.passed else 'Not yet'} ({self.exercise}): {self.message}"

    def _repr_html_(self) -> str:
        color, word = ("#1a7f37", "Correct") if self.passed else ("#9a6700", "Not yet")
        return (
            f'<div style="border-left:4px solid {color};padding:2px 8px">'
            f'<b style="color:{color}">{word}</b> ({html.escape(self.exercise)}): '
            f"{html.escape(self.message)}</div>"
        )


def yes(exercise: str, message: str) -> Verdict:
    return Verdict(exercise, True, message)


def no(exercise: str, message: str) -> Verdict:
    return Verdict(exercise, False, message)


def _empty_sync() -> None: ...


async def _empty_async() -> None: ...


def _unwritten(answer: Any) -> bool:
    """A function whose whole body is still ``...`` (or ``pass``), as templates leave it."""
    code = getattr(answer, "__code__", None)
    empty = (_empty_sync.__code__.co_code, _empty_async.__code__.co_code)
    return code is not None and code.co_code in empty


def missing(exercise: str, *answers: Any) -> Verdict | None:
    """A verdict for an exercise not done yet (an answer still ``...``), else None."""
    if any(answer is ... for answer in answers):
        return no(exercise, "replace the ... with your answer, then run the cell again")
    for answer in answers:
        if _unwritten(answer):
            return no(exercise, f"write the body of {answer.__name__}, then run the cell again")
    return None


async def run_learner_code(exercise: str, work: Awaitable[Verdict]) -> Verdict:
    """Run a check that calls the learner's code; their exception becomes the verdict."""
    try:
        async with asyncio.timeout(10 * WAIT):
            return await work
    except TimeoutError:
        return no(exercise, "nothing came back in time: does your code send its answer?")
    except Exception as exc:
        return no(exercise, f"your code raised {type(exc).__name__}: {exc}")


async def until(condition: Callable[[], object], within: float = WAIT) -> bool:
    """Wait (polling) until ``condition()`` holds; False if it never did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@asynccontextmanager
async def chat(add_handlers: Callable[[Any], object]) -> AsyncIterator[Any]:
    """Notebook 04's setting: a server with the learner's handlers (``add_handlers(server)``
    registers them), alice and bob in room-123, carol in room-456, each client's events
    recorded as (event, data)."""
    from .client import Client
    from .server import Server

    server = Server(close_timeout=1)

    @server.use
    def remember_name(socket: Any, auth: Any) -> None:
        socket.data["name"] = (auth or {}).get("name", "anonymous")

    @server.on("join-room")
    def join_room(socket: Any, room_id: str) -> None:
        socket.join(room_id)

    add_handlers(server)
    await server.start()
    clients: dict[str, Any] = {}
    heard: dict[str, list[tuple[str, Any]]] = {}
    try:
        for name, room in (("alice", "room-123"), ("bob", "room-123"), ("carol", "room-456")):
            client = Client(server.url, auth={"name": name}, reconnection=None)
            box = heard.setdefault(name, [])
            client.on_any(lambda event, *args, box=box: box.append((event, list(args))))
            await client.connect()
            await client.call("join-room", room)
            clients[name] = client
        yield clients, heard
    finally:
        for client in clients.values():
            await client.disconnect()
        await server.stop()


async def round_trips(clients: dict[str, Any]) -> None:
    """After a call from each client, everything sent to it earlier has arrived."""
    for client in clients.values():
        with suppress(Exception):
            await client.call("join-room", "sync-point", timeout=WAIT)


async def fragments(exercise: str, make_fragments: Any) -> Verdict:
    from .echo import EchoServer
    from .frames import Opcode, decode_frame, frame_size
    from .handshake import UpgradeRequest, generate_key, parse_response

    frames = list(make_fragments("Hello, frames!"))
    if len(frames) < 2:
        return no(exercise, f"{len(frames)} frame(s): split the message in two")
    decoded = [decode_frame(f)[0] for f in frames]
    if decoded[0].opcode is not Opcode.TEXT or decoded[0].fin:
        return no(exercise, "the first frame should be TEXT with FIN=0")
    if any(f.opcode is not Opcode.CONT for f in decoded[1:]) or not decoded[-1].fin:
        return no(exercise, "the next frames should be CONT, the last one with FIN=1")
    async with EchoServer() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = generate_key()
        writer.write(UpgradeRequest("/", f"127.0.0.1:{server.port}", key).to_bytes())
        parse_response(await reader.readuntil(b"\r\n\r\n"), key)
        for frame in frames:
            writer.write(frame)
        data = b""
        while len(data) < frame_size(data):
            data += await reader.readexactly(frame_size(data) - len(data))
        writer.close()
    reply = decode_frame(data)[0].payload.decode()
    if reply != "Echo: Hello, frames!":
        return no(exercise, f"the server echoed {reply!r}")
    return yes(exercise, f"the server saw one message and echoed {reply!r}")


async def echo_handler(exercise: str, handler: Any, prefix: str) -> Verdict:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", proxy=None) as ws:
            await ws.send("hi")
            text = await asyncio.wait_for(ws.recv(), WAIT)
            await ws.send(b"\x00\xff")
            data = await asyncio.wait_for(ws.recv(), WAIT)
    if text != f"{prefix}hi":
        return no(exercise, f"'hi' came back as {text!r}, expected {prefix + 'hi'!r}")
    if data != b"\x00\xff":
        return no(exercise, f"bytes came back as {data!r}: send bytes back as they are")
    return yes(exercise, f"text gets {prefix!r}, bytes come back unchanged")


async def typing(exercise: str, add_handlers: Any) -> Verdict:
    async with chat(add_handlers) as (clients, heard):
        await clients["alice"].emit("typing", "room-123")
        await until(lambda: heard["bob"])
        await round_trips(clients)
    if [e for e, _ in heard["bob"]] != ["user-typing"]:
        return no(exercise, f"bob heard {heard['bob']}: send user-typing to the room")
    if heard["bob"][0][1] != ["alice"]:
        return no(exercise, f"bob got {heard['bob'][0][1]}: send the typist's name")
    if heard["alice"] or heard["carol"]:
        return no(exercise, "alice or carol heard it: only the others in the room should")
    return yes(exercise, "bob hears alice typing; alice and carol hear nothing")


async def others(exercise: str, add_handlers: Any) -> Verdict:
    async with chat(add_handlers) as (clients, heard):
        await clients["alice"].emit(
            "send-message-others", {"roomId": "room-123", "message": "just for you"}
        )
        await until(lambda: heard["bob"])
        await round_trips(clients)
    if [e for e, _ in heard["bob"]] != ["receive-message"]:
        return no(exercise, f"bob heard {heard['bob']}: emit receive-message to the room")
    if heard["alice"]:
        return no(exercise, "alice got her own message back: leave the sender out")
    if heard["carol"]:
        return no(exercise, "carol, in another room, got it: address data['roomId']")
    return yes(exercise, "bob gets it, alice (the sender) and carol do not")


async def join_answers(exercise: str, add_handlers: Any) -> Verdict:
    async with chat(add_handlers) as (clients, _heard):
        answer = await clients["carol"].call("join-room", "room-123", timeout=WAIT)
    if answer != [["alice", "bob", "carol"]]:
        return no(exercise, f"carol's join answered {answer}; expected the sorted names")
    return yes(exercise, "carol's join answers ['alice', 'bob', 'carol']")


async def status_label(exercise: str, make_label: Any) -> Verdict:
    from .reactive import use_socket
    from .server import Server

    server = Server(close_timeout=1)
    await server.start()
    sock = use_socket(server.url, registry=None, reconnection=None)
    try:
        await until(lambda: sock.connected)
        label = make_label(sock)
        if getattr(label, "value", None) != "online":
            return no(exercise, f"connected, the label reads {getattr(label, 'value', None)!r}")
        await server.stop()
        await until(lambda: not sock.connected)
        if label.value != "offline":
            return no(exercise, f"disconnected, it still reads {label.value!r}: observe it")
    finally:
        await sock.close()
        await server.stop()
    return yes(exercise, "online while connected, offline once the server went away")


async def pong(exercise: str, answer_pings: Any) -> Verdict:
    from .client import Client
    from .keepalive import AppHeartbeatMonitor
    from .server import Server

    server = Server(close_timeout=1)
    beats = AppHeartbeatMonitor(server.of("/"), interval=0.1)
    server.on("connect", beats.watch)
    await server.start()
    client = Client(server.url, reconnection=None)
    try:
        answer_pings(client)
        await client.connect()
        await asyncio.sleep(0.6)  # six ticks: a silent client is dropped after two
        kept = client.connected
    finally:
        beats.stop()
        await client.disconnect()
        await server.stop()
    if not kept:
        return no(exercise, "the server dropped the client: answer each ping with a pong")
    return yes(exercise, "six ticks later the guide's server still keeps the client")


async def deposit(exercise: str, handler: Any, balance: Any) -> Verdict:
    from .client import Client
    from .exceptions import AckTimeoutError
    from .server import Server

    server = Server(close_timeout=1)
    server.on("deposit", handler)
    await server.start()
    client = Client(server.url, reconnection=None)
    errors: list[Any] = []
    client.on("error", errors.append)
    before = balance["total"]
    try:
        await client.connect()
        for amount, msg_id in ((10, "check-1"), (10, "check-1"), (5, "check-2")):
            try:
                await client.call("deposit", amount, {"_id": msg_id}, timeout=1.0)
            except AckTimeoutError:
                last = errors[-1] if errors else None
                text = last.get("message") if isinstance(last, dict) else last
                said = f" (the server said: {text})" if text else ""
                return no(
                    exercise,
                    f"no ack for a deposit{said}: wrap the handler in ExactlyOnce, which "
                    "takes the {'_id': ...} argument off and acks every message",
                )
    finally:
        await client.disconnect()
        await server.stop()
    added = balance["total"] - before
    if added == 25:
        return no(exercise, "the repeat was applied too: keep the id with ExactlyOnce")
    if added != 15:
        return no(exercise, f"the balance grew by {added}, expected 15 (10 once, then 5)")
    return yes(exercise, "10 applied once though sent twice, then 5: +15")
