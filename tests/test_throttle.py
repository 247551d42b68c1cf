"""wslearn.throttle: rate limits on a real server, with the limiter's clock stepped by
hand (the server's own timing never decides a pass)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support import RawClient, RawFactory, ServerFactory, eventually

from wslearn.auth import JWTConfig, require_token
from wslearn.client import Client, ClientState
from wslearn.exceptions import ConnectRefusedError
from wslearn.namespace import Socket
from wslearn.ratelimit import Rate
from wslearn.server import Server
from wslearn.throttle import ConnectLimits, EventLimits, client_key

CONFIG = JWTConfig(b"t" * 32)


class FakeClock:
    """The limiter's time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def echo(server: Server) -> list[Any]:
    handled: list[Any] = []

    @server.on("echo")
    def on_echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        handled.append(args)
        return args

    server.on("other", lambda socket, *args: "other")
    return handled


async def user(raw_client: RawFactory, server: Server, name: str) -> RawClient:
    client = await raw_client(server)
    await client.connect(auth=json.dumps({"token": CONFIG.issue(name)}))
    return client


async def test_a_burst_over_the_limit_gets_error_events_with_retry_after(
    server: Server, raw_client: RawFactory
) -> None:
    clock = FakeClock()
    server.use_event(EventLimits(Rate(1, 2.0, burst=2), abuse=None, clock=clock))
    handled = echo(server)
    client = await raw_client(server)
    await client.connect()
    for n in range(3):
        await client.send(f'42["echo",{n}]')
    assert await client.recv_event() == [
        "error",
        {
            "message": "rate limit exceeded: at most 1 events per 2 s",
            "event": "echo",
            "rule": "rate limit",
            "retryAfter": 2.0,
        },
    ]
    await eventually(lambda: len(handled) == 2)
    assert handled == [(0,), (1,)]
    clock.now += 2.0  # one interval later, one more event is allowed
    await client.send('421["echo","again"]')
    assert await client.recv() == '431["again"]'


async def test_an_event_asking_for_an_ack_gets_the_refusal_as_its_ack(
    server: Server, raw_client: RawFactory
) -> None:
    clock = FakeClock()
    server.use_event(EventLimits(Rate(1, 10.0), abuse=None, clock=clock))
    echo(server)
    client = await raw_client(server)
    await client.connect()
    await client.send('421["echo",1]')
    assert await client.recv() == "431[1]"
    clock.now += 2.5
    await client.send('422["echo",2]')
    reply = json.loads((await client.recv())[3:])
    assert reply == [
        {
            "error": {
                "message": "rate limit exceeded: at most 1 events per 10 s",
                "rule": "rate limit",
                "retryAfter": 7.5,
            }
        }
    ]


async def test_an_event_with_its_own_limit_is_counted_on_its_own(
    server: Server, raw_client: RawFactory
) -> None:
    limits = EventLimits(
        Rate(100, 1.0), per_event={"echo": Rate(1, 60.0)}, abuse=None, clock=FakeClock()
    )
    server.use_event(limits)
    echo(server)
    client = await raw_client(server)
    await client.connect()
    await client.send('421["echo",1]', '422["echo",2]', '423["other"]')
    replies = [await client.recv() for _ in range(3)]
    assert "431[1]" in replies and '433["other"]' in replies
    [refused] = [r for r in replies if r.startswith("432")]
    assert json.loads(refused[3:])[0]["error"]["message"] == (
        "rate limit exceeded: at most 1 'echo' per 60 s"
    )


async def test_authenticated_users_have_their_own_budget_anonymous_ones_share_the_address(
    server: Server, raw_client: RawFactory
) -> None:
    server.use(require_token(CONFIG))
    server.use_event(EventLimits(Rate(1, 60.0), abuse=None, clock=FakeClock()))
    echo(server)
    alice, bob = await user(raw_client, server, "alice"), await user(raw_client, server, "bob")
    for client in (alice, bob):
        await client.send('421["echo","hi"]')
        assert await client.recv() == '431["hi"]'
    alice_again = await user(raw_client, server, "alice")  # a second tab: the same user
    await alice_again.send('421["echo","hi"]')
    assert "retryAfter" in await alice_again.recv()


def test_the_key_is_the_user_or_else_the_address() -> None:
    class Stub:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data
            self.handshake = type("H", (), {"address": "10.0.0.7"})()

    assert client_key(Stub({"user": "alice"})) == "user:alice"  # type: ignore[arg-type]
    assert client_key(Stub({})) == "address:10.0.0.7"  # type: ignore[arg-type]


async def test_sustained_abuse_is_told_why_then_disconnected_and_not_reconnected(
    server: Server,
) -> None:
    clock = FakeClock()
    server.use_event(EventLimits(Rate(1, 60.0), abuse=Rate(3, 60.0), clock=clock))
    echo(server)
    reasons: list[str] = []
    server.on("disconnect", lambda socket, why: reasons.append(why))
    client = Client(server.url)
    errors: list[Any] = []
    client.on("error", errors.append)
    await client.connect()
    for n in range(6):
        await client.emit("echo", n)
    await eventually(lambda: client.state is ClientState.DISCONNECTED)
    assert [e.get("rule") for e in errors[:3]] == ["rate limit"] * 3
    assert errors[3] == {
        "message": "disconnected: too many events over the rate limit",
        "reason": "rate limit",
        "retryAfter": 60.0,
    }
    assert reasons == ["server namespace disconnect"]
    await asyncio.sleep(0.2)
    assert not server.connections
    await client.disconnect()


async def test_idle_clients_leave_the_tables_and_their_size_returns_to_zero(
    server: Server, raw_client: RawFactory
) -> None:
    clock = FakeClock()
    limits = EventLimits(Rate(1, 1.0), abuse=Rate(1, 1.0), clock=clock)
    server.use(require_token(CONFIG))
    server.use_event(limits)
    echo(server)
    assert [len(table) for table in limits.tables()] == [0, 0]
    for n in range(50):  # fifty one-off users, each sending once
        client = await user(raw_client, server, f"user-{n}")
        await client.send('421["echo"]')
        assert await client.recv() == "431[]"
        client.ws.transport.abort()
    assert len(limits.default or []) == 50
    clock.now += 1.0
    assert limits.sweep() == 50
    assert [len(table) for table in limits.tables()] == [0, 0]


async def test_connection_attempts_over_the_limit_are_refused_with_retry_after(
    make_server: ServerFactory,
) -> None:
    clock = FakeClock()
    server = await make_server()
    server.use(ConnectLimits(Rate(1, 30.0, burst=2), clock=clock))
    for _ in range(2):
        async with Client(server.url) as client:
            assert client.connected
    third = Client(server.url)
    with pytest.raises(ConnectRefusedError) as caught:
        await third.connect()
    assert caught.value.message == "too many connection attempts: retry in 30 s"
    assert caught.value.data == {"reason": "rate limit", "retryAfter": 30.0}
    clock.now += 30
    async with Client(server.url) as client:
        assert client.connected
