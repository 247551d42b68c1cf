"""Tests for wslearn.fanout: real server processes and a real redis-server."""

from __future__ import annotations

import pytest

from wslearn.fanout import measure_fanout
from wslearn.local_redis import INSTALL_HINT, LocalRedis, redis_server_path

if redis_server_path() is None:
    pytest.skip(f"SKIPPED fan-out tests: {INSTALL_HINT}", allow_module_level=True)


async def test_both_runs_deliver_every_message_to_every_receiver() -> None:
    async with LocalRedis() as redis:
        one, two = await measure_fanout(redis.url, receivers=4, messages=30)
    assert (one.label, one.processes, two.label, two.processes) == (
        "one process", 1, "two processes", 2,
    )  # fmt: skip
    for figure in (one, two):
        assert figure.receivers == 4 and figure.messages == 30
        assert figure.ms_per_message > 0  # it returned only once all 4 x 30 arrived
        assert figure.cpu_ms_per_message is not None and figure.cpu_ms_per_message >= 0
