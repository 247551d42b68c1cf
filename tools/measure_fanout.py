"""Fan-out across two server processes on Redis against one process.

    python tools/measure_fanout.py [--receivers 20] [--messages 2000] [--runs 3]

Starts its own redis-server (wslearn.local_redis) and server processes, runs
:func:`wslearn.fanout.measure_fanout` a few times, and prints a Markdown table with
the ratios (two processes over one) for wall time and server CPU per message.
"""

from __future__ import annotations

import argparse
import asyncio

from wslearn.fanout import measure_fanout
from wslearn.local_redis import LocalRedis


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receivers", type=int, default=20)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| run | one process ms/msg | two ms/msg | ratio | one CPU ms/msg | two CPU | ratio |")
    print("|---|---|---|---|---|---|---|")
    async with LocalRedis() as redis:
        for run in range(1, args.runs + 1):
            one, two = await measure_fanout(redis.url, args.receivers, args.messages)
            assert one.cpu_ms_per_message and two.cpu_ms_per_message is not None
            print(
                f"| {run} | {one.ms_per_message:.3f} | {two.ms_per_message:.3f} | "
                f"{two.ms_per_message / one.ms_per_message:.2f} | "
                f"{one.cpu_ms_per_message:.3f} | {two.cpu_ms_per_message:.3f} | "
                f"{two.cpu_ms_per_message / one.cpu_ms_per_message:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
