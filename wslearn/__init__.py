"""wslearn: real-time messaging over WebSockets, learned by running it.

The names below are the public API; everything else lives in its module.

Pure core, no I/O, time passed in as ``now``: ``handshake`` and ``frames`` (RFC
6455), ``packets`` (Engine.IO / Socket.IO codec), ``rooms``, ``backoff``, ``heartbeat``,
``outbox``, ``dedup``, ``recovery`` and ``claims`` (the claims checks of a JWT).

asyncio layer, the only modules that touch sockets: ``server`` (:class:`Server`),
``client`` (:class:`Client`), ``reliable`` and ``exactly_once`` (every message applied
once), ``keepalive`` (the app-level heartbeat), ``echo`` (plain WebSockets), ``proxy``
(a link you can slow, pause or cut), ``polling`` and ``measure`` (HTTP polling vs push),
``kernel`` (servers inside a running Jupyter kernel).

Security, opt-in per server: ``auth`` (JSON Web Tokens: issue, verify, the connect
check).
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
from .recovery import RecoveryStore
from .reliable import ReliableEmitter, ReliableStats
from .rooms import ALL, RoomRegistry
from .server import Server

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
    "ConnectRefusedError",
    "Deduplicator",
    "DisconnectReason",
    "EchoServer",
    "EventRefusedError",
    "ExactlyOnce",
    "FrameError",
    "HandshakeError",
    "HeartbeatAction",
    "InMemoryAdapter",
    "JWTConfig",
    "KernelLoopError",
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
    "PingSchedule",
    "ProtocolError",
    "QueueFullError",
    "ReadyState",
    "RecoveryStore",
    "ReliableEmitter",
    "ReliableStats",
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
