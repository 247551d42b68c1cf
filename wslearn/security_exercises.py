"""Checks for notebook 07's exercises: does your answer hold up against the attacks?

Each exercise cell ends with a check::

    from wslearn.security_exercises import check

    check.pinned_verifier(my_verify)              # 07.1
    check.forgetting_limiter(MyLimiter)           # 07.2
    await check.typing_model(TypingNotice)        # 07.3

A check returns a :class:`Verdict` (``Correct: ...`` or ``Not yet: ...``) and never
raises, so "Run All" goes past an exercise you have not done yet. The network check
starts its own server on 127.0.0.1 and stops it before it returns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from .auth import JWTConfig

__all__ = ["EXERCISE_SECRET", "Verdict", "check"]

EXERCISE_SECRET = b"notebook-07-exercise-secret-key!"
"""The HS256 secret of exercise 07.1 (32 bytes; a real one comes from secrets)."""


@dataclass(frozen=True)
class Verdict:
    """The answer of a check: true when your code passed."""

    exercise: str
    passed: bool
    why: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'Correct' if self.passed else 'Not yet'} ({self.exercise}): {self.why}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    if secret is None:
        return head + "."
    return head + "." + _b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


def forgeries(secret: bytes, now: float) -> dict[str, str]:
    """Tokens nobody should accept, by the name of the trick, for a verifier of
    ``secret`` (HS256)."""
    good = JWTConfig(secret)
    header, _, signature = good.issue("alice", now=now).split(".")
    admin = _b64(json.dumps({"sub": "admin", "exp": now + 900}).encode())
    hs = {"alg": "HS256", "typ": "JWT"}
    return {
        "alg none": _forge({"alg": "none", "typ": "JWT"}, {"sub": "admin", "exp": now + 60}, None),
        "tampered payload": f"{header}.{admin}.{signature}",
        "wrong key": JWTConfig(b"k" * 32).issue("admin", now=now),
        "expired": good.issue("alice", ttl=60, now=now - 3600),
        "no exp": _forge(hs, {"sub": "admin"}, secret),
        "another algorithm": JWTConfig(secret * 2, algorithm="HS512").issue("alice", now=now),
    }


class Checks:
    """The checks, one per exercise."""

    def pinned_verifier(self, verify: Any) -> Verdict:
        """07.1: ``verify(token)`` returns the claims of a good HS256 token signed with
        :data:`EXERCISE_SECRET` and raises for every forgery."""
        exercise = "07.1 · a verifier that pins its algorithm"
        if not callable(verify):
            return Verdict(exercise, False, "define verify(token) and pass it in")
        now = time.time()
        good = JWTConfig(EXERCISE_SECRET).issue("alice", now=now)
        try:
            claims = verify(good)
        except Exception as exc:
            return Verdict(exercise, False, f"a good token was refused ({type(exc).__name__})")
        if not isinstance(claims, dict) or claims.get("sub") != "alice":
            return Verdict(exercise, False, "for a good token, return its claims (a dict)")
        for trick, token in forgeries(EXERCISE_SECRET, now).items():
            try:
                verify(token)
            except Exception:
                continue
            return Verdict(exercise, False, f"the {trick!r} forgery got in")
        return Verdict(exercise, True, "the good token passes, all six forgeries are refused")

    def forgetting_limiter(self, make: Any) -> Verdict:
        """07.2: ``make(limit, window)`` is a limiter with ``allow(user, now) -> bool``
        and ``len()``: at most ``limit`` events per user per ``window`` seconds, and
        users idle for a window are forgotten."""
        exercise = "07.2 · a limiter that forgets"
        try:
            limiter = make(2, 10.0)
            if [limiter.allow("ann", 0.0) for _ in range(3)] != [True, True, False]:
                return Verdict(exercise, False, "with a limit of 2, the third event is refused")
            if not limiter.allow("bob", 0.5):
                return Verdict(exercise, False, "one user's events must not count for another")
            if not limiter.allow("ann", 10.5):
                return Verdict(exercise, False, "after a window has passed, ann may send again")
            for n in range(10_000):
                limiter.allow(f"one-off-{n}", 20.0 + n / 10_000)
            limiter.allow("ann", 40.0)  # a window after the crowd left
            remembered = len(limiter)
        except Exception as exc:
            return Verdict(exercise, False, f"your limiter raised {type(exc).__name__}: {exc}")
        if remembered > 10:
            return Verdict(exercise, False, f"it still remembers {remembered} users: forget them")
        return Verdict(exercise, True, f"10,000 one-off users later it remembers {remembered}")

    async def typing_model(self, model: Any) -> Verdict:
        """07.3: a pydantic model for ``typing``: ``roomId`` a string of 1 to 64
        characters, ``typing`` a real boolean (strict: ``"yes"`` and ``1`` refused)."""
        from pydantic import BaseModel

        from .client import Client
        from .server import Server
        from .validation import PayloadValidator

        exercise = "07.3 · validate the typing notice"
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return Verdict(exercise, False, "pass your pydantic model class (a BaseModel)")
        server = Server()
        seen: list[Any] = []

        def typing(socket: Any, data: Any) -> str:
            seen.append(data)
            return "ok"

        typing.__annotations__ = {"data": model, "return": str}
        server.use_event(PayloadValidator(server))
        server.on("typing", typing)
        cases: list[tuple[Any, str | None]] = [
            ({"roomId": "lobby", "typing": True}, None),
            ({"roomId": "lobby", "typing": "yes"}, "typing"),
            ({"roomId": "lobby", "typing": 1}, "typing"),
            ({"typing": False}, "roomId"),
            ({"roomId": "", "typing": True}, "roomId"),
            ({"roomId": "r" * 65, "typing": True}, "roomId"),
            ({"roomId": 5, "typing": True}, "roomId"),
        ]
        try:
            await server.start()
            async with Client(server.url, reconnection=None) as client:
                for payload, field in cases:
                    [answer] = await client.call("typing", payload)
                    if field is None and answer != "ok":
                        return Verdict(exercise, False, f"{payload} was refused: {answer}")
                    if field is not None:
                        error = answer.get("error") if isinstance(answer, dict) else None
                        if error is None:
                            return Verdict(exercise, False, f"{payload} was accepted")
                        if error.get("field") != field:
                            return Verdict(
                                exercise, False, f"{payload}: the error should name {field!r}"
                            )
        except Exception as exc:
            return Verdict(exercise, False, f"the check failed: {type(exc).__name__}: {exc}")
        finally:
            await server.stop()
        if not isinstance(seen[0], model):
            return Verdict(exercise, False, "the handler should receive your model")
        return Verdict(exercise, True, "one good notice through, six bad ones refused by field")


check = Checks()
"""The checks of notebook 07."""
