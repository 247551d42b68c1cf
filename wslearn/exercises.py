"""Checks for the notebooks' exercises: does your answer work, and if not, what is wrong.

Every "Try it" cell ends with one of these::

    from wslearn.exercises import check

    answer = ...                                   # your code here
    check.accept_key("x3JJHMbDL1EzLkh9GBhXDw==", answer)

A check returns a :class:`Verdict` (``Correct: ...`` or ``Not yet: ...``, true or false
as a bool) and never raises, so "Run All" goes on past an exercise you have not done
yet. Checks that need the network (``await check.echo_handler(...)``) start their own
servers on 127.0.0.1 and stop them before they return; they run your code against
them, the way a test would. The solutions notebooks (``notebooks/solutions/``) end
every exercise with its check, and CI runs them, so a check and its solution always
agree.
"""

from __future__ import annotations

import math
from typing import Any

from . import _exercise_runs as runs
from ._exercise_runs import Verdict, missing, no, run_learner_code, yes

__all__ = ["Checks", "Verdict", "check"]


class Checks:
    """The checks, one method per exercise, named after what the exercise builds."""

    # -- 00 start here -------------------------------------------------------------------

    def started(self, name: str) -> Verdict:
        """00: something runs in this kernel's registry under ``name``."""
        from . import kernel

        exercise = "00 · start something under a name"
        if (unanswered := missing(exercise, name)) is not None:
            return unanswered
        entry = next((e for e in kernel.running() if e.name == name), None)
        if entry is None:
            names = ", ".join(repr(e.name) for e in kernel.running()) or "nothing"
            return no(exercise, f"nothing named {name!r} is running (running: {names})")
        return yes(exercise, f"{name!r} ({entry.kind}) runs in this kernel")

    # -- 01 what are WebSockets ----------------------------------------------------------

    def keep_alive(self, result: Any, saves: Any) -> Verdict:
        """01 exercise 1: ``result`` of ``compare(..., keep_alive=True)`` and what
        keep-alive saves: ``"connections"`` or ``"headers"``."""
        exercise = "01.1 · keep-alive"
        if (unanswered := missing(exercise, result, saves)) is not None:
            return unanswered
        rows = [row for row in getattr(result, "polling", ()) if "keep-alive" in row.mode]
        if not rows:
            return no(exercise, "no keep-alive rows: call compare(..., keep_alive=True)")
        if saves == "headers":
            return no(exercise, "look at bytes/update: every poll still sends full headers")
        if saves != "connections":
            return no(exercise, 'answer "connections" or "headers"')
        if not all(row.connections == 1 for row in rows):
            return no(exercise, "each keep-alive poller should have used one connection")
        return yes(exercise, "one TCP connection per poller, but full headers on every poll")

    def push_latency(self, waited: Any, latency: float = 0.1) -> Verdict:
        """01 exercise 2: seconds between ``feed.publish`` and ``ws.recv()`` returning,
        with ``latency`` seconds added to the link."""
        exercise = "01.2 · push is as fast as the network"
        if (unanswered := missing(exercise, waited)) is not None:
            return unanswered
        if not isinstance(waited, int | float) or math.isnan(waited):
            return no(exercise, f"waited should be a number of seconds, got {waited!r}")
        if waited < latency:
            return no(exercise, "shorter than the link's latency: did you set it first?")
        if waited > latency + 1.0:
            return no(exercise, "much longer than the latency: measure from the publish")
        return yes(exercise, f"the update took at least the link's {latency * 1000:g} ms")

    # -- 02 the protocol -----------------------------------------------------------------

    def accept_key(self, key: str, answer: Any) -> Verdict:
        """02 exercise 1: the ``Sec-WebSocket-Accept`` value for ``key``."""
        from .handshake import accept_key

        exercise = "02.1 · the accept key"
        if (unanswered := missing(exercise, answer)) is not None:
            return unanswered
        if isinstance(answer, bytes):
            return no(exercise, "the header holds text: base64-encode, then .decode()")
        if answer != accept_key(key):
            return no(exercise, "not it: SHA-1 of the key followed by the GUID, then base64")
        return yes(exercise, f"{key} -> {answer}")

    def frame_reading(self, kind: Any, sender: Any) -> Verdict:
        """02 exercise 2: what ``8a 05 48 65 6c 6c 6f`` is, and who may send it."""
        exercise = "02.2 · read a frame by hand"
        if (unanswered := missing(exercise, kind, sender)) is not None:
            return unanswered
        if str(kind).lower() != "pong":
            return no(exercise, "the low 4 bits of 0x8a are the opcode: 0xA is which one?")
        if str(sender).lower() != "server":
            return no(exercise, "the MASK bit (top bit of 0x05) is 0: who never masks?")
        return yes(exercise, "an unmasked pong: only a server sends unmasked frames")

    async def fragments(self, make_fragments: Any) -> Verdict:
        """02 exercise 3: ``make_fragments(text)`` returns the masked frames of one text
        message split in two; the check sends them to an echo server."""
        exercise = "02.3 · one message, two frames"
        if (unanswered := missing(exercise, make_fragments)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.fragments(exercise, make_fragments))

    # -- 03 the native API ---------------------------------------------------------------

    def counting_client(self, replies: Any, close_event: Any) -> Verdict:
        """03 exercise 1: the replies recorded, and the close event."""
        exercise = "03.1 · a client that stops after three"
        if (unanswered := missing(exercise, replies, close_event)) is not None:
            return unanswered
        if len(replies) != 3:
            return no(exercise, f"{len(replies)} replies recorded: close after the third")
        code, reason = getattr(close_event, "code", None), getattr(close_event, "reason", None)
        if (code, reason) != (4000, "enough"):
            return no(exercise, f'closed with {code} {reason!r}: use close(4000, "enough")')
        return yes(exercise, "three replies, then a clean close with 4000 'enough'")

    def bytes_echo(self, data: Any) -> Verdict:
        """03 exercise 2: the reply to ``b"\\x00\\xff"``."""
        exercise = "03.2 · bytes in, bytes out"
        if (unanswered := missing(exercise, data)) is not None:
            return unanswered
        if isinstance(data, str):
            return no(exercise, "a str came back: send bytes, not text")
        if data != b"\x00\xff":
            return no(exercise, f"got {data!r}, expected b'\\x00\\xff'")
        return yes(exercise, "binary frames come back unchanged")

    async def echo_handler(self, handler: Any, prefix: str = "Bot: ") -> Verdict:
        """03 exercise 3: ``handler(websocket)`` answers text with ``prefix + text`` and
        sends bytes back unchanged; the check serves it with websockets."""
        exercise = "03.3 · your own echo handler"
        if (unanswered := missing(exercise, handler)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.echo_handler(exercise, handler, prefix))

    # -- 04 Socket.IO --------------------------------------------------------------------

    async def typing_handler(self, add_typing: Any) -> Verdict:
        """04 exercise 1: ``add_typing(server)`` registers a ``typing`` handler that tells
        the others in the room ``user-typing`` with the typist's name."""
        exercise = "04.1 · a typing indicator"
        if (unanswered := missing(exercise, add_typing)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.typing(exercise, add_typing))

    async def others_handler(self, add_others: Any) -> Verdict:
        """04 exercise 2: ``add_others(server)`` registers ``send-message-others``, which
        sends ``receive-message`` to the room, except the sender."""
        exercise = "04.2 · not back to me"
        if (unanswered := missing(exercise, add_others)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.others(exercise, add_others))

    async def join_that_answers(self, add_join: Any) -> Verdict:
        """04 exercise 3: ``add_join(server)`` registers a ``join-room`` that joins and
        answers with the sorted names of everyone in the room."""
        exercise = "04.3 · a join that answers"
        if (unanswered := missing(exercise, add_join)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.join_answers(exercise, add_join))

    # -- 04b long-polling --------------------------------------------------------------

    def polling_payload(self, split_payload: Any) -> Verdict:
        """04b exercise 1: ``split_payload(body)`` turns a polling body into frames: a
        ``str`` per text packet, ``bytes`` for a ``b`` + base64 one, in order."""
        from .payloads import decode_payload

        exercise = "04b.1 · read a polling body"
        if (unanswered := missing(exercise, split_payload)) is not None:
            return unanswered
        bodies = [
            "40",
            '42["send-message","hi"]\x1e42["send-message","there"]',
            "4hello\x1e2\x1ebAQIDBA==",
            '451-["file",{"_placeholder":true,"num":0}]\x1ebAP8=',
        ]
        for body in bodies:
            try:
                answer = split_payload(body)
            except Exception as exc:
                return no(exercise, f"split_payload({body!r}) raised {type(exc).__name__}: {exc}")
            expected = decode_payload(body)
            if list(answer) != expected:
                hint = "binary packets: b + base64 becomes bytes" if "\x1eb" in body else ""
                return no(exercise, f"{body!r} gave {answer!r}, expected {expected!r}. {hint}")
        return yes(exercise, "split on \\x1e; b + base64 becomes bytes")

    async def stays_on_polling(self, client: Any) -> Verdict:
        """04b exercise 2: a connected client that never upgrades (it stays on
        long-polling even though the server offers WebSocket)."""
        import asyncio

        exercise = "04b.2 · stay on long-polling"
        if (unanswered := missing(exercise, client)) is not None:
            return unanswered
        if not getattr(client, "connected", False):
            return no(exercise, "connect the client first (await client.connect())")
        await asyncio.sleep(0.3)  # an upgrade would be over by now on loopback
        transport = getattr(client, "transport", None)
        if transport != "polling":
            return no(exercise, f"the client is on {transport!r}: leave websocket out")
        return yes(exercise, "connected over HTTP long-polling, and still there")

    # -- 05 widgets ------------------------------------------------------------------------

    def third_pane(self, carol: Any, alice: Any) -> Verdict:
        """05 exercise 1: Carol's pane, moved to Alice's room, is listed by Alice's."""
        exercise = "05.1 · a third pane"
        if (unanswered := missing(exercise, carol)) is not None:
            return unanswered
        if getattr(carol, "room", None) != alice.room:
            return no(exercise, f"Carol is in {getattr(carol, 'room', '?')!r}: move her")
        if "Carol" not in alice.users:
            return no(exercise, "Alice's pane does not list Carol yet: was she named Carol?")
        return yes(exercise, f"Alice's pane lists {', '.join(alice.users)}")

    async def status_label(self, make_label: Any) -> Verdict:
        """05 exercise 2: ``make_label(sock)`` returns a Label reading ``online`` or
        ``offline``, following ``sock.connected``."""
        exercise = "05.2 · your own status line"
        if (unanswered := missing(exercise, make_label)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.status_label(exercise, make_label))

    # -- 06 heartbeats, reconnection, offline queue ---------------------------------------

    async def pong_answer(self, answer_pings: Any) -> Verdict:
        """06 (heartbeats): ``answer_pings(client)`` makes a client answer the guide's
        ``ping`` events with ``pong``, so the guide's server keeps it."""
        exercise = "06 · answer the guide's pings"
        if (unanswered := missing(exercise, answer_pings)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.pong(exercise, answer_pings))

    def detection_times(self, measured: Any, margin: float = 1.0) -> Verdict:
        """06 exercise 2: ``{(interval, timeout): {"server": s, "client": s}}`` for at
        least two settings, each side within ``interval + timeout`` (plus ``margin``)."""
        exercise = "06.2 · how fast is half-open detection"
        if (unanswered := missing(exercise, measured)) is not None:
            return unanswered
        if not isinstance(measured, dict) or len(measured) < 2:
            return no(exercise, "measure at least two (ping_interval, ping_timeout) settings")
        for setting, times in measured.items():
            interval, timeout = setting
            for side in ("server", "client"):
                seconds = times.get(side) if isinstance(times, dict) else None
                if not isinstance(seconds, int | float):
                    return no(exercise, f"no {side!r} time for {setting}")
                if not 0 < seconds <= interval + timeout + margin:
                    bound = interval + timeout
                    return no(
                        exercise, f"{side} took {seconds:.2f} s for {setting}: over {bound:g} s?"
                    )
        return yes(exercise, "every side noticed within pingInterval + pingTimeout")

    def guide_backoff(self, policy: Any) -> Verdict:
        """06b exercise 1: a :class:`~wslearn.backoff.Backoff` with the guide's options
        (``reconnectionDelay: 1000``, ``reconnectionDelayMax: 5000``,
        ``reconnectionAttempts: 5``) and the reference client's jitter."""
        from .backoff import Backoff

        exercise = "06b.1 · the guide's options"
        if (unanswered := missing(exercise, policy)) is not None:
            return unanswered
        if not isinstance(policy, Backoff):
            return no(exercise, f"expected a Backoff, got {type(policy).__name__}")
        if policy.initial == 1000 or policy.maximum == 5000:
            return no(exercise, "the guide counts milliseconds; Backoff counts seconds")
        wanted = {"initial": 1.0, "maximum": 5.0, "attempts": 5, "jitter": 0.5, "factor": 2.0}
        for field, value in wanted.items():
            if getattr(policy, field) != value:
                return no(exercise, f"{field} is {getattr(policy, field)!r}, expected {value!r}")
        return yes(exercise, "1 s doubling to 5 s, +/-50 %, five attempts, then reconnect_failed")

    def gave_up(self, client: Any, attempts: Any) -> Verdict:
        """06b: a client told to give up after 3 attempts did, and ``attempts`` lists
        the attempt numbers its ``reconnect_attempt`` listener saw."""
        from .client import ClientState

        exercise = "06b · give up after three"
        if (unanswered := missing(exercise, client, attempts)) is not None:
            return unanswered
        if list(attempts) != [1, 2, 3]:
            return no(exercise, f"attempts seen: {list(attempts)}; expected [1, 2, 3]")
        if client.state is not ClientState.DISCONNECTED:
            return no(exercise, f"the client is {client.state.value}: wait for reconnect_failed")
        return yes(exercise, "three attempts, reconnect_failed, and the client stays down")

    async def deposit_handler(self, handler: Any, balance: Any) -> Verdict:
        """06c: ``handler`` (an ``ExactlyOnce``-wrapped ``deposit``) adds to
        ``balance["total"]`` once per message id, however often it is resent."""
        exercise = "06c · an idempotent deposit"
        if (unanswered := missing(exercise, handler, balance)) is not None:
            return unanswered
        return await run_learner_code(exercise, runs.deposit(exercise, handler, balance))


check = Checks()
"""The notebooks' checks: ``check.accept_key(...)``, ``await check.echo_handler(...)``..."""
