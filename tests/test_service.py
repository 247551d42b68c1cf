"""wslearn._service: the start / stop / ``async with`` lifecycle every server shares.

A tiny in-test service counts its calls; the real servers show it is their base.
"""

from __future__ import annotations

from typing import Self

import pytest
from websockets.asyncio.client import connect

from wslearn._service import Service
from wslearn.echo import EchoServer
from wslearn.exceptions import UsageError
from wslearn.polling import PollingServer, PushServer
from wslearn.proxy import LinkProxy
from wslearn.server import Server


class Counting(Service):
    """A service that only counts how often it was started and stopped."""

    def __init__(self) -> None:
        self.starts = 0
        self.stops = 0
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> Self:
        self.starts += 1
        self._running = True
        return self

    async def stop(self) -> None:
        self.stops += 1
        self._running = False


async def test_async_with_starts_a_stopped_service_and_stops_it_on_exit() -> None:
    service = Counting()
    async with service as entered:
        assert entered is service
        assert service.running and (service.starts, service.stops) == (1, 0)
    assert not service.running and (service.starts, service.stops) == (1, 1)


async def test_async_with_does_not_restart_a_running_service() -> None:
    service = await Counting().start()
    async with service:
        assert service.starts == 1
    assert (service.starts, service.stops) == (1, 1)  # but it is stopped on the way out


async def test_the_service_stops_even_when_the_body_raises_and_the_error_goes_on() -> None:
    service = Counting()
    with pytest.raises(LookupError, match="inside the block"):
        async with service:
            raise LookupError("inside the block")
    assert not service.running and service.stops == 1


def test_a_service_missing_a_method_cannot_be_created() -> None:
    class NoStop(Service):
        @property
        def running(self) -> bool:
            return False

        async def start(self) -> Self:
            return self

    with pytest.raises(TypeError, match="stop"):
        NoStop()  # type: ignore[abstract]


def test_every_wslearn_server_is_a_service() -> None:
    for cls in (Server, EchoServer, LinkProxy, PollingServer, PushServer):
        assert issubclass(cls, Service), cls


async def test_a_real_echo_server_serves_inside_async_with_and_stops_after_an_error() -> None:
    server = EchoServer()
    assert not server.running
    url = ""
    with pytest.raises(LookupError):
        async with server as entered:
            assert entered is server and server.running
            url = server.url
            async with connect(url) as ws:
                await ws.send("hi")
                assert await ws.recv() == "Echo: hi"
            raise LookupError("the cell failed")
    assert not server.running
    with pytest.raises(OSError):
        async with connect(url):
            pass  # nothing listens there any more


async def test_a_running_real_server_is_not_started_again_by_async_with() -> None:
    server = await Server().start()
    port = server.port
    try:
        async with server:  # Server.start() on a running server raises UsageError
            assert server.running and server.port == port
            with pytest.raises(UsageError, match="already running"):
                await server.start()
        assert not server.running
    finally:
        await server.stop()
