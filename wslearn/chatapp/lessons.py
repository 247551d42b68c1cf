"""Checks for notebook 09: does the handler you wrote do what the app needs?

Each ``check_*`` function runs your code against the cases the library's version
passes and returns a :class:`Checked`, whose repr is one line per case: ``✔`` when it
held, ``✘`` and what went wrong when it did not. Nothing is printed; the notebook
shows the result::

    check_presence(MyPresence)     # ✔ 5 of 5 ... or ✘ and what to fix

Two checks start a small server of their own (127.0.0.1, a free port) for the
handler and stop it before returning.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..client import Client
from ..exceptions import AckTimeoutError, ConnectRefusedError, WslearnError
from ..server import Server
from .tokens import ChatTokens

__all__ = [
    "Checked",
    "check_grace",
    "check_history",
    "check_join_room",
    "check_presence",
    "check_sign_in",
    "check_ticks",
    "check_typing",
    "check_unread",
]


@dataclass
class Checked:
    """The outcome of a check: each case, held or not.

    Attributes:
        topic: what was checked.
        results: ``(passed, description)`` per case, in order.
    """

    topic: str
    results: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every case held."""
        return all(ok for ok, _ in self.results)

    def case(self, description: str, test: Callable[[], Any]) -> None:
        """Run one case; a False result or an exception is a failure, with why."""
        try:
            outcome = test()
        except Exception as exc:
            self.results.append((False, f"{description}: raised {type(exc).__name__}: {exc}"))
            return
        if outcome is True or outcome is None:
            self.results.append((True, description))
        else:
            self.results.append((False, f"{description}: {outcome}"))

    def __repr__(self) -> str:
        good = sum(ok for ok, _ in self.results)
        head = (
            f"✔ {self.topic}: all {good} checks passed"
            if self.passed
            else f"✘ {self.topic}: {good} of {len(self.results)} checks passed"
        )
        return "\n".join([head, *(f"  {'✔' if ok else '✘'} {text}" for ok, text in self.results)])


def _expect(got: Any, want: Any) -> bool | str:
    return True if got == want else f"expected {want!r}, got {got!r}"


# -- pure pieces ------------------------------------------------------------------------


def check_presence(factory: Callable[[], Any]) -> Checked:
    """Check a presence tracker: ``connect(sid, user) -> bool`` says "came online",
    ``disconnect(sid) -> bool`` says "went offline", ``online() -> set`` of users."""
    checked = Checked("presence")
    tracker = factory()
    checked.case(
        "a first tab: the user comes online", lambda: _expect(tracker.connect("t1", "ann"), True)
    )
    checked.case(
        "a second tab: nothing changes", lambda: _expect(tracker.connect("t2", "ann"), False)
    )
    checked.case("the user is shown once", lambda: _expect(set(tracker.online()), {"ann"}))
    checked.case("closing one tab: still online", lambda: _expect(tracker.disconnect("t1"), False))
    checked.case("closing the last tab: offline", lambda: _expect(tracker.disconnect("t2"), True))
    checked.case("nobody is online now", lambda: _expect(set(tracker.online()), set()))
    checked.case(
        "an unknown socket leaving changes nothing",
        lambda: _expect(tracker.disconnect("t9"), False),
    )
    return checked


def check_typing(typists: Callable[[dict[str, float], float, float], list[str]]) -> Checked:
    """Check ``typists(last_notice_by_user, now, ttl) -> sorted users still typing``."""
    checked = Checked("typing expiry")
    notices = {"bob": 10.0, "ann": 12.0}
    checked.case(
        "both typing at t=13", lambda: _expect(typists(notices, 13.0, 5.0), ["ann", "bob"])
    )
    checked.case(
        "Bob's notice expired at t=15 (10 + 5)",
        lambda: _expect(typists(notices, 15.0, 5.0), ["ann"]),
    )
    checked.case("nobody at t=30", lambda: _expect(typists(notices, 30.0, 5.0), []))
    checked.case("no notices, nobody", lambda: _expect(typists({}, 0.0, 5.0), []))
    return checked


def check_ticks(settle: Callable[[dict[int, set[str]], str, int], list[int]]) -> Checked:
    """Check ``settle(waiting, user, up_to) -> seqs delivered now`` (it updates
    ``waiting``: seq -> recipients who have not acknowledged yet)."""
    checked = Checked("delivery ticks")
    waiting = {1: {"bob", "cat"}, 2: {"bob", "cat"}, 3: {"bob"}}
    checked.case(
        "Bob acks up to 2: nothing is delivered yet",
        lambda: _expect(settle(waiting, "bob", 2), []),
    )
    checked.case(
        "Cat acks up to 2: 1 and 2 are delivered",
        lambda: _expect(sorted(settle(waiting, "cat", 2)), [1, 2]),
    )
    checked.case("delivered messages leave `waiting`", lambda: _expect(set(waiting), {3}))
    checked.case(
        "Bob acks up to 5: 3 is delivered", lambda: _expect(settle(waiting, "bob", 5), [3])
    )
    checked.case("a repeated ack changes nothing", lambda: _expect(settle(waiting, "bob", 5), []))
    return checked


def check_history(page: Callable[[list[int], int | None, int], tuple[list[int], bool]]) -> Checked:
    """Check ``page(seqs, before, limit) -> (newest `limit` seqs before `before`,
    has_more)``, ``seqs`` sorted oldest first, ``before=None`` for the newest."""
    checked = Checked("history pages")
    seqs = list(range(16, 26))
    checked.case("the newest 4", lambda: _expect(page(seqs, None, 4), ([22, 23, 24, 25], True)))
    checked.case("4 before 22", lambda: _expect(page(seqs, 22, 4), ([18, 19, 20, 21], True)))
    checked.case(
        "the last page says no more", lambda: _expect(page(seqs, 18, 4), ([16, 17], False))
    )
    checked.case("an empty history", lambda: _expect(page([], None, 4), ([], False)))
    return checked


# -- handlers on a live server --------------------------------------------------------------


class _Failures(logging.Handler):
    """Collects the server's "handler raised" records while a check runs, so that a
    failing handler is reported in the result instead of as a traceback on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.errors.append(f"{type(exc).__name__}: {exc}" if exc else record.getMessage())


@contextlib.contextmanager
def _quiet_server() -> Iterator[_Failures]:
    server_log = logging.getLogger("wslearn.server")
    failures = _Failures()
    server_log.addHandler(failures)
    propagate, server_log.propagate = server_log.propagate, False
    try:
        yield failures
    finally:
        server_log.propagate = propagate
        server_log.removeHandler(failures)


async def _ask(client: Client, event: str, payload: Any, failures: _Failures) -> Any:
    """The handler's ack, or a sentence saying why there was none."""
    seen = len(failures.errors)
    try:
        reply = await client.call(event, payload, timeout=2.0)
    except AckTimeoutError:
        raised = failures.errors[seen:]
        return f"no ack: the handler raised {raised[0]}" if raised else "no ack within 2 s"
    return reply[0] if reply else None


async def check_join_room(handler: Callable[..., Any]) -> Checked:
    """Run your ``join-room`` handler ``(socket, data) -> ack`` on a server of its own
    and try good and bad room ids; a refusal is an ack ``{"error": {...}}``."""
    checked = Checked("join-room")
    server = Server(close_timeout=0.2)
    server.on("join-room", handler)
    await server.start()
    client = Client(server.url, reconnection=None)
    probes: dict[str, Any] = {"lobby": "lobby", "''": "", "5": 5, "'user:ann'": "user:ann"}
    probes["40 characters"] = "x" * 40
    answers: dict[str, Any] = {}
    with _quiet_server() as failures:
        try:
            await client.connect()
            for label, room in probes.items():
                answers[label] = await _ask(client, "join-room", {"roomId": room}, failures)
            rooms = server.registry.rooms_of("/", client.sid or "")
        finally:
            await client.disconnect()
            await server.stop()

    def refused(label: str) -> bool | str:
        answer = answers[label]
        if isinstance(answer, dict) and "error" in answer:
            return True
        if isinstance(answer, str):
            return answer
        return f"accepted (ack {answer!r}): answer with {{'error': {{'message': ...}}}}"

    checked.case(
        "'lobby' is joined (its Socket.IO room is room:lobby)",
        lambda: True if "room:lobby" in rooms else f"the socket is in {sorted(rooms)}",
    )
    checked.case("'' is refused", lambda: refused("''"))
    checked.case("5 (not a string) is refused", lambda: refused("5"))
    checked.case(
        "'user:ann' is refused (it looks like a private room)", lambda: refused("'user:ann'")
    )
    checked.case("40 characters is refused", lambda: refused("40 characters"))
    return checked


async def check_sign_in(handler: Callable[..., Any], tokens: ChatTokens) -> Checked:
    """Run your ``sign-in`` handler ``(socket, data) -> {"token": ...}`` on ``/`` and
    check that its token opens ``/chat`` (guarded by ``tokens.middleware()``)."""
    checked = Checked("sign-in")
    if not callable(handler):
        checked.case("the handler is callable", lambda: False)
        return checked
    server = Server(close_timeout=0.2)
    server.on("sign-in", handler)
    server.of("/chat").use(tokens.middleware())
    await server.start()
    door = Client(server.url, reconnection=None)
    try:
        await door.connect()
        [good] = await door.call("sign-in", {"name": "Ann"})
        [blank] = await door.call("sign-in", {"name": "   "})
    finally:
        await door.disconnect()

    async def opens(token: Any) -> str | None:
        client = Client(
            server.url, namespaces=("/chat",), auth={"token": token}, reconnection=None
        )
        try:
            await client.connect()
        except ConnectRefusedError as exc:
            return f"/chat refused it: {exc.message}"
        except WslearnError as exc:
            return f"could not connect: {exc}"
        finally:
            await client.disconnect()
        return None

    token = good.get("token") if isinstance(good, dict) else None
    problem = await opens(token)
    await server.stop()
    checked.case("'Ann' gets a token", lambda: True if isinstance(token, str) else f"got {good!r}")
    checked.case("the token opens /chat", lambda: problem or True)
    checked.case(
        "a blank name is refused with an error",
        lambda: (
            True
            if isinstance(blank, dict) and "error" in blank
            else f"got {blank!r}: answer {{'error': {{'message': ...}}}}"
        ),
    )
    return checked


def check_unread(unread: Callable[[list[tuple[int, str]], int, str], int]) -> Checked:
    """Check ``unread(messages, last_read, me) -> count``: messages after ``last_read``
    sent by someone else (``messages`` are ``(seq, sender)`` pairs)."""
    checked = Checked("unread counts")
    messages = [(1, "ann"), (2, "bob"), (3, "ann"), (4, "bob"), (5, "bob")]
    checked.case("Ann read up to 2: Bob's 4 and 5", lambda: _expect(unread(messages, 2, "ann"), 2))
    checked.case("her own messages never count", lambda: _expect(unread(messages, 0, "ann"), 3))
    checked.case("all read", lambda: _expect(unread(messages, 5, "bob"), 0))
    checked.case("nothing yet", lambda: _expect(unread([], 0, "ann"), 0))
    return checked


def check_grace(factory: Callable[[float], Any]) -> Checked:
    """Check a tracker with a grace: ``connect(sid, user, now) -> came online``,
    ``disconnect(sid, now)``, ``expire(now) -> users offline now``."""
    checked = Checked("presence with a grace")
    tabs = factory(2.0)
    checked.case(
        "t=0 Ann's first tab: online", lambda: _expect(tabs.connect("a1", "ann", 0.0), True)
    )
    checked.case(
        "t=1 her second tab: no change", lambda: _expect(tabs.connect("a2", "ann", 1.0), False)
    )
    tabs.disconnect("a1", 2.0)
    tabs.disconnect("a2", 3.0)
    checked.case("t=4 within the grace: still online", lambda: _expect(tabs.expire(4.0), set()))
    checked.case(
        "t=4.5 she reconnects: no change", lambda: _expect(tabs.connect("a3", "ann", 4.5), False)
    )
    checked.case("t=10 she stayed: nobody goes offline", lambda: _expect(tabs.expire(10.0), set()))
    tabs.disconnect("a3", 11.0)
    checked.case("t=13 the grace ran out: offline", lambda: _expect(tabs.expire(13.0), {"ann"}))
    checked.case("t=14 and only once", lambda: _expect(tabs.expire(14.0), set()))
    checked.case("t=15 back: online again", lambda: _expect(tabs.connect("a4", "ann", 15.0), True))
    return checked
