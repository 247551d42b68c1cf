"""Tests for wslearn.chatapp.lessons: each check passes a right answer and tells a
wrong one what is wrong."""

from __future__ import annotations

from typing import Any

from wslearn.chatapp.lessons import (
    check_grace,
    check_history,
    check_join_room,
    check_presence,
    check_sign_in,
    check_ticks,
    check_typing,
    check_unread,
)
from wslearn.chatapp.rules import ChatRuleError, check_display_name, check_room_id, user_id_for
from wslearn.chatapp.tokens import ChatTokens
from wslearn.namespace import Socket


class Tabs:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}

    def connect(self, sid: str, user: str) -> bool:
        came = user not in self.users.values()
        self.users[sid] = user
        return came

    def disconnect(self, sid: str) -> bool:
        user = self.users.pop(sid, None)
        return user is not None and user not in self.users.values()

    def online(self) -> set[str]:
        return set(self.users.values())


class PerSocket(Tabs):
    def connect(self, sid: str, user: str) -> bool:
        self.users[sid] = user
        return True  # every tab "comes online": the naive mistake


def test_presence_passes_per_user_tracking_and_catches_per_socket() -> None:
    assert check_presence(Tabs).passed
    naive = check_presence(PerSocket)
    assert not naive.passed
    assert "✘ a second tab: nothing changes: expected False, got True" in repr(naive)


def test_typing_ticks_and_history_checks() -> None:
    def typists(notices: dict[str, float], now: float, ttl: float) -> list[str]:
        return sorted(user for user, at in notices.items() if now - at < ttl)

    assert check_typing(typists).passed
    assert not check_typing(lambda n, now, ttl: sorted(n)).passed

    def settle(waiting: dict[int, set[str]], user: str, up_to: int) -> list[int]:
        done = []
        for seq in [s for s in waiting if s <= up_to]:
            waiting[seq].discard(user)
            if not waiting[seq]:
                del waiting[seq]
                done.append(seq)
        return done

    assert check_ticks(settle).passed
    broken = check_ticks(lambda waiting, user, up_to: [s for s in waiting if s <= up_to])
    assert not broken.passed and repr(broken).startswith("✘ delivery ticks: ")

    def page(seqs: list[int], before: int | None, limit: int) -> tuple[list[int], bool]:
        older = [s for s in seqs if before is None or s < before]
        return older[-limit:], len(older) > limit

    assert check_history(page).passed
    crash = check_history(lambda seqs, before, limit: (seqs[-limit:], seqs[-limit - 1]))
    assert "raised IndexError" in repr(crash)


async def test_join_room_check_runs_the_handler_live() -> None:
    def naive(socket: Socket, data: Any) -> dict[str, Any]:
        socket.join("room:" + str(data["roomId"]))
        return {"ok": True}

    def careful(socket: Socket, data: Any) -> dict[str, Any]:
        try:
            room = check_room_id(data.get("roomId"))
        except ChatRuleError as exc:
            return {"error": exc.details()}
        socket.join("room:" + room)
        return {"ok": True}

    verdict = await check_join_room(naive)
    assert not verdict.passed and "'user:ann' is refused" in repr(verdict)
    assert (await check_join_room(careful)).passed


async def test_sign_in_check_opens_chat_with_the_token() -> None:
    tokens = ChatTokens()

    def sign_in(socket: Socket, data: Any) -> dict[str, Any]:
        try:
            name = check_display_name(data.get("name"))
        except ChatRuleError as exc:
            return {"error": exc.details()}
        return {"token": tokens.issue(user_id_for(name), name)}

    assert (await check_sign_in(sign_in, tokens)).passed
    other = ChatTokens()
    forged = await check_sign_in(lambda socket, data: {"token": other.issue("x", "X")}, tokens)
    assert not forged.passed and "/chat refused it" in repr(forged)


def test_unread_and_grace_checks_tell_right_from_wrong() -> None:
    def unread(messages: list[tuple[int, str]], last_read: int, me: str) -> int:
        return sum(1 for seq, who in messages if seq > last_read and who != me)

    assert check_unread(unread).passed
    assert not check_unread(lambda messages, last_read, me: len(messages) - last_read).passed

    class NoGrace:
        def __init__(self, grace: float) -> None:
            self.tabs = Tabs()

        def connect(self, sid: str, user: str, now: float) -> bool:
            return self.tabs.connect(sid, user)

        def disconnect(self, sid: str, now: float) -> None:
            self.tabs.disconnect(sid)

        def expire(self, now: float) -> set[str]:
            return set()

    verdict = check_grace(NoGrace)
    assert not verdict.passed
    assert "✘ t=4.5 she reconnects: no change: expected False, got True" in repr(verdict)
