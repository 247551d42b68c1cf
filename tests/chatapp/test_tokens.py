"""Tests for wslearn.chatapp.tokens: sign-in tokens, through wslearn.auth."""

from __future__ import annotations

import base64
import json

import pytest

from wslearn.chatapp.tokens import ChatTokens, Identity, TokenRefused, expires_at
from wslearn.exceptions import UsageError

KEY = b"k" * 32


def part(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_signs_in_its_user_until_it_expires() -> None:
    tokens = ChatTokens(KEY, lifetime=60)
    token = tokens.issue("alice", "Alice", now=1000)
    assert tokens.verify(token, now=1059) == Identity("alice", "Alice", 1060.0)
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(token, now=1060 + 10)  # past exp and the leeway
    assert refused.value.reason == "expired"


def test_another_key_or_a_tampered_payload_is_a_bad_signature() -> None:
    token = ChatTokens(KEY).issue("alice", "Alice")
    with pytest.raises(TokenRefused) as refused:
        ChatTokens(b"z" * 32).verify(token)
    assert refused.value.reason == "bad signature"
    head, _, sig = token.split(".")
    forged = f"{head}.{part({'sub': 'bob', 'name': 'Bob', 'exp': 10**10})}.{sig}"
    with pytest.raises(TokenRefused, match="signature"):
        ChatTokens(KEY).verify(forged)


def test_alg_none_is_refused_whatever_the_token_says() -> None:
    claims = part({"sub": "bob", "name": "Bob", "exp": 10**10})
    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{claims}."
    with pytest.raises(TokenRefused) as refused:
        ChatTokens(KEY).verify(token)
    assert refused.value.reason == "algorithm not allowed"


@pytest.mark.parametrize(
    ("token", "reason"),
    [(None, "missing"), ("", "missing"), (42, "malformed"), ("a.b", "malformed")],
)
def test_missing_and_malformed_tokens_name_their_reason(token: object, reason: str) -> None:
    with pytest.raises(TokenRefused) as refused:
        ChatTokens(KEY).verify(token)
    assert refused.value.reason == reason


def test_a_token_without_a_display_name_signs_nobody_in() -> None:
    tokens = ChatTokens(KEY)
    token = tokens.config.issue("alice")
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(token)
    assert refused.value.reason == "missing claim"


def test_a_short_key_is_refused_when_configured_and_never_shown() -> None:
    with pytest.raises(UsageError):
        ChatTokens(b"short")
    assert "k" * 32 not in repr(ChatTokens(KEY))


def test_a_client_can_read_when_its_token_runs_out_without_the_key() -> None:
    token = ChatTokens(KEY, lifetime=60).issue("alice", "Alice", now=1000)
    assert expires_at(token) == 1060
    assert expires_at("not a token") is None
    assert expires_at("a.!!!.c") is None
