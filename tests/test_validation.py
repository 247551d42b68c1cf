"""wslearn.validation: handlers that declare pydantic payloads get them checked, and a
client that sends a bad one is told which field broke which rule."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from support import RawClient, RawFactory, SioFactory

from wslearn.exceptions import UsageError
from wslearn.namespace import Socket
from wslearn.server import Server
from wslearn.validation import PayloadValidator, payload_models


class SendMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    roomId: str = Field(min_length=1)
    message: str = Field(min_length=1, max_length=500)


class Item(BaseModel):
    model_config = ConfigDict(strict=True)
    name: str


class Order(BaseModel):
    model_config = ConfigDict(strict=True)
    items: list[Item]


def install(server: Server) -> list[Any]:
    received: list[Any] = []
    server.use_event(PayloadValidator(server))

    @server.on("send-message")
    def send_message(socket: Socket, data: SendMessage) -> str:
        received.append(data)
        return f"{data.roomId}:{len(data.message)}"

    @server.on("order")
    def order(socket: Socket, table: int, data: Order) -> int:
        received.append((table, data))
        return len(data.items)

    @server.on("plain")
    def plain(socket: Socket, anything: str) -> Any:
        return anything  # no model: nothing is checked

    return received


async def connected(server: Server, raw_client: RawFactory) -> RawClient:
    client = await raw_client(server)
    await client.connect()
    return client


async def refusal(client: RawClient, frame: str) -> dict[str, Any]:
    await client.send(frame)
    name, error = await client.recv_event()
    assert name == "error"
    assert isinstance(error, dict)
    return error


async def test_a_valid_payload_reaches_the_handler_as_the_model(
    server: Server, raw_client: RawFactory
) -> None:
    received = install(server)
    client = await connected(server, raw_client)
    await client.send('421["send-message",{"roomId":"r1","message":"hi"}]')
    assert await client.recv() == '431["r1:2"]'
    assert received == [SendMessage(roomId="r1", message="hi")]
    assert isinstance(received[0], SendMessage)


@pytest.mark.parametrize(
    ("payload", "field", "rule"),
    [
        ({"roomId": 5, "message": "x"}, "roomId", "string_type"),
        ({"roomId": "r", "message": {}}, "message", "string_type"),
        (None, "data", "model_type"),
        ("just text", "data", "model_type"),
        ({"roomId": "r"}, "message", "missing"),
        ({"message": "x"}, "roomId", "missing"),
        ({"roomId": "", "message": "x"}, "roomId", "string_too_short"),
        ({"roomId": "r", "message": "x", "admin": True}, "admin", "extra_forbidden"),
        ({"roomId": True, "message": "x"}, "roomId", "string_type"),
    ],
)
async def test_an_invalid_payload_is_refused_naming_the_field_and_the_rule(
    server: Server, raw_client: RawFactory, payload: Any, field: str, rule: str
) -> None:
    received = install(server)
    client = await connected(server, raw_client)
    error = await refusal(client, '42["send-message",' + json.dumps(payload) + "]")
    assert (error["event"], error["field"], error["rule"]) == ("send-message", field, rule)
    assert error["message"].startswith(f"{field}: ")
    assert error["errors"][0] == {
        "field": field,
        "rule": rule,
        "message": error["message"].removeprefix(f"{field}: "),
    }
    assert received == []


async def test_a_missing_payload_names_the_parameter(
    server: Server, raw_client: RawFactory
) -> None:
    install(server)
    client = await connected(server, raw_client)
    error = await refusal(client, '42["send-message"]')
    assert error == {
        "message": "data: a payload is required",
        "event": "send-message",
        "field": "data",
        "rule": "missing",
        "errors": [{"field": "data", "rule": "missing", "message": "Field required"}],
    }


async def test_every_problem_is_listed_and_the_first_is_named(
    server: Server, raw_client: RawFactory
) -> None:
    install(server)
    client = await connected(server, raw_client)
    error = await refusal(client, '42["send-message",{"roomId":1,"message":2}]')
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("roomId", "string_type"),
        ("message", "string_type"),
    ]


async def test_message_length_counts_code_points_emoji_included(
    server: Server, raw_client: RawFactory
) -> None:
    install(server)
    client = await connected(server, raw_client)
    at_limit = "😀" * 500  # 500 code points; JavaScript's .length would say 1000
    await client.send("421" + json.dumps(["send-message", {"roomId": "r", "message": at_limit}]))
    assert await client.recv() == '431["r:500"]'
    escaped = json.dumps(["send-message", {"roomId": "r", "message": "😀" * 501}])
    assert "\\ud83d\\ude00" in escaped  # sent as UTF-16 escapes, as python-socketio does
    error = await refusal(client, "42" + escaped)
    assert (error["field"], error["rule"]) == ("message", "string_too_long")
    assert error["message"] == "message: String should have at most 500 characters"
    thumbs = "👍🏽"  # a thumb and a skin tone: two code points
    error = await refusal(
        client,
        "42" + json.dumps(["send-message", {"roomId": "r", "message": thumbs * 250 + "x"}]),
    )
    assert error["rule"] == "string_too_long"


async def test_a_refusal_with_an_ack_id_is_the_acks_error(
    server: Server, raw_client: RawFactory
) -> None:
    install(server)
    client = await connected(server, raw_client)
    await client.send('427["send-message",{"roomId":"r"}]')
    frame = await client.recv()
    assert isinstance(frame, str) and frame.startswith("437")
    [ack] = json.loads(frame[3:])
    assert ack["error"]["field"] == "message" and ack["error"]["rule"] == "missing"


async def test_a_model_after_other_arguments_and_nested_fields_have_paths(
    server: Server, raw_client: RawFactory
) -> None:
    received = install(server)
    client = await connected(server, raw_client)
    await client.send('421["order",4,{"items":[{"name":"tea"},{"name":"cake"}]}]')
    assert await client.recv() == "431[2]"
    assert received == [(4, Order(items=[Item(name="tea"), Item(name="cake")]))]
    error = await refusal(client, '42["order",4,{"items":[{"name":"tea"},{"name":7}]}]')
    assert (error["field"], error["rule"]) == ("items.1.name", "string_type")


async def test_handlers_without_models_and_unknown_events_are_left_alone(
    server: Server, raw_client: RawFactory
) -> None:
    install(server)
    client = await connected(server, raw_client)
    await client.send('421["plain",{"any":"thing"}]')
    assert await client.recv() == '431[{"any":"thing"}]'
    error = await refusal(client, '42["nobody"]')
    assert error["message"] == "unknown event 'nobody'"


async def test_python_socketio_sees_the_field_in_the_error_event(
    server: Server, sio_client: SioFactory
) -> None:
    install(server)
    client = await sio_client(server)
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.on("error", errors.put_nowait)
    await client.emit("send-message", {"roomId": 5, "message": "x"})
    error = await asyncio.wait_for(errors.get(), 5)
    assert (error["field"], error["rule"]) == ("roomId", "string_type")


def test_payload_models_finds_the_annotated_arguments() -> None:
    def handler(socket: Socket, table: int, data: Order, *rest: Any) -> None: ...

    assert payload_models(handler) == [(1, "data", Order)]
    assert payload_models(print) == []


def test_a_model_the_annotations_cannot_resolve_says_where_to_define_it() -> None:
    class Local(BaseModel):
        text: str

    def handler(socket: Socket, data: Local) -> None: ...

    with pytest.raises(UsageError, match="define its payload models at module level"):
        payload_models(handler)
