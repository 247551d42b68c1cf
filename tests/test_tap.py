"""Tests for wslearn.tap: a real echo server, a real client, the tap between."""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect

from wslearn.echo import EchoServer
from wslearn.frames import Opcode
from wslearn.tap import TappedFrame, WireTap


async def test_the_tap_relays_and_records_every_frame_in_order_with_its_origin() -> None:
    async with EchoServer(prefix="re: ") as server:
        tap = await WireTap(server.port).start()
        try:
            async with connect(tap.url("ws"), compression=None) as ws:
                await ws.send("hello")
                assert await ws.recv() == "re: hello"
                await ws.send(b"\x00\x01" * 100)
                assert await ws.recv() == b"\x00\x01" * 100
        finally:
            await tap.stop()
    kinds = [(f.origin, f.opcode, f.text) for f in tap.frames]
    assert kinds[:4] == [
        ("client", Opcode.TEXT, "hello"),  # unmasked by the tap
        ("server", Opcode.TEXT, "re: hello"),
        ("client", Opcode.BINARY, None),
        ("server", Opcode.BINARY, None),
    ]
    assert tap.frames[2].payload == b"\x00\x01" * 100
    assert [f.opcode for f in tap.frames[4:]] == [Opcode.CLOSE, Opcode.CLOSE]
    # Client frames carry a 4-byte mask, server frames none.
    assert tap.frames[0].wire_size == 2 + 4 + 5 and tap.frames[1].wire_size == 2 + 9
    [conn] = tap.connections
    assert conn.request.startswith("GET / HTTP/1.1") and conn.response.startswith("HTTP/1.1 101")
    assert conn.extensions is None
    assert conn.bytes_from_client > 200 + len(conn.request) and not conn.open


async def test_the_tap_counts_tcp_connections_and_parses_frames_split_across_reads() -> None:
    async with EchoServer(prefix="") as server:
        tap = await WireTap(server.port).start()
        try:
            big = "x" * 200_000  # arrives in many TCP reads
            for _ in range(2):
                async with connect(tap.url("ws"), compression=None, max_size=None) as ws:
                    await ws.send(big)
                    assert await ws.recv() == big
        finally:
            await tap.stop()
    assert [c.number for c in tap.connections] == [1, 2]
    texts = [f for f in tap.frames if f.opcode is Opcode.TEXT]
    assert [(f.connection, f.origin, len(f.payload)) for f in texts] == [
        (1, "client", 200_000),
        (1, "server", 200_000),
        (2, "client", 200_000),
        (2, "server", 200_000),
    ]


async def test_a_refused_upstream_closes_the_client_side_and_stop_ends_everything() -> None:
    server = await EchoServer().start()
    port = server.port
    await server.stop()  # nothing listens there now
    tap = await WireTap(port).start()
    reader, writer = await asyncio.open_connection("127.0.0.1", tap.port)
    assert await reader.read() == b""  # closed by the tap
    writer.close()
    assert not tap.connections[0].open
    await tap.stop()
    assert not tap.running


def test_a_tapped_frame_reads_as_one_line() -> None:
    frame = TappedFrame(3, "client", Opcode.TEXT, True, False, b'42["hi"]', 14)
    assert str(frame) == '#3 client→server TEXT 14 B 42["hi"]'
    compressed = TappedFrame(3, "server", Opcode.TEXT, True, True, b"\x01\x02", 4)
    assert str(compressed) == "#3 server→client TEXT RSV1 4 B (compressed)"
    assert compressed.text is None


async def test_namespaces_share_one_tcp_connection_with_their_packets_interleaved() -> None:
    from wslearn.client import Client
    from wslearn.exceptions import ConnectRefusedError
    from wslearn.server import Server

    server = await Server().start()
    chat, notifications = server.of("/chat"), server.of("/notifications")
    checked: list[str] = []

    def chat_only_with_a_name(socket: object, auth: dict[str, str]) -> None:  # /chat's only
        checked.append("/chat")
        if not auth.get("name"):
            raise ConnectRefusedError("a name is needed on /chat")

    chat.use(chat_only_with_a_name)
    chat.on("say", lambda socket, text: f"chat got {text}")
    notifications.on("seen", lambda socket, n: f"notification {n} seen")
    tap = await WireTap(server.port).start()
    client = Client(tap.url(), namespaces=("/chat", "/notifications"), auth={"name": "Ann"})
    try:
        await client.connect()
        for n in range(2):
            assert await client.call("say", f"hi {n}", namespace="/chat") == [f"chat got hi {n}"]
            assert await client.call("seen", n, namespace="/notifications") == [
                f"notification {n} seen"
            ]
    finally:
        await client.disconnect()
        await tap.stop()
        await server.stop()
    assert len(tap.connections) == 1  # one TCP connection for both namespaces
    assert checked == ["/chat"]  # /notifications has no middleware
    events = [f.text for f in tap.frames if f.text is not None and f.text.startswith(("42", "43"))]
    spaces = [text.split(",")[0][2:].rstrip("0123456789") for text in events]
    assert spaces == ["/chat", "/chat", "/notifications", "/notifications"] * 2
