"""Fault test: 20 clients lose the server together and spread their comebacks.

Each client's Backoff draws its first delay uniformly from
``[initial * (1 - jitter), initial * (1 + jitter)]``. The randomness is seeded per
client, so the planned delays are known before the outage and the assertion derives
from the jitter setting, not from timing luck: the first reconnection attempts must
spread over at least half of what the plans spread, and the plans themselves over
at least half of the jitter window. Measured figures are printed (``-s``) and
recorded as junit properties.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from wslearn.backoff import Backoff
from wslearn.client import Client
from wslearn.server import Server

pytestmark = pytest.mark.faults

CLIENTS = 20
INITIAL, JITTER = 0.4, 0.5
WINDOW = 2 * INITIAL * JITTER  # width of the first delay's range: 0.4 s


@dataclass(frozen=True)
class SeededBackoff(Backoff):
    """A Backoff whose every delay sequence starts from the same seed."""

    seed: int = 0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        return super().delays(rng or random.Random(self.seed))


async def test_twenty_clients_that_lose_the_server_together_do_not_return_together(
    record_property: Callable[[str, object], None],
) -> None:
    server = Server(close_timeout=0.5)
    await server.start()
    port = server.port
    loop = asyncio.get_running_loop()
    policies = [
        SeededBackoff(initial=INITIAL, maximum=2.0, jitter=JITTER, seed=n) for n in range(CLIENTS)
    ]
    planned = [next(policy.delays()) for policy in policies]
    clients = [Client(server.url, reconnection=policy) for policy in policies]
    lost: dict[int, float] = {}
    first_attempt: dict[int, float] = {}
    for n, client in enumerate(clients):
        client.on("disconnect", lambda reason, n=n: lost.setdefault(n, loop.time()))
        client.on(
            "reconnect_attempt",
            lambda attempt, n=n: first_attempt.setdefault(n, loop.time()),
        )
    try:
        await asyncio.gather(*(client.connect() for client in clients))
        await server.stop()  # no DISCONNECT: every client reconnects
        await server.start(port=port)
        async with asyncio.timeout(10):
            while not all(client.connected for client in clients):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await asyncio.gather(*(client.disconnect() for client in clients))
        await server.stop()

    assert len(lost) == len(first_attempt) == CLIENTS
    loss_spread = max(lost.values()) - min(lost.values())
    attempt_spread = max(first_attempt.values()) - min(first_attempt.values())
    planned_spread = max(planned) - min(planned)
    waited = [first_attempt[n] - lost[n] for n in range(CLIENTS)]
    assert all(INITIAL * (1 - JITTER) <= delay <= INITIAL * (1 + JITTER) for delay in planned)
    assert planned_spread >= WINDOW / 2  # the seeds do spread (a fact about them)
    assert attempt_spread >= planned_spread / 2  # ...and the clients follow their plans
    assert all(w >= p - 0.01 for w, p in zip(waited, planned, strict=True))  # none early
    figures = {
        "loss_spread_s": round(loss_spread, 3),
        "planned_spread_s": round(planned_spread, 3),
        "first_attempt_spread_s": round(attempt_spread, 3),
        "jitter_window_s": WINDOW,
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"\n{CLIENTS} clients reconnecting: {figures}")
