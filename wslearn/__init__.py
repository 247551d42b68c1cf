"""wslearn: real-time messaging over WebSockets, learned by running it.

The names below are the public API; everything else lives in its module.

Pure core, no I/O, time passed in as ``now``: ``handshake`` and ``frames`` (RFC
6455), ``packets`` (Engine.IO / Socket.IO codec), ``rooms``, ``backoff``, ``heartbeat``,
``outbox``, ``dedup``, ``recovery``, ``claims`` (the claims checks of a JWT),
``room_rules`` (who may join and post where) and ``ratelimit`` (GCRA, evicting tables).

asyncio layer, the only modules that touch sockets: ``server`` (:class:`Server`),
``client`` (:class:`Client`), ``reliable`` and ``exactly_once`` (every message applied
once), ``keepalive`` (the app-level heartbeat), ``echo`` (plain WebSockets), ``proxy``
(a link you can slow, pause or cut), ``polling`` and ``measure`` (HTTP polling vs push),
``kernel`` (servers inside a running Jupyter kernel).

Security, opt-in per server: ``auth`` (JSON Web Tokens: issue, verify, the connect
check), ``throttle`` (rate limits per event and per connection attempt),
``validation`` (pydantic payloads declared on handlers).
"""

from __future__ import annotations

from .adapters import Adapter, InMemoryAdapter
from .auth import JWTConfig, require_token
from .backoff import Backoff
from .chat import add_chat_handlers
from .client import Client, ClientState
from .dedup import Deduplicator
from .echo import EchoServer, ReadyState, WebSocketClient
from .exactly_once import AppliedLog, ExactlyOnce
from .exceptions import (
    AckTimeoutError,
    ConnectFailedError,
    ConnectRefusedError,
    EventRefusedError,
    FrameError,
    HandshakeError,
    KernelLoopError,
    MessageDroppedError,
    NotConnectedError,
    PacketError,
    ProtocolError,
    QueueFullError,
    TokenError,
    UsageError,
    WslearnError,
)
from .heartbeat import AppHeartbeat, HeartbeatAction, PingSchedule, SilenceWatch
from .keepalive import AppHeartbeatMonitor, answer_app_pings
from .namespace import DisconnectReason, Namespace, Socket
from .outbox import Outbox, Overflow
from .packets import Packet, PacketType
from .proxy import LinkProxy, LinkState
from .ratelimit import KeyedLimiter, Rate
from .recovery import RecoveryStore
from .reliable import ReliableEmitter, ReliableStats
from .room_rules import RoomPolicy
from .rooms import ALL, RoomRegistry
from .server import Server
from .throttle import ConnectLimits, EventLimits
from .validation import PayloadValidator

__version__ = "0.1.0"

__all__ = [
    "ALL",
    "AckTimeoutError",
    "Adapter",
    "AppHeartbeat",
    "AppHeartbeatMonitor",
    "AppliedLog",
    "Backoff",
    "Client",
    "ClientState",
    "ConnectFailedError",
    "ConnectLimits",
    "ConnectRefusedError",
    "Deduplicator",
    "DisconnectReason",
    "EchoServer",
    "EventLimits",
    "EventRefusedError",
    "ExactlyOnce",
    "FrameError",
    "HandshakeError",
    "HeartbeatAction",
    "InMemoryAdapter",
    "JWTConfig",
    "KernelLoopError",
    "KeyedLimiter",
    "LinkProxy",
    "LinkState",
    "MessageDroppedError",
    "Namespace",
    "NotConnectedError",
    "Outbox",
    "Overflow",
    "Packet",
    "PacketError",
    "PacketType",
    "PayloadValidator",
    "PingSchedule",
    "ProtocolError",
    "QueueFullError",
    "Rate",
    "ReadyState",
    "RecoveryStore",
    "ReliableEmitter",
    "ReliableStats",
    "RoomPolicy",
    "RoomRegistry",
    "Server",
    "SilenceWatch",
    "Socket",
    "TokenError",
    "UsageError",
    "WebSocketClient",
    "WslearnError",
    "__version__",
    "add_chat_handlers",
    "answer_app_pings",
    "require_token",
]
