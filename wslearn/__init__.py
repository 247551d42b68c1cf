"""wslearn: real-time messaging over WebSockets, learned by running it.

The pure core (``handshake``, ``packets``, ``rooms``, ``backoff``, ``heartbeat``,
``outbox``) does no I/O and takes time as a parameter. The asyncio layer
(``echo``, ``server``, ``client``, ``kernel``) is the only part that touches sockets.
"""

from __future__ import annotations

from .exceptions import (
    AckTimeoutError,
    ConnectRefusedError,
    NotConnectedError,
    PacketError,
    ProtocolError,
    QueueFullError,
    UsageError,
    WslearnError,
)

__version__ = "0.1.0"

__all__ = [
    "AckTimeoutError",
    "ConnectRefusedError",
    "NotConnectedError",
    "PacketError",
    "ProtocolError",
    "QueueFullError",
    "UsageError",
    "WslearnError",
    "__version__",
]
