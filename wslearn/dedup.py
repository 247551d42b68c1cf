"""Server-side memory of recent message ids: apply each message once.

A client's :class:`~wslearn.outbox.Outbox` resends every message whose ack it did not
get, so after a lost ack the server sees the same message twice. The server asks
:meth:`Deduplicator.check_and_remember` before applying a message: True means new
(apply it, then ack it), False means a repeat (just ack it again). At-least-once
delivery plus this check gives exactly-once effects.

To survive a restart, persist :meth:`Deduplicator.export_state` together with the
application state it protects (in the same write), and rebuild it with
:meth:`Deduplicator.restore`. Pure bookkeeping: no I/O, time passed in as ``now``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = ["Deduplicator"]


class Deduplicator:
    """Remembers recent message ids per client, so a resent message is applied once.

    Memory is bounded three ways: at most ``per_key`` ids per client, at most
    ``window`` ids in total (so at most ``window`` clients), and optionally ids older
    than ``ttl`` seconds are forgotten. When a bound is hit, the oldest id of the
    least recently active client goes first.

    Choose the bounds so that a client's unacknowledged messages always fit:
    ``per_key`` at least the client's outbox capacity. Use a client key that is
    stable across reconnects (a user id, or the outbox's id prefix), not the
    connection's sid, which changes at every reconnect.

    Args:
        window: the most ids remembered in total (>= 1).
        ttl: forget ids after this many seconds; None (default) keeps them until the
            count bounds push them out.
        per_key: the most ids remembered per client (>= 1, at most ``window``).

    Raises:
        ValueError: for bounds out of range.
    """

    def __init__(
        self, window: int = 10_000, ttl: float | None = None, *, per_key: int = 1000
    ) -> None:
        for name, value in (("window", window), ("per_key", per_key)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if ttl is not None and (
            isinstance(ttl, bool)
            or not isinstance(ttl, int | float)
            or not math.isfinite(ttl)
            or ttl <= 0
        ):
            raise ValueError(f"ttl must be None or a finite number of seconds > 0, got {ttl!r}")
        self.window = window
        self.ttl = ttl
        self.per_key = min(per_key, window)
        # client key -> (msg id -> last seen); both ordered oldest first.
        self._clients: OrderedDict[str, OrderedDict[str, float]] = OrderedDict()
        self._size = 0

    def __repr__(self) -> str:
        return (
            f"Deduplicator(window={self.window}, ttl={self.ttl!r}, per_key={self.per_key}, "
            f"remembered={self._size}, clients={len(self._clients)})"
        )

    def __len__(self) -> int:
        """How many ids are remembered in total."""
        return self._size

    @property
    def client_count(self) -> int:
        """How many clients have ids remembered."""
        return len(self._clients)

    def check_and_remember(self, client_key: str, msg_id: str, now: float) -> bool:
        """Decide whether a message is new, and remember its id either way.

        Returns:
            True the first time (apply the message, then ack it). False for a repeat
            still remembered (do not apply it again; just ack it).

        Raises:
            TypeError: when client_key or msg_id is not a str.
        """
        _check_ids(client_key, msg_id)
        self._expire(now)
        ids = self._clients.get(client_key)
        if ids is None:
            ids = self._clients[client_key] = OrderedDict()
        self._clients.move_to_end(client_key)
        while self.ttl is not None and ids:  # drop this client's expired ids first
            oldest_id, oldest_seen = next(iter(ids.items()))
            if now - oldest_seen < self.ttl:
                break
            del ids[oldest_id]
            self._size -= 1
        seen_at = ids.get(msg_id)
        fresh = seen_at is None
        if fresh:
            self._size += 1
        ids[msg_id] = now
        ids.move_to_end(msg_id)
        while len(ids) > self.per_key:
            ids.popitem(last=False)
            self._size -= 1
        while self._size > self.window:
            self._evict_one()
        return fresh

    def seen(self, client_key: str, msg_id: str, now: float) -> bool:
        """Whether ``msg_id`` is remembered for this client; changes nothing.

        Use it with :meth:`check_and_remember` when applying can fail: ask
        :meth:`seen` first, apply, and remember the id only once the message was
        applied, so a message whose handler raised is not mistaken for a repeat later.

        Raises:
            TypeError: when client_key or msg_id is not a str.
        """
        _check_ids(client_key, msg_id)
        ids = self._clients.get(client_key)
        seen_at = None if ids is None else ids.get(msg_id)
        if seen_at is None:
            return False
        return self.ttl is None or now - seen_at < self.ttl

    def forget(self, client_key: str) -> int:
        """Forget everything about a client. Returns how many ids were dropped."""
        ids = self._clients.pop(client_key, None)
        if ids is None:
            return 0
        self._size -= len(ids)
        return len(ids)

    def _evict_one(self) -> None:
        key, ids = next(iter(self._clients.items()))
        ids.popitem(last=False)
        self._size -= 1
        if not ids:
            del self._clients[key]

    def _expire(self, now: float) -> None:
        # The least recently active client comes first; once its newest id is
        # expired, all of its ids are. Stop at the first client still in use.
        if self.ttl is None:
            return
        while self._clients:
            key, ids = next(iter(self._clients.items()))
            newest = next(reversed(ids.values()))
            if now - newest < self.ttl:
                break
            del self._clients[key]
            self._size -= len(ids)

    def export_state(self, now: float) -> dict[str, Any]:
        """The whole memory as plain JSON-ready data, to persist with the app state.

        Times are stored as ages (``now - seen``), so a restored deduplicator works
        with a different clock, such as ``time.monotonic()`` after a restart.
        """
        return {
            "format": "wslearn.dedup/1",
            "window": self.window,
            "ttl": self.ttl,
            "per_key": self.per_key,
            "clients": [
                [key, [[msg_id, max(0.0, now - seen)] for msg_id, seen in ids.items()]]
                for key, ids in self._clients.items()
            ],
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any], now: float) -> Deduplicator:
        """Rebuild a deduplicator from :meth:`export_state` data.

        Args:
            state: the exported data (for example after a JSON round trip).
            now: the current time on the clock you will use from now on.

        Raises:
            ValueError: when the data is not an export of this format.
        """
        if not isinstance(state, Mapping) or state.get("format") != "wslearn.dedup/1":
            raise ValueError("not a Deduplicator export: expected format 'wslearn.dedup/1'")
        try:
            dedup = cls(state["window"], state["ttl"], per_key=state["per_key"])
            for key, ids in state["clients"]:
                for msg_id, age in ids:
                    if not isinstance(age, int | float) or age < 0:
                        raise ValueError(f"bad age {age!r} for id {msg_id!r}")
                    dedup._remember_restored(key, msg_id, now - age)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"corrupt Deduplicator export: {exc}") from None
        return dedup

    def _remember_restored(self, client_key: str, msg_id: str, seen_at: float) -> None:
        if not isinstance(client_key, str) or not isinstance(msg_id, str):
            raise TypeError("client keys and message ids must be str")
        ids = self._clients.setdefault(client_key, OrderedDict())
        if msg_id not in ids:
            self._size += 1
        ids[msg_id] = seen_at
        while len(ids) > self.per_key:
            ids.popitem(last=False)
            self._size -= 1
        while self._size > self.window:
            self._evict_one()


def _check_ids(client_key: object, msg_id: object) -> None:
    if not isinstance(client_key, str) or not isinstance(msg_id, str):
        raise TypeError(
            "client_key and msg_id must be str (convert ids read from the wire), got "
            f"{type(client_key).__name__} and {type(msg_id).__name__}"
        )
