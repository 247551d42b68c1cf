"""Attacks on authentication, rate limits, validation and rooms, against one server.

One test per row of adversarial.md's "Authentication" and "Rate limiting and
validation" tables, plus the cases found on the way (the lone surrogate that broke a
room, the foreign-room post). For "100,000 distinct users" the wire test sends 2,000
(bounded in time); the full 100,000 run against the limiter's table in
tests/test_ratelimit.py and, in bytes, in tools/bench_ratelimit.py.

The server under attack is the guide's chat (wslearn.chat: room rules and pydantic
payloads) behind a JWT connect check and per-user rate limits, the way notebook 07
builds it. Every test ends by proving that a bystander connected all along lost
nothing (every tick broadcast to its room arrived, in order, and nothing else did)
and that a fresh, well-behaved client is served at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from support import FAST, RawClient, RawFactory, ServerFactory, eventually

from wslearn.auth import JWTConfig, require_token
from wslearn.chat import MAX_MESSAGE_LENGTH, add_chat_handlers
from wslearn.client import Client
from wslearn.exceptions import UsageError
from wslearn.namespace import Socket
from wslearn.ratelimit import Rate
from wslearn.server import Server
from wslearn.throttle import EventLimits

SECRET = b"adversarial-tests-secret-32bytes"
CONFIG = JWTConfig(SECRET, leeway=0)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
RS_CONFIG = JWTConfig(RSA_KEY, algorithm="RS256")


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token made by hand, as an attacker makes one."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    if secret is None:
        return head + "."
    return head + "." + b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


def auth(user: str, **options: Any) -> str:
    return json.dumps({"token": CONFIG.issue(user, **options)})


class Bystander:
    """A signed-in user in room "lobby" through every attack, reading all the time."""

    def __init__(self, server: Server, raw_client: RawFactory) -> None:
        self.server = server
        self.raw_client = raw_client
        self.frames: list[str | bytes] = []
        self.ticks = 0
        self.allowed: set[str] = set()  # events a test expects it to see besides ticks
        self.client: RawClient
        self._reader: asyncio.Task[None]

    async def start(self) -> None:
        self.client = await self.raw_client(self.server)
        await self.client.connect(auth=auth("bystander"))
        self.server.of("/").sockets[self.client.sid].join("lobby")
        self._reader = asyncio.create_task(self._read())
        await self.check_no_loss()

    async def _read(self) -> None:
        while True:
            self.frames.append(await self.client.recv(within=3600))

    def events(self, name: str) -> list[Any]:
        """The arguments of every ``name`` event it received, in order."""
        decoded = [json.loads(f[2:]) for f in self.frames if isinstance(f, str)]
        return [args for event, *args in decoded if event == name]

    async def check_no_loss(self) -> None:
        """A broadcast to the lobby arrives, every tick is there in order, and nothing
        arrived that the test did not expect."""
        self.ticks += 1
        await self.server.to("lobby").emit("tick", self.ticks)
        await eventually(lambda: len(self.events("tick")) >= self.ticks)
        assert self.events("tick") == [[n] for n in range(1, self.ticks + 1)]
        for frame in self.frames:
            assert isinstance(frame, str) and frame.startswith("42["), frame
            name = json.loads(frame[2:])[0]
            assert name == "tick" or name in self.allowed, frame
        assert self.client.sid in self.server.of("/").sockets

    async def check_fresh_client_served(self) -> None:
        fresh = await self.raw_client(self.server)
        await fresh.connect(auth=auth("fresh-user"))
        await fresh.send('427["echo","still here"]')
        assert await fresh.recv() == '437["still here"]'

    async def finish(self) -> None:
        await self.check_no_loss()
        await self.check_fresh_client_served()
        self._reader.cancel()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def secured(make_server: ServerFactory, clock: FakeClock) -> Server:
    """The chat behind a JWT check (HS256 on "/", RS256 on "/rs") and rate limits."""
    server = await make_server()
    server.use(require_token(CONFIG))
    limits = EventLimits(Rate(5, 1.0, burst=10), abuse=Rate(5, 10.0), clock=clock)
    server.use_event(limits)
    server.limits = limits  # type: ignore[attr-defined]  # the tests read its tables
    add_chat_handlers(server, clock=lambda: "2024-01-01T00:00:00.000Z")

    @server.on("echo")
    def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        return args

    server.of("/rs").use(require_token(RS_CONFIG))
    return server


@pytest.fixture
async def bystander(secured: Server, raw_client: RawFactory) -> AsyncIterator[Bystander]:
    witness = Bystander(secured, raw_client)
    await witness.start()
    yield witness
    await witness.finish()


async def refused_connect(raw_client: RawFactory, server: Server, frame: str) -> dict[str, Any]:
    client = await raw_client(server)
    await client.send(frame)
    reply = await client.recv()
    assert isinstance(reply, str) and reply.startswith("44"), reply
    body: dict[str, Any] = json.loads(reply[reply.index("{") :])
    return body


# -- Authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_json", "reason"),
    [
        ("", "missing"),
        ('{"token":""}', "missing"),
        ('{"token":"not.a.jwt"}', "malformed"),
        ('{"token":' + json.dumps("x" * 10_000) + "}", "too large"),
        ('{"token":' + json.dumps(JWTConfig(b"w" * 32).issue("admin")) + "}", "bad signature"),
    ],
    ids=["no-token", "empty", "garbage", "huge", "bad-signature"],
)
async def test_no_token_garbage_or_a_bad_signature_is_refused_naming_the_reason(
    secured: Server,
    bystander: Bystander,
    raw_client: RawFactory,
    caplog: pytest.LogCaptureFixture,
    auth_json: str,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = await refused_connect(raw_client, secured, "40" + auth_json)
    assert body["data"] == {"reason": reason}
    assert body["message"].startswith("authentication failed: ")
    token = json.loads(auth_json).get("token", "") if auth_json else ""
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"token {reason}" in logged  # the reason class is logged...
    for part in (p for p in token.split(".") if len(p) > 8):
        assert part not in logged and part not in json.dumps(body)  # ...the token never


async def test_alg_none_is_refused(
    secured: Server, bystander: Bystander, raw_client: RawFactory
) -> None:
    token = forge({"alg": "none", "typ": "JWT"}, {"sub": "admin", "exp": time.time() + 60}, None)
    body = await refused_connect(raw_client, secured, "40" + json.dumps({"token": token}))
    assert body["data"] == {"reason": "algorithm not allowed"}


async def test_hs_rs_algorithm_confusion_is_refused(
    secured: Server, bystander: Bystander, raw_client: RawFactory
) -> None:
    # HS256 "signed" with the RS256 namespace's public key, which anyone may know.
    claims = {"sub": "admin", "exp": time.time() + 60}
    token = forge({"alg": "HS256", "typ": "JWT"}, claims, RSA_PUBLIC_PEM)
    body = await refused_connect(raw_client, secured, "40/rs," + json.dumps({"token": token}))
    assert body["data"] == {"reason": "algorithm not allowed"}
    genuine = RS_CONFIG.issue("alice")
    client = await raw_client(secured)
    await client.connect("/rs", auth=json.dumps({"token": genuine}))  # the real thing works


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (CONFIG.issue("alice", now=time.time() - 3600, ttl=60), "expired"),
        (forge({"alg": "HS256", "typ": "JWT"}, {"sub": "alice"}, SECRET), "missing claim"),
        (
            forge({"alg": "HS256", "typ": "JWT"}, {"exp": time.time() + 60}, SECRET),
            "missing claim",
        ),
    ],
    ids=["expired", "no-exp", "no-sub"],
)
async def test_an_expired_token_or_one_without_exp_or_sub_is_refused(
    secured: Server, bystander: Bystander, raw_client: RawFactory, token: str, reason: str
) -> None:
    body = await refused_connect(raw_client, secured, "40" + json.dumps({"token": token}))
    assert body["data"] == {"reason": reason}


async def test_a_short_signing_key_is_refused_when_configured_not_at_the_first_connection(
    secured: Server, bystander: Bystander
) -> None:
    with pytest.raises(UsageError, match="at least 32 bytes, got 16"):
        require_token(JWTConfig(b"sixteen-bytes-ok"))
    # The server built with the refused config never existed; the running one serves on.


async def test_a_token_that_expires_mid_session_disconnects_and_fresh_auth_reconnects(
    secured: Server, bystander: Bystander
) -> None:
    issued: list[str] = []

    def fresh_auth() -> dict[str, str]:
        issued.append(CONFIG.issue("alice", ttl=1 if not issued else 900))
        return {"token": issued[-1]}

    reasons: list[str] = []
    client = Client(secured.url, auth=fresh_auth, reconnection=FAST)
    errors: list[Any] = []
    client.on("error", errors.append)
    client.on("disconnect", reasons.append)
    await client.connect()
    await eventually(lambda: len(issued) == 2 and client.connected, within=6)
    assert errors == [
        {"message": "your token expired: reconnect with a fresh one", "reason": "expired"}
    ]
    assert reasons == ["transport close"]  # a close, not a kick: the client came back
    assert await client.call("echo", "refreshed") == ["refreshed"]
    await client.disconnect()


# -- Rate limiting and validation -------------------------------------------------------


async def test_a_burst_over_the_limit_gets_retry_after_and_repeated_abuse_disconnects(
    secured: Server, bystander: Bystander, raw_client: RawFactory
) -> None:
    flooder = await raw_client(secured)
    await flooder.connect(auth=auth("flooder"))
    await flooder.send(*['42["echo","x"]' for _ in range(40)])
    refusals: list[dict[str, Any]] = []
    while True:
        frame = await flooder.recv()
        if frame == "41":
            break
        name, body = json.loads(frame[2:])
        assert name == "error"
        refusals.append(body)
    assert refusals[0] == {
        "message": "rate limit exceeded: at most 5 events per 1 s",
        "event": "echo",
        "rule": "rate limit",
        "retryAfter": 0.2,
    }
    assert len(refusals) == 6  # five refusals, then the reason for the kick
    assert refusals[-1]["reason"] == "rate limit"
    assert refusals[-1]["message"] == "disconnected: too many events over the rate limit"
    assert flooder.sid not in secured.of("/").sockets


async def test_thousands_of_one_off_users_leave_the_limiter_tables_empty(
    secured: Server, bystander: Bystander, raw_client: RawFactory, clock: FakeClock
) -> None:
    limits: EventLimits = secured.limits  # type: ignore[attr-defined]
    start = [len(table) for table in limits.tables()]
    # 2,000 over the wire (bounded in time); the 100,000 of the table's row are in
    # tests/test_ratelimit.py (table size) and tools/bench_ratelimit.py (bytes).
    users, lines = 2_000, 10

    async def visits(line: int) -> None:
        # One user after another on one WebSocket, as short visits from behind one
        # proxy would be: CONNECT with its own token, one event, leave.
        visitor = await raw_client(secured)
        for n in range(line, users, lines):
            await visitor.send("40" + auth(f"visitor-{n}"))
            reply = await visitor.recv()
            assert isinstance(reply, str) and reply.startswith("40{"), reply
            await visitor.send('42["echo",1]', "41")

    await asyncio.gather(*(visits(line) for line in range(lines)))
    await eventually(lambda: len(limits.default or []) - start[0] >= users, within=30)
    assert len(secured.of("/").sockets) == 1  # only the bystander is still here
    clock.now += 10  # every visitor's bucket refills
    limits.sweep()
    assert [len(table) for table in limits.tables()] == start  # and the tables are empty


@pytest.fixture
async def member(secured: Server, raw_client: RawFactory) -> RawClient:
    """A signed-in user who joined room "r" through the chat's join-room."""
    client = await raw_client(secured)
    await client.connect(auth=auth("member"))
    await client.send('421["join-room","r"]')
    while await client.recv() != "431[]":
        pass  # the room's presence comes first
    return client


async def answer(client: RawClient, frame: str) -> dict[str, Any]:
    """Send an event with ack id 9 and return its refusal (the ack's error)."""
    await client.send(frame.replace("42[", "429[", 1))
    while True:
        reply = await client.recv()
        if isinstance(reply, str) and reply.startswith("439"):
            [body] = json.loads(reply[3:])
            assert isinstance(body, dict)
            error: dict[str, Any] = body["error"]
            return error


@pytest.mark.parametrize(
    ("payload", "field", "rule"),
    [
        ({"roomId": 5, "message": "x"}, "roomId", "string_type"),
        ({"roomId": "r", "message": {}}, "message", "string_type"),
        (None, "data", "model_type"),
    ],
)
async def test_wrong_types_get_an_error_naming_the_field(
    secured: Server,
    bystander: Bystander,
    member: RawClient,
    payload: Any,
    field: str,
    rule: str,
) -> None:
    error = await answer(member, '42["send-message",' + json.dumps(payload) + "]")
    assert (error["field"], error["rule"]) == (field, rule)


async def test_a_missing_required_field_gets_an_error_naming_it(
    secured: Server, bystander: Bystander, member: RawClient
) -> None:
    error = await answer(member, '42["send-message",{"roomId":"r"}]')
    assert (error["field"], error["rule"]) == ("message", "missing")
    await member.send('42["send-message"]')  # no payload at all, no ack
    while True:
        name, body = await member.recv_event()
        if name == "error":
            break
    assert (body["field"], body["rule"]) == ("data", "missing")


async def test_a_message_of_exactly_the_limit_passes_and_one_code_point_more_does_not(
    secured: Server, bystander: Bystander, member: RawClient
) -> None:
    at_limit = "🎉" * MAX_MESSAGE_LENGTH  # in JavaScript's count, twice the limit
    await member.send("42" + json.dumps(["send-message", {"roomId": "r", "message": at_limit}]))
    while True:
        name, body = await member.recv_event()
        if name == "receive-message":
            break
    assert body["message"] == at_limit
    over = {"roomId": "r", "message": at_limit + "!"}
    error = await answer(member, "42" + json.dumps(["send-message", over]))
    assert (error["field"], error["rule"]) == ("message", "string_too_long")


@pytest.mark.parametrize(
    ("room", "rule"),
    [
        ("", "empty"),
        ("x" * 10_240, "too long"),
        ("lob\x00by", "characters"),
        ("a\nb", "characters"),
    ],
    ids=["empty", "10KB", "nul", "newline"],
)
async def test_room_names_that_break_the_rules_are_refused(
    secured: Server, bystander: Bystander, member: RawClient, room: str, rule: str
) -> None:
    error = await answer(member, "42" + json.dumps(["join-room", room]))
    assert (error["field"], error["rule"]) == ("roomId", rule)
    assert secured.registry.rooms_of("/", member.sid) == {member.sid, "r"}


async def test_another_sockets_private_room_cannot_be_joined(
    secured: Server, bystander: Bystander, member: RawClient
) -> None:
    error = await answer(member, '42["join-room","' + bystander.client.sid + '"]')
    assert (error["field"], error["rule"]) == ("roomId", "private")
    await secured.to(bystander.client.sid).emit("tick", bystander.ticks + 1)  # for it alone
    bystander.ticks += 1
    await eventually(lambda: len(bystander.events("tick")) == bystander.ticks)
    await member.send('421["echo","after"]')
    while (frame := await member.recv()) != '431["after"]':
        assert "tick" not in str(frame)  # the member overheard nothing


async def test_a_post_into_a_room_not_joined_is_refused_and_the_room_hears_nothing(
    secured: Server, bystander: Bystander, member: RawClient
) -> None:
    error = await answer(member, '42["send-message",{"roomId":"lobby","message":"spam"}]')
    assert (error["field"], error["rule"]) == ("roomId", "not member")
    assert bystander.events("receive-message") == []


async def test_half_an_emoji_in_a_message_reaches_the_room_as_a_replacement_character(
    secured: Server, bystander: Bystander, member: RawClient
) -> None:
    bystander.allowed |= {"presence", "user-joined", "receive-message"}
    await member.send('421["join-room","lobby"]')
    await eventually(lambda: bystander.events("presence") != [])
    # A JavaScript client that cut "😀" in two sends half of its UTF-16 pair.
    await member.send('42["send-message",{"roomId":"lobby","message":"cut \\ud83d"}]')
    await eventually(lambda: bystander.events("receive-message") != [])
    [[message]] = bystander.events("receive-message")
    assert message["message"] == "cut \ufffd"
