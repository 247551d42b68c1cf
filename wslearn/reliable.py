"""Reliable emits: an offline queue that loses nothing, delivered once and in order.

The guide's message queue emits each message and forgets it. If the connection dies
right then, the message is gone. :class:`ReliableEmitter` keeps every message in an
:class:`~wslearn.outbox.Outbox` until the server acknowledges it::

    reliable = ReliableEmitter(client, Outbox(capacity=500))
    reliable.send("send-message", {"roomId": "r1", "message": "hi"})  # queued, returns
    print(len(reliable), "queued")                                    # for a status line
    await reliable.emit("send-message", {...})                        # waits for the ack
    await reliable.drain()                                            # everything acked

The wire convention (a python-socketio server can follow it in a few lines):

- Each reliable message is an ordinary EVENT that asks for an ack, with one more
  argument at the end: ``{"_id": "<prefix>-<seq>"}``. The prefix is the outbox's
  (random per outbox), the sequence number counts from 1::

      4217["send-message",{"roomId":"r1","message":"hi"},{"_id":"9f2c01ab-42"}]

- The server applies the message unless it already applied that id, and acks either
  way. Any ack counts; :class:`wslearn.exactly_once.ExactlyOnce` answers
  ``{"_id": "9f2c01ab-42", "duplicate": false}`` (``true`` for a repeat).

Order: one task sends, oldest first. After every (re)connection it starts again from
the oldest unacknowledged message, so a message lost with the old connection goes out
again before anything newer; the server recognises the ones it already applied.
Messages sent on one connection arrive in order (one TCP stream), so the server sees
each message after all older ones: it applies them in order, exactly once. (Plain
:meth:`Client.emit` calls are not part of that order: they may overtake reliable
messages still queued.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._client_base import RESERVED_EVENTS
from .client import Client
from .exceptions import AckTimeoutError, MessageDroppedError, NotConnectedError, UsageError
from .outbox import ChangeKind, Entry, Outbox, OutboxChange
from .packets import Packet, PacketType, encode

__all__ = ["ID_KEY", "ReliableEmitter", "ReliableStats", "id_marker"]

_log = logging.getLogger("wslearn.reliable")

ID_KEY = "_id"
"""The key of the trailing argument that carries a reliable message's id."""


def id_marker(entry_id: str) -> dict[str, str]:
    """The trailing argument of a reliable message: ``{"_id": entry_id}``."""
    return {ID_KEY: entry_id}


@dataclass(frozen=True)
class ReliableStats:
    """Counters of a :class:`ReliableEmitter`.

    Attributes:
        sent: messages written to a connection, repeats included.
        resent: writes of a message that had been written before (after a reconnect).
        acked: messages acknowledged (and so removed from the outbox).
        duplicates: acks in which the server said it had already applied the message.
        dropped: messages that left the outbox without an ack (overflow, too large).
        pending: messages waiting for their ack now.
    """

    sent: int
    resent: int
    acked: int
    duplicates: int
    dropped: int
    pending: int


class ReliableEmitter:
    """Send events through an outbox: queued while offline, resent until acked.

    Create it once per client (inside the running event loop) and keep it; it listens
    to the client's ``connect`` event to resend after every reconnection. Plain
    :meth:`Client.emit` keeps working beside it, without these guarantees.

    Args:
        client: the client to send with (connected or not yet).
        outbox: where messages wait for their ack; its capacity and overflow policy
            apply to :meth:`send`. By default ``Outbox()`` (1000 messages, refuse).
        namespace: the namespace to send on.
        on_ack: called as ``on_ack(entry_id, args)`` with the arguments of every ack,
            before the entry leaves the outbox (to read what the server answered,
            e.g. a refusal). Keep it quick; what it raises is logged.

    Raises:
        UsageError: the client does not connect to ``namespace``.
    """

    def __init__(
        self,
        client: Client,
        outbox: Outbox | None = None,
        *,
        namespace: str = "/",
        on_ack: Callable[[str, tuple[Any, ...]], object] | None = None,
    ):
        client.get_sid(namespace)  # raises UsageError for a namespace it does not know
        self.on_ack = on_ack
        self.client = client
        self.outbox = outbox if outbox is not None else Outbox()
        self.namespace = namespace
        self._queue: deque[str] = deque(e.id for e in self.outbox.pending())
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._dropped_ids: deque[str] = deque(maxlen=1000)  # for wait_acked() after a drop
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self._sent = self._resent = self._acked = self._duplicates = self._dropped = 0
        if not self.outbox:
            self._empty.set()
        self.outbox.on_change(self._on_change)
        client.on("connect", self._on_connect, namespace=namespace)
        self._sender = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    def __repr__(self) -> str:
        return f"<ReliableEmitter {self.namespace} pending={len(self)} {self.outbox!r}>"

    def __len__(self) -> int:
        """How many messages wait for their ack ("3 queued")."""
        return len(self.outbox)

    def stats(self) -> ReliableStats:
        """A snapshot of the counters."""
        return ReliableStats(
            self._sent, self._resent, self._acked, self._duplicates, self._dropped, len(self)
        )

    # -- sending -----------------------------------------------------------------------

    def send(self, event: str, *args: Any) -> Entry:
        """Queue a message; it is sent now if connected, else after reconnecting.

        Returns at once. The message stays in the outbox until the server acks it.

        Returns:
            The outbox entry (its ``id`` travels with the message).

        Raises:
            QueueFullError: the outbox is full and its policy is ``"refuse"``.
                (With ``"drop-oldest"`` the oldest message is dropped instead and
                the outbox's ``on_drop`` is told.)
            ValueError: the event name is reserved or the arguments are not JSON.
            UsageError: the emitter was closed.
        """
        if self._closed:
            raise UsageError("this ReliableEmitter was closed; create a new one")
        if not isinstance(event, str) or not event or event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} cannot be sent: use a non-empty, unreserved name")
        # Fail on unsendable data now, not in the background sender.
        encode(Packet(PacketType.EVENT, self.namespace, [event, *args, id_marker("x")], 0))
        return self.outbox.put(event, args, asyncio.get_running_loop().time())

    async def emit(self, event: str, *args: Any, timeout: float | None = None) -> Entry:  # noqa: ASYNC109 - an ack deadline
        """Queue a message and wait until the server acknowledged it.

        Args:
            timeout: seconds to wait for the ack, or None to wait as long as it takes
                (across reconnections).

        Returns:
            The acknowledged entry.

        Raises:
            AckTimeoutError: no ack in time; the message stays queued and will
                still be delivered.
            MessageDroppedError: the message was dropped before its ack.
            QueueFullError, ValueError: as for :meth:`send`.
        """
        entry = self.send(event, *args)
        await self.wait_acked(entry, timeout=timeout)
        return entry

    async def wait_acked(self, entry: Entry, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until ``entry`` is acknowledged (returns at once if it already is).

        Raises:
            AckTimeoutError: not acked within ``timeout`` seconds (it stays queued).
            MessageDroppedError: it was dropped from the outbox instead.
        """
        if entry.id not in self.outbox:
            if entry.id in self._dropped_ids:
                raise MessageDroppedError(entry.id, "dropped from the outbox")
            return
        future = self._waiters.get(entry.id)
        if future is None:
            future = self._waiters[entry.id] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(future)
        except TimeoutError:
            raise AckTimeoutError(entry.event, timeout or 0.0) from None

    async def drain(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until every queued message is acknowledged (the outbox is empty).

        Raises:
            TimeoutError: messages are still pending after ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            await self._empty.wait()

    async def close(self) -> None:
        """Stop sending; the queued messages stay in the outbox for a new emitter."""
        self._closed = True
        self.client.off("connect", self._on_connect, namespace=self.namespace)
        self.outbox.off_change(self._on_change)
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def __aenter__(self) -> ReliableEmitter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the sender --------------------------------------------------------------------

    def _on_connect(self) -> None:
        # A new connection: nothing sent on the old one counts. Start again from the
        # oldest unacknowledged message, before anything newer.
        self._queue = deque(e.id for e in self.outbox.pending())
        self._wake.set()

    def _on_change(self, change: OutboxChange) -> None:
        kind, entry = change.kind, change.entry
        if kind is ChangeKind.QUEUED:
            self._queue.append(entry.id)
            self._empty.clear()
            self._wake.set()
        elif kind in (ChangeKind.ACKED, ChangeKind.DROPPED):
            future = self._waiters.pop(entry.id, None)
            if kind is ChangeKind.ACKED:
                self._acked += 1
                if future is not None and not future.done():
                    future.set_result(None)
            else:
                self._dropped += 1
                self._dropped_ids.append(entry.id)
                if future is not None and not future.done():
                    future.set_exception(MessageDroppedError(entry.id, "dropped from the outbox"))
            if change.pending == 0:
                self._empty.set()

    def _on_ack(self, entry_id: str, *args: Any) -> None:
        if self.on_ack is not None and entry_id in self.outbox:
            try:
                self.on_ack(entry_id, args)
            except Exception:
                _log.exception("the on_ack callback raised for %s", entry_id)
        first = args[0] if args else None
        if isinstance(first, dict) and first.get("duplicate") is True:
            self._duplicates += 1
        self.outbox.ack(entry_id)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._send_queued()

    async def _send_queued(self) -> None:
        """Send queued messages in order until none is left or the link is down."""
        while self._queue:
            queue = self._queue
            entry = self.outbox.get(queue[0])
            if entry is None:  # acked or dropped meanwhile
                queue.popleft()
                continue
            try:
                ok = await self.client.emit_now(
                    entry.event,
                    *entry.args,
                    id_marker(entry.id),
                    namespace=self.namespace,
                    callback=lambda *a, _id=entry.id: self._on_ack(_id, *a),
                )
            except NotConnectedError:
                ok = False  # closed or never connected: wait for the next connect
            except (TypeError, ValueError) as exc:  # not JSON, over maxPayload: never sendable
                # (send() checks this, but an outbox can be filled by other hands; a
                # raise here would end the sender silently and strand the queue.)
                _log.error("dropping message %s: %s", entry.id, exc)
                self.outbox.discard(entry.id)
                continue
            if queue is not self._queue:
                continue  # reconnected while writing: start over from the new queue
            if not ok:
                return  # the link is down; the connect listener wakes us up
            queue.popleft()
            self._sent += 1
            if entry.attempts:
                self._resent += 1
            self.outbox.mark_sent(entry.id)
