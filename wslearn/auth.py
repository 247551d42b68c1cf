"""JSON Web Tokens for Socket.IO: issue, verify, and a connect check (PyJWT).

The guide checks a token in connect middleware with an ``isValidToken`` it never
writes. Here is one written with care::

    config = JWTConfig(secrets.token_bytes(32))      # HS256; RS256 / EdDSA keys too
    token = config.issue("alice", ttl=900)           # what your login endpoint hands out

    server.use(require_token(config))                # every CONNECT must carry one
    client = Client(server.url, auth=lambda: {"token": fetch_fresh_token()})

What :class:`JWTConfig` refuses, and where:

- **When configured** (a :class:`~wslearn.exceptions.UsageError` at once, not at the
  first connection): an algorithm outside :data:`ALGORITHMS`, an HMAC secret shorter
  than its hash (32 bytes for HS256), a PEM key given as an HMAC secret, an RSA key
  under 2048 bits, a key of the wrong kind for the algorithm.
- **When verifying** (a :class:`~wslearn.exceptions.TokenError` whose ``reason``
  names the class of problem, see :class:`~wslearn.claims.TokenProblem`): no token,
  one over ``max_token_bytes`` (not even decoded), garbage, an algorithm other than
  the pinned one (``alg: none``, HS256 signed with an RSA public key: the algorithm
  is never read from the token), a bad signature, then the claims checks of
  :mod:`wslearn.claims` (``exp`` and ``sub`` required, audience, issuer, leeway).

:func:`require_token` turns a refusal into a CONNECT_ERROR,
``44{"message": "authentication failed: ...", "data": {"reason": "expired"}}``, and
logs the reason class and the address only: never the token. A socket whose token
expires while it is connected gets an ``error`` event ``{"message": ..., "reason":
"expired"}`` and then its connection is closed with code 1008 "token expired" (no
DISCONNECT packet, so the client reconnects; its ``auth`` callable runs again and a
fresh token just works). Every namespace of that connection goes with it: they all
sent the same token.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import jwt
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from jwt.types import Options
from websockets.frames import CloseCode

from .claims import HMAC_MIN_KEY_BYTES, Claims, TokenProblem, check_claims, refusal
from .exceptions import ConnectRefusedError, TokenError, UsageError
from .namespace import DisconnectReason

if TYPE_CHECKING:
    from .namespace import Middleware, Socket

__all__ = [
    "ALGORITHMS",
    "CLAIMS_KEY",
    "USER_KEY",
    "JWTConfig",
    "Key",
    "require_token",
]

logger = logging.getLogger("wslearn.auth")

ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "EdDSA")
"""The algorithms a :class:`JWTConfig` can pin (one per config)."""

USER_KEY = "user"
"""``socket.data[USER_KEY]``: the verified ``sub`` (rate limits key on it)."""
CLAIMS_KEY = "claims"
"""``socket.data[CLAIMS_KEY]``: the verified :class:`~wslearn.claims.Claims`."""

MIN_RSA_BITS = 2048

Key: TypeAlias = (
    str
    | bytes
    | RSAPrivateKey
    | RSAPublicKey
    | Ed25519PrivateKey
    | Ed25519PublicKey
    | Ed448PrivateKey
    | Ed448PublicKey
)
"""An HMAC secret (str or bytes), or an RSA / Ed25519 / Ed448 key (object or PEM)."""

_PrivateKey: TypeAlias = RSAPrivateKey | Ed25519PrivateKey | Ed448PrivateKey
_PublicKey: TypeAlias = RSAPublicKey | Ed25519PublicKey | Ed448PublicKey

# Only the signature is PyJWT's job: the claims are checked by wslearn.claims, with the
# time passed in. Every option is spelled out so that no default can change under us.
_SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}

_RESERVED_CLAIMS = frozenset({"sub", "exp", "iat", "nbf", "aud", "iss"})


def _load_asymmetric(key: Key, algorithm: str) -> tuple[_PrivateKey | None, _PublicKey]:
    """Turn a key object or PEM text into (private key or None, public key)."""
    loaded: object = key
    if isinstance(key, str | bytes):
        pem = key.encode() if isinstance(key, str) else key
        try:
            loaded = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            try:
                loaded = load_pem_public_key(pem)
            except ValueError:
                raise UsageError(
                    f"{algorithm} needs a PEM-encoded key (or a cryptography key object); "
                    "this is neither a private nor a public key"
                ) from None
    if algorithm == "RS256":
        if not isinstance(loaded, RSAPrivateKey | RSAPublicKey):
            raise UsageError(f"RS256 needs an RSA key, got {type(loaded).__name__}")
        if loaded.key_size < MIN_RSA_BITS:
            raise UsageError(
                f"this RSA key has {loaded.key_size} bits; use at least {MIN_RSA_BITS}"
            )
    elif not isinstance(
        loaded, Ed25519PrivateKey | Ed25519PublicKey | Ed448PrivateKey | Ed448PublicKey
    ):
        raise UsageError(f"EdDSA needs an Ed25519 or Ed448 key, got {type(loaded).__name__}")
    if isinstance(loaded, RSAPrivateKey | Ed25519PrivateKey | Ed448PrivateKey):
        return loaded, loaded.public_key()
    assert isinstance(loaded, RSAPublicKey | Ed25519PublicKey | Ed448PublicKey)
    return None, loaded


def _hmac_secret(key: Key, algorithm: str) -> bytes:
    if not isinstance(key, str | bytes):
        raise UsageError(f"{algorithm} needs a secret as bytes or str, got {type(key).__name__}")
    secret = key.encode() if isinstance(key, str) else key
    if b"-----BEGIN" in secret or secret.startswith(b"ssh-"):
        raise UsageError(
            f"this looks like a public or private key, not an {algorithm} secret: "
            "use algorithm='RS256' or 'EdDSA' for key pairs"
        )
    shortest = HMAC_MIN_KEY_BYTES[algorithm]
    if len(secret) < shortest:
        raise UsageError(
            f"an {algorithm} secret must be at least {shortest} bytes, got {len(secret)}; "
            f"make one with secrets.token_bytes({shortest})"
        )
    return secret


class JWTConfig:
    """How tokens are issued and verified: one pinned algorithm and its key.

    Args:
        key: for HS256/384/512 the shared secret (bytes, or str as UTF-8); for RS256
            an RSA key, for EdDSA an Ed25519 or Ed448 key, as a cryptography object
            or PEM. A private key can issue and verify; a public key only verify.
        algorithm: one of :data:`ALGORITHMS`; tokens signed any other way are refused.
        audience: the ``aud`` tokens must name (and issued tokens carry), or None.
        issuer: the ``iss`` tokens must carry (and issued tokens carry), or None.
        leeway: seconds of clock difference forgiven on ``exp``/``nbf``/``iat``
            (at most 300).
        max_token_bytes: longer tokens are refused before they are decoded.
        ttl: the default lifetime, in seconds, of the tokens :meth:`issue` makes.

    Raises:
        UsageError: see the module docstring: the key, algorithm or a setting is
            unsafe or inconsistent.
    """

    def __init__(
        self,
        key: Key,
        *,
        algorithm: str = "HS256",
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 5.0,
        max_token_bytes: int = 4096,
        ttl: float = 900.0,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise UsageError(
                f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}"
            )
        if not 0 <= leeway <= 300:
            raise UsageError(f"leeway is a few seconds (0 to 300), got {leeway!r}")
        if max_token_bytes < 256:
            raise UsageError(f"max_token_bytes must be at least 256, got {max_token_bytes!r}")
        if not ttl > 0:
            raise UsageError(f"ttl must be positive, got {ttl!r}")
        self.algorithm = algorithm
        self.audience = audience
        self.issuer = issuer
        self.leeway = float(leeway)
        self.max_token_bytes = max_token_bytes
        self.ttl = float(ttl)
        self._signing_key: bytes | _PrivateKey | None
        self._verifying_key: bytes | _PublicKey
        if algorithm in HMAC_MIN_KEY_BYTES:
            self._signing_key = self._verifying_key = _hmac_secret(key, algorithm)
        else:
            self._signing_key, self._verifying_key = _load_asymmetric(key, algorithm)

    def __repr__(self) -> str:  # never shows the key
        extras = "".join(
            f" {name}={value!r}"
            for name, value in (("audience", self.audience), ("issuer", self.issuer))
            if value is not None
        )
        return f"<JWTConfig {self.algorithm}{extras} leeway={self.leeway:g}s>"

    @property
    def can_issue(self) -> bool:
        """True when the config holds the secret or the private key."""
        return self._signing_key is not None

    def issue(
        self,
        subject: str,
        *,
        ttl: float | None = None,
        now: float | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign a token for ``subject``, valid for ``ttl`` seconds from ``now``.

        Args:
            subject: the ``sub`` claim (a user id).
            ttl: lifetime in seconds (default: the config's ``ttl``).
            now: the issuing time, seconds since the epoch (default: the clock).
            claims: extra claims; the registered ones (sub, exp, iat, nbf, aud, iss)
                are set by the config and cannot be given here.

        Returns:
            The compact token, ``header.payload.signature``.

        Raises:
            UsageError: a public key only, an empty subject, a reserved claim, or a
                token that would exceed ``max_token_bytes``.
        """
        if self._signing_key is None:
            raise UsageError(
                "this config holds a public key: it verifies tokens but cannot issue "
                "them; give JWTConfig the private key where tokens are issued"
            )
        if not isinstance(subject, str) or not subject:
            raise UsageError(f"subject must be a non-empty string, got {subject!r}")
        extra = dict(claims or {})
        clash = sorted(_RESERVED_CLAIMS & extra.keys())
        if clash:
            raise UsageError(f"claims {clash} are set by the config; leave them out")
        lifetime = self.ttl if ttl is None else ttl
        if not lifetime > 0:
            raise UsageError(f"ttl must be positive, got {lifetime!r}")
        at = time.time() if now is None else now
        payload: dict[str, Any] = {
            "sub": subject,
            "iat": math.floor(at),
            "exp": math.ceil(at + lifetime),
        }
        if self.audience is not None:
            payload["aud"] = self.audience
        if self.issuer is not None:
            payload["iss"] = self.issuer
        payload.update(extra)
        token = jwt.encode(payload, self._signing_key, algorithm=self.algorithm)
        if len(token) > self.max_token_bytes:
            raise UsageError(
                f"the token would be {len(token)} bytes and this config accepts at most "
                f"{self.max_token_bytes}; send fewer claims"
            )
        return token

    def verify(self, token: object, *, now: float | None = None) -> Claims:
        """Check a token's size, algorithm, signature and claims.

        Args:
            token: what the client sent (anything: it is checked before use).
            now: the current time, seconds since the epoch (default: the clock).

        Returns:
            The verified claims.

        Raises:
            TokenError: the token is refused; ``reason`` says why (a
                :class:`~wslearn.claims.TokenProblem`) and no part of the token is
                in the error.
        """
        if token is None or token == "":
            raise refusal(TokenProblem.MISSING)
        if not isinstance(token, str):
            raise refusal(TokenProblem.MALFORMED, "a token is a string")
        if len(token) > self.max_token_bytes:
            raise refusal(TokenProblem.TOO_LARGE, f"at most {self.max_token_bytes} bytes")
        if not token.isascii():
            raise refusal(TokenProblem.MALFORMED, "a token is base64url text")
        try:
            payload = jwt.decode(
                token, self._verifying_key, algorithms=[self.algorithm], options=_SIGNATURE_ONLY
            )
        except jwt.InvalidAlgorithmError:
            raise refusal(TokenProblem.ALGORITHM, f"only {self.algorithm}") from None
        except jwt.InvalidSignatureError:
            raise refusal(TokenProblem.BAD_SIGNATURE) from None
        except jwt.PyJWTError:
            raise refusal(TokenProblem.MALFORMED) from None
        return check_claims(
            payload,
            now=time.time() if now is None else now,
            leeway=self.leeway,
            audience=self.audience,
            issuer=self.issuer,
        )


def require_token(
    config: JWTConfig, *, field: str = "token", clock: Callable[[], float] = time.time
) -> Middleware:
    """Connect middleware: refuse a CONNECT without a valid token in ``auth[field]``.

    Use it with ``server.use(...)`` or ``server.of(name).use(...)``. On success the
    socket's ``data`` gets :data:`USER_KEY` (the subject) and :data:`CLAIMS_KEY`, and
    the socket is disconnected when the token expires (see the module docstring).

    Args:
        config: how tokens are verified.
        field: the key of the CONNECT auth object that holds the token.
        clock: seconds since the epoch (tests pass a fake one).

    Returns:
        The middleware, ``(socket, auth) -> None``.
    """

    def check_token(socket: Socket, auth: dict[str, Any]) -> None:
        try:
            claims = config.verify(auth.get(field), now=clock())
        except TokenError as exc:
            # The reason class and the address only: a token in a log is a stolen token.
            logger.info(
                "refused a CONNECT to %s from %s: token %s",
                socket.namespace,
                socket.handshake.address,
                exc.reason,
            )
            raise ConnectRefusedError(
                f"authentication failed: {exc.message}", {"reason": exc.reason}
            ) from None
        socket.data[USER_KEY] = claims.subject
        socket.data[CLAIMS_KEY] = claims
        remaining = claims.expires_at + config.leeway - clock()
        asyncio.get_running_loop().call_later(
            max(0.0, remaining), _on_expiry, weakref.ref(socket), claims
        )

    return check_token


def _on_expiry(ref: weakref.ref[Socket], claims: Claims) -> None:
    socket = ref()
    if socket is None or not socket.connected:
        return
    current = socket.data.get(CLAIMS_KEY)
    if isinstance(current, Claims) and current.expires_at > claims.expires_at:
        return  # the application gave this socket a later token meanwhile
    socket._nsp.server.spawn(_end_expired_session(socket))


async def _end_expired_session(socket: Socket) -> None:
    logger.info("socket %s: token of %s expired, closing", socket.id, socket.data.get(USER_KEY))
    await socket.emit_error(
        "your token expired: reconnect with a fresh one", reason=str(TokenProblem.EXPIRED)
    )
    await socket._conn.close_after_flush(
        CloseCode.POLICY_VIOLATION, "token expired", DisconnectReason.TOKEN_EXPIRED
    )
