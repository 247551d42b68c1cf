"""The chat app on a :class:`wslearn.Server`: its events, and the page on the same port.

::

    app = ChatApp()                 # a Server of its own, the page served at "/"
    await app.start()               # 127.0.0.1, a free port
    print(app.page_url)             # open it in a browser
    ...
    await app.stop()

Two namespaces share one connection. ``/`` answers ``sign-in``; ``/chat`` is the app,
and its connect middleware (:func:`wslearn.auth.require_token`) lets in only sockets
whose CONNECT carries a valid token (``{"token": ...}``), so every handler knows who is
talking: ``socket.data["user"]``. A socket whose token expires is closed (the client
reconnects, and the page signs in again by name).

==================  =============================================  =====================
client sends        payload -> ack                                 the server also sends
==================  =============================================  =====================
``sign-in`` (``/``) ``{name}`` -> ``{token, user: {id, name}}``
``rooms``           -> ``{rooms: [summary]}``
``create-room``     ``{roomId}`` -> ``{room, messages, hasMore,    ``room-created`` to
                    presence, typing}``                            all; ``joined`` to
                                                                   the user's tabs
``join-room``       ``{roomId}`` -> as ``create-room``             ``presence``
``leave-room``      ``{roomId}`` -> ``{ok}``                       ``presence``, ``left``
``view-room``       ``{roomId}`` (or null) -> ``{unread: 0}``      ``unread`` to the
                                                                   user's tabs
``history``         ``{roomId, before, limit}`` -> ``{messages,
                    hasMore}``
``sync``            ``{rooms: {roomId: lastSeq}}`` -> ``{rooms:
                    {roomId: {messages, hasMore, truncated,
                    delivered, unread}}, epoch}``
``send-message``    ``{roomId, text}, {_id}`` -> ``{_id,           ``message`` to the
                    duplicate}``                                   room
``typing``          ``{roomId, typing: bool}``                     ``typing-users``
``delivered``       ``{roomId, upTo}``                             ``receipt`` to the
                                                                   sender's tabs
==================  =============================================  =====================

A refused request is answered in its ack as ``{"error": {"message", "field"}}`` (or an
``error`` event for events sent without an ack), and nothing changes: the payload rules
and the "members only" rule are checked by :class:`~wslearn.chatapp.guards.ChatGuard`,
per-event middleware that runs before every handler (add a rate limiter the same way,
``app.chat.use_event(...)``).

``send-message`` is a reliable event (:mod:`wslearn.reliable`): the trailing
``{"_id": ...}`` is the sender's outbox id, and :class:`~wslearn.exactly_once.ExactlyOnce`
applies each id once, so a message resent after a reconnection is acknowledged again
but stored and broadcast once. The ack is the *sent* tick. Clients acknowledge what
they received with ``delivered {roomId, upTo}``; when every recipient has, the sender's
tabs get ``receipt`` (the *delivered* tick). After a reconnection a client asks
``sync`` for what it missed in each room, with the ticks of its own messages.

Broadcasts go through ``server.to(room)`` (so an adapter can carry them to other
processes); the app's state (:class:`RoomBook`, :class:`Presence`) lives in this
process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..auth import CLAIMS_KEY
from ..exactly_once import ExactlyOnce, client_key
from ..exceptions import ConnectRefusedError
from ..namespace import Namespace, Socket
from ..ratelimit import Rate
from ..server import Server
from ..throttle import ConnectLimits, EventLimits
from .guards import ChatGuard
from .history import DEFAULT_ROOM, Message, RoomBook, RoomError
from .presence import Presence
from .rules import (
    ChatRuleError,
    check_display_name,
    socketio_room,
    user_id_for,
    user_room,
)
from .tokens import ChatTokens

__all__ = ["CHAT_NAMESPACE", "PAGE_DIR", "ChatApp", "browser_url", "default_limits"]

logger = logging.getLogger("wslearn.chatapp")

CHAT_NAMESPACE = "/chat"
PAGE_DIR = Path(__file__).resolve().parent / "page"
"""The browser page (HTML, CSS, JS), package data of wslearn."""


def default_limits() -> EventLimits:
    """The app's rate limits per user: 5 messages a second (bursts of 10), 5 typing
    notices, a room created every 5 s (bursts of 3), 20 events a second of any other
    kind; more than 20 refusals in 10 s disconnects (a kick: no reconnection)."""
    return EventLimits(
        Rate(20, 1.0, burst=40),
        per_event={
            "send-message": Rate(5, 1.0, burst=10),
            "typing": Rate(5, 1.0, burst=10),
            "create-room": Rate(1, 5.0, burst=3),
        },
        abuse=Rate(20, 10.0),
    )


def browser_url(app: ChatApp, prefix: str | None = None) -> str:
    """Where a browser opens the page: the app's own address, or behind JupyterHub or
    Binder (``JUPYTERHUB_SERVICE_PREFIX`` set) the jupyter-server-proxy path to it.

    Args:
        app: a started app.
        prefix: the hub's service prefix, e.g. ``"/user/ann/"``; by default the
            environment's.
    """
    hub = os.environ.get("JUPYTERHUB_SERVICE_PREFIX") if prefix is None else prefix
    if hub:
        return f"{hub.rstrip('/')}/proxy/{app.server.port}/"
    return app.page_url


def _error(exc: RoomError | ChatRuleError) -> dict[str, Any]:
    return {"error": exc.details()}


class ChatApp:
    """The chat app: rooms, messages with ticks, presence, typing, history, sign-in.

    Args:
        server: the server to add the app to; by default a new one that also serves
            the page at ``/`` (a server you pass serves it if you created it with
            ``static={"/": PAGE_DIR}``).
        tokens: issues and verifies sign-in tokens (default: a random key).
        book: rooms and history (default: ``RoomBook()``, with the ``lobby``).
        presence: online users and typists (default: ``Presence()``).
        clock: wall-clock seconds, for message times and expiries.
        page_size: messages sent on join and per "load earlier".
        tick: seconds between checks for expired typing notices and grace periods.
        limits: the rate limits of ``/chat`` events (:mod:`wslearn.throttle`):
            True for :func:`default_limits`, False for none, or your own. With
            limits on, CONNECTs to ``/chat`` (10 per 10 s per user, bursts of 20) and
            ``sign-in`` (5 per 10 s per address, bursts of 10) are limited too.
    """

    kind = "chat app"

    def __init__(
        self,
        server: Server | None = None,
        *,
        tokens: ChatTokens | None = None,
        book: RoomBook | None = None,
        presence: Presence | None = None,
        clock: Callable[[], float] = time.time,
        page_size: int = 50,
        tick: float = 0.2,
        limits: EventLimits | bool = True,
    ) -> None:
        self.server = server if server is not None else Server(static={"/": PAGE_DIR})
        self.tokens = tokens if tokens is not None else ChatTokens(clock=clock)
        self.book = book if book is not None else RoomBook()
        self.presence = presence if presence is not None else Presence()
        self.clock = clock
        self.page_size = page_size
        self.tick = tick
        self.limits = default_limits() if limits is True else (limits or None)
        if DEFAULT_ROOM not in self.book.rooms:
            self.book.create(DEFAULT_ROOM)
        # One sender's ids are remembered under its user and its outbox prefix: a
        # client chooses its prefix, so keying by prefix alone would let one user's
        # ids shadow another's.
        self.once = ExactlyOnce(
            key=lambda socket, msg_id: f"{socket.data['user']}/{client_key(socket, msg_id)}"
        )
        self._post_once: Callable[..., Awaitable[Any]] = self.once(self._post)
        self.chat: Namespace = self.server.of(CHAT_NAMESPACE)
        self._ticker: asyncio.Task[None] | None = None
        self.epoch = secrets.token_hex(4)
        """Names this app's memory: a client that sees another epoch in ``sync`` knows
        the server lost its rooms and history (a new process) and starts afresh."""
        self._register()

    def __repr__(self) -> str:
        where = self.server.url if self.server.running else "not started"
        return f"<ChatApp {where} rooms={len(self.book.rooms)} online={len(self.chat.sockets)}>"

    # -- lifecycle (the kernel registry's Serving protocol) ---------------------------

    @property
    def url(self) -> str:
        """The Socket.IO URL (and the page's origin)."""
        return self.server.url

    @property
    def page_url(self) -> str:
        """Where to open the browser page."""
        return self.server.url + "/"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> ChatApp:
        """Start the server (see :meth:`wslearn.Server.start`)."""
        await self.server.start(host, port)
        return self

    async def stop(self) -> None:
        """Stop the server; the state (rooms, history) is kept for a restart."""
        await self.server.stop()
        if self._ticker is not None:
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None

    # -- handlers ----------------------------------------------------------------------

    def _register(self) -> None:
        self.server.on("sign-in", self.sign_in)
        chat = self.chat
        chat.use(self.tokens.middleware())
        chat.use(self.take_name)
        if self.limits is not None:
            # First, so that floods of malformed events are counted too.
            chat.use(ConnectLimits(Rate(10, 10.0, burst=20)))
            chat.use_event(self.limits)
            door = EventLimits(None, per_event={"sign-in": Rate(5, 10.0, burst=10)}, abuse=None)
            self.server.use_event(door)
        self.guard = ChatGuard(self.book)
        chat.use_event(self.guard)
        chat.on("connect", self.on_connect)
        chat.on("disconnect", self.on_disconnect)
        handlers: dict[str, Callable[..., Any]] = {
            "rooms": self.list_rooms,
            "create-room": self.create_room,
            "join-room": self.join_room,
            "leave-room": self.leave_room,
            "view-room": self.view_room,
            "history": self.history,
            "sync": self.sync,
            "send-message": self.send_message,
            "typing": self.typing,
            "delivered": self.delivered,
        }
        for event, handler in handlers.items():
            chat.on(event, handler)

    def sign_in(self, socket: Socket, data: Any = None) -> dict[str, Any]:
        """``sign-in {name}``: a token for that name (and the lobby, the first time)."""
        try:
            name = check_display_name(data.get("name") if isinstance(data, dict) else data)
        except ChatRuleError as exc:
            return _error(exc)
        user = user_id_for(name)
        if not self.book.rooms_of(user):
            self.book.join(user, DEFAULT_ROOM)
        token = self.tokens.issue(user, name, self.clock())
        return {"token": token, "user": {"id": user, "name": name}}

    def take_name(self, socket: Socket, auth: dict[str, Any]) -> None:
        """Connect middleware of ``/chat``, after the token check: the display name."""
        claims = socket.data[CLAIMS_KEY]
        name = claims.payload.get("name")
        if not isinstance(name, str) or not name:
            raise ConnectRefusedError(
                "authentication failed: the token carries no display name",
                {"reason": "missing claim"},
            )
        socket.data["name"] = name

    async def on_connect(self, socket: Socket) -> None:
        user, name = socket.data["user"], socket.data["name"]
        came_online = self.presence.connect(socket.id, user, name, self.clock())
        socket.join(user_room(user))
        rooms = self.book.rooms_of(user)
        for room in rooms:
            socket.join(socketio_room(room))
        if came_online:
            for room in rooms:
                await self._send_presence(room)
        self._ensure_ticker()

    async def on_disconnect(self, socket: Socket, reason: str) -> None:
        user = socket.data.get("user")
        if user is None:
            return
        self.book.forget_socket(socket.id)
        for room in sorted(self.presence.drop_typing_of_socket(socket.id)):
            await self._send_typing(room)
        if self.presence.disconnect(socket.id, self.clock()):
            for room in self.book.rooms_of(user):
                await self._send_presence(room)

    def list_rooms(self, socket: Socket) -> dict[str, Any]:
        """``rooms``: every room, as the list shows it to this user."""
        user = socket.data["user"]
        return {"rooms": [self.book.summary(room, user) for room in sorted(self.book.rooms)]}

    # The handlers below run after ChatGuard: their payloads have the right shape and
    # the user is a member of the room wherever that is required.

    async def create_room(self, socket: Socket, data: dict[str, Any]) -> dict[str, Any]:
        """``create-room {roomId}``: create it, join it, tell everyone it exists."""
        user, room = socket.data["user"], data["roomId"]
        try:
            self.book.create(room, by=user)
        except RoomError as exc:
            return _error(exc)
        self._enter(user, room)
        await self.chat.emit("room-created", {"roomId": room})
        await self._send_presence(room)
        return self._opening(room, user)

    async def join_room(self, socket: Socket, data: dict[str, Any]) -> dict[str, Any]:
        """``join-room {roomId}``: become a member (in every tab) and get the room."""
        user, room = socket.data["user"], data["roomId"]
        try:
            joined = self.book.join(user, room)
        except RoomError as exc:
            return _error(exc)
        self._enter(user, room)
        if joined:
            await self._send_presence(room)
        return self._opening(room, user)

    async def leave_room(self, socket: Socket, data: dict[str, Any]) -> dict[str, Any]:
        """``leave-room {roomId}``: stop being a member (in every tab)."""
        user, room = socket.data["user"], data["roomId"]
        settled = self.book.leave(user, room)
        for sid in self.presence.sockets_of(user):
            member = self.chat.sockets.get(sid)
            if member is not None:
                member.leave(socketio_room(room))
        await self.chat.to(user_room(user)).emit("left", {"roomId": room})
        if self.presence.stop_typing(user, room):
            await self._send_typing(room)
        await self._send_presence(room)
        await self._send_receipts(settled)
        return {"ok": True}

    async def view_room(self, socket: Socket, data: dict[str, Any]) -> dict[str, Any]:
        """``view-room {roomId}``: this tab shows that room now; it is read."""
        user, room = socket.data["user"], data.get("roomId")
        self.book.view(socket.id, user, room)
        if room is not None:
            await self.chat.to(user_room(user)).emit("unread", {"roomId": room, "unread": 0})
        return {"unread": 0}

    def history(self, socket: Socket, data: dict[str, Any]) -> dict[str, Any]:
        """``history {roomId, before, limit}``: "load earlier"."""
        limit = data.get("limit", self.page_size)
        page = self.book.page(data["roomId"], before=data.get("before"), limit=limit)
        return {"messages": [self.book.wire(m) for m in page.messages], "hasMore": page.has_more}

    def sync(self, socket: Socket, data: dict[str, Any]) -> dict[str, Any]:
        """``sync {rooms: {roomId: lastSeq}}``: what this client missed, per room."""
        user = socket.data["user"]
        answer: dict[str, Any] = {}
        for room, last in data["rooms"].items():
            if room not in self.book.rooms or user not in self.book.rooms[room].members:
                continue  # left meanwhile, or never a member: nothing to send
            after = last if isinstance(last, int) and not isinstance(last, bool) else 0
            page = self.book.page(room, after=after, limit=self.book.history_limit)
            answer[room] = {
                "messages": [self.book.wire(m) for m in page.messages],
                "hasMore": page.has_more,
                "truncated": page.truncated,
                "delivered": self.book.delivered_of(user, room),
                "unread": self.book.unread(user, room),
            }
        return {"rooms": answer, "epoch": self.epoch}

    async def send_message(
        self, socket: Socket, data: dict[str, Any], marker: dict[str, str]
    ) -> dict[str, Any]:
        """``send-message {roomId, text}, {_id}``: store once, broadcast once, ack."""
        result: dict[str, Any] = await self._post_once(socket, data, marker)
        return result

    async def _post(self, socket: Socket, payload: dict[str, Any], *, msg_id: str) -> None:
        user, name = socket.data["user"], socket.data["name"]
        room = payload["roomId"]
        text, now = payload["text"], self.clock()
        posted = self.book.post(room, user, name, text, client_id=msg_id, now=now)
        if self.presence.stop_typing(user, room):
            await self._send_typing(room)
        await self.chat.to(socketio_room(room)).emit("message", self.book.wire(posted.message))

    async def typing(self, socket: Socket, data: dict[str, Any]) -> None:
        """``typing {roomId, typing}``: start, renew or stop this user's notice."""
        if self.presence.set_typing(socket.id, data["roomId"], data["typing"], self.clock()):
            await self._send_typing(data["roomId"])
        self._ensure_ticker()

    async def delivered(self, socket: Socket, data: dict[str, Any]) -> None:
        """``delivered {roomId, upTo}``: this client has every message up to ``upTo``."""
        settled = self.book.acknowledge(socket.data["user"], data["roomId"], data["upTo"])
        await self._send_receipts(settled)

    # -- helpers -----------------------------------------------------------------------

    def _enter(self, user: str, room: str) -> None:
        """Put every connected tab of ``user`` into the room's Socket.IO room."""
        for sid in self.presence.sockets_of(user):
            member = self.chat.sockets.get(sid)
            if member is not None:
                member.join(socketio_room(room))

    def _opening(self, room: str, user: str) -> dict[str, Any]:
        page = self.book.page(room, limit=self.page_size)
        return {
            "room": self.book.summary(room, user),
            "messages": [self.book.wire(m) for m in page.messages],
            "hasMore": page.has_more,
            "presence": self.presence.online(self.book.rooms[room].members),
            "typing": self.presence.typists(room),
            "epoch": self.epoch,
        }

    async def _send_presence(self, room: str) -> None:
        members = self.book.rooms[room].members if room in self.book.rooms else set()
        users = self.presence.online(members)
        await self.chat.to(socketio_room(room)).emit("presence", {"roomId": room, "users": users})

    async def _send_typing(self, room: str) -> None:
        users = self.presence.typists(room)
        await self.chat.to(socketio_room(room)).emit(
            "typing-users", {"roomId": room, "users": users}
        )

    async def _send_receipts(self, settled: list[Message]) -> None:
        by_sender: dict[str, list[Message]] = defaultdict(list)
        for message in settled:
            by_sender[message.user].append(message)
        for sender, messages in by_sender.items():
            for message in messages:
                receipt = {
                    "roomId": message.room,
                    "seq": message.seq,
                    "clientId": message.client_id,
                    "status": "delivered",
                }
                await self.chat.to(user_room(sender)).emit("receipt", receipt)

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = self.server.spawn(self._expire_loop())

    async def _expire_loop(self) -> None:
        """Clear expired typing notices and grace periods while anything can expire."""
        while not self.server.stopping and (
            self.chat.sockets or self.presence.next_deadline() is not None
        ):
            await asyncio.sleep(self.tick)
            changes = self.presence.expire(self.clock())
            rooms = {room for user in changes.offline for room in self.book.rooms_of(user)}
            for room in sorted(rooms):
                await self._send_presence(room)
            for room in sorted(changes.typing_rooms):
                await self._send_typing(room)
