"""The command line: ``python -m wslearn <command>``.

``serve`` runs the guide's chat server until Ctrl+C (SIGINT) or SIGTERM::

    python -m wslearn serve --host 127.0.0.1 --port 3000

With ``--redis URL`` it runs one process of a cluster: every process started with
the same Redis shares rooms and broadcasts (see :mod:`wslearn.redis_adapter`)::

    python -m wslearn serve --port 3001 --redis redis://127.0.0.1:6379/0
    python -m wslearn serve --port 3002 --redis redis://127.0.0.1:6379/0

``chat`` runs the chat app, its browser page and its Socket.IO server on one port,
and prints the URL to open::

    python -m wslearn chat --host 127.0.0.1 --port 8000

``ledger`` runs a server whose state is an append-only log: every ``append`` event
sent by a :class:`~wslearn.reliable.ReliableEmitter` is written to the log exactly
once, even if the process is killed and restarted on the same log::

    python -m wslearn ledger --port 0 --log applied.jsonl

``bench`` measures wslearn's server next to raw websockets, python-socketio and Node's
socket.io on the same workloads, and writes the tables and a plot (see
:mod:`wslearn.bench`)::

    python -m wslearn bench            # the quick run, seconds
    python -m wslearn bench --full     # the full run for the README, minutes

Each command is a function taking the parsed arguments and returning the exit code;
add one with another ``subparsers.add_parser`` block in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from .bench.cli import add_arguments as add_bench_arguments
from .chat import add_chat_handlers
from .exactly_once import AppliedLog, add_ledger_handlers
from .exceptions import ConnectFailedError
from .server import Server


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m wslearn",
        description="Run wslearn's Socket.IO-compatible servers from the command line, "
        "or benchmark them.",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level on stderr (default: WARNING)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the Socket.IO chat server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=3000, help="TCP port, 0 for any free one (default: 3000)"
    )
    serve.add_argument(
        "--redis",
        metavar="URL",
        help="share rooms with every process on this Redis, e.g. redis://127.0.0.1:6379/0",
    )
    serve.set_defaults(run=run_serve)

    chat = commands.add_parser(
        "chat", help="run the chat app: the browser page and its server on one port"
    )
    chat.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    chat.add_argument(
        "--port", type=int, default=8000, help="TCP port, 0 for any free one (default: 8000)"
    )
    chat.add_argument("--ping-interval", type=float, default=25.0, help="seconds")
    chat.add_argument("--ping-timeout", type=float, default=20.0, help="seconds")
    chat.add_argument(
        "--no-limits", action="store_true", help="turn the rate limits off (load experiments)"
    )
    chat.set_defaults(run=run_chat)

    ledger = commands.add_parser(
        "ledger", help="run a server that appends each reliable message to a log exactly once"
    )
    ledger.add_argument("--host", default="127.0.0.1", help="address to bind")
    ledger.add_argument("--port", type=int, default=0, help="TCP port, 0 for any free one")
    ledger.add_argument("--log", required=True, help="the JSON-lines file of applied messages")
    ledger.add_argument("--per-key", type=int, default=10_000, help="ids remembered per client")
    ledger.add_argument("--ping-interval", type=float, default=25.0, help="seconds")
    ledger.add_argument("--ping-timeout", type=float, default=20.0, help="seconds")
    ledger.set_defaults(run=run_ledger)

    bench = commands.add_parser(
        "bench", help="measure the servers side by side and write tables and a plot"
    )
    add_bench_arguments(bench)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """Serve the chat app until SIGINT or SIGTERM, then stop cleanly."""
    return asyncio.run(_serve(args.host, args.port, args.redis))


async def _serve(host: str, port: int, redis: str | None = None) -> int:
    if redis is None:
        server = Server()
    else:
        from .redis_adapter import RedisAdapter

        server = Server(adapter=RedisAdapter(redis))
    add_chat_handlers(server)
    return await _run_until_signal(server, host, port, "chat")


async def _run_until_signal(
    server: Server,
    host: str,
    port: int,
    what: str,
    note: Callable[[Server], str] | None = None,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start(host, port)
    except ConnectFailedError as exc:  # the adapter could not reach what links processes
        print(f"cannot join the cluster: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wslearn {what} server listening on {server.url} (Ctrl+C to stop)", flush=True)
    if note is not None:
        print(note(server), flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    print("stopped", flush=True)
    return 0


def run_chat(args: argparse.Namespace) -> int:
    """Serve the chat app until SIGINT or SIGTERM; print where to open the page."""
    return asyncio.run(_chat(args))


async def _chat(args: argparse.Namespace) -> int:
    from .chatapp.app import PAGE_DIR, ChatApp

    server = Server(
        ping_interval=args.ping_interval, ping_timeout=args.ping_timeout, static={"/": PAGE_DIR}
    )
    ChatApp(server, limits=not args.no_limits)  # registers its handlers on the server
    return await _run_until_signal(server, args.host, args.port, "chat app", note=_chat_note)


def _chat_note(server: Server) -> str:
    """Where to open the page; behind JupyterHub or Binder, through the proxy too."""
    line = f"open {server.url}/ in a browser"
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        line += f" (on Binder or JupyterHub: {prefix.rstrip('/')}/proxy/{server.port}/)"
    return line


def run_ledger(args: argparse.Namespace) -> int:
    """Serve the exactly-once ledger until SIGINT or SIGTERM (SIGKILL is survivable)."""
    server = Server(ping_interval=args.ping_interval, ping_timeout=args.ping_timeout)
    with AppliedLog(args.log) as log:
        add_ledger_handlers(server, log, per_key=args.per_key, window=max(10_000, args.per_key))
        return asyncio.run(_run_until_signal(server, args.host, args.port, "ledger"))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
