"""The chat app from Python: what the browser page does, as an object you can await.

::

    alice = ChatClient(app.url, "Alice")
    await alice.connect()                  # sign in, connect, open the lobby
    await alice.send("hello")              # returns at once; the tick follows
    await alice.wait_for(lambda c: c.lines()[-1].status == "delivered")
    await alice.join("python")             # and now shows that room
    await alice.close()

A :class:`ChatClient` keeps what a chat window shows, per room: the messages in seq
order (each once), the ticks of its own messages, who is online, who is typing, the
unread count of rooms it is not showing. It sends through a
:class:`~wslearn.reliable.ReliableEmitter`, so a message typed while the link is down
waits in the outbox (status ``"queued"``), goes out on reconnection, and is stored
once by the server's :class:`~wslearn.exactly_once.ExactlyOnce`. After every
(re)connection it asks the server (``sync``) for what it missed and acknowledges
(``delivered``) what it has, so the ticks survive reconnections too.

Nothing here prints: a notebook pane (:mod:`wslearn.chatapp.pane`) renders the state
whenever :meth:`ChatClient.on_change` listeners are told.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..backoff import Backoff
from ..client import Client, ClientState
from ..exceptions import WslearnError
from ..kernel import wait_until
from ..outbox import ChangeKind, Outbox, OutboxChange
from ..reliable import ReliableEmitter
from .app import CHAT_NAMESPACE
from .history import DEFAULT_ROOM
from .tokens import expires_at

__all__ = ["ChatClient", "ChatLine", "RoomView", "SignInError"]


class SignInError(WslearnError):
    """The server refused the name (the message says why)."""


@dataclass(frozen=True)
class ChatLine:
    """One message as a chat window shows it.

    Attributes:
        name: the sender's display name.
        text: the message.
        time: ``HH:MM:SS`` (UTC) of the server's timestamp; ``""`` while queued.
        mine: sent by this user (from any of their tabs).
        status: ``"queued"`` (not acked yet), ``"sent"`` (the server acked) or
            ``"delivered"`` (every recipient's client acknowledged it); ``"failed"``
            when the server refused it.
        seq: the message's number in the room (0 while queued).
        client_id: the sender's outbox id.
    """

    name: str
    text: str
    time: str
    mine: bool
    status: str
    seq: int
    client_id: str

    def __str__(self) -> str:
        return f"{self.name}: {self.text}"


@dataclass
class RoomView:
    """What a client knows about one room it is in."""

    id: str
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> wire
    presence: list[dict[str, str]] = field(default_factory=list)
    typing: list[dict[str, str]] = field(default_factory=list)
    unread: int = 0
    has_more: bool = False
    opened: bool = False
    """The room's opening page (history, presence) has been loaded."""

    @property
    def last_seq(self) -> int:
        return max(self.messages, default=0)


class ChatClient:
    """One user's chat session: sign-in, rooms, reliable messages, presence, typing.

    Args:
        url: the chat app's URL (``app.url``).
        name: the display name to sign in with.
        reconnection: reconnection delays (see :class:`~wslearn.backoff.Backoff`).
        outbox: where unacknowledged messages wait (default ``Outbox()``).
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        reconnection: Backoff | None = Backoff(),  # noqa: B008 - frozen, safe to share
        outbox: Outbox | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.user = ""
        self.token = ""
        self.rooms: dict[str, RoomView] = {}
        self.room_list: list[dict[str, Any]] = []
        self.current = DEFAULT_ROOM
        self.errors: list[str] = []
        self.outbox = outbox if outbox is not None else Outbox()
        self.client = Client(
            url,
            namespaces=(CHAT_NAMESPACE,),
            auth=self._auth,
            reconnection=reconnection,
        )
        self.reliable: ReliableEmitter | None = None
        self.epoch = ""  # the server's memory; another one means it forgot everything
        self._pending: dict[str, dict[str, Any]] = {}  # client id -> queued message
        self._refused: dict[str, str] = {}
        self._listeners: list[Callable[[], object]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        listeners: dict[str, Callable[..., Any]] = {
            "connect": self._on_connect,
            "message": self._on_message,
            "receipt": self._on_receipt,
            "presence": self._on_presence,
            "typing-users": self._on_typing,
            "unread": self._on_unread,
            "room-created": lambda data: self._spawn(self.refresh_rooms()),
            "left": self._on_left,
            "error": self._on_error,
        }
        for event, listener in listeners.items():
            self.client.on(event, listener, namespace=CHAT_NAMESPACE)
        self.client.add_state_listener(lambda state: self._changed())

    def __repr__(self) -> str:
        return f"<ChatClient {self.name} {self.state.value} room={self.current}>"

    # -- state for a window -----------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The connection's state (the light of a window)."""
        return self.client.state

    def lines(self, room: str | None = None) -> list[ChatLine]:
        """The messages of a room (the current one by default), oldest first, then the
        ones still queued."""
        view = self.rooms.get(room or self.current)
        if view is None:
            return []
        shown = [self._line(view.messages[seq]) for seq in sorted(view.messages)]
        queued = [m for m in self._pending.values() if m["roomId"] == view.id]
        return shown + [self._line(m) for m in queued]

    def online(self, room: str | None = None) -> list[str]:
        """Names of who is online in a room."""
        view = self.rooms.get(room or self.current)
        return [u["name"] for u in view.presence] if view else []

    def typing(self, room: str | None = None) -> list[str]:
        """Names of who else is typing in a room."""
        view = self.rooms.get(room or self.current)
        return [u["name"] for u in view.typing if u["userId"] != self.user] if view else []

    def unread(self, room: str) -> int:
        """Unread messages in a room this client is not showing."""
        view = self.rooms.get(room)
        return view.unread if view else 0

    def on_change(self, listener: Callable[[], object]) -> None:
        """Call ``listener()`` after anything shown changed (keep it quick)."""
        self._listeners.append(listener)

    async def wait_for(self, check: Callable[[ChatClient], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``check(self)`` is true (TimeoutError after ``timeout`` s)."""
        await wait_until(lambda: check(self), timeout, what=f"{self!r}: the condition")

    # -- actions ------------------------------------------------------------------------

    async def sign_in(self) -> str:
        """Get a token for :attr:`name` from the server (``sign-in`` on ``/``).

        Raises:
            SignInError: the server refused the name.
        """
        async with Client(self.url, reconnection=None) as door:
            [reply] = await door.call("sign-in", {"name": self.name})
        if "error" in reply:
            raise SignInError(reply["error"]["message"])
        self.token, self.user = reply["token"], reply["user"]["id"]
        self.name = reply["user"]["name"]
        return self.token

    async def _auth(self) -> dict[str, str]:
        """The CONNECT payload, at every (re)connection: sign in again first when the
        token has run out (the server closes a session whose token expires)."""
        expires = expires_at(self.token) if self.token else None
        if not self.token or (expires is not None and expires <= time.time() + 1):
            await self.sign_in()
        return {"token": self.token}

    async def connect(self) -> None:
        """Sign in (once), connect to ``/chat`` and show the lobby."""
        if not self.token:
            await self.sign_in()
        await self.client.connect()
        self.reliable = ReliableEmitter(
            self.client, self.outbox, namespace=CHAT_NAMESPACE, on_ack=self._on_ack
        )
        self.outbox.on_change(self._on_outbox)
        await self.show(self.current)

    async def send(self, text: str) -> str:
        """Queue a message to the current room; returns its client id at once."""
        if self.reliable is None:
            raise WslearnError("connect() first")
        payload = {"roomId": self.current, "text": text}
        entry = self.reliable.send("send-message", payload)
        self._pending[entry.id] = {**payload, "clientId": entry.id, "name": self.name}
        self._changed()
        return entry.id

    async def show(self, room: str) -> None:
        """Show a room this user is in (it is marked read, in every tab)."""
        if room not in self.rooms or not self.rooms[room].opened:
            await self.join(room)  # its history is not loaded yet
            return
        self.current = room
        self.rooms[room].unread = 0
        await self._call("view-room", {"roomId": room})
        self._changed()

    async def join(self, room: str, *, create: bool = False) -> dict[str, Any]:
        """Join (or create) a room and show it. Returns the server's answer."""
        reply = await self._call("create-room" if create else "join-room", {"roomId": room})
        if "error" in reply:
            return reply
        self.epoch = reply.get("epoch", self.epoch)
        view = self.rooms.setdefault(room, RoomView(room))
        view.opened = True
        for message in reply["messages"]:
            view.messages[message["seq"]] = message
        view.has_more, view.presence, view.typing = (
            reply["hasMore"],
            reply["presence"],
            reply["typing"],
        )
        self.current = room
        await self._call("view-room", {"roomId": room})
        await self._acknowledge(room)
        self._changed()
        return reply

    async def leave(self, room: str) -> dict[str, Any]:
        """Leave a room (in every tab)."""
        reply = await self._call("leave-room", {"roomId": room})
        if "error" not in reply:
            self._forget(room)
        return reply

    async def load_earlier(self, room: str | None = None) -> int:
        """Fetch the page of history before the oldest message shown; returns how many."""
        view = self.rooms[room or self.current]
        before = min(view.messages, default=None)
        reply = await self._call("history", {"roomId": view.id, "before": before})
        for message in reply.get("messages", []):
            view.messages[message["seq"]] = message
        view.has_more = bool(reply.get("hasMore"))
        self._changed()
        return len(reply.get("messages", []))

    async def set_typing(self, typing: bool) -> None:
        """Say (or stop saying) that this user is typing in the current room."""
        await self.client.emit(
            "typing", {"roomId": self.current, "typing": typing}, namespace=CHAT_NAMESPACE
        )

    async def refresh_rooms(self) -> list[dict[str, Any]]:
        """Fetch the list of rooms (with unread counts)."""
        reply = await self._call("rooms")
        self.room_list = reply.get("rooms", [])
        for summary in self.room_list:
            if summary["joined"]:  # joined earlier, maybe in another tab: count it too
                view = self.rooms.setdefault(summary["id"], RoomView(summary["id"]))
                if summary["id"] != self.current:
                    view.unread = summary["unread"]
        self._changed()
        return self.room_list

    async def close(self) -> None:
        """Stop sending (queued messages stay in the outbox) and disconnect."""
        if self.reliable is not None:
            await self.reliable.close()
            self.outbox.off_change(self._on_outbox)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.disconnect()

    # -- listeners ----------------------------------------------------------------------

    def _on_connect(self) -> None:
        # A new socket: ask what was missed in every room, and the fresh room list.
        self._spawn(self._resync())

    async def _resync(self) -> None:
        rooms = {room: view.last_seq for room, view in self.rooms.items()}
        reply = await self._call("sync", {"rooms": rooms})
        if self.epoch and reply.get("epoch") not in (None, self.epoch):
            # A new server process: its seqs start again from 1. Start afresh too.
            self.rooms.clear()
            self.epoch = ""
            await self.join(self.current if self.current else DEFAULT_ROOM)
            await self.refresh_rooms()
            return
        for room, news in reply.get("rooms", {}).items():
            view = self.rooms.setdefault(room, RoomView(room))
            for message in news["messages"]:
                view.messages[message["seq"]] = message
            for seq in news["delivered"]:
                if seq in view.messages:
                    view.messages[seq] = {**view.messages[seq], "status": "delivered"}
            view.unread = 0 if room == self.current else news["unread"]
        if "rooms" in reply:
            for room in set(rooms) - set(reply["rooms"]):
                self._forget(room)  # left in another tab meanwhile
        await self._call("view-room", {"roomId": self.current})
        for room in list(self.rooms):
            await self._acknowledge(room)
        await self.refresh_rooms()

    def _on_message(self, message: dict[str, Any]) -> None:
        view = self.rooms.setdefault(message["roomId"], RoomView(message["roomId"]))
        gap = message["seq"] > view.last_seq + 1 and view.messages
        view.messages[message["seq"]] = message
        self._pending.pop(message["clientId"], None)
        if message["roomId"] != self.current and message["userId"] != self.user:
            view.unread += 1
        if gap:
            self._spawn(self._resync())
        elif message["userId"] != self.user:
            self._spawn(self._acknowledge(message["roomId"]))
        self._changed()

    def _on_receipt(self, receipt: dict[str, Any]) -> None:
        view = self.rooms.get(receipt["roomId"])
        if view is not None and receipt["seq"] in view.messages:
            stored = view.messages[receipt["seq"]]
            view.messages[receipt["seq"]] = {**stored, "status": receipt["status"]}
            self._changed()

    def _on_presence(self, data: dict[str, Any]) -> None:
        if data["roomId"] in self.rooms:
            self.rooms[data["roomId"]].presence = data["users"]
            self._changed()

    def _on_typing(self, data: dict[str, Any]) -> None:
        if data["roomId"] in self.rooms:
            self.rooms[data["roomId"]].typing = data["users"]
            self._changed()

    def _on_unread(self, data: dict[str, Any]) -> None:
        if data["roomId"] in self.rooms:
            self.rooms[data["roomId"]].unread = data["unread"]
            self._changed()

    def _on_left(self, data: dict[str, Any]) -> None:
        self._forget(data["roomId"])

    def _on_error(self, data: Any) -> None:
        message = data.get("message") if isinstance(data, dict) else str(data)
        self.errors.append(str(message))
        self._changed()

    def _on_ack(self, entry_id: str, args: tuple[Any, ...]) -> None:
        first = args[0] if args else None
        if isinstance(first, dict) and "error" in first:
            self._refused[entry_id] = str(first["error"].get("message"))
            self.errors.append(f"not sent: {self._refused[entry_id]}")

    def _on_outbox(self, change: OutboxChange) -> None:
        queued = self._pending.get(change.entry.id)
        if change.kind is ChangeKind.ACKED and queued is not None:
            if change.entry.id in self._refused:
                queued["failed"] = True
            else:
                queued["acked"] = True
        self._changed()

    # -- helpers ------------------------------------------------------------------------

    def _line(self, message: dict[str, Any]) -> ChatLine:
        timestamp = message.get("timestamp", "")
        time = timestamp[11:19] if len(timestamp) >= 19 else ""
        if "seq" in message:
            status = message["status"]
        elif message.get("failed"):
            status = "failed"
        else:
            status = "sent" if message.get("acked") else "queued"
        mine = message.get("userId", self.user) == self.user
        return ChatLine(
            message["name"],
            message["text"],
            time,
            mine,
            status,
            message.get("seq", 0),
            message["clientId"],
        )

    def _forget(self, room: str) -> None:
        self.rooms.pop(room, None)
        if self.current == room:
            self.current = DEFAULT_ROOM if room != DEFAULT_ROOM else ""
        self._changed()

    async def _acknowledge(self, room: str) -> None:
        view = self.rooms.get(room)
        if view is not None and view.messages and self.client.connected:
            payload = {"roomId": room, "upTo": view.last_seq}
            await self.client.emit("delivered", payload, namespace=CHAT_NAMESPACE)

    async def _call(self, event: str, *args: Any) -> dict[str, Any]:
        [reply] = await self.client.call(event, *args, namespace=CHAT_NAMESPACE)
        if isinstance(reply, dict) and "error" in reply:
            self.errors.append(str(reply["error"].get("message")))
            self._changed()
        return reply if isinstance(reply, dict) else {}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The link dropped mid-call, say: the next connect resyncs anyway.
            self.errors.append(f"{type(task.exception()).__name__}: {task.exception()}")
            self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
