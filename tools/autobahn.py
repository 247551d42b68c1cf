"""Run Autobahn TestSuite cases against a websockets echo server with wslearn's deflate.

    python tools/autobahn.py                      # groups 12 and 13, every setting
    python tools/autobahn.py --cases 12.1.1,13.*  # a selection
    python tools/autobahn.py --setting stock      # websockets' own deflate, for reference

The cases come from the ``kosoku`` package (the Autobahn TestSuite's case files,
driven by a native runner). Groups 12 and 13 are the permessage-deflate cases: 12.*
sends 1000 messages of one size (16 B to 128 KiB, some auto-fragmented) from five
kinds of data, 13.* the same with seven parameter offers (context takeover and
window bits). The echo server under test uses :class:`wslearn.compression.Compression`
with its threshold on, so small messages come back uncompressed and large ones
compressed, and each case checks every echo byte for byte.

Two things are set on purpose:

- The server sends no keepalive pings (``ping_interval=None``): the long cases take
  longer than websockets' 20 s default interval on a loaded machine, and the
  case code counts an unexpected ping as a failure. Pings are not what is tested.
- kosoku 0.1 hands the case code an uncompressed message as ``str`` where
  Autobahn's code expects ``bytes`` (it then fails with "Strings must be encoded
  before hashing"); :func:`_fix_kosoku_messages` encodes such messages back first
  (UTF-8 for text, Latin-1 for binary, which is how kosoku decoded them).

Prints a JSON list (per setting: cases run, failures with their reasons, seconds),
then a line ``autobahn: N passed, M failed``, and exits
1 when a case failed. The runner's native threads can abort the interpreter at exit,
so the script leaves with ``os._exit`` once the report is written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

SETTINGS = ("threshold", "threshold-context-takeover", "stock")


def _fix_kosoku_messages(cases: dict[str, Any]) -> int:
    """Wrap onMessage of groups 12 and 13 so it always gets bytes; returns how many."""
    fixed = 0
    for case_id, case in cases.items():
        if not case_id.startswith(("12.", "13.")):
            continue
        original = case.onMessage

        def on_message(self: Any, msg: Any, binary: bool, _original: Any = original) -> Any:
            if isinstance(msg, str):
                msg = msg.encode("latin-1" if binary else "utf-8")
            return _original(self, msg, binary)

        case.onMessage = on_message
        fixed += 1
    return fixed


async def _echo(connection: Any) -> None:
    async for message in connection:
        await connection.send(message)


async def run(cases: list[str], setting: str, concurrency: int) -> dict[str, Any]:
    import kosoku
    import kosoku.cases
    from websockets.asyncio.server import serve

    from wslearn.compression import Compression

    _fix_kosoku_messages(kosoku.cases.CASES)
    if setting == "stock":
        options: dict[str, Any] = {}  # websockets' compression="deflate"
    else:
        settings = Compression(server_no_context_takeover=setting == "threshold")
        options = {"compression": None, "extensions": [settings.server_factory()]}
    started = time.monotonic()
    async with serve(_echo, "127.0.0.1", 0, ping_interval=None, max_size=None, **options) as srv:
        port = srv.sockets[0].getsockname()[1]
        try:
            results = await kosoku.run_fuzzingclient(
                f"ws://127.0.0.1:{port}", cases, concurrency=concurrency
            )
        except kosoku.FailureError as failure:
            results = failure.results
    failed = [
        {"case": r.case_id, "behavior": r.behavior.value, "result": r.result}
        for r in results
        if not r.passed
    ]
    return {
        "setting": setting,
        "cases": len(results),
        "passed": len(results) - len(failed),
        "failed": failed,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="12.*,13.*", help="comma-separated ids or globs")
    parser.add_argument("--setting", choices=(*SETTINGS, "all"), default="all")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    settings = SETTINGS[:2] if args.setting == "all" else (args.setting,)
    reports = [
        asyncio.run(run(args.cases.split(","), setting, args.concurrency)) for setting in settings
    ]
    print(json.dumps(reports, indent=1))
    passed = sum(report["passed"] for report in reports)
    failed = sum(len(report["failed"]) for report in reports)
    print(f"autobahn: {passed} passed, {failed} failed", flush=True)
    sys.stderr.flush()
    os._exit(1 if any(report["failed"] for report in reports) else 0)


if __name__ == "__main__":
    main()
