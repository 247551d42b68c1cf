"""wslearn against the official Node.js peers: socket.io-client 4.x and socket.io 4.x.

Each Node peer is a small script in tests/interop/node, run as a subprocess and
driven over stdin/stdout JSON lines (see the comments at the top of client.mjs and
server.mjs): the test sends commands, the script reports what happened, the test
asserts. Bytes travel in those lines as ``{"$bytes": "<base64>"}``. Everything is on
127.0.0.1; every process is stopped at teardown.

Needs ``node`` and ``npm ci --prefix tests/interop/node``; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Self

import pytest
from support import ServerFactory, assert_greeting_follows_connect, recorder, until

from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.exceptions import ConnectRefusedError, NotConnectedError
from wslearn.namespace import Socket
from wslearn.proxy import LinkProxy
from wslearn.server import Server

pytestmark = pytest.mark.interop

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
if NODE is None:
    pytest.skip(
        "SKIPPED Node.js interop: `node` is not on PATH (install Node.js 18+)",
        allow_module_level=True,
    )
if not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
    pytest.skip(
        "SKIPPED Node.js interop: tests/interop/node/node_modules is missing; "
        "run `npm ci --prefix tests/interop/node`",
        allow_module_level=True,
    )

FAST = Backoff(initial=0.05, maximum=0.2)
WAIT = 5.0  # upper bound for anything awaited; never reached when a test passes
QUIET = 0.4  # how long "nothing more happens" is watched (several reconnection delays)


async def until_true(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def to_wire(value: Any) -> Any:
    """JSON-ready form of ``value``: bytes become ``{"$bytes": base64}``."""
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """The inverse of :func:`to_wire`."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if list(value) == ["$bytes"]:
            return base64.b64decode(value["$bytes"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


class NodePeer:
    """A Node script under test control: commands in on stdin, reports out on stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.reports: list[dict[str, Any]] = []  # everything, in order
        self._unread: list[dict[str, Any]] = []  # not yet returned by next()
        self._arrived = asyncio.Event()
        self._stderr = bytearray()
        self._ids = itertools.count(1)
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._drain())]

    @classmethod
    async def start(cls, script: str, *args: str) -> Self:
        assert NODE is not None
        proc = await asyncio.create_subprocess_exec(
            NODE,
            script,
            *args,
            cwd=NODE_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            report = from_wire(json.loads(line))
            self.reports.append(report)
            self._unread.append(report)
            self._arrived.set()
        self._arrived.set()  # wake waiters: the process is gone

    async def _drain(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self._stderr += line

    def send(self, op: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        line = json.dumps(to_wire({"op": op, **fields}))
        self.proc.stdin.write(line.encode() + b"\n")

    def seen(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """Every report so far of this type with these fields."""
        return [r for r in self.reports if _matches(r, kind, match)]

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next unread report of this type with these fields (waits up to WAIT)."""
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    for report in self._unread:
                        if _matches(report, kind, match):
                            self._unread.remove(report)
                            return report
                    if self.proc.stdout is not None and self.proc.stdout.at_eof():
                        break
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"no {kind} report matching {match}; reports: {self.reports}; "
            f"stderr: {self._stderr.decode(errors='replace')}"
        )

    async def request(self, op: str, **fields: Any) -> Any:
        """Send a command that answers with a reply; return its ``result``."""
        ident = next(self._ids)
        self.send(op, id=ident, **fields)
        reply = await self.next("reply", id=ident)
        assert reply["ok"], reply
        return reply.get("result")

    async def stop(self) -> None:
        """Close stdin (the script closes its sockets and exits); kill it if it lingers."""
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(ConnectionError):
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _matches(report: dict[str, Any], kind: str, match: dict[str, Any]) -> bool:
    return report.get("type") == kind and all(report.get(k) == v for k, v in match.items())


class NodeClient(NodePeer):
    """client.mjs: socket.io-client sockets, each known by a name."""

    def open(self, name: str, namespace: str = "/", **options: Any) -> None:
        self.send("open", name=name, ns=namespace, **options)

    async def connected(self, name: str) -> str:
        """Wait for socket ``name`` to connect; return its id."""
        return str((await self.next("connect", name=name))["id"])

    def listen(self, name: str, event: str, **options: Any) -> None:
        self.send("listen", name=name, event=event, **options)

    async def received(self, name: str, event: str) -> list[Any]:
        """The arguments of the next ``event`` that socket ``name`` received."""
        args: list[Any] = (await self.next("event", name=name, event=event))["args"]
        return args


class NodeServer(NodePeer):
    """server.mjs: a socket.io Server; ``port`` and ``url`` once it listens."""

    port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def received(self, event: str, **match: Any) -> dict[str, Any]:
        """The next ``event`` report (``ns``, ``id``, ``args``) the server got."""
        return await self.next("event", event=event, **match)


NodeClientFactory = Callable[[Server], Awaitable[NodeClient]]
NodeServerFactory = Callable[..., Awaitable[NodeServer]]


@pytest.fixture
async def node_client() -> AsyncIterator[NodeClientFactory]:
    peers: list[NodeClient] = []

    async def make(server: Server) -> NodeClient:
        peer = await NodeClient.start("client.mjs", server.url)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        await peer.stop()


@pytest.fixture
async def node_server() -> AsyncIterator[NodeServerFactory]:
    peers: list[NodeServer] = []

    async def make(port: int = 0, **options: Any) -> NodeServer:
        peer = await NodeServer.start("server.mjs", str(port), json.dumps(options))
        peers.append(peer)
        peer.port = (await peer.next("listening"))["port"]
        return peer

    yield make
    for peer in peers:
        await peer.stop()


# --- socket.io-client (Node) against wslearn.Server ----------------------------------


async def test_node_client_connects_without_and_with_auth(
    server: Server, node_client: NodeClientFactory
) -> None:
    seen: dict[str, dict[str, Any]] = {}
    server.on("connect")(lambda socket: seen.update({socket.id: socket.handshake.auth}))
    node = await node_client(server)
    node.open("plain")  # the Node client sends a bare "40" when it has no auth
    node.open("authed", auth={"token": "abc"})
    plain, authed = await node.connected("plain"), await node.connected("authed")
    await until_true(lambda: len(seen) == 2)
    assert seen == {plain: {}, authed: {"token": "abc"}}
    assert set(server.of("/").sockets) == {plain, authed}


async def test_node_client_sees_a_middleware_refusal_with_its_data(
    server: Server, node_client: NodeClientFactory
) -> None:
    tries: list[dict[str, Any]] = []

    @server.use
    def needs_token(socket: Socket, auth: dict[str, Any]) -> None:
        tries.append(auth)
        if auth.get("token") != "good":
            raise ConnectRefusedError("Not authorized", {"hint": "send a token"})

    node = await node_client(server)
    node.open("bad", auth={"token": "bad"})
    error = await node.next("connect_error", name="bad")
    assert (error["message"], error["data"]) == ("Not authorized", {"hint": "send a token"})
    node.open("good", auth={"token": "good"})
    good = await node.connected("good")
    await asyncio.sleep(QUIET)  # the refused socket does not try again by itself
    assert tries == [{"token": "bad"}, {"token": "good"}]
    assert list(server.of("/").sockets) == [good]
    assert node.seen("connect", name="bad") == []


async def test_node_client_and_server_exchange_events_both_ways(
    server: Server, node_client: NodeClientFactory
) -> None:
    @server.on("hello")
    async def hello(socket: Socket, name: str, extra: dict[str, Any]) -> None:
        await socket.emit("welcome", f"hi {name}", extra)

    node = await node_client(server)
    node.open("a")
    node.listen("a", "welcome")
    await node.connected("a")
    node.send("emit", name="a", event="hello", args=["ada", {"n": 1}])
    assert await node.received("a", "welcome") == ["hi ada", {"n": 1}]


async def test_node_client_acks_work_both_ways_from_ack_id_zero(
    server: Server, node_client: NodeClientFactory
) -> None:
    server.on("add")(lambda socket, a, b: a + b)
    server.on("pair")(lambda socket, a, b: (b, a))
    node = await node_client(server)
    node.open("a")
    node.listen("a", "question")  # acks with the arguments it got
    sid = await node.connected("a")
    # The Node client numbers its acks from 0 (python-socketio from 1).
    assert await node.request("call", name="a", event="add", args=[2, 3]) == 5
    assert await node.request("call", name="a", event="pair", args=[1, "x"], all=True) == ["x", 1]
    socket = server.of("/").sockets[sid]
    assert await socket.call("question", 21, "twice") == [21, "twice"]
    assert (await node.next("event", name="a", event="question"))["acked"] is True


async def test_node_client_ack_timeout_fires_when_the_server_never_acks(
    server: Server, node_client: NodeClientFactory
) -> None:
    node = await node_client(server)
    node.open("a")
    node.listen("a", "error")
    await node.connected("a")
    ident = 99
    node.send("call", id=ident, name="a", event="no-such-event", args=[], timeout=300)
    assert await node.received("a", "error") == [
        {"message": "unknown event 'no-such-event'", "event": "no-such-event"}
    ]
    reply = await node.next("reply", id=ident)
    assert reply["ok"] is False and "timed out" in reply["error"]


async def test_node_clients_in_rooms_get_exactly_the_broadcasts_meant_for_them(
    server: Server, node_client: NodeClientFactory
) -> None:
    @server.on("join-room")
    async def join_room(socket: Socket, room: str) -> str:
        socket.join(room)
        await socket.to(room).emit("user-joined", socket.id)
        return room

    node = await node_client(server)
    names = ["alice", "bob", "carol"]
    for name in names:
        node.open(name)
        node.listen(name, "news")
        node.listen(name, "user-joined")
    sids = {name: await node.connected(name) for name in names}
    assert await node.request("call", name="alice", event="join-room", args=["r1"]) == "r1"
    assert await node.request("call", name="bob", event="join-room", args=["r1"]) == "r1"
    assert await node.received("alice", "user-joined") == [sids["bob"]]
    await server.to("r1").emit("news", "room only")
    await server.emit("news", "everyone")
    for name in names:
        while "everyone" not in [r["args"][0] for r in node.seen("event", name=name)]:
            await node.next("event", name=name, event="news")
    got = {n: [r["args"] for r in node.seen("event", name=n, event="news")] for n in names}
    assert got == {
        "alice": [["room only"], ["everyone"]],
        "bob": [["room only"], ["everyone"]],
        "carol": [["everyone"]],
    }
    assert node.seen("event", event="user-joined") == [
        {
            "type": "event",
            "name": "alice",
            "event": "user-joined",
            "args": [sids["bob"]],
            "acked": False,
        }
    ]


async def test_node_client_joins_a_namespace_on_the_same_connection(
    server: Server, node_client: NodeClientFactory
) -> None:
    chat = server.of("/chat")
    chat.on("where")(lambda socket: socket.namespace)
    server.on("where")(lambda socket: "main")
    node = await node_client(server)
    node.open("main")
    node.open("chat", "/chat", via="main")
    node.listen("chat", "ping-chat")
    main_sid, chat_sid = await node.connected("main"), await node.connected("chat")
    assert list(chat.sockets) == [chat_sid] and main_sid != chat_sid
    assert len(server.connections) == 1  # one WebSocket carries both namespaces
    assert await node.request("call", name="chat", event="where") == "/chat"
    assert await node.request("call", name="main", event="where") == "main"
    await chat.emit("ping-chat", 1)
    assert await node.received("chat", "ping-chat") == [1]
    assert node.seen("event", name="main") == []


async def test_node_client_is_refused_an_unknown_namespace(
    server: Server, node_client: NodeClientFactory
) -> None:
    node = await node_client(server)
    node.open("nope", "/nope")
    error = await node.next("connect_error", name="nope")
    assert error["message"] == "Invalid namespace"


async def test_node_client_sends_and_receives_nested_binary(
    server: Server, node_client: NodeClientFactory
) -> None:
    @server.on("upload")
    async def upload(socket: Socket, meta: dict[str, Any]) -> dict[str, Any]:
        await socket.emit("download", {"parts": [b"\x00\xff", {"deep": b"abc"}], "n": 2})
        return {"sizes": [len(part) for part in meta["parts"]], "echo": meta}

    node = await node_client(server)
    node.open("a")
    node.listen("a", "download")
    await node.connected("a")
    meta = {"parts": [b"12345", b"\x00"], "name": "f", "more": {"x": [b"\xfe"]}}
    reply = await node.request("call", name="a", event="upload", args=[meta])
    assert reply == {"sizes": [5, 1], "echo": meta}
    assert await node.received("a", "download") == [
        {"parts": [b"\x00\xff", {"deep": b"abc"}], "n": 2}
    ]


async def test_a_kicked_node_client_does_not_reconnect(
    server: Server, node_client: NodeClientFactory
) -> None:
    node = await node_client(server)
    node.open("a")
    sid = await node.connected("a")
    await server.of("/").sockets[sid].disconnect()
    assert (await node.next("disconnect", name="a"))["reason"] == "io server disconnect"
    await asyncio.sleep(QUIET)
    assert node.seen("connect", name="a")[1:] == [] and server.of("/").sockets == {}


async def test_node_client_reconnects_after_a_restart_and_flushes_its_buffer(
    make_server: ServerFactory, node_client: NodeClientFactory
) -> None:
    first = await make_server()
    node = await node_client(first)
    node.open("a")
    await node.connected("a")
    port = first.port
    await first.stop()
    assert (await node.next("disconnect", name="a"))["reason"] == "transport close"
    for n in range(3):  # buffered by the Node client while it is offline
        node.send("emit", name="a", event="note", args=[n])
    second = await make_server(port=port)
    notes: list[int] = []
    second.on("note")(lambda socket, n: notes.append(n))
    second.on("who")(lambda socket: "second")
    sid = await node.connected("a")
    assert (await node.next("reconnect", name="a"))["attempt"] >= 1
    assert await node.request("call", name="a", event="who") == "second"
    assert notes == [0, 1, 2]
    assert list(second.of("/").sockets) == [sid]


# --- wslearn.Client against socket.io (Node) ------------------------------------------


async def test_client_connects_to_node_without_auth(node_server: NodeServerFactory) -> None:
    node = await node_server()
    async with Client(node.url, reconnection=None) as client:
        connect = await node.next("connect", ns="/")
        assert (connect["id"], connect["auth"]) == (client.sid, {})


async def _token() -> dict[str, str]:
    return {"token": "abc"}


@pytest.mark.parametrize(
    "auth", [{"token": "abc"}, lambda: {"token": "abc"}, _token], ids=["dict", "sync", "async"]
)
async def test_client_connects_to_node_with_auth(
    node_server: NodeServerFactory, auth: Any
) -> None:
    node = await node_server()
    async with Client(node.url, auth=auth, reconnection=None) as client:
        connect = await node.next("connect", ns="/")
        assert (connect["id"], connect["auth"]) == (client.sid, {"token": "abc"})


async def test_an_emit_from_nodes_connection_handler_arrives_after_connect(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    client = Client(node.url, auth={"greeting": "hello"}, reconnection=None)
    await assert_greeting_follows_connect(client)


async def test_a_node_middleware_refusal_raises_with_its_data_and_is_not_retried(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    client = Client(node.url, namespaces=("/private",), auth={"token": "bad"}, reconnection=FAST)
    errors, _ = recorder(client, "connect_error", namespace="/private")
    with pytest.raises(ConnectRefusedError, match="Not authorized") as info:
        await client.connect()
    assert (info.value.namespace, info.value.data) == ("/private", {"hint": "send a token"})
    assert [(e.message, e.data) for e in errors] == [("Not authorized", {"hint": "send a token"})]
    assert client.state is ClientState.DISCONNECTED
    await asyncio.sleep(QUIET)  # several reconnection delays
    assert node.seen("refused") == [
        {"type": "refused", "ns": "/private", "auth": {"token": "bad"}}
    ]
    await client.disconnect()


async def test_client_and_node_exchange_events_both_ways(node_server: NodeServerFactory) -> None:
    node = await node_server()
    async with Client(node.url, reconnection=None) as client:
        got, flag = recorder(client, "receive-message")
        await client.emit("send-message", {"roomId": "r1", "message": "hi"})
        event = await node.received("send-message")
        assert (event["id"], event["args"]) == (client.sid, [{"roomId": "r1", "message": "hi"}])
        node.send("emit", to=client.sid, event="receive-message", args=[{"text": "yo"}, 2])
        await until(flag)
        assert got == [({"text": "yo"}, 2)]


async def test_client_and_node_acks_work_both_ways(node_server: NodeServerFactory) -> None:
    node = await node_server()
    async with Client(node.url, reconnection=None) as client:
        assert await client.call("echo", 1, "two", timeout=WAIT) == [1, "two"]

        @client.on("add")
        async def add(a: int, b: int) -> tuple[int, str]:
            return a + b, "done"

        assert await node.request("call", sid=client.sid, event="add", args=[2, 3]) == [5, "done"]


async def test_node_rooms_and_broadcast_reach_exactly_the_member_clients(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    clients = [Client(node.url, reconnection=None) for _ in range(3)]
    inboxes = [recorder(c, "receive-message") for c in clients]
    for client in clients:
        await client.connect()
    try:
        for client in clients[:2]:
            assert await client.call("join-room", "r1", timeout=WAIT) == ["joined", "r1"]
        await node.request("emit", to="r1", event="receive-message", args=["to r1"])
        await node.request("emit", event="receive-message", args=["to all"])
        # One connection keeps the server's order: once "to all" is in, a "to r1"
        # meant for this client would already be there too.
        for got, flag in inboxes:
            while "to all" not in got:
                await until(flag)
        assert [got for got, _ in inboxes] == [["to r1", "to all"]] * 2 + [["to all"]]
    finally:
        for client in clients:
            await client.disconnect()


async def test_client_namespaces_share_one_connection_to_node(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    client = Client(node.url, namespaces=("/", "/chat"), reconnection=None)
    got, flag = recorder(client, "typing", namespace="/chat")
    async with client:
        chat_sid = client.get_sid("/chat")
        assert chat_sid not in (None, client.sid)
        await client.emit("typing", True, namespace="/chat")
        event = await node.received("typing")
        assert (event["ns"], event["id"], event["args"]) == ("/chat", chat_sid, [True])
        node.send("emit", ns="/chat", to=chat_sid, event="typing", args=["bob"])
        await until(flag)
        assert got == ["bob"]


async def test_node_refuses_an_unknown_namespace(node_server: NodeServerFactory) -> None:
    node = await node_server()
    client = Client(node.url, namespaces=("/nope",), reconnection=None)
    with pytest.raises(ConnectRefusedError, match="Invalid namespace") as info:
        await client.connect()
    assert info.value.namespace == "/nope"
    await client.disconnect()


async def test_nested_bytes_travel_both_ways_between_client_and_node(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    payload = {"name": "pic", "parts": [b"\x00\x01", {"tail": b"\xff" * 3}]}
    async with Client(node.url, reconnection=None) as client:
        got, flag = recorder(client, "file")
        assert await client.call("echo", payload, b"raw", timeout=WAIT) == [payload, b"raw"]
        assert (await node.received("echo"))["args"] == [payload, b"raw"]
        node.send("emit", to=client.sid, event="file", args=[{"chunks": [b"a", b"b"]}])
        await until(flag)
        assert got == [{"chunks": [b"a", b"b"]}]


async def test_a_client_kicked_by_node_disconnects_for_good(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    client = Client(node.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    await client.connect()
    await node.next("connect", id=client.sid)
    node.send("kick", sid=client.sid)
    await until(lost)
    assert reasons == ["io server disconnect"]
    await asyncio.sleep(QUIET)
    assert client.state is ClientState.DISCONNECTED
    assert len(node.seen("connect")) == 1
    with pytest.raises(NotConnectedError):
        await client.emit("hello")
    await client.disconnect()


async def test_client_answers_node_pings_so_node_keeps_the_connection(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server(pingInterval=100, pingTimeout=100)
    client = Client(node.url, reconnection=FAST)
    reasons, _ = recorder(client, "disconnect")
    async with client:
        await asyncio.sleep(0.6)  # five ping rounds and more
        assert reasons == [] and client.connected
        assert node.seen("disconnect") == []  # no "ping timeout" on Node's side
        assert await client.call("echo", "alive", timeout=WAIT) == ["alive"]


async def test_client_reconnects_after_node_restarts_on_the_same_port(
    node_server: NodeServerFactory,
) -> None:
    first = await node_server()
    client = Client(first.url, reconnection=FAST)
    reasons, lost = recorder(client, "disconnect")
    attempts, back = recorder(client, "reconnect")
    await client.connect()
    try:
        await first.stop()  # io.close(): sockets close without a Socket.IO DISCONNECT
        await until(lost)
        assert reasons == ["transport close"]
        assert client.state is ClientState.RECONNECTING
        for n in range(3):
            await client.emit("note", n)
        second = await node_server(first.port)
        await until(back)
        assert attempts and attempts[0] >= 1
        notes = [(await second.received("note"))["args"] for _ in range(3)]
        assert notes == [[0], [1], [2]]
        assert client.connected and client.sid == (await second.next("connect"))["id"]
    finally:
        await client.disconnect()


# --- beyond the python-socketio matrix: heartbeat, leaving, binary acks, recovery -----


async def test_node_client_answers_quick_wslearn_pings(
    make_server: ServerFactory, node_client: NodeClientFactory
) -> None:
    server = await make_server(ping_interval=0.1, ping_timeout=0.1)
    server.on("echo")(lambda socket, text: text)
    node = await node_client(server)
    node.open("a")
    await node.connected("a")
    await asyncio.sleep(0.6)  # five ping rounds and more
    assert node.seen("disconnect") == [] and len(server.of("/").sockets) == 1
    assert await node.request("call", name="a", event="echo", args=["alive"]) == "alive"


async def test_a_node_client_that_leaves_is_gone_with_the_reason_it_left(
    server: Server, node_client: NodeClientFactory
) -> None:
    reasons: list[str] = []
    server.on("disconnect")(lambda socket, reason: reasons.append(reason))
    node = await node_client(server)
    node.open("a")
    await node.connected("a")
    await node.request("close", name="a")
    assert (await node.next("disconnect", name="a"))["reason"] == "io client disconnect"
    await until_true(lambda: reasons != [])
    assert reasons == ["client namespace disconnect"] and server.of("/").sockets == {}


async def test_binary_acks_travel_from_node_client_and_to_node_server(
    server: Server, node_client: NodeClientFactory, node_server: NodeServerFactory
) -> None:
    node = await node_client(server)
    node.open("a")
    node.listen("a", "question")  # acks with what it got: a BINARY_ACK here
    sid = await node.connected("a")
    reply = await server.of("/").sockets[sid].call("question", {"blob": b"\x00\x01"}, b"\xff")
    assert reply == [{"blob": b"\x00\x01"}, b"\xff"]

    peer = await node_server()
    async with Client(peer.url, reconnection=None) as client:
        client.on("dump", lambda n: {"bytes": bytes(range(n))})
        assert await peer.request("call", sid=client.sid, event="dump", args=[3]) == [
            {"bytes": b"\x00\x01\x02"}
        ]


async def test_node_client_recovers_its_session_and_missed_events_from_wslearn(
    make_server: ServerFactory, node_client: NodeClientFactory
) -> None:
    server = await make_server(recovery_window=5)

    @server.on("join-room")
    def join_room(socket: Socket, room: str) -> None:
        socket.join(room)

    async with LinkProxy("127.0.0.1", server.port) as link:
        node = await node_client(server)
        node.send("open", name="a", url=f"http://127.0.0.1:{link.port}")
        node.listen("a", "news")
        sid = await node.connected("a")
        await node.request("call", name="a", event="join-room", args=["r1"], all=True)
        await server.to("r1").emit("news", "a")
        await node.received("a", "news")
        await link.down()
        assert (await node.next("disconnect", name="a"))["reason"] == "transport close"
        await until_true(lambda: sid not in server.of("/").sockets)
        await server.to("r1").emit("news", "b")
        await server.to("r2").emit("news", "not for you")
        await server.to("r1").emit("news", "c")
        link.up()
        back = await node.next("connect", name="a")
        assert (back["id"], back["recovered"]) == (sid, True)
        missed = [(await node.received("a", "news")) for _ in range(2)]
        # The Node client hands the offset to listeners as a last, extra argument.
        assert [args[0] for args in missed] == ["b", "c"]
        assert all(len(args) == 2 and isinstance(args[1], str) for args in missed)
        assert "r1" in server.of("/").sockets[sid].rooms


async def test_client_recovers_its_session_and_missed_events_from_node(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server(connectionStateRecovery={"maxDisconnectionDuration": 5000})
    async with LinkProxy("127.0.0.1", node.port) as link:
        client = Client(f"http://127.0.0.1:{link.port}", reconnection=FAST)
        news, flag = recorder(client, "news")
        try:
            await client.connect()
            sid = client.sid
            assert not client.recovered
            assert (await node.next("connect", id=sid))["recovered"] is False
            assert await client.call("join-room", "r1", timeout=WAIT) == ["joined", "r1"]
            await node.request("emit", to="r1", event="news", args=["a"])
            await until(flag)
            await link.down()
            await node.next("disconnect", id=sid)
            await node.request("emit", to="r1", event="news", args=["b"])
            await node.request("emit", to="r2", event="news", args=["not for you"])
            await node.request("emit", to="r1", event="news", args=["c"])
            link.up()
            assert (await node.next("connect", id=sid))["recovered"] is True
            while len(news) < 3:
                await until(flag)
            assert client.recovered and client.sid == sid
            assert [args[0] for args in news] == ["a", "b", "c"]  # the offset rides last
        finally:
            await client.disconnect()


async def test_a_client_that_leaves_node_is_gone_with_the_reason_it_left(
    node_server: NodeServerFactory,
) -> None:
    node = await node_server()
    client = Client(node.url, namespaces=("/", "/chat"), reconnection=FAST)
    await client.connect()
    sids = {client.get_sid("/"), client.get_sid("/chat")}
    await client.disconnect()
    left = [await node.next("disconnect") for _ in range(2)]
    assert {r["id"] for r in left} == sids
    assert [r["reason"] for r in left] == ["client namespace disconnect"] * 2


# --- the MessagePack parser (socket.io-msgpack-parser on the Node side) ---------------


async def test_node_client_with_the_msgpack_parser_talks_to_a_msgpack_server(
    make_server: ServerFactory, node_client: NodeClientFactory
) -> None:
    from wslearn.msgpack_parser import MSGPACK_PARSER
    from wslearn.tap import WireTap

    assert MSGPACK_PARSER is not None
    server = await make_server(parser=MSGPACK_PARSER)

    @server.on("upload")
    async def upload(socket: Socket, meta: dict[str, Any]) -> dict[str, Any]:
        await socket.emit("download", {"parts": [b"\x00\xff", {"deep": b"abc"}], "n": 2})
        return {"sizes": [len(part) for part in meta["parts"]], "echo": meta}

    tap = await WireTap(server.port).start()
    try:
        node = await NodeClient.start("client.mjs", tap.url())
        try:
            node.open("a", parser="msgpack")
            node.listen("a", "download")
            await node.connected("a")
            meta = {"parts": [b"12345", b"\x00"], "name": "f", "more": {"x": [b"\xfe"], "k": 1.5}}
            reply = await node.request("call", name="a", event="upload", args=[meta])
            assert reply == {"sizes": [5, 1], "echo": meta}
            assert await node.received("a", "download") == [
                {"parts": [b"\x00\xff", {"deep": b"abc"}], "n": 2}
            ]
        finally:
            await node.stop()
    finally:
        await tap.stop()
    # Every Socket.IO packet was one binary frame; only Engine.IO's own are text.
    texts = {f.text[0] for f in tap.frames if f.text is not None}
    assert texts <= {"0", "2", "3"}, texts
    assert sum(f.opcode.name == "BINARY" for f in tap.frames) >= 5


async def test_client_with_the_msgpack_parser_talks_to_a_node_msgpack_server(
    node_server: NodeServerFactory,
) -> None:
    from wslearn.msgpack_parser import MSGPACK_PARSER

    node = await node_server(parser="msgpack")
    payload = {"name": "pic", "parts": [b"\x00\x01", {"tail": b"\xff" * 3}], "n": None}
    async with Client(node.url, reconnection=None, parser=MSGPACK_PARSER) as client:
        got, flag = recorder(client, "file")
        assert await client.call("echo", payload, b"raw", timeout=WAIT) == [payload, b"raw"]
        assert (await node.received("echo"))["args"] == [payload, b"raw"]
        node.send("emit", to=client.sid, event="file", args=[{"chunks": [b"a", b"b"]}])
        await until(flag)
        assert got == [{"chunks": [b"a", b"b"]}]
        client.on("dump", lambda n: {"bytes": bytes(range(n))})
        assert await node.request("call", sid=client.sid, event="dump", args=[3]) == [
            {"bytes": b"\x00\x01\x02"}
        ]


async def test_a_json_client_on_a_msgpack_server_is_closed_not_misread(
    make_server: ServerFactory, node_client: NodeClientFactory
) -> None:
    from wslearn.msgpack_parser import MSGPACK_PARSER

    server = await make_server(parser=MSGPACK_PARSER)
    node = await node_client(server)
    node.open("a", reconnection=False)  # the default JSON parser: text frames
    report = await node.next("disconnect", name="a")
    assert report["reason"] in ("transport close", "transport error"), report
    assert server.of("/").sockets == {}
