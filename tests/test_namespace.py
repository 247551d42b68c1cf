"""Per-event middleware (``use_event``): pass, change or refuse every incoming event
before its handler, on a real server, seen from the wire and from client libraries."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from support import RawFactory, ServerFactory, SioFactory

from wslearn.client import Client
from wslearn.exceptions import EventRefusedError
from wslearn.namespace import Socket, run_event_middleware
from wslearn.server import Server

Seen = list[tuple[str, str, list[Any]]]


def echo_handlers(server: Server) -> None:
    @server.on("echo")
    def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        return args


async def test_middleware_runs_in_order_before_the_handler_and_sees_the_arguments(
    server: Server, raw_client: RawFactory
) -> None:
    seen: Seen = []
    echo_handlers(server)

    @server.use_event
    def first(socket: Socket, event: str, args: list[Any]) -> None:
        seen.append(("first", event, list(args)))

    @server.use_event
    async def second(socket: Socket, event: str, args: list[Any]) -> None:
        await asyncio.sleep(0)
        seen.append(("second", event, list(args)))

    client = await raw_client(server)
    await client.connect()
    await client.send('421["echo",1,{"a":2}]')
    assert await client.recv() == '431[1,{"a":2}]'
    assert seen == [("first", "echo", [1, {"a": 2}]), ("second", "echo", [1, {"a": 2}])]


async def test_a_returned_list_replaces_the_arguments_for_what_follows(
    server: Server, raw_client: RawFactory
) -> None:
    echo_handlers(server)
    server.use_event(lambda socket, event, args: [arg * 2 for arg in args])
    server.use_event(lambda socket, event, args: [*args, "tagged"])
    client = await raw_client(server)
    await client.connect()
    await client.send('421["echo",1,"ab"]')
    assert await client.recv() == '431[2,"abab","tagged"]'


async def test_a_refusal_without_an_ack_is_an_error_event_and_the_handler_never_runs(
    server: Server, raw_client: RawFactory
) -> None:
    ran: list[Any] = []
    server.on("post", lambda socket, *args: ran.append(args))

    @server.use_event
    def refuse(socket: Socket, event: str, args: list[Any]) -> None:
        raise EventRefusedError("not in that room", field="roomId", roomId="r2")

    client = await raw_client(server)
    await client.connect()
    await client.send('42["post",{"roomId":"r2"}]')
    assert await client.recv() == (
        '42["error",{"message":"not in that room","event":"post","field":"roomId","roomId":"r2"}]'
    )
    assert ran == []


async def test_a_refusal_with_an_ack_is_the_acks_error(
    server: Server, raw_client: RawFactory
) -> None:
    echo_handlers(server)

    @server.use_event
    def refuse(socket: Socket, event: str, args: list[Any]) -> None:
        raise EventRefusedError("slow down", retryAfter=1.5)

    client = await raw_client(server)
    await client.connect()
    await client.send('427["echo","hi"]')
    assert await client.recv() == '437[{"error":{"message":"slow down","retryAfter":1.5}}]'


async def test_wslearn_and_python_socketio_clients_get_the_refusal_as_their_ack(
    server: Server, sio_client: SioFactory
) -> None:
    echo_handlers(server)

    @server.use_event
    def refuse_long(socket: Socket, event: str, args: list[Any]) -> None:
        if args and len(str(args[0])) > 3:
            raise EventRefusedError("too long", field="0", rule="max_length")

    async with Client(server.url) as client:
        assert await client.call("echo", "abc") == ["abc"]
        assert await client.call("echo", "abcd") == [
            {"error": {"message": "too long", "field": "0", "rule": "max_length"}}
        ]
    sio = await sio_client(server)
    assert await sio.call("echo", "abcd", timeout=5) == {
        "error": {"message": "too long", "field": "0", "rule": "max_length"}
    }


async def test_catch_all_and_unhandled_events_go_through_middleware_too(
    server: Server, raw_client: RawFactory
) -> None:
    seen: Seen = []
    server.use_event(lambda socket, event, args: seen.append(("mw", event, args)))
    client = await raw_client(server)
    await client.connect()
    await client.send('42["nobody-handles-this",1]')
    assert await client.recv_event() == [
        "error",
        {"message": "unknown event 'nobody-handles-this'", "event": "nobody-handles-this"},
    ]
    server.on("*", lambda socket, event, *args: [event, *args])
    await client.send('423["anything",2]')
    assert await client.recv() == '433[["anything",2]]'
    assert seen == [("mw", "nobody-handles-this", [1]), ("mw", "anything", [2])]


async def test_event_names_that_are_refused_anyway_never_reach_middleware(
    server: Server, raw_client: RawFactory
) -> None:
    seen: Seen = []
    server.use_event(lambda socket, event, args: seen.append(("mw", event, args)))
    client = await raw_client(server)
    await client.connect()
    await client.send('42["__proto__"]')
    assert (await client.recv_event())[1]["message"] == "event name '__proto__' is reserved"
    assert seen == []


async def test_a_middleware_that_crashes_is_logged_and_answered_and_the_socket_stays(
    server: Server, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    echo_handlers(server)

    @server.use_event
    def broken(socket: Socket, event: str, args: list[Any]) -> None:
        if args == ["boom"]:
            raise KeyError("internal detail")

    client = await raw_client(server)
    await client.connect()
    with caplog.at_level(logging.ERROR, logger="wslearn.server"):
        await client.send('42["echo","boom"]')
        assert await client.recv_event() == [
            "error",
            {"message": "the server could not check 'echo' (KeyError)", "event": "echo"},
        ]
    assert "internal detail" in caplog.text
    await client.send('421["echo","fine"]')
    assert await client.recv() == '431["fine"]'


async def test_a_middleware_returning_neither_none_nor_a_list_is_a_server_error(
    server: Server, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    echo_handlers(server)
    server.use_event(lambda socket, event, args: ("a", "tuple"))
    client = await raw_client(server)
    await client.connect()
    with caplog.at_level(logging.ERROR, logger="wslearn.server"):
        await client.send('42["echo",1]')
        assert (await client.recv_event())[1]["message"] == (
            "the server could not check 'echo' (UsageError)"
        )
    assert "return None to pass or a list of arguments" in caplog.text


async def test_refusal_details_that_are_not_json_are_left_out_not_silenced(
    server: Server, raw_client: RawFactory
) -> None:
    echo_handlers(server)

    @server.use_event
    def refuse(socket: Socket, event: str, args: list[Any]) -> None:
        raise EventRefusedError("refused", when=object())

    client = await raw_client(server)
    await client.connect()
    await client.send('42["echo"]')
    assert await client.recv() == '42["error",{"message":"refused","event":"echo"}]'
    await client.send('425["echo"]')
    assert await client.recv() == '435[{"error":{"message":"refused"}}]'


async def test_a_middleware_that_disconnects_the_socket_stops_the_event(
    server: Server, raw_client: RawFactory
) -> None:
    ran: list[Any] = []
    server.on("post", lambda socket, *args: ran.append(args))

    @server.use_event
    async def kick(socket: Socket, event: str, args: list[Any]) -> None:
        await socket.disconnect()

    client = await raw_client(server)
    await client.connect()
    await client.send('42["post",1]')
    assert await client.recv() == "41"
    assert ran == []


async def test_middleware_belongs_to_its_namespace(server: Server, raw_client: RawFactory) -> None:
    admin = server.of("/admin")
    admin.on("echo", lambda socket, *args: args)
    echo_handlers(server)
    admin.use_event(lambda socket, event, args: ["admin-only"])
    client = await raw_client(server)
    await client.connect()
    await client.connect("/admin")
    await client.send('421["echo","x"]', '42/admin,2["echo","x"]')
    replies = {await client.recv(), await client.recv()}
    assert replies == {'431["x"]', '43/admin,2["admin-only"]'}


async def test_run_event_middleware_stops_at_the_first_refusal() -> None:
    calls: list[str] = []

    def passes(socket: Any, event: str, args: list[Any]) -> None:
        calls.append("passes")

    def refuses(socket: Any, event: str, args: list[Any]) -> None:
        calls.append("refuses")
        raise EventRefusedError("no")

    def never(socket: Any, event: str, args: list[Any]) -> None:
        calls.append("never")

    with pytest.raises(EventRefusedError):
        await run_event_middleware([passes, refuses, never], None, "e", [])  # type: ignore[arg-type]
    assert calls == ["passes", "refuses"]


async def test_a_server_without_event_middleware_dispatches_as_before(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    server = await make_server()
    echo_handlers(server)
    client = await raw_client(server)
    await client.connect()
    await client.send('421["echo",' + json.dumps("ünïcode") + "]")
    assert await client.recv() == '431["ünïcode"]'


async def test_a_handler_can_refuse_like_middleware(
    server: Server, raw_client: RawFactory
) -> None:
    @server.on("post")
    def post(socket: Socket, room: str) -> None:
        raise EventRefusedError("join it first", field="roomId", rule="not member")

    client = await raw_client(server)
    await client.connect()
    await client.send('42["post","r"]', '421["post","r"]')
    assert await client.recv() == (
        '42["error",{"message":"join it first","event":"post","field":"roomId",'
        '"rule":"not member"}]'
    )
    assert await client.recv() == (
        '431[{"error":{"message":"join it first","field":"roomId","rule":"not member"}}]'
    )
