"""The Python servers under test, one per process: ``python -P serve.py KIND [options]``.

KIND is ``websockets`` (raw websockets, the reference), ``wslearn`` (wslearn's
``Server()``) or ``python-socketio`` (``AsyncServer`` on aiohttp). Node's socket.io
server is ``tests/interop/node/bench_server.mjs``, with the same events.

Each serves the same two things on the same bytes, a 116-byte Socket.IO event
``42["echo",{"text":...}]`` or ``42["fanout",{...}]``:

- ``echo``: the server sends the event back to its sender;
- ``fanout``: the server sends the event to every connected client, sender included
  (raw websockets: ``websockets.broadcast()`` of the received text, unparsed).

The runner starts this file by path, not as ``-m wslearn.bench.serve``, because the
``wslearn`` it imports is whichever comes first on ``PYTHONPATH``, possibly another
source tree (a baseline checkout, for a before/after comparison) that has no
``wslearn.bench``; so this file imports nothing from ``wslearn.bench``. ``-P`` keeps
this folder off ``sys.path``. When ready it prints one JSON line: the port, its pid,
and the file and version of each library it imported, so the runner can check that
the right ``wslearn`` was loaded. It exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from importlib import metadata
from typing import Any

__all__ = ["main"]

FANOUT_PREFIX = '42["fanout"'


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


async def serve_websockets(args: argparse.Namespace) -> dict[str, Any]:
    """Raw websockets: echo each message, or broadcast it with ``broadcast()``."""
    import websockets
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            async for message in ws:
                if isinstance(message, str) and message.startswith(FANOUT_PREFIX):
                    broadcast(clients, message)
                else:
                    await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    server = await serve(
        handler,
        args.host,
        0,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        compression=None,
    )
    return {
        "port": server.sockets[0].getsockname()[1],
        "file": websockets.__file__,
        "version": websockets.version.version,
    }


async def serve_wslearn(args: argparse.Namespace) -> dict[str, Any]:
    """wslearn's ``Server()``: echo by emitting back, fan-out with ``server.emit``."""
    import wslearn
    from wslearn import Server

    server = Server(ping_interval=args.ping_interval, ping_timeout=args.ping_timeout)

    async def on_echo(socket: Any, data: Any) -> None:
        await socket.emit("echo", data)

    async def on_fanout(socket: Any, data: Any) -> None:
        await server.emit("fanout", data)

    server.on("echo", on_echo)
    server.on("fanout", on_fanout)
    await server.start(args.host, 0)
    return {"port": server.port, "file": wslearn.__file__, "version": _version("wslearn")}


async def serve_python_socketio(args: argparse.Namespace) -> dict[str, Any]:
    """python-socketio's ``AsyncServer`` on aiohttp, with its default options."""
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        transports=["websocket"],
    )

    async def on_echo(sid: str, data: Any) -> None:
        await sio.emit("echo", data, to=sid)

    async def on_fanout(sid: str, data: Any) -> None:
        await sio.emit("fanout", data)

    sio.on("echo", on_echo)
    sio.on("fanout", on_fanout)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, 0)
    await site.start()
    return {
        "port": runner.addresses[0][1],
        "file": socketio.__file__,
        "version": _version("python-socketio"),
        "aiohttp": _version("aiohttp"),
    }


SERVERS = {
    "websockets": serve_websockets,
    "wslearn": serve_wslearn,
    "python-socketio": serve_python_socketio,
}


async def run(args: argparse.Namespace) -> None:
    """Start the server, report it, and serve until stdin closes."""
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096) and not stdin_closed.done():
            stdin_closed.set_result(None)

    info = await SERVERS[args.kind](args)
    loop.add_reader(sys.stdin.fileno(), on_stdin)
    print(json.dumps({"kind": args.kind, "pid": os.getpid(), **info}), flush=True)
    await stdin_closed


def main(argv: list[str] | None = None) -> int:
    """Parse the options and serve (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="serve.py")
    parser.add_argument("kind", choices=sorted(SERVERS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    asyncio.run(run(args))
    # No graceful shutdown: the measurements are over, and closing ten thousand
    # connections politely would only make the runner wait.
    os._exit(0)


if __name__ == "__main__":
    main()
