"""The chat app's sign-in tokens: the one place that issues and checks them.

Signing in with a name gives a token; every later connection presents it, so a
reconnecting tab (or a second tab) is the same user without typing the name again.
The token is a JWT made by :mod:`wslearn.auth` (HS256, the algorithm pinned, ``exp``
and ``sub`` required): ``sub`` is the user id, ``name`` the display name.

The app calls only :meth:`ChatTokens.issue`, :meth:`ChatTokens.verify` and, for its
connect middleware, :meth:`ChatTokens.middleware`, which also ends a socket's session
when its token expires (the page then signs in again by name).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..auth import JWTConfig, require_token
from ..exceptions import TokenError
from ..namespace import Middleware

__all__ = ["ChatTokens", "Identity", "TokenRefused", "expires_at"]


class TokenRefused(Exception):
    """A token that does not sign anybody in.

    Attributes:
        reason: the class of problem (see :class:`wslearn.claims.TokenProblem`):
            ``"missing"``, ``"malformed"``, ``"bad signature"``, ``"expired"``...
            Safe to show; the token never is.
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"sign-in token refused: {message or reason}")
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


def expires_at(token: str) -> float | None:
    """The ``exp`` a token says it has, read without checking anything (a client uses
    it to sign in again before its token runs out); None if it cannot be read."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class ChatTokens:
    """Issue and verify sign-in tokens.

    Args:
        secret: the HS256 signing key, at least 32 bytes; by default a random one, so
            tokens are valid for this process only (a restarted ``python -m wslearn
            chat`` has its users sign in again: the page does it by itself).
        lifetime: seconds a token is valid.
        leeway: seconds of clock difference forgiven (see :class:`wslearn.auth.JWTConfig`).
        clock: seconds since the epoch (tests and notebooks pass their own).

    Raises:
        UsageError: the key is too short or the lifetime not positive.
    """

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        lifetime: float = 12 * 3600,
        leeway: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = secrets.token_bytes(32) if secret is None else secret
        self.config = JWTConfig(key, ttl=lifetime, leeway=leeway)
        self.lifetime = lifetime
        self.clock = clock

    def __repr__(self) -> str:
        return f"ChatTokens({self.config!r}, lifetime={self.lifetime:g})"  # never the key

    def issue(self, user: str, name: str, now: float | None = None) -> str:
        """A token for ``user`` called ``name``, valid from ``now`` for ``lifetime``."""
        at = self.clock() if now is None else now
        return self.config.issue(user, now=at, claims={"name": name})

    def verify(self, token: Any, now: float | None = None) -> Identity:
        """Check a token's form, algorithm, signature and claims.

        Raises:
            TokenRefused: saying which class of problem it has.
        """
        at = self.clock() if now is None else now
        try:
            claims = self.config.verify(token, now=at)
        except TokenError as exc:
            raise TokenRefused(exc.reason, exc.message) from None
        name = claims.payload.get("name")
        if not isinstance(name, str) or not name:
            raise TokenRefused("missing claim", "the token carries no display name")
        return Identity(claims.subject, name, claims.expires_at)

    def middleware(self) -> Middleware:
        """Connect middleware: a valid token, or CONNECT_ERROR with its reason.

        It leaves ``socket.data["user"]`` (the user id) and ``socket.data["claims"]``
        for the handlers, and ends the session when the token expires.
        """
        return require_token(self.config, clock=self.clock)
