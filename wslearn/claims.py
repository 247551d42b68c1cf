"""The claims checks of a JSON Web Token, after its signature verified (pure).

A signature only proves who wrote a token; whether the token still counts is a
question about its claims, answered here with the time passed in as ``now`` (seconds
since the epoch), so tests and notebooks can step time by hand::

    claims = check_claims(payload, now=1_700_000_000, leeway=5)
    claims.subject        # "alice"
    claims.expires_at     # 1_700_000_900

The rules (RFC 7519, section 4.1, as wslearn applies them):

=======  =====================================================================
``exp``  required, a number; the token counts until ``exp + leeway``
``sub``  required, a non-empty string: the user the token speaks for
``nbf``  optional; before ``nbf - leeway`` the token does not count yet
``iat``  optional, a number; a token issued after ``now + leeway`` is refused
``aud``  when the verifier has an audience, the token must name it (a string
         or a list holding it); a token naming an audience to a verifier that
         has none is refused too, as the RFC asks
``iss``  when the verifier has an issuer, the token's must equal it
=======  =====================================================================

Every refusal is a :class:`~wslearn.exceptions.TokenError` whose ``reason`` is one
of :class:`TokenProblem`: a class of problem, safe to show to the client, that
never contains the token itself.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import TokenError

__all__ = ["HMAC_MIN_KEY_BYTES", "Claims", "TokenProblem", "check_claims", "refusal"]

HMAC_MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
"""The shortest HMAC secret per algorithm: as long as the hash (RFC 7518, 3.2)."""


class TokenProblem(enum.StrEnum):
    """Why a token was refused: the reason class a client is told."""

    MISSING = "missing"  # no token at all
    MALFORMED = "malformed"  # not three base64url parts of JSON
    TOO_LARGE = "too large"  # over the verifier's size cap, not even decoded
    ALGORITHM = "algorithm not allowed"  # alg is not the one pinned (e.g. "none")
    BAD_SIGNATURE = "bad signature"  # tampered, or signed with another key
    MISSING_CLAIM = "missing claim"  # no exp or no sub
    INVALID_CLAIM = "invalid claim"  # a claim of the wrong type
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"  # nbf or iat in the future
    WRONG_AUDIENCE = "wrong audience"
    WRONG_ISSUER = "wrong issuer"


_EXPLANATIONS = {
    TokenProblem.MISSING: "no token: send one in the CONNECT auth as {token: ...}",
    TokenProblem.MALFORMED: "the token is not a well-formed JWT",
    TokenProblem.TOO_LARGE: "the token is larger than this server accepts",
    TokenProblem.ALGORITHM: "the token's algorithm is not the one this server accepts",
    TokenProblem.BAD_SIGNATURE: "the token's signature does not verify",
    TokenProblem.MISSING_CLAIM: "the token lacks a required claim",
    TokenProblem.INVALID_CLAIM: "a claim of the token has the wrong type",
    TokenProblem.EXPIRED: "the token has expired: get a fresh one",
    TokenProblem.NOT_YET_VALID: "the token is not valid yet",
    TokenProblem.WRONG_AUDIENCE: "the token is meant for another audience",
    TokenProblem.WRONG_ISSUER: "the token comes from another issuer",
}


def refusal(problem: TokenProblem, detail: str = "") -> TokenError:
    """The :class:`TokenError` for a problem, with an explanation for people.

    Args:
        problem: the reason class.
        detail: what exactly, e.g. the missing claim's name; never the token.
    """
    text = _EXPLANATIONS[problem] + (f" ({detail})" if detail else "")
    return TokenError(str(problem), text)


@dataclass(frozen=True)
class Claims:
    """The claims of a token that passed every check.

    Attributes:
        subject: ``sub``, the user the token speaks for.
        expires_at: ``exp``, seconds since the epoch.
        issued_at: ``iat``, or None when the token has none.
        audience: the audiences the token names (empty when none).
        issuer: ``iss``, or None.
        payload: every claim, as decoded.
    """

    subject: str
    expires_at: float
    issued_at: float | None = None
    audience: tuple[str, ...] = ()
    issuer: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _number(payload: Mapping[str, Any], name: str, required: bool) -> float | None:
    if name not in payload:
        if required:
            raise refusal(TokenProblem.MISSING_CLAIM, f"'{name}' is required")
        return None
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refusal(TokenProblem.INVALID_CLAIM, f"'{name}' must be a number of seconds")
    return float(value)


def _audiences(payload: Mapping[str, Any]) -> tuple[str, ...]:
    value = payload.get("aud")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise refusal(TokenProblem.INVALID_CLAIM, "'aud' must be a string or a list of strings")


def check_claims(
    payload: Mapping[str, Any],
    *,
    now: float,
    leeway: float = 0.0,
    audience: str | None = None,
    issuer: str | None = None,
) -> Claims:
    """Check the claims of a decoded token at time ``now``.

    Args:
        payload: the token's claims (its signature already verified).
        now: the current time, seconds since the epoch.
        leeway: seconds of clock difference forgiven on ``exp``, ``nbf``, ``iat``.
        audience: the audience this verifier stands for, or None.
        issuer: the only issuer accepted, or None for any.

    Returns:
        The checked claims.

    Raises:
        TokenError: a claim is missing, of the wrong type or refuses the token;
            its ``reason`` is a :class:`TokenProblem`.
    """
    expires_at = _number(payload, "exp", required=True)
    assert expires_at is not None  # required=True never returns None
    subject = payload.get("sub")
    if "sub" not in payload:
        raise refusal(TokenProblem.MISSING_CLAIM, "'sub' is required")
    if not isinstance(subject, str) or not subject:
        raise refusal(TokenProblem.INVALID_CLAIM, "'sub' must be a non-empty string")
    if now >= expires_at + leeway:
        raise refusal(TokenProblem.EXPIRED)
    not_before = _number(payload, "nbf", required=False)
    if not_before is not None and now + leeway < not_before:
        raise refusal(TokenProblem.NOT_YET_VALID, "'nbf' is in the future")
    issued_at = _number(payload, "iat", required=False)
    if issued_at is not None and issued_at > now + leeway:
        raise refusal(TokenProblem.NOT_YET_VALID, "'iat' is in the future")
    audiences = _audiences(payload)
    if audience is None and audiences:
        raise refusal(TokenProblem.WRONG_AUDIENCE, "this server expects no 'aud'")
    if audience is not None and audience not in audiences:
        raise refusal(TokenProblem.WRONG_AUDIENCE)
    token_issuer = payload.get("iss")
    if token_issuer is not None and not isinstance(token_issuer, str):
        raise refusal(TokenProblem.INVALID_CLAIM, "'iss' must be a string")
    if issuer is not None and token_issuer != issuer:
        raise refusal(TokenProblem.WRONG_ISSUER)
    return Claims(subject, expires_at, issued_at, audiences, token_issuer, dict(payload))
