"""Tests for wslearn.compression: permessage-deflate with a threshold, made lazily.

Most tests run websockets' sans-I/O protocols against each other (bytes in, frames
out, no socket) and read the RSV1 bit off the serialized frames; the last ones run
real servers and clients on loopback through a :class:`~wslearn.tap.WireTap`.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import random
import re
import tomllib
import zlib
from pathlib import Path

import pytest
from support import eventually, recorder
from websockets.client import ClientProtocol
from websockets.extensions.base import ClientExtensionFactory, ServerExtensionFactory
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from wslearn.client import Client
from wslearn.compression import (
    DEFAULT_THRESHOLD,
    Compression,
    SharedMessage,
    SharingKey,
    ThresholdDeflate,
    negotiate,
    prepare_shared,
    sharing_key,
)
from wslearn.echo import EchoServer
from wslearn.exceptions import UsageError
from wslearn.frames import Opcode, decode_frame
from wslearn.server import Server
from wslearn.tap import WireTap

ROOT = Path(__file__).resolve().parent.parent


def chat_text(size: int) -> str:
    """Chat-like text of exactly ``size`` bytes: repeated words compress well."""
    words = "the quick brown fox jumps over the lazy dog and says hello "
    return (words * (size // len(words) + 1))[:size]


class Pair:
    """A websockets client and server protocol, handshake done, wired by hand."""

    def __init__(
        self,
        client_ext: list[ClientExtensionFactory] | None,
        server_ext: list[ServerExtensionFactory] | None,
    ) -> None:
        self.client = ClientProtocol(parse_uri("ws://127.0.0.1/"), extensions=client_ext)
        self.server = ServerProtocol(extensions=server_ext)
        self.client.send_request(self.client.connect())
        self.server.receive_data(b"".join(self.client.data_to_send()))
        [request] = self.server.events_received()
        self.response = self.server.accept(request)
        self.server.send_response(self.response)
        self.client.receive_data(b"".join(self.server.data_to_send()))
        [response] = self.client.events_received()
        assert response.status_code == 101

    def wire(self, sender: ClientProtocol | ServerProtocol) -> list[tuple[bool, bytes]]:
        """Deliver what ``sender`` wrote; return each frame's (rsv1, payload on the wire)."""
        data = b"".join(sender.data_to_send())
        receiver = self.server if sender is self.client else self.client
        frames, pos = [], 0
        while pos < len(data):
            frame, used = decode_frame(data[pos:], allow_rsv=True)
            frames.append((frame.rsv1, frame.payload))
            pos += used
        receiver.receive_data(data)
        return frames

    def received(self, receiver: ClientProtocol | ServerProtocol) -> list[bytes]:
        """The messages ``receiver`` decoded (fragments joined)."""
        messages, parts = [], b""
        for frame in receiver.events_received():
            parts += bytes(frame.data)
            if frame.fin:
                messages.append(parts)
                parts = b""
        return messages


def pair(client: Compression | None, server: Compression | None) -> Pair:
    return Pair(
        None if client is None else [client.client_factory()],
        None if server is None else [server.server_factory()],
    )


# -- the threshold ------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["server to client", "client to server"])
def test_messages_under_the_threshold_go_out_without_rsv1_and_larger_ones_with_it(
    direction: str,
) -> None:
    p = pair(Compression(), Compression())
    sender, receiver = (
        (p.server, p.client) if direction == "server to client" else (p.client, p.server)
    )
    sizes = [0, 100, DEFAULT_THRESHOLD - 1, DEFAULT_THRESHOLD, 2048, 65536]
    for size in sizes:
        sender.send_text(chat_text(size).encode())
    frames = p.wire(sender)
    assert [rsv1 for rsv1, _ in frames] == [False, False, False, True, True, True]
    # Uncompressed frames carry the message itself; compressed ones are smaller.
    for (rsv1, payload), size in zip(frames, sizes, strict=True):
        if rsv1:
            assert len(payload) < size / 4
        else:
            assert payload == chat_text(size).encode()
    assert p.received(receiver) == [chat_text(size).encode() for size in sizes]


def test_the_threshold_counts_utf8_bytes_not_characters() -> None:
    p = pair(Compression(threshold=10), Compression(threshold=10))
    p.server.send_text(("é" * 5).encode())  # 5 characters, 10 bytes
    p.server.send_text(("é" * 4).encode())  # 8 bytes
    assert [rsv1 for rsv1, _ in p.wire(p.server)] == [True, False]


def test_a_threshold_of_zero_compresses_every_message() -> None:
    p = pair(Compression(threshold=0), Compression(threshold=0))
    for text in ["", "a", "hello"]:
        p.client.send_text(text.encode())
    assert [rsv1 for rsv1, _ in p.wire(p.client)] == [True, True, True]
    assert p.received(p.server) == [b"", b"a", b"hello"]


def test_a_fragmented_message_is_decided_by_its_first_frame() -> None:
    p = pair(Compression(), Compression())
    big, small = chat_text(4096).encode(), b"tiny"
    # A large first fragment: every continuation is deflated too, RSV1 only on the first.
    p.server.send_text(big, fin=False)
    p.server.send_continuation(small, fin=False)
    p.server.send_continuation(small, fin=True)
    # A small first fragment: the whole message goes uncompressed, however long.
    p.server.send_text(small, fin=False)
    p.server.send_continuation(big, fin=True)
    frames = p.wire(p.server)
    assert [rsv1 for rsv1, _ in frames] == [True, False, False, False, False]
    assert frames[4][1] == big  # sent as is
    assert p.received(p.client) == [big + small + small, small + big]


@pytest.mark.parametrize("server_nct", [False, True])
@pytest.mark.parametrize("client_nct", [False, True])
@pytest.mark.parametrize("threshold_on", ["server", "client", "both"])
def test_interleaved_small_and_large_messages_stay_in_sync_for_every_context_takeover_setting(
    server_nct: bool, client_nct: bool, threshold_on: str
) -> None:
    # The side without a threshold is websockets' stock extension: an independent
    # encoder and decoder, so a desync of the sliding windows would show.
    settings = Compression(
        server_no_context_takeover=server_nct, client_no_context_takeover=client_nct
    )
    stock_server = ServerPerMessageDeflateFactory(
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct,
        server_max_window_bits=12,
        client_max_window_bits=12,
    )
    stock_client = ClientPerMessageDeflateFactory(
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct,
        client_max_window_bits=12,
    )
    p = Pair(
        [settings.client_factory() if threshold_on in ("client", "both") else stock_client],
        [settings.server_factory() if threshold_on in ("server", "both") else stock_server],
    )
    rng = random.Random(7)
    messages = [chat_text(rng.choice([0, 10, 500, 1023, 1024, 3000, 70_000])) for _ in range(120)]
    for sender, receiver in [(p.server, p.client), (p.client, p.server)]:
        for i, text in enumerate(messages):
            sender.send_text(f"{i}:{text}".encode())
            frames = p.wire(sender)
            assert len(frames) == 1
            assert frames[0][0] == (len(f"{i}:{text}".encode()) >= DEFAULT_THRESHOLD) or (
                sender.extensions[0].__class__ is PerMessageDeflate
            )
            assert p.received(receiver) == [f"{i}:{text}".encode()]


# -- laziness -------------------------------------------------------------------------


def extension_of(protocol: ClientProtocol | ServerProtocol) -> ThresholdDeflate:
    [extension] = protocol.extensions
    assert isinstance(extension, ThresholdDeflate)
    return extension


def test_the_lazy_compressor_is_made_on_the_first_large_message() -> None:
    p = pair(Compression(), Compression(server_no_context_takeover=False))
    server = extension_of(p.server)
    assert not server.has_compressor and not server.has_decompressor
    p.server.send_text(b"small")
    p.wire(p.server)
    assert not server.has_compressor
    p.server.send_text(chat_text(2000).encode())
    p.wire(p.server)
    assert server.has_compressor  # context takeover: the window lives on


def test_the_lazy_decompressor_is_made_on_the_first_compressed_message() -> None:
    kept = Compression(client_no_context_takeover=False)
    p = pair(kept, kept)
    server = extension_of(p.server)
    p.client.send_text(b"small")
    p.wire(p.client)
    assert not server.has_decompressor
    p.client.send_text(chat_text(2000).encode())
    p.wire(p.client)
    assert server.has_decompressor  # the client keeps context takeover here
    assert p.received(p.server) == [b"small", chat_text(2000).encode()]


def test_by_default_the_server_keeps_no_zlib_state_between_messages_either_way() -> None:
    # A stock websockets client (no threshold: it compresses even tiny messages).
    p = Pair([ClientPerMessageDeflateFactory()], [Compression().server_factory()])
    server = extension_of(p.server)
    for text in [b"small", chat_text(2000).encode()]:
        p.client.send_text(text)
        p.server.send_text(text)
        p.wire(p.client), p.wire(p.server)
        assert not server.has_decompressor and not server.has_compressor
    assert p.received(p.server) == [b"small", chat_text(2000).encode()]


def test_without_server_context_takeover_no_compressor_outlives_a_message() -> None:
    p = pair(Compression(), Compression())  # the default: server_no_context_takeover
    server = extension_of(p.server)
    for _ in range(3):
        p.server.send_text(chat_text(5000).encode())
        assert p.wire(p.server)[0][0]
        assert not server.has_compressor


def test_an_eager_extension_makes_both_coders_at_the_handshake_like_websockets() -> None:
    eager = Compression(
        lazy=False, server_no_context_takeover=False, client_no_context_takeover=False
    )
    p = pair(eager, eager)
    assert extension_of(p.server).has_compressor and extension_of(p.server).has_decompressor
    assert extension_of(p.client).has_compressor and extension_of(p.client).has_decompressor


# -- negotiation ------------------------------------------------------------------------


def test_the_server_factory_imposes_its_defaults_on_a_plain_offer() -> None:
    p = Pair([ClientPerMessageDeflateFactory()], [Compression().server_factory()])
    assert p.response.headers["Sec-WebSocket-Extensions"] == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=12; "
        "client_max_window_bits=12"
    )
    server = extension_of(p.server)
    assert (server.local_no_context_takeover, server.local_max_window_bits) == (True, 12)
    assert isinstance(p.client.extensions[0], PerMessageDeflate)


def test_negotiate_answers_exactly_as_websockets_own_server_does() -> None:
    offers = [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
        "x-unknown, permessage-deflate",
        "permessage-deflate; server_max_window_bits=8, permessage-deflate",
    ]
    factories = [Compression().server_factory()]
    for offer in offers:
        header, extensions = negotiate(factories, [offer])
        protocol = ServerProtocol(extensions=factories)
        expected_header, expected = protocol.process_extensions(
            _headers({"Sec-WebSocket-Extensions": offer})
        )
        assert header == expected_header
        assert [repr(e) for e in extensions] == [repr(e) for e in expected]
        assert all(isinstance(e, ThresholdDeflate) for e in extensions)


def test_negotiate_declines_what_it_does_not_know_and_accepts_nothing_without_an_offer() -> None:
    factories = [Compression().server_factory()]
    assert negotiate(factories, []) == (None, [])
    assert negotiate(factories, ["x-webkit-deflate-frame"]) == (None, [])
    assert negotiate([], ["permessage-deflate"]) == (None, [])


def _headers(values: dict[str, str]):  # type: ignore[no-untyped-def]
    from websockets.datastructures import Headers

    return Headers(values)


# -- compressing a broadcast once ------------------------------------------------------


def test_sharing_key_exists_only_without_context_takeover_on_the_sending_side() -> None:
    shared = pair(Compression(), Compression())
    assert isinstance(sharing_key(extension_of(shared.server)), SharingKey)
    assert isinstance(sharing_key(extension_of(shared.client)), SharingKey)
    kept = pair(Compression(), Compression(server_no_context_takeover=False))
    assert sharing_key(extension_of(kept.server)) is None
    client_kept = pair(*[Compression(client_no_context_takeover=False)] * 2)
    # The client keeps its window: its output depends on its history.
    assert sharing_key(extension_of(client_kept.client)) is None
    assert sharing_key(PerMessageDeflate(True, True, 12, 12)) is None  # not ours


def test_a_shared_message_is_the_same_bytes_each_connection_would_have_made() -> None:
    payload = chat_text(20_000).encode()
    alone = pair(Compression(), Compression())
    alone.server.send_text(payload)
    [(rsv1, expected)] = alone.wire(alone.server)
    assert rsv1

    recipients = [pair(Compression(), Compression()) for _ in range(3)]
    keys = [sharing_key(extension_of(p.server)) for p in recipients]
    assert len(set(keys)) == 1
    message = prepare_shared(payload, keys)
    assert message == payload and len(message.compressed) == 1
    for p in recipients:
        p.server.send_text(message)
        assert p.wire(p.server) == [(True, expected)]
        assert p.received(p.client) == [payload]


def test_a_shared_message_sent_where_it_cannot_be_shared_is_compressed_or_sent_as_usual() -> None:
    payload = chat_text(20_000).encode()
    one_key = sharing_key(extension_of(pair(Compression(), Compression()).server))
    message = prepare_shared(payload, [one_key, None])
    # Context takeover: compressed with the connection's own window, still decodable.
    kept = pair(Compression(), Compression(server_no_context_takeover=False))
    sizes = []
    for _ in range(2):
        kept.server.send_text(message)
        [(rsv1, data)] = kept.wire(kept.server)
        assert rsv1
        sizes.append(len(data))
    assert sizes[1] < sizes[0]  # the second refers back to the first: its own window
    assert kept.received(kept.client) == [payload, payload]
    # Another window size: a different key, so its own compression.
    other = pair(Compression(), Compression(server_max_window_bits=10))
    other.server.send_text(message)
    [(rsv1, _)] = other.wire(other.server)
    assert rsv1 and sharing_key(extension_of(other.server)) not in message.compressed
    assert other.received(other.client) == [payload]
    # No compression negotiated: the plain bytes.
    plain = pair(None, Compression())
    plain.server.send_text(message)
    assert plain.wire(plain.server) == [(False, payload)]


def test_prepare_shared_leaves_small_messages_uncompressed() -> None:
    key = SharingKey(12, (("level", -1), ("memLevel", 5)), 1024)
    assert prepare_shared(b"hi", [key]).compressed == {}
    big = prepare_shared(chat_text(4000).encode(), [key, key, None])
    assert list(big.compressed) == [key]
    inflated = zlib.decompressobj(wbits=-12).decompress(big.compressed[key] + b"\x00\x00\xff\xff")
    assert inflated == chat_text(4000).encode()
    assert isinstance(big, SharedMessage) and isinstance(big, bytes)


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("threshold", -1, "threshold must be 0 or more"),
        ("server_max_window_bits", 8, "server_max_window_bits must be 9 to 15"),
        ("client_max_window_bits", 16, "client_max_window_bits must be 9 to 15"),
        ("level", 10, "level must be -1 or 0 to 9"),
        ("mem_level", 0, "mem_level must be 1 to 9"),
    ],
)
def test_settings_out_of_range_are_refused_with_a_message(
    field: str, value: int, says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        Compression(**{field: value})  # type: ignore[arg-type]


# -- the websockets internals this module relies on -----------------------------------


def test_websockets_is_within_the_pinned_minor_range() -> None:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [pin] = [s for s in spec if s.startswith("websockets")]
    low, high = re.fullmatch(r"websockets>=(\d+\.\d+),<(\d+\.\d+)", pin).groups()  # type: ignore[union-attr]
    version = tuple(int(x) for x in importlib.metadata.version("websockets").split(".")[:2])
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split("."))), (
        f"websockets {version} is outside {pin}: re-check wslearn/compression.py against "
        "websockets.extensions.permessage_deflate before widening the pin"
    )


def test_websockets_permessage_deflate_internals_are_still_the_ones_we_override() -> None:
    """If this fails, websockets changed PerMessageDeflate: re-read its source and
    update wslearn/compression.py (laziness and sharing poke at these)."""
    params = list(inspect.signature(PerMessageDeflate.__init__).parameters)
    assert params == [
        "self",
        "remote_no_context_takeover",
        "local_no_context_takeover",
        "remote_max_window_bits",
        "local_max_window_bits",
        "compress_settings",
    ]
    kept = PerMessageDeflate(False, False, 12, 12, {"memLevel": 5})
    assert hasattr(kept, "encoder") and hasattr(kept, "decoder")  # made at construction
    fresh = PerMessageDeflate(True, True, 12, 12, {"memLevel": 5})
    assert not hasattr(fresh, "encoder") and not hasattr(fresh, "decoder")
    assert fresh.compress_settings == {"memLevel": 5}
    # encode() makes a per-message encoder without context takeover and drops it at FIN.
    out = fresh.encode(WsFrame(WsOpcode.TEXT, chat_text(3000).encode()))
    assert out.rsv1 and not hasattr(fresh, "encoder")
    assert fresh.decode(out).data == chat_text(3000).encode()
    assert not hasattr(fresh, "decoder")
    # The factories still hand back a PerMessageDeflate our subclasses convert.
    _, ext = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True
    ).process_request_params([], [])
    assert type(ext) is PerMessageDeflate and ext.local_no_context_takeover
    for name in ("encode", "decode"):
        assert name in vars(PerMessageDeflate)
    assert Opcode.TEXT == WsOpcode.TEXT


# -- on real sockets -------------------------------------------------------------------


async def test_echo_server_compression_setting_threshold_seen_on_the_wire() -> None:
    from websockets.asyncio.client import connect

    async with EchoServer(prefix="", compression=Compression()) as server:
        tap = await WireTap(server.port).start()
        try:
            factories = [Compression().client_factory()]
            async with connect(tap.url("ws"), compression=None, extensions=factories) as ws:
                for size in (100, 2048):
                    await ws.send(chat_text(size))
                    assert await ws.recv() == chat_text(size)
        finally:
            await tap.stop()
    data = [f for f in tap.frames if f.opcode is Opcode.TEXT]
    assert [(f.origin, f.rsv1) for f in data] == [
        ("client", False),
        ("server", False),
        ("client", True),
        ("server", True),
    ]
    assert "server_no_context_takeover" in (tap.connections[0].extensions or "")


async def test_echo_server_declines_compression_by_default() -> None:
    from websockets.asyncio.client import connect

    # websockets offers deflate by default
    async with EchoServer(prefix="") as server, connect(server.url) as ws:
        assert ws.protocol.extensions == []


async def test_socketio_server_is_off_by_default_and_compresses_large_events_when_on() -> None:
    for settings, expect_rsv1 in [(None, False), (Compression(), True)]:
        server = await Server(compression=settings).start()
        tap = await WireTap(server.port).start()
        client = Client(tap.url(), reconnection=None)  # the client offers by default
        try:
            server.on("big", lambda socket, text: text)
            await client.connect()
            reply = await client.call("big", chat_text(3000))
            assert reply == [chat_text(3000)]
        finally:
            await client.disconnect()
            await tap.stop()
            await server.stop()
        [conn] = tap.connections
        assert (conn.extensions is not None) is expect_rsv1
        large = [f for f in tap.frames if f.wire_size > 500 or f.rsv1]
        assert {(f.origin, f.rsv1) for f in large} == {
            ("client", expect_rsv1),
            ("server", expect_rsv1),
        }
        if settings is not None:  # what goes uncompressed is under the threshold
            plain = [f for f in tap.frames if f.opcode is Opcode.TEXT and not f.rsv1]
            assert plain and all(len(f.payload) < settings.threshold for f in plain)


async def test_a_client_without_compression_offers_none() -> None:
    server = await Server(compression=Compression()).start()
    tap = await WireTap(server.port).start()
    client = Client(tap.url(), reconnection=None, compression=None)
    try:
        await client.connect()
    finally:
        await client.disconnect()
        await tap.stop()
        await server.stop()
    assert "sec-websocket-extensions" not in tap.connections[0].request.lower()
    assert tap.connections[0].extensions is None


async def test_a_broadcast_to_compressing_clients_is_compressed_once_for_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await Server(compression=Compression()).start()
    clients = [Client(server.url, reconnection=None) for _ in range(3)]  # all offer deflate
    made: list[int] = []
    real = zlib.compressobj

    def counting_compressobj(*args: object, **kwargs: object) -> object:
        made.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    try:
        received = [recorder(client, "news")[0] for client in clients]
        for client in clients:
            await client.connect()
        monkeypatch.setattr(zlib, "compressobj", counting_compressobj)  # every compressor
        text = chat_text(4000)
        server.emit("news", text)
        await eventually(lambda: all(len(got) == 1 for got in received))
        assert received == [[text]] * 3
        assert len(made) == 1  # one compressor for the three recipients, not three
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()
