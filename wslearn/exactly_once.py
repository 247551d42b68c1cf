"""Server side of reliable delivery: apply each message once, even across a crash.

A client's :class:`~wslearn.reliable.ReliableEmitter` resends whatever was not
acknowledged, so the server sometimes sees a message twice. :class:`ExactlyOnce`
turns an ordinary handler into one that applies each message id once and acks
repeats without applying them::

    once = ExactlyOnce()

    @server.on("send-message")
    @once
    async def send_message(socket, data):
        await server.to(data["roomId"]).emit("receive-message", data)

Surviving a crash needs one more idea: the memory of applied ids must be saved **in
the same write** as the effect of the message. :class:`AppliedLog` is that write for
an application whose state is an append-only log (a chat history): one JSON line per
applied message, id included. On start the server rebuilds its
:class:`~wslearn.dedup.Deduplicator` from the log's tail::

    log = AppliedLog("history.jsonl")
    once = ExactlyOnce(log.deduplicator())

    @server.on("send-message")
    @once
    def send_message(socket, data, *, msg_id):
        log.append(msg_id, "send-message", [data])   # the effect and the id, one write

A python-socketio server follows the same convention in a few lines::

    applied = set()      # persist it with the state for crash safety

    @sio.on("send-message")
    async def send_message(sid, data, meta):
        if meta["_id"] not in applied:
            apply(data)
            applied.add(meta["_id"])
        return {"_id": meta["_id"]}
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .dedup import Deduplicator
from .namespace import Socket
from .reliable import ID_KEY

if TYPE_CHECKING:
    from .server import Server

__all__ = ["AppliedLog", "ExactlyOnce", "add_ledger_handlers", "client_key"]

logger = logging.getLogger("wslearn.server")

H = TypeVar("H", bound=Callable[..., Any])


def client_key(socket: Socket, msg_id: str) -> str:
    """The default client key: the id's prefix (the client's outbox), stable across
    reconnects. With authentication, key by user instead (a client chooses its prefix)."""
    prefix, dash, _ = msg_id.rpartition("-")
    return prefix if dash else msg_id


class ExactlyOnce:
    """Make handlers idempotent: each message id is applied once, then only acked.

    Messages of one client key are applied one at a time, in arrival order, even when
    the handler is async and awaits: a newer message never overtakes an older one.
    The id is remembered only once the handler returned, so a handler that raised
    is applied again when the message comes back. It comes back only after the next
    reconnection, and newer messages are applied meanwhile: a handler that raises
    breaks the order for that message. Refuse bad input by returning (answer with
    ``socket.emit_error``), and raise only for failures worth a retry.

    Args:
        dedup: the memory of applied ids; its ``per_key`` must be at least the
            clients' outbox capacity. By default a fresh :class:`Deduplicator`.
        key: ``key(socket, msg_id)``: which client a message belongs to.
        clock: the time source for the deduplicator's ``now``.
    """

    def __init__(
        self,
        dedup: Deduplicator | None = None,
        *,
        key: Callable[[Socket, str], str] = client_key,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dedup = dedup if dedup is not None else Deduplicator()
        self.key = key
        self.clock = clock
        self.applied = 0
        """Messages applied."""
        self.duplicates = 0
        """Repeats recognised and only acked."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"ExactlyOnce(applied={self.applied}, duplicates={self.duplicates})"

    def __call__(self, handler: H) -> H:
        """Wrap a handler ``(socket, *args)``; use it as a decorator under ``@server.on``.

        The wrapped handler receives the event's arguments without the trailing
        ``{"_id": ...}``; declare a keyword parameter ``msg_id`` to get the id too.
        Its return value is not sent: the ack is ``{"_id": id, "duplicate": bool}``.
        A message without the trailing id gets an ``error`` event and an empty ack.
        """
        signature = inspect.signature(handler)
        wants_id = "msg_id" in signature.parameters

        async def reliable_handler(socket: Socket, *args: Any) -> Any:
            marker = args[-1] if args else None
            msg_id = marker.get(ID_KEY) if isinstance(marker, dict) else None
            if not isinstance(msg_id, str) or not msg_id:
                await socket.emit_error(
                    f'a reliable event ends with {{"{ID_KEY}": "<id>"}}; this one has none',
                    field=ID_KEY,
                )
                return None
            rest = args[:-1]
            extra = {"msg_id": msg_id} if wants_id else {}
            try:
                signature.bind(socket, *rest, **extra)
            except TypeError as exc:
                await socket.emit_error(f"wrong arguments: {exc}", field="args")
                return None
            key = self.key(socket, msg_id)
            async with self._lock(key):
                if self.dedup.seen(key, msg_id, self.clock()):
                    self.duplicates += 1
                    return {ID_KEY: msg_id, "duplicate": True}
                result = handler(socket, *rest, **extra)
                if inspect.isawaitable(result):
                    await result
                self.dedup.check_and_remember(key, msg_id, self.clock())
                self.applied += 1
            return {ID_KEY: msg_id, "duplicate": False}

        reliable_handler.__name__ = getattr(handler, "__name__", "reliable_handler")
        reliable_handler.__doc__ = handler.__doc__
        return reliable_handler  # type: ignore[return-value]

    @contextlib.asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        # One lock per client key, forgotten once nobody holds or waits for it.
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:  # FIFO: waiters are served in arrival order
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class AppliedLog:
    """An append-only JSON-lines file of applied messages, one ``write()`` each.

    Each line is ``{"id", "key", "event", "args", "t"}`` (``t``: wall-clock seconds).
    A line is written with a single unbuffered ``os.write``: once it returns, the
    kernel has the data, and it survives the process being killed (SIGKILL); it
    does not survive a power cut (that needs ``fsync``; pass ``fsync=True``).

    A crash in the middle of a write can leave a torn last line. Opening the log
    cuts it off: that message was never acknowledged, so its client sends it again.

    Args:
        path: the file; created if missing.
        fsync: also ``fsync`` after every line (slow; survives power loss).
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.repaired = _cut_torn_tail(self.path)
        """Bytes of a torn last line removed when the log was opened."""
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __repr__(self) -> str:
        return f"AppliedLog({str(self.path)!r})"

    def append(self, msg_id: str, event: str, args: list[Any], *, key: str | None = None) -> None:
        """Write one applied message as one line (the effect and its id together).

        Args:
            msg_id: the message's id.
            event: its event name.
            args: its arguments (JSON-ready).
            key: its client key; by default the id's prefix.

        Raises:
            ValueError: the log is closed, or the arguments are not JSON.
        """
        if self._fd is None:
            raise ValueError(f"{self!r} is closed")
        if key is None:
            prefix, dash, _ = msg_id.rpartition("-")
            key = prefix if dash else msg_id
        record = {"id": msg_id, "key": key, "event": event, "args": args, "t": time.time()}
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        data = line.encode()
        written = os.write(self._fd, data)
        while written < len(data):  # regular files write everything; be safe anyway
            written += os.write(self._fd, data[written:])
        if self.fsync:
            os.fsync(self._fd)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete record, oldest first."""
        with self.path.open("rb") as file:
            for line in file:
                if line.endswith(b"\n"):
                    yield json.loads(line)

    def tail(self, count: int) -> list[dict[str, Any]]:
        """The last ``count`` records, oldest first, read from the end of the file."""
        if count <= 0:
            return []
        with self.path.open("rb") as file:
            end = file.seek(0, os.SEEK_END)
            position, data = end, b""
            while position > 0 and data.count(b"\n") <= count:
                step = min(65536, position)
                position -= step
                file.seek(position)
                data = file.read(step) + data
        lines = data.split(b"\n")[:-1]  # the part after the last newline is empty
        if position > 0:
            lines = lines[1:]  # the first piece may be a partial line
        return [json.loads(line) for line in lines[-count:]]

    def deduplicator(
        self, *, window: int = 10_000, per_key: int = 1000, now: float | None = None
    ) -> Deduplicator:
        """A :class:`Deduplicator` that remembers the ids of the log's last records.

        Args:
            window: ids remembered in total (the tail read is this long).
            per_key: ids remembered per client; at least the outbox capacity.
            now: the current time on the clock the :class:`ExactlyOnce` uses
                (default ``time.monotonic()``).
        """
        dedup = Deduplicator(window, per_key=per_key)
        now = time.monotonic() if now is None else now
        wall = time.time()
        for record in self.tail(window):
            age = max(0.0, wall - float(record.get("t", wall)))
            dedup.check_and_remember(str(record["key"]), str(record["id"]), now - age)
        return dedup

    def close(self) -> None:
        """Close the file (appending afterwards raises ValueError)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AppliedLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> int:
    """Truncate a file after its last newline; return how many bytes were cut."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with path.open("rb+") as file:
        position = size
        while position > 0:
            step = min(65536, position)
            file.seek(position - step)
            chunk = file.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = position - step + newline + 1
                break
            position -= step
        else:
            keep = 0
        if keep < size:
            file.truncate(keep)
        return size - keep


def add_ledger_handlers(
    server: Server,
    log: AppliedLog,
    *,
    event: str = "append",
    window: int = 10_000,
    per_key: int = 1000,
) -> ExactlyOnce:
    """A server whose whole state is the log: each ``event`` is appended exactly once.

    Every ``event`` (with its trailing ``{"_id": ...}``) is written to ``log`` with
    its id, in one write, unless that id was applied before; the deduplicator starts
    from the log's tail, so a restarted process keeps the promise. It is the server
    of ``python -m wslearn ledger`` and of the fault tests.

    Args:
        server: the server to add the handler to (on ``"/"``).
        log: the applied-message log (the state).
        event: the event name to handle.
        window: ids remembered in total (see :meth:`AppliedLog.deduplicator`).
        per_key: ids remembered per client: at least the clients' outbox capacity.

    Returns:
        The :class:`ExactlyOnce` guarding the handler (its counters are live).
    """
    once = ExactlyOnce(log.deduplicator(window=window, per_key=per_key))

    @server.on(event)
    @once
    def append(socket: Socket, *args: Any, msg_id: str) -> None:
        log.append(msg_id, event, list(args))

    return once
