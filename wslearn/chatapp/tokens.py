"""The chat app's sign-in tokens: the one place that issues and checks them.

Signing in with a name gives a token; every later connection presents it, so a
reconnecting tab (or a second tab) is the same user without typing the name again.
The token is a JWT signed with HS256: ``sub`` is the user id, ``name`` the display
name, ``exp`` when it stops being accepted.

This module is the seam between the app and the token library: the app calls only
:meth:`ChatTokens.issue` and :meth:`ChatTokens.verify`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_TOKEN_LENGTH", "ChatTokens", "Identity", "TokenRefused"]

MAX_TOKEN_LENGTH = 4096
"""Longer tokens are refused before any decoding."""

_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenRefused(Exception):
    """A token that does not sign anybody in.

    Attributes:
        reason: the class of problem: ``"missing"``, ``"malformed"``,
            ``"bad signature"``, ``"expired"``. Safe to show; the token never is.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"sign-in token refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """Who a valid token signs in.

    Attributes:
        user: the user id (the token's ``sub``).
        name: the display name.
        expires: when the token stops being accepted (epoch seconds).
    """

    user: str
    name: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ChatTokens:
    """Issue and verify sign-in tokens (HS256 JWT, the algorithm pinned).

    Args:
        secret: the signing key, at least 32 bytes; by default a random one, so
            tokens are valid for this process only (a restarted ``python -m wslearn
            chat`` asks everyone to sign in again unless you pass a key).
        lifetime: seconds a token is valid.

    Raises:
        ValueError: the key is shorter than 32 bytes or the lifetime not positive.
    """

    def __init__(self, secret: bytes | None = None, *, lifetime: float = 12 * 3600) -> None:
        key = secrets.token_bytes(32) if secret is None else secret
        if len(key) < 32:
            raise ValueError(f"the signing key must be at least 32 bytes, got {len(key)}")
        if lifetime <= 0:
            raise ValueError("lifetime must be positive")
        self._key = key
        self.lifetime = lifetime

    def __repr__(self) -> str:
        return f"ChatTokens(lifetime={self.lifetime:g})"  # never the key

    def issue(self, user: str, name: str, now: float) -> str:
        """A token for ``user`` called ``name``, valid from ``now`` for ``lifetime``."""
        claims = {"sub": user, "name": name, "iat": int(now), "exp": int(now + self.lifetime)}
        head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}"

    def verify(self, token: Any, now: float) -> Identity:
        """Check a token's form, algorithm, signature and expiry.

        Raises:
            TokenRefused: saying which class of problem it has.
        """
        if token is None or token == "":
            raise TokenRefused("missing")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise TokenRefused("malformed")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenRefused("malformed")
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            raise TokenRefused("malformed") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenRefused("malformed")
        # The algorithm is ours, never the token's: "none" or RS256 here is a forgery.
        if header.get("alg") != "HS256":
            raise TokenRefused("bad signature")
        if not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2]):
            raise TokenRefused("bad signature")
        user, name, exp = claims.get("sub"), claims.get("name"), claims.get("exp")
        if not isinstance(user, str) or not isinstance(name, str):
            raise TokenRefused("malformed")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise TokenRefused("malformed")
        if exp <= now:
            raise TokenRefused("expired")
        return Identity(user, name, float(exp))

    def _sign(self, signing_input: str) -> str:
        digest = hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest)
