"""The HTTP long-polling transport of the server (Engine.IO v4).

A polling session receives with ``GET`` and sends with ``POST``, on the same path as
WebSocket (``/socket.io/?EIO=4&transport=polling&sid=...``):

- a ``GET`` is answered at once with every queued packet (a payload, see
  :mod:`wslearn.payloads`), or held until there is one: an event, or the next ping,
  which comes every ``ping_interval``. Packets sent in one go of the event loop leave
  in one response.
- a ``POST`` carries packets to the session; it is answered ``ok`` once they were
  handled.

What the protocol says about misbehaving clients, as the reference server does it:
a second ``GET`` while one is held, or a second ``POST`` while one is in progress, is
answered 400 and the session ends (the held ``GET`` gets a close packet); a client
that drops its held ``GET`` ends its session at once. When the client closes the
session (``1``), the held ``GET`` gets a noop; when the server closes it, a close
packet. Unread packets are bounded in bytes like the WebSocket write buffer:
``max_buffered_bytes``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ._engine import CLOSE_NORMAL, CLOSE_POLICY, EngineSession
from ._outgoing import Outgoing
from .exceptions import PacketError
from .namespace import DisconnectReason
from .payloads import decode_payload, encode_payload, payload_size

__all__ = ["PollingTransport", "Responder"]

logger = logging.getLogger("wslearn.server")


class Responder(Protocol):
    """The HTTP connection a request arrived on, as the transport answers it."""

    def respond_payload(self, payload: str) -> None:
        """Answer the held GET (200, text/plain) with a polling payload."""
        ...

    def respond_ok(self) -> None:
        """Answer a POST with 200 ``ok``."""
        ...

    def respond_error(self, status: int, code: int, message: str) -> None:
        """Answer with an Engine.IO error body, e.g. 400 ``Session ID unknown``."""
        ...


class PollingTransport:
    """The polling side of one session: its queue, its held GET, its POSTs.

    Args:
        loop: the running loop (packets sent together leave in one response).
        limit: the most unread bytes kept before the session is closed (1008).
    """

    name = "polling"

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.session: EngineSession | None = None
        self._loop = loop
        self._limit = limit
        self._queue: list[Outgoing] = []
        self._queued = 0
        self._waiter: Responder | None = None
        self._posting: Responder | None = None
        self._deferred_ok: Responder | None = None  # a POST answered once reading resumes
        self._flush_scheduled = False
        self._closed = False
        self._paused = False
        self._upgrading = False
        self._overflowed = False

    def __repr__(self) -> str:
        return f"<PollingTransport queued={len(self._queue)} held={self._waiter is not None}>"

    # -- the session's side -------------------------------------------------------------

    def send(self, outgoing: Outgoing) -> None:
        """Queue one packet; a held GET is answered on the next turn of the loop."""
        if self._closed or self._overflowed:
            return
        self._queue.append(outgoing)
        self._queued += sum(payload_size(frame) + 1 for frame in outgoing.frames)
        if self._queued > self._limit:
            self._overflow()
            return
        if self._waiter is not None and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _overflow(self) -> None:
        # A broadcast may be iterating over the room right now: drop what is queued
        # and send nothing more at once, but end the session on the next turn.
        self._overflowed = True
        self._queue.clear()
        self._queued = 0
        session = self.session
        if session is not None:
            logger.warning(
                "session %s: more than %d bytes unread on polling, closing it",
                session.sid,
                self._limit,
            )
            self._loop.call_soon(
                session.fail, CLOSE_POLICY, "too much unread", DisconnectReason.SLOW_CLIENT
            )

    def _flush(self) -> None:
        self._flush_scheduled = False
        waiter = self._waiter
        if waiter is None or not self._queue:
            return
        self._waiter = None
        frames = [frame for outgoing in self._queue for frame in outgoing.frames]
        self._queue.clear()
        self._queued = 0
        waiter.respond_payload(encode_payload(frames))

    def close(self, code: int, reason: str) -> None:
        """End the transport: a held GET gets a noop when the client asked to close
        (code 1000 with no reason), else a close packet."""
        if self._closed:
            return
        self._closed = True
        last = "6" if code == CLOSE_NORMAL and not reason else "1"
        frames = [frame for outgoing in self._queue for frame in outgoing.frames]
        self._queue.clear()
        self._queued = 0
        waiter, self._waiter = self._waiter, None
        if waiter is not None:  # what was still queued (a DISCONNECT, say), then the end
            waiter.respond_payload(encode_payload([*frames, last]))
        deferred, self._deferred_ok = self._deferred_ok, None
        if deferred is not None:
            deferred.respond_ok()

    def release_with_noop(self) -> None:
        """The client probes a WebSocket: end its held GET (if any) with a noop, and
        answer every GET at once until the upgrade ends (the client is pausing)."""
        self._upgrading = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.respond_payload("6")

    def upgrade_abandoned(self) -> None:
        """The upgrade failed: GETs are held again."""
        self._upgrading = False
        self._overflowed = False

    def hand_over(self) -> list[Outgoing]:
        """The session moved to WebSocket: give it what is still queued, in order."""
        self._closed = True
        queued, self._queue = self._queue, []
        self._queued = 0
        self.release_with_noop()
        return queued

    @property
    def buffered_bytes(self) -> int:
        """Bytes queued for the next poll."""
        return self._queued

    async def drained(self) -> None:
        """Wait until the client polled everything queued (polled: closing is rare)."""
        while self._queue and not self._closed:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def pause_reading(self) -> None:
        """Answer the next POST only once :meth:`resume_reading` is called."""
        self._paused = True

    def resume_reading(self) -> None:
        """Answer the POST that waited, if any."""
        self._paused = False
        deferred, self._deferred_ok = self._deferred_ok, None
        if deferred is not None:
            deferred.respond_ok()

    # -- the HTTP side --------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """False once the session ended or moved to WebSocket."""
        return not self._closed

    def get(self, responder: Responder) -> None:
        """A GET: answer with the queue, or hold it until there is something."""
        session = self.session
        assert session is not None
        if self._waiter is not None:
            responder.respond_error(400, 3, "Bad request: a GET is already pending")
            session.fail(CLOSE_POLICY, "overlapping GET", DisconnectReason.TRANSPORT_ERROR)
            return
        if self._upgrading and not self._queue:
            responder.respond_payload("6")  # do not hold a client that is pausing
            return
        self._waiter = responder
        if self._queue and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def begin_post(self, responder: Responder) -> bool:
        """A POST head arrived; False (and the session ends) if another is in progress."""
        session = self.session
        assert session is not None
        if self._posting is not None:
            responder.respond_error(400, 3, "Bad request: a POST is already in progress")
            session.fail(CLOSE_POLICY, "overlapping POST", DisconnectReason.TRANSPORT_ERROR)
            return False
        self._posting = responder
        return True

    def post(self, responder: Responder, body: bytes) -> None:
        """A POST's body arrived: hand its packets to the session, then answer ``ok``."""
        session = self.session
        assert session is not None
        self._posting = None
        try:
            frames = decode_payload(body.decode())
        except (UnicodeDecodeError, PacketError) as exc:
            why = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
            responder.respond_error(400, 3, f"Bad request: {why}")
            session.fail(CLOSE_POLICY, "malformed payload", DisconnectReason.PARSE_ERROR)
            return
        for frame in frames:
            if session.closed:
                break
            session.receive(frame)
        if session.closed and session.reason is DisconnectReason.PARSE_ERROR:
            responder.respond_error(400, 3, "Bad request: malformed packet")
        elif self._paused and not session.closed:
            self._deferred_ok = responder
        else:
            responder.respond_ok()

    def request_lost(self, responder: Responder) -> None:
        """The TCP connection of a request went away before its answer."""
        if responder is self._waiter:
            self._waiter = None
            if self.session is not None and not self._closed:
                self.session.transport_lost(self, DisconnectReason.TRANSPORT_CLOSE)
        elif responder is self._deferred_ok:
            self._deferred_ok = None
        if responder is self._posting:
            self._posting = None
