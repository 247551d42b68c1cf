"""Checks for notebook 08: does the function you wrote do what the library does?

Each ``check_*`` runs your function against the cases the library's version passes
and returns a :class:`~wslearn.chatapp.lessons.Checked`, whose repr is one line per
case: ``✔`` when it held, ``✘`` and what went wrong when it did not.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from .chatapp.lessons import Checked
from .rooms import ALL, Everyone, RoomRegistry

__all__ = ["check_base64_size", "check_local_targets", "check_should_compress"]


def _expect(got: object, want: object) -> bool | str:
    if isinstance(got, set | frozenset) and isinstance(want, set | frozenset):
        got, want = sorted(got), sorted(want)  # shown in a stable order
    return True if got == want else f"expected {want!r}, got {got!r}"


def check_base64_size(base64_size: Callable[[int], int]) -> Checked:
    """Check ``base64_size(n) -> characters`` of base64 text for ``n`` raw bytes."""
    checked = Checked("base64 size")
    for n in (0, 1, 2, 3, 4, 100, 1024, 65536):
        want = len(base64.b64encode(bytes(n)))

        def case(n: int = n, want: int = want) -> bool | str:
            return _expect(base64_size(n), want)

        checked.case(f"{n} bytes -> {want} characters", case)
    return checked


def check_should_compress(should_compress: Callable[[str, int], bool]) -> Checked:
    """Check ``should_compress(message, threshold) -> bool`` as the threshold decides:
    compress when the message has at least ``threshold`` bytes in UTF-8."""
    checked = Checked("the compression threshold")
    cases = [
        ("a" * 1023, 1024, False, "1023 ASCII characters stay as they are"),
        ("a" * 1024, 1024, True, "1024 bytes are compressed"),
        ("é" * 600, 1024, True, "600 'é' are 1200 bytes: compressed"),
        ("🙂" * 200, 1024, False, "200 emoji are 800 bytes: not compressed"),
        ("🙂" * 256, 1024, True, "256 emoji are 1024 bytes: compressed"),
        ("", 0, True, "threshold 0 compresses everything"),
    ]
    for message, threshold, want, text in cases:

        def case(message: str = message, threshold: int = threshold, want: bool = want) -> object:
            return _expect(should_compress(message, threshold), want)

        checked.case(text, case)
    return checked


def check_local_targets(
    local_targets: Callable[
        [dict[str, set[str]], frozenset[str] | Everyone, frozenset[str], frozenset[str]],
        set[str],
    ],
) -> Checked:
    """Check ``local_targets(rooms_of, rooms, except_rooms, except_sids) -> sids``: the
    sockets of *this* process a broadcast from another process must reach.

    ``rooms_of`` maps each local socket id to the rooms it is in (its own id
    included, as Socket.IO puts every socket in a room named after it); ``rooms`` is
    the set of target rooms or ``ALL``.
    """
    checked = Checked("a broadcast's local targets")
    rooms_of = {
        "s1": {"s1", "lobby"},
        "s2": {"s2", "lobby", "muted"},
        "s3": {"s3", "python"},
    }
    registry = RoomRegistry()
    for sid, joined in rooms_of.items():
        registry.add("/", sid)
        for room in joined - {sid}:
            registry.join("/", sid, room)
    cases: list[tuple[str, frozenset[str] | Everyone, frozenset[str], frozenset[str]]] = [
        ("everyone", ALL, frozenset(), frozenset()),
        ("one room", frozenset({"lobby"}), frozenset(), frozenset()),
        ("two rooms, s2 once", frozenset({"lobby", "python"}), frozenset(), frozenset()),
        ("a room but the muted", frozenset({"lobby"}), frozenset({"muted"}), frozenset()),
        ("everyone but the sender", ALL, frozenset(), frozenset({"s1"})),
        ("a socket id as a room", frozenset({"s3"}), frozenset(), frozenset()),
        ("a room nobody here is in", frozenset({"rust"}), frozenset(), frozenset()),
    ]
    for text, rooms, except_rooms, except_sids in cases:
        want = registry.targets("/", rooms, except_rooms, except_sids)

        def case(
            rooms: frozenset[str] | Everyone = rooms,
            except_rooms: frozenset[str] = except_rooms,
            except_sids: frozenset[str] = except_sids,
            want: set[str] = want,
        ) -> bool | str:
            copy = {sid: set(in_rooms) for sid, in_rooms in rooms_of.items()}
            return _expect(set(local_targets(copy, rooms, except_rooms, except_sids)), want)

        checked.case(f"{text} -> {sorted(want)}", case)
    return checked
