"""wslearn.security_exercises: each check passes a right answer and says what is wrong
with a wrong one (the solutions notebook runs the right answers too)."""

from __future__ import annotations

from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field

from wslearn.security_exercises import EXERCISE_SECRET, check


def test_the_verifier_check_passes_a_pinned_verifier_and_names_the_forgery_that_gets_in() -> None:
    def pinned(token: str) -> dict[str, Any]:
        return jwt.decode(
            token, EXERCISE_SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )

    def no_exp_required(token: str) -> dict[str, Any]:
        return jwt.decode(token, EXERCISE_SECRET, algorithms=["HS256"])

    assert check.pinned_verifier(pinned)
    verdict = check.pinned_verifier(no_exp_required)
    assert not verdict and "'no exp' forgery got in" in repr(verdict)
    assert "a good token was refused" in repr(check.pinned_verifier(lambda token: 1 / 0))
    assert not check.pinned_verifier(None)


class Remembering:
    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window, self.seen = limit, window, dict[str, list[float]]()

    def allow(self, user: str, now: float) -> bool:
        recent = [t for t in self.seen.get(user, []) if now - t < self.window]
        self.seen[user] = recent
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True

    def __len__(self) -> int:
        return len(self.seen)


class Forgetting(Remembering):
    def allow(self, user: str, now: float) -> bool:
        for other in [u for u, t in self.seen.items() if not t or now - t[-1] >= self.window]:
            if other != user:
                del self.seen[other]
        return super().allow(user, now)


def test_the_limiter_check_wants_users_forgotten() -> None:
    assert "still remembers 10002 users" in repr(check.forgetting_limiter(Remembering))
    assert check.forgetting_limiter(Forgetting)


class StrictTyping(BaseModel):
    model_config = ConfigDict(strict=True)
    roomId: str = Field(min_length=1, max_length=64)
    typing: bool


class LaxTyping(BaseModel):
    roomId: str
    typing: bool


async def test_the_typing_check_runs_the_model_on_a_real_server() -> None:
    assert await check.typing_model(StrictTyping)
    lax = await check.typing_model(LaxTyping)
    assert not lax and "'typing': 'yes'" in repr(lax)  # lax pydantic turns "yes" into True
    assert "pass your pydantic model class" in repr(await check.typing_model(dict))
