"""The benchmark behind ``python -m wslearn bench``: wslearn's server next to its peers.

What is measured
----------------
Four servers, each in its own process, on the same workloads and the same bytes (a
116-byte Socket.IO event, ``42["echo",{"text":...}]``):

- **raw websockets** (the reference: every ratio is to it): echo with ``ws.send``,
  fan-out with ``websockets.broadcast()``, keepalive pings on;
- **wslearn** ``Server()``: echo from a handler that emits back, fan-out with
  ``server.emit`` triggered by one client's event;
- **python-socketio** ``AsyncServer`` on aiohttp, the same handlers;
- **Node socket.io** 4.x (``tests/interop/node/bench_server.mjs``), when ``node`` and
  ``make node-peers`` are there.

Figures: latency (p50 / p99 of sequential round trips on one connection), echo
throughput (messages per second, and server CPU seconds per 10k echoes from
``/proc/<pid>/stat`` utime + stime), fan-out to many clients (deliveries per second
and server CPU per 10k deliveries), idle memory (server RSS growth per Socket.IO
connected client with the heartbeat running), and a many-connection scenario
(10,000 in the full run, on one core): every ping within 1 s of its schedule as seen by
the client, every peer that stops answering dropped within ping interval + ping
timeout + 1 s slack, memory reported.

How it measures
---------------
- The server is pinned to one core, the load generator to another
  (``os.sched_setaffinity``, every thread); both raise their open-files limit.
- **One load generator for every server**, in Python: asyncio ``BufferedProtocol``
  clients on plain sockets (:mod:`~wslearn.bench.loadgen`) that send frames encoded
  once in advance and only split what arrives at frame boundaries. It was chosen over
  a Node ``ws`` client by measurement: against the same servers, on the same core, it
  used 9.4-12.3 µs of CPU per echo against Node ``ws``'s 13.1-14.6 µs, and 5.3-8.1 µs
  per fan-out delivery against 7.9-10.1 µs (2026-12-02, AMD EPYC, 2 shared cores); and
  it runs wherever wslearn does, Node or not. Its CPU share is reported next to every
  figure: a throughput marked † was limited by the load generator, not the server.
- Server CPU comes from ``/proc/<pid>/stat`` in clock ticks (10 ms), so a quick run's
  CPU figures are within a few percent at best; the full run measures 100,000
  messages per figure.
- **Machine load**: during each phase the busy time of the two cores
  (``/proc/stat``) minus the server's and the load generator's CPU is what others
  used; a calibration loop timed on each core before and after a repetition shows
  waiting and slowdown (:mod:`~wslearn.bench.machine`). A disturbed repetition is
  run again (full: up to 3 times); one that stayed disturbed is kept, marked ⚠.
- Repetitions (full: 3) run every server in a rotated order, each in a fresh
  process; figures are medians, ± half the range.

Running it
----------
::

    python -m wslearn bench                  # quick: seconds, for a notebook cell
    python -m wslearn bench --full           # the README's figures: minutes, quiet machine
    make bench                               # the same as --full
    python -m wslearn bench --wslearn-src before=/work/baseline --wslearn-src after=.

``--wslearn-src`` measures wslearn's server from other source trees in the same run:
each tree goes first on its server's ``PYTHONPATH``, and the runner checks that the
server imported ``wslearn`` from that tree. Results go to ``bench-results/``:
``bench.md`` (the tables), ``bench.json`` (every raw figure) and ``bench.png``.

From Python (in a notebook, where the kernel's loop is running)::

    from wslearn.bench import QUICK, markdown, plot, run_async
    report = await run_async(QUICK)
    print(markdown(report))
    plot(report)

Reading the ratios
------------------
A ratio is the server's median over raw websockets' median, measured in the same run.
For costs (CPU per message, latency, memory) a ratio of 1.25 means 25 % more than raw
websockets; for throughputs 0.8 means 20 % slower. Figures are labelled with the machine and the
date; they are never asserted by a test.
"""

from __future__ import annotations

from .processes import BenchError
from .report import figures_of_run, markdown, plot, ratios, summarize_servers, write
from .runner import FULL, QUICK, BenchConfig, run, run_async

__all__ = [
    "FULL",
    "QUICK",
    "BenchConfig",
    "BenchError",
    "figures_of_run",
    "markdown",
    "plot",
    "ratios",
    "run",
    "run_async",
    "summarize_servers",
    "write",
]
