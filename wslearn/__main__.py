"""The command line: ``python -m wslearn <command>``.

``serve`` runs the guide's chat server until Ctrl+C (SIGINT) or SIGTERM::

    python -m wslearn serve --host 127.0.0.1 --port 3000

Each command is a function taking the parsed arguments and returning the exit code;
add one with another ``subparsers.add_parser`` block in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from .chat import add_chat_handlers
from .server import Server


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(prog="python -m wslearn", description=__doc__.split("\n")[0])
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
    serve.set_defaults(run=run_serve)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """Serve the chat app until SIGINT or SIGTERM, then stop cleanly."""
    return asyncio.run(_serve(args.host, args.port))


async def _serve(host: str, port: int) -> int:
    server = Server()
    add_chat_handlers(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start(host, port)
    except OSError as exc:
        print(f"cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wslearn chat server listening on {server.url} (Ctrl+C to stop)", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
    print("stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
