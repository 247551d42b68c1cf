"""permessage-deflate with a threshold against Node's ``ws``, seen on the wire.

Node's ``ws`` (the WebSocket library under socket.io) runs in
tests/interop/node/ws_peer.mjs with ``perMessageDeflate: {threshold: 1024}``; a
:class:`~wslearn.tap.WireTap` between the peers records every frame's RSV1 bit.
Both sides must leave messages under 1024 bytes uncompressed and compress the
larger ones, in both directions, and every echo must come back intact.

Needs ``node`` and ``npm ci --prefix tests/interop/node``; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from wslearn.compression import Compression
from wslearn.echo import EchoServer
from wslearn.frames import Opcode
from wslearn.tap import TappedFrame, WireTap

pytestmark = pytest.mark.interop

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
if NODE is None:
    pytest.skip(
        "SKIPPED Node.js interop: `node` is not on PATH (install Node.js 18+)",
        allow_module_level=True,
    )
if not (NODE_DIR / "node_modules" / "ws").is_dir():
    pytest.skip(
        "SKIPPED Node.js interop: tests/interop/node/node_modules is missing; "
        "run `npm ci --prefix tests/interop/node`",
        allow_module_level=True,
    )

SIZES = [100, 1023, 1024, 2048, 65536]
WAIT = 15.0


def chat_text(size: int) -> str:
    """The same message ws_peer.mjs builds for ``size``."""
    words = "the quick brown fox jumps over the lazy dog and says hello "
    return (words * (size // len(words) + 1))[:size]


async def node(*args: str) -> asyncio.subprocess.Process:
    assert NODE is not None
    return await asyncio.create_subprocess_exec(
        NODE,
        "ws_peer.mjs",
        *args,
        cwd=NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def reports(proc: asyncio.subprocess.Process) -> AsyncIterator[dict[str, Any]]:
    assert proc.stdout is not None
    async for line in proc.stdout:
        yield json.loads(line)


def data_frames(tap: WireTap, origin: str) -> list[TappedFrame]:
    return [
        f for f in tap.frames if f.origin == origin and f.opcode in (Opcode.TEXT, Opcode.BINARY)
    ]


def assert_threshold_respected(frames: list[TappedFrame]) -> None:
    """One text and one binary message per size, in order: RSV1 iff size >= 1024."""
    expected = [size >= 1024 for size in SIZES for _ in ("text", "binary")]
    assert [f.rsv1 for f in frames] == expected
    for frame, size in zip(frames, [s for s in SIZES for _ in (0, 1)], strict=True):
        if frame.rsv1:
            assert len(frame.payload) < size / 4  # chat text deflates well
        else:
            assert frame.payload == chat_text(size).encode()


async def test_node_ws_client_and_wslearn_echo_server_apply_the_threshold_both_ways() -> None:
    async with EchoServer(prefix="", compression=Compression()) as server:
        tap = await WireTap(server.port).start()
        proc = await node("client", tap.url("ws"), ",".join(map(str, SIZES)))
        try:
            async with asyncio.timeout(WAIT):
                seen = [r async for r in reports(proc)]
                await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await tap.stop()
    assert seen[-1] == {"type": "done"}, seen
    echoes = [r for r in seen if r["type"] == "echo"]
    assert len(echoes) == 2 * len(SIZES) and all(r["same"] for r in echoes), echoes
    assert "permessage-deflate" in (tap.connections[0].extensions or "")
    assert_threshold_respected(data_frames(tap, "client"))  # ws's threshold
    assert_threshold_respected(data_frames(tap, "server"))  # ours


async def test_a_websockets_client_with_the_threshold_against_a_node_ws_server() -> None:
    proc = await node("server")
    tap: WireTap | None = None
    try:
        async with asyncio.timeout(WAIT):
            first = await anext(reports(proc))
            assert first["type"] == "listening"
            tap = await WireTap(first["port"]).start()
            factories = [Compression().client_factory()]
            async with connect(tap.url("ws"), compression=None, extensions=factories) as ws:
                for size in SIZES:
                    await ws.send(chat_text(size))
                    assert await ws.recv() == chat_text(size)
                    await ws.send(chat_text(size).encode())
                    assert await ws.recv() == chat_text(size).encode()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), WAIT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if tap is not None:
            await tap.stop()
    assert tap is not None
    assert "permessage-deflate" in (tap.connections[0].extensions or "")
    assert_threshold_respected(data_frames(tap, "client"))  # ours
    assert_threshold_respected(data_frames(tap, "server"))  # ws's threshold
