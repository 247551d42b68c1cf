"""Tests for wslearn.adapters and the server's parser hook: a broadcast is encoded
once by the server's parser and handed to its adapter, which decides who gets it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from support import WIRE_TIMEOUT, ServerFactory

from wslearn.adapters import Adapter, InMemoryAdapter
from wslearn.client import Client
from wslearn.exceptions import UsageError
from wslearn.kernel import wait_until
from wslearn.namespace import Socket
from wslearn.packets import JSON_PARSER, Frame, Packet, PacketDecoder
from wslearn.rooms import ALL, Everyone


class Recording(InMemoryAdapter):
    """Delivers locally, like the default, and records what it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, tuple[Frame, ...], object, frozenset[str]]] = []
        self.started = self.stopped = 0

    async def start(self, server: object) -> None:  # type: ignore[override]
        self.started += 1
        await super().start(server)  # type: ignore[arg-type]

    async def stop(self) -> None:
        self.stopped += 1
        await super().stop()

    def broadcast(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: frozenset[str] | Everyone,
        except_rooms: frozenset[str],
        except_sids: frozenset[str],
    ) -> None:
        self.seen.append((namespace, tuple(frames), rooms, except_sids))
        super().broadcast(namespace, frames, rooms, except_rooms, except_sids)


async def joined_client(url: str, room: str, inbox: list[object]) -> Client:
    client = Client(url, reconnection=None)
    client.on("news", inbox.append)
    await client.connect()
    await client.call("join", room)
    return client


async def test_a_room_broadcast_is_encoded_once_and_handed_to_the_adapter(
    make_server: ServerFactory,
) -> None:
    adapter = Recording()
    server = await make_server(adapter=adapter)
    assert adapter.started == 1 and adapter.server is server

    @server.on("join")
    def join(socket: Socket, room: str) -> None:
        socket.join(room)

    inboxes: list[list[object]] = [[], [], []]
    clients = [
        await joined_client(server.url, room, inbox)
        for room, inbox in zip(["r1", "r1", "r2"], inboxes, strict=True)
    ]
    try:
        await server.to("r1").emit("news", {"n": 1})
        await wait_until(lambda: len(inboxes[0]) + len(inboxes[1]) == 2, WIRE_TIMEOUT)
        await server.emit("news", "all")
        await wait_until(lambda: all(len(inbox) == 2 for inbox in inboxes[:2]) and inboxes[2])
    finally:
        for client in clients:
            await client.disconnect()
    assert inboxes == [[{"n": 1}, "all"], [{"n": 1}, "all"], ["all"]]
    assert adapter.seen[0] == ("/", ('42["news",{"n":1}]',), frozenset({"r1"}), frozenset())
    assert adapter.seen[1][2] is ALL


async def test_socket_to_leaves_the_sender_out_through_the_adapter(
    make_server: ServerFactory,
) -> None:
    adapter = Recording()
    server = await make_server(adapter=adapter)

    @server.on("join")
    async def join(socket: Socket, room: str) -> None:
        socket.join(room)
        await socket.to(room).emit("news", "someone joined")

    first: list[object] = []
    second: list[object] = []
    a = await joined_client(server.url, "r", first)
    b = await joined_client(server.url, "r", second)
    joiner = b.sid
    try:
        await wait_until(lambda: first, WIRE_TIMEOUT)
    finally:
        await a.disconnect()
        await b.disconnect()
    assert first == ["someone joined"] and second == []
    assert adapter.seen[-1][3] == frozenset({joiner})  # the sender's own id is left out


async def test_deliver_counts_local_recipients_and_ignores_unknown_namespaces(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    inbox: list[object] = []
    client = Client(server.url, reconnection=None)
    client.on("news", inbox.append)
    await client.connect()
    try:
        assert server.deliver("/nowhere", ['42["news",1]'], ALL) == 0
        assert server.deliver("/", ['42["news",2]'], ALL) == 1
        left_out = frozenset({client.sid or ""})
        assert server.deliver("/", ['42["news",3]'], ALL, except_sids=left_out) == 0
        await wait_until(lambda: inbox, WIRE_TIMEOUT)
    finally:
        await client.disconnect()
    assert inbox == [2]


async def test_the_adapter_is_stopped_with_the_server(make_server: ServerFactory) -> None:
    adapter = Recording()
    server = await make_server(adapter=adapter)
    await server.stop()
    assert adapter.stopped == 1
    with pytest.raises(UsageError, match="not attached"):
        _ = adapter.server


def test_the_base_adapter_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError):
        Adapter().broadcast("/", [], ALL, frozenset(), frozenset())


class CountingParser:
    """The JSON parser, counting how often the server encodes and decodes with it."""

    def __init__(self) -> None:
        self.encoded: list[Packet] = []
        self.decoders = 0

    def encode(self, packet: Packet) -> list[Frame]:
        self.encoded.append(packet)
        return JSON_PARSER.encode(packet)

    def decoder(self) -> PacketDecoder:
        self.decoders += 1
        return JSON_PARSER.decoder()


async def test_server_and_client_encode_with_the_parser_they_are_given(
    make_server: ServerFactory,
) -> None:
    server_parser, client_parser = CountingParser(), CountingParser()
    server = await make_server(parser=server_parser)

    @server.on("echo")
    def echo(socket: Socket, value: object) -> object:
        return value

    client = Client(server.url, reconnection=None, parser=client_parser)
    await client.connect()
    try:
        assert await client.call("echo", b"\x00bytes") == [b"\x00bytes"]
    finally:
        await client.disconnect()
    assert server_parser.decoders == 1 and client_parser.decoders == 1
    assert [p.type.name for p in server_parser.encoded] == ["CONNECT", "ACK"]
    assert [p.type.name for p in client_parser.encoded][:2] == ["CONNECT", "EVENT"]
