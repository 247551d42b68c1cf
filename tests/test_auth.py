"""wslearn.auth: tokens issued and verified with a pinned algorithm, and the connect
check on a real server (wslearn's Client, python-socketio, and a raw wire client)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import socketio
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from support import FAST, RawFactory, ServerFactory, SioFactory, eventually

from wslearn.auth import CLAIMS_KEY, USER_KEY, JWTConfig, require_token
from wslearn.claims import Claims, TokenProblem
from wslearn.client import Client, ClientState
from wslearn.exceptions import ConnectRefusedError, TokenError, UsageError
from wslearn.namespace import Socket
from wslearn.server import Server

SECRET = b"s" * 32
NOW = 1_700_000_000.0
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token written by hand, the way an attacker would: any header, any key."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def reason(config: JWTConfig, token: object, now: float = NOW) -> str:
    with pytest.raises(TokenError) as caught:
        config.verify(token, now=now)
    if isinstance(token, str) and len(token) > 8:
        assert token not in str(caught.value)  # never echoed
    return caught.value.reason


# -- configuration: unsafe settings fail at once -----------------------------------------


def test_hs256_is_the_default_and_a_32_byte_secret_is_enough() -> None:
    config = JWTConfig(SECRET)
    assert config.algorithm == "HS256" and config.can_issue
    assert config.verify(config.issue("alice", now=NOW), now=NOW).subject == "alice"


@pytest.mark.parametrize(("algorithm", "shortest"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_a_secret_shorter_than_its_hash_is_refused_when_configured(
    algorithm: str, shortest: int
) -> None:
    with pytest.raises(UsageError, match=f"at least {shortest} bytes, got {shortest - 1}"):
        JWTConfig(b"k" * (shortest - 1), algorithm=algorithm)
    assert JWTConfig(b"k" * shortest, algorithm=algorithm).can_issue


def test_a_text_secret_is_measured_in_utf8_bytes() -> None:
    with pytest.raises(UsageError, match="got 30"):
        JWTConfig("é" * 15)  # 15 characters, 30 bytes
    assert JWTConfig("é" * 16).algorithm == "HS256"


def test_the_guides_kind_of_secret_is_refused_and_the_message_says_how_to_make_one() -> None:
    with pytest.raises(UsageError, match=r"secrets\.token_bytes\(32\)"):
        JWTConfig("your-secret-key")


def test_a_pem_key_given_as_an_hmac_secret_is_refused() -> None:
    with pytest.raises(UsageError, match="RS256"):
        JWTConfig(RSA_PUBLIC_PEM)


@pytest.mark.parametrize("algorithm", ["none", "None", "RS512", "ES256", "hs256", ""])
def test_algorithms_outside_the_list_are_refused(algorithm: str) -> None:
    with pytest.raises(UsageError, match="must be one of HS256, HS384, HS512, RS256, EdDSA"):
        JWTConfig(SECRET, algorithm=algorithm)


def test_an_rsa_key_under_2048_bits_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UsageError, match="1024 bits; use at least 2048"):
        JWTConfig(small, algorithm="RS256")


def test_a_key_of_the_wrong_kind_for_the_algorithm_is_refused() -> None:
    with pytest.raises(UsageError, match="RS256 needs an RSA key"):
        JWTConfig(ed25519.Ed25519PrivateKey.generate(), algorithm="RS256")
    with pytest.raises(UsageError, match="EdDSA needs an Ed25519 or Ed448 key"):
        JWTConfig(RSA_KEY, algorithm="EdDSA")
    with pytest.raises(UsageError, match="needs a PEM-encoded key"):
        JWTConfig("not a pem", algorithm="RS256")
    with pytest.raises(UsageError, match="needs a secret as bytes or str"):
        JWTConfig(RSA_KEY, algorithm="HS256")


@pytest.mark.parametrize(
    ("option", "value"), [("leeway", -1), ("leeway", 301), ("max_token_bytes", 10), ("ttl", 0)]
)
def test_settings_out_of_range_are_refused(option: str, value: float) -> None:
    with pytest.raises(UsageError, match=option):
        JWTConfig(SECRET, **{option: value})


def test_the_repr_never_shows_the_key() -> None:
    config = JWTConfig(SECRET, audience="chat", leeway=2)
    assert repr(config) == "<JWTConfig HS256 audience='chat' leeway=2s>"
    assert "sss" not in repr(config)


# -- issuing -----------------------------------------------------------------------------


def test_issue_sets_sub_iat_exp_and_the_configured_audience_and_issuer() -> None:
    config = JWTConfig(SECRET, audience="chat", issuer="login", ttl=60)
    token = config.issue("alice", now=NOW + 0.5, claims={"role": "admin"})
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], audience="chat", leeway=1e10)
    assert payload == {
        "sub": "alice",
        "iat": NOW,
        "exp": NOW + 61,  # rounded up: never shorter than asked
        "aud": "chat",
        "iss": "login",
        "role": "admin",
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_issue_refuses_what_would_make_a_bad_token() -> None:
    config = JWTConfig(SECRET)
    with pytest.raises(UsageError, match=r"\['exp', 'sub'\] are set by the config"):
        config.issue("alice", claims={"sub": "root", "exp": 0})
    with pytest.raises(UsageError, match="non-empty string"):
        config.issue("")
    with pytest.raises(UsageError, match="ttl must be positive"):
        config.issue("alice", ttl=-5)
    with pytest.raises(UsageError, match="at most 256"):
        JWTConfig(SECRET, max_token_bytes=256).issue("alice", claims={"blob": "x" * 300})


def test_a_public_key_verifies_but_cannot_issue() -> None:
    issuer = JWTConfig(RSA_KEY, algorithm="RS256")
    verifier = JWTConfig(RSA_PUBLIC_PEM, algorithm="RS256")
    assert not verifier.can_issue
    assert verifier.verify(issuer.issue("alice", now=NOW), now=NOW).subject == "alice"
    with pytest.raises(UsageError, match="cannot issue"):
        verifier.issue("alice")


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: RSA_KEY,
        lambda: RSA_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        ed25519.Ed25519PrivateKey.generate,
        ed448.Ed448PrivateKey.generate,
    ],
    ids=["rsa-object", "rsa-pem", "ed25519", "ed448"],
)
def test_key_pairs_issue_and_verify(make_key: Callable[[], Any]) -> None:
    key = make_key()
    algorithm = (
        "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else "RS256"
    )
    config = JWTConfig(key, algorithm=algorithm)
    token = config.issue("bob", now=NOW)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert config.verify(token, now=NOW).subject == "bob"


# -- verifying: every forgery the notebook shows ----------------------------------------


def test_a_missing_token_is_missing_and_garbage_is_malformed() -> None:
    config = JWTConfig(SECRET)
    assert reason(config, None) == TokenProblem.MISSING
    assert reason(config, "") == TokenProblem.MISSING
    assert reason(config, "not-a-jwt") == TokenProblem.MALFORMED
    assert reason(config, "a.b.c") == TokenProblem.MALFORMED
    assert reason(config, 12345) == TokenProblem.MALFORMED
    assert reason(config, {"token": "x"}) == TokenProblem.MALFORMED
    assert reason(config, "é.é.é") == TokenProblem.MALFORMED


def test_alg_none_is_refused_because_the_algorithm_is_pinned() -> None:
    forged = hand_made({"alg": "none", "typ": "JWT"}, {"sub": "admin", "exp": NOW + 60}, None)
    assert reason(JWTConfig(SECRET), forged) == TokenProblem.ALGORITHM


def test_algorithm_confusion_hs256_signed_with_the_rsa_public_key_is_refused() -> None:
    # The attacker knows the server's public key and uses it as an HMAC secret.
    forged = hand_made(
        {"alg": "HS256", "typ": "JWT"}, {"sub": "admin", "exp": NOW + 60}, RSA_PUBLIC_PEM
    )
    assert reason(JWTConfig(RSA_PUBLIC_PEM, algorithm="RS256"), forged) == TokenProblem.ALGORITHM


def test_a_token_of_another_algorithm_is_refused_even_when_well_signed() -> None:
    rs_token = JWTConfig(RSA_KEY, algorithm="RS256").issue("alice", now=NOW)
    assert reason(JWTConfig(SECRET), rs_token) == TokenProblem.ALGORITHM
    hs512 = JWTConfig(b"k" * 64, algorithm="HS512").issue("alice", now=NOW)
    assert reason(JWTConfig(b"k" * 64), hs512) == TokenProblem.ALGORITHM


def test_a_tampered_payload_has_a_bad_signature() -> None:
    config = JWTConfig(SECRET)
    header, _, signature = config.issue("alice", now=NOW).split(".")
    promoted = b64(json.dumps({"sub": "admin", "exp": NOW + 900}).encode())
    assert reason(config, f"{header}.{promoted}.{signature}") == TokenProblem.BAD_SIGNATURE


def test_a_token_signed_with_another_key_has_a_bad_signature() -> None:
    other = JWTConfig(secrets.token_bytes(32)).issue("alice", now=NOW)
    assert reason(JWTConfig(SECRET), other) == TokenProblem.BAD_SIGNATURE
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = JWTConfig(other_rsa, algorithm="RS256").issue("alice", now=NOW)
    assert reason(JWTConfig(RSA_KEY, algorithm="RS256"), forged) == TokenProblem.BAD_SIGNATURE


def test_expired_and_exp_less_tokens_are_refused() -> None:
    config = JWTConfig(SECRET, leeway=5)
    token = config.issue("alice", ttl=60, now=NOW)
    assert config.verify(token, now=NOW + 64).subject == "alice"  # inside the leeway
    assert reason(config, token, now=NOW + 65) == TokenProblem.EXPIRED
    no_exp = jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256")
    assert reason(config, no_exp) == TokenProblem.MISSING_CLAIM
    no_sub = jwt.encode({"exp": NOW + 60}, SECRET, algorithm="HS256")
    assert reason(config, no_sub) == TokenProblem.MISSING_CLAIM


def test_audience_and_issuer_are_checked() -> None:
    chat = JWTConfig(SECRET, audience="chat", issuer="login")
    billing = JWTConfig(SECRET, audience="billing", issuer="login")
    stranger = JWTConfig(SECRET, audience="chat", issuer="elsewhere")
    assert reason(chat, billing.issue("alice", now=NOW)) == TokenProblem.WRONG_AUDIENCE
    assert reason(chat, stranger.issue("alice", now=NOW)) == TokenProblem.WRONG_ISSUER
    assert chat.verify(chat.issue("alice", now=NOW), now=NOW).audience == ("chat",)


def test_a_token_over_the_size_cap_is_refused_before_it_is_decoded() -> None:
    config = JWTConfig(SECRET, max_token_bytes=1024)
    huge = config.issue("alice", now=NOW) + "A" * 1024
    assert reason(config, huge) == TokenProblem.TOO_LARGE
    assert reason(config, "x" * 5000) == TokenProblem.TOO_LARGE  # not even parsed


def test_verify_returns_the_claims() -> None:
    config = JWTConfig(SECRET)
    claims = config.verify(config.issue("alice", ttl=60, now=NOW, claims={"r": 1}), now=NOW)
    assert claims == Claims("alice", NOW + 60, NOW)
    assert claims.payload["r"] == 1


# -- the connect check on a real server ----------------------------------------------------


async def guarded(make_server: ServerFactory, config: JWTConfig, **options: Any) -> Server:
    server = await make_server(**options)
    server.use(require_token(config))

    @server.on("whoami")
    def whoami(socket: Socket) -> str:
        return str(socket.data[USER_KEY])

    return server


async def test_a_valid_token_connects_and_handlers_see_the_user(
    make_server: ServerFactory,
) -> None:
    config = JWTConfig(SECRET)
    server = await guarded(make_server, config)
    async with Client(server.url, auth={"token": config.issue("alice")}) as client:
        assert await client.call("whoami") == ["alice"]
        socket = server.of("/").sockets[client.sid or ""]
        assert isinstance(socket.data[CLAIMS_KEY], Claims)


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({}, "missing"),
        ({"token": "garbage"}, "malformed"),
        ({"token": JWTConfig(b"x" * 32).issue("alice")}, "bad signature"),
        ({"token": JWTConfig(SECRET).issue("alice", now=time.time() - 3600)}, "expired"),
    ],
    ids=["missing", "garbage", "bad-signature", "expired"],
)
async def test_a_refused_token_is_a_connect_error_naming_the_reason_and_no_reconnection(
    make_server: ServerFactory, auth: dict[str, Any], expected: str
) -> None:
    server = await make_server()
    attempts: list[float] = []
    server.use(lambda socket, _: attempts.append(time.monotonic()))  # counts every CONNECT
    server.use(require_token(JWTConfig(SECRET)))
    client = Client(server.url, auth=auth, reconnection=FAST)
    with pytest.raises(ConnectRefusedError) as caught:
        await client.connect()
    assert caught.value.data == {"reason": expected}
    assert caught.value.message.startswith("authentication failed: ")
    await asyncio.sleep(0.3)  # several of FAST's delays
    assert client.state is ClientState.DISCONNECTED and not server.connections
    assert len(attempts) == 1


async def test_the_wire_carries_the_reason_and_never_the_token(
    make_server: ServerFactory, raw_client: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await guarded(make_server, JWTConfig(SECRET))
    forged = JWTConfig(b"f" * 32).issue("admin")
    client = await raw_client(server)
    await client.send("40" + json.dumps({"token": forged}))
    reply = await client.recv()
    assert reply == (
        '44{"message":"authentication failed: the token\'s signature does not verify",'
        '"data":{"reason":"bad signature"}}'
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "bad signature" in logged
    for part in forged.split("."):
        assert part not in logged


async def test_python_socketio_sees_the_refusal_data(
    make_server: ServerFactory, sio_client: SioFactory
) -> None:
    server = await guarded(make_server, JWTConfig(SECRET, audience="chat"))
    client = await sio_client(connect_now=False, reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    wrong = JWTConfig(SECRET, audience="billing").issue("alice")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, transports=["websocket"], auth={"token": wrong})
    assert errors == [
        {
            "message": "authentication failed: the token is meant for another audience",
            "data": {"reason": "wrong audience"},
        }
    ]


async def test_a_token_that_expires_mid_session_ends_it_and_a_refreshed_one_just_works(
    make_server: ServerFactory,
) -> None:
    config = JWTConfig(SECRET, leeway=0)
    server = await guarded(make_server, config)
    reasons: list[str] = []
    server.on("disconnect", lambda socket, why: reasons.append(why))
    issued: list[str] = []

    def fresh_token() -> dict[str, str]:
        # The first token lives for about a second, the ones after it for long.
        issued.append(config.issue("alice", ttl=1 if not issued else 900))
        return {"token": issued[-1]}

    client = Client(server.url, auth=fresh_token, reconnection=FAST)
    errors: list[Any] = []
    client.on("error", errors.append)
    await client.connect()
    first_sid = client.sid
    await eventually(lambda: len(issued) == 2 and client.connected, within=5)
    assert errors == [
        {"message": "your token expired: reconnect with a fresh one", "reason": "expired"}
    ]
    assert reasons == ["token expired"]
    assert client.sid != first_sid
    assert await client.call("whoami") == ["alice"]
    await client.disconnect()


async def test_expiry_closes_the_connection_with_1008_after_the_error_event(
    make_server: ServerFactory, raw_client: RawFactory
) -> None:
    config = JWTConfig(SECRET, leeway=0)
    server = await guarded(make_server, config)
    bystander = await raw_client(server)
    await bystander.connect(auth=json.dumps({"token": config.issue("bob")}))
    client = await raw_client(server)
    await client.connect(auth=json.dumps({"token": config.issue("alice", ttl=1)}))
    assert await client.recv_event(within=5) == [
        "error",
        {"message": "your token expired: reconnect with a fresh one", "reason": "expired"},
    ]
    assert await client.closed() == 1008
    assert client.ws.protocol.close_rcvd is not None
    assert client.ws.protocol.close_rcvd.reason == "token expired"
    await server.emit("still", "here")
    assert await bystander.recv_event() == ["still", "here"]


async def test_a_socket_that_left_before_expiry_is_left_alone(
    make_server: ServerFactory,
) -> None:
    config = JWTConfig(SECRET, leeway=0)
    server = await guarded(make_server, config)
    reasons: list[str] = []
    server.on("disconnect", lambda socket, why: reasons.append(why))
    client = Client(server.url, auth={"token": config.issue("alice", ttl=1)})
    await client.connect()
    await client.disconnect()
    await asyncio.sleep(2.1)  # past the token's expiry
    assert reasons == ["client namespace disconnect"]
