"""Broadcasts: who receives an event, resolved when it is sent.

``server.to("r1").except_("muted").emit(...)`` builds a :class:`BroadcastOperator`,
an immutable description of the targets (rooms, excluded rooms, excluded sockets).
Each ``to``/``except_`` returns a new operator, so a half-built one can be kept and
reused. :meth:`BroadcastOperator.emit` encodes the packet once and puts the same
frames in the outgoing queue of every target; it never waits for a slow client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .exceptions import UsageError
from .packets import Packet, PacketType
from .rooms import ALL, Everyone

if TYPE_CHECKING:
    from .namespace import Namespace

__all__ = ["RESERVED_EVENTS", "SENT", "BroadcastOperator", "Sent", "check_outgoing_name"]

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Names the Socket.IO clients use for their own lifecycle: never sent as events."""


class Sent:
    """What an emit returns: the packet is already on its way.

    Sending never waits (each client has a bounded buffer of its own), so ``emit`` does
    its work before it returns. Awaiting the result returns at once: ``await
    socket.emit(...)`` reads like Socket.IO's async servers, and a plain (sync)
    handler can call ``socket.emit(...)`` without ``await``.
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that ends at once

    def __repr__(self) -> str:
        return "<Sent>"


SENT = Sent()
"""The one :class:`Sent` every emit returns."""


def check_outgoing_name(event: str) -> None:
    """Refuse event names the Socket.IO clients keep for themselves.

    Raises:
        UsageError: the name is reserved (or not a string).
    """
    if not isinstance(event, str) or event in RESERVED_EVENTS:
        raise UsageError(f"cannot emit {event!r}: reserved by Socket.IO clients; rename it")


@dataclass(frozen=True)
class BroadcastOperator:
    """Who receives a broadcast; immutable, so ``to``/``except_`` return new ones.

    Attributes:
        namespace: the namespace to send on.
        rooms: the target rooms, or ALL for the whole namespace.
        except_rooms: members of these rooms are left out.
        except_sids: these sockets are left out.
    """

    namespace: Namespace
    rooms: frozenset[str] | Everyone = ALL
    except_rooms: frozenset[str] = field(default_factory=frozenset)
    except_sids: frozenset[str] = field(default_factory=frozenset)

    def to(self, room: str) -> BroadcastOperator:
        """Also send to the members of ``room``."""
        current = frozenset() if self.rooms is ALL else self.rooms
        return replace(self, rooms=current | {room})

    def except_(self, room: str) -> BroadcastOperator:
        """Leave out the members of ``room`` (a socket id leaves out one socket)."""
        return replace(self, except_rooms=self.except_rooms | {room})

    def targets(self) -> set[str]:
        """The socket ids this broadcast would reach right now."""
        return self.namespace.server.registry.targets(
            self.namespace.name, self.rooms, self.except_rooms, self.except_sids
        )

    def emit(self, event: str, *args: Any) -> Sent:
        """Encode the event once and send the same frames to every target.

        Never waits for a slow client: each one has a bounded buffer of its own.
        ``await`` is optional (see :class:`Sent`).

        Raises:
            ValueError: the arguments cannot be sent (nobody was sent anything).
            UsageError: the event name is reserved.
        """
        check_outgoing_name(event)
        data = [event, *args]
        store = self.namespace.server.recovery
        if store is not None:  # connection state recovery: log it, append its offset
            # Unsendable data must fail before it enters the log: replaying it would
            # break the CONNECT of every socket that recovers past it.
            self.namespace.server.parser.encode(
                Packet(PacketType.EVENT, self.namespace.name, data)
            )
            data = store.log(
                self.namespace.name,
                self.rooms,
                data,
                asyncio.get_running_loop().time(),
                except_rooms=self.except_rooms,
                except_sids=self.except_sids,
            )
        server = self.namespace.server
        frames = tuple(server.parser.encode(Packet(PacketType.EVENT, self.namespace.name, data)))
        server.adapter.broadcast(
            self.namespace.name, frames, self.rooms, self.except_rooms, self.except_sids
        )
        return SENT
