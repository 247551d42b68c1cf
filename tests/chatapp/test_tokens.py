"""Tests for wslearn.chatapp.tokens: sign-in tokens issued and checked."""

from __future__ import annotations

import base64
import json

import pytest

from wslearn.chatapp.tokens import MAX_TOKEN_LENGTH, ChatTokens, Identity, TokenRefused

KEY = b"k" * 32


def part(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_signs_in_its_user_until_it_expires() -> None:
    tokens = ChatTokens(KEY, lifetime=60)
    token = tokens.issue("alice", "Alice", now=1000)
    assert tokens.verify(token, now=1059) == Identity("alice", "Alice", 1060.0)
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(token, now=1060)
    assert refused.value.reason == "expired"


def test_another_key_or_a_tampered_payload_is_a_bad_signature() -> None:
    token = ChatTokens(KEY).issue("alice", "Alice", now=0)
    with pytest.raises(TokenRefused, match="bad signature"):
        ChatTokens(b"z" * 32).verify(token, now=1)
    head, _, sig = token.split(".")
    forged = f"{head}.{part({'sub': 'bob', 'name': 'Bob', 'exp': 10**10})}.{sig}"
    with pytest.raises(TokenRefused, match="bad signature"):
        ChatTokens(KEY).verify(forged, now=1)


def test_alg_none_is_refused_whatever_the_token_says() -> None:
    claims = part({"sub": "bob", "name": "Bob", "exp": 10**10})
    for alg in ("none", "RS256", "HS512"):
        token = f"{part({'alg': alg, 'typ': 'JWT'})}.{claims}."
        with pytest.raises(TokenRefused, match="bad signature"):
            ChatTokens(KEY).verify(token, now=1)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        (42, "malformed"),
        ("a.b", "malformed"),
        ("!!.??.##", "malformed"),
        ("x" * (MAX_TOKEN_LENGTH + 1), "malformed"),
    ],
)
def test_missing_and_malformed_tokens_name_their_reason(token: object, reason: str) -> None:
    with pytest.raises(TokenRefused) as refused:
        ChatTokens(KEY).verify(token, now=0)
    assert refused.value.reason == reason
    assert "x" * 50 not in str(refused.value)  # the token is never echoed


def test_a_short_key_is_refused_when_configured_and_never_shown() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ChatTokens(b"short")
    assert "k" * 32 not in repr(ChatTokens(KEY))
