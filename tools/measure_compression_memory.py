"""Server memory per connection with compression off, on, and on with lazy zlib state.

    python tools/measure_compression_memory.py [--connections 1000]

For each setting, a fresh echo server process (a websockets server with wslearn's
extension factories, as :class:`wslearn.echo.EchoServer` builds it) accepts
``--connections`` clients that offer permessage-deflate the way websockets does by
default. The server's resident memory (VmRSS) is read from /proc before the
clients connect, once they are all idle, after each sent one 100-byte chat message
(echoed), and after each sent one of 2 KiB. The figure is the growth divided by
the number of connections, in KiB. Everything stays on 127.0.0.1 and every process
is stopped at the end. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from wslearn.performance import chat_message

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve
from wslearn.compression import Compression

SETTINGS = {
    "off": None,
    "deflate": "deflate",
    "threshold, eager": Compression(lazy=False, server_no_context_takeover=False),
    "threshold, lazy": Compression(server_no_context_takeover=False),
    "threshold, lazy, no server context": Compression(client_no_context_takeover=False),
    "threshold, lazy, no context either way (default)": Compression(),
}

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    setting = SETTINGS[sys.argv[1]]
    if setting == "deflate":
        options = {}
    elif setting is None:
        options = {"compression": None}
    else:
        options = {"compression": None, "extensions": [setting.server_factory()]}
    async with serve(echo, "127.0.0.1", 0, ping_interval=None, **options) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""

SETTINGS = [
    "off",
    "deflate",
    "threshold, eager",
    "threshold, lazy",
    "threshold, lazy, no server context",
    "threshold, lazy, no context either way (default)",
]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def round_trip(clients: list[ClientConnection], text: str) -> None:
    async def one(ws: ClientConnection) -> None:
        await ws.send(text)
        await ws.recv()

    for start in range(0, len(clients), 200):
        await asyncio.gather(*(one(ws) for ws in clients[start : start + 200]))


async def measure(setting: str, count: int) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        setting,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = int(await proc.stdout.readline())
    uri = f"ws://127.0.0.1:{port}"
    clients: list[ClientConnection] = []
    try:
        async with connect(uri) as warm:  # the first connection imports and allocates
            await warm.send(chat_message(2048))
            await warm.recv()
        await asyncio.sleep(0.3)
        before = rss_kib(proc.pid)
        for start in range(0, count, 100):
            batch = [connect(uri, ping_interval=None) for _ in range(min(100, count - start))]
            clients += await asyncio.gather(*batch)
        await asyncio.sleep(0.5)
        figures = [(rss_kib(proc.pid) - before) / count]
        for size in (100, 2048):
            await round_trip(clients, chat_message(size))
            await asyncio.sleep(0.3)
            figures.append((rss_kib(proc.pid) - before) / count)
        return figures
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)
        proc.stdin.close()
        await proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.connections)), hard))
    print(f"server RSS growth per connection, KiB ({args.connections} connections)\n")
    print("| server | idle | after one 100 B message | after one 2 KiB message |")
    print("|---|---|---|---|")
    for setting in SETTINGS:
        idle, small, large = await measure(setting, args.connections)
        print(f"| {setting} | {idle:.1f} | {small:.1f} | {large:.1f} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
