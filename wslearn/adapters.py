"""Adapters: who else must receive a broadcast.

A broadcast (``server.to("r1").emit(...)``) is encoded once, then handed to the
server's adapter. The adapter delivers it to the matching sockets of this process
with :meth:`Server.deliver <wslearn.server.Server.deliver>` and, when the server is
one of several processes, passes it on to the others, which deliver it to theirs.
Joins and leaves stay local: each process knows only its own sockets' rooms.

:class:`InMemoryAdapter` is the default: one process, nothing to pass on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .exceptions import UsageError
from .packets import Frame
from .rooms import Everyone

if TYPE_CHECKING:
    from .server import Server

__all__ = ["Adapter", "InMemoryAdapter"]


class Adapter:
    """The base of every adapter: subclass it and override :meth:`broadcast`.

    The server calls :meth:`start` when it starts listening and :meth:`stop` after it
    closed its connections.
    """

    def __init__(self) -> None:
        self._server: Server | None = None

    @property
    def server(self) -> Server:
        """The server this adapter belongs to.

        Raises:
            UsageError: the adapter was not started by a server.
        """
        if self._server is None:
            raise UsageError("this adapter is not attached to a started server")
        return self._server

    async def start(self, server: Server) -> None:
        """Attach to ``server`` (and connect to whatever links the processes)."""
        self._server = server

    async def stop(self) -> None:
        """Detach (and disconnect from whatever links the processes)."""
        self._server = None

    def broadcast(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: frozenset[str] | Everyone,
        except_rooms: frozenset[str],
        except_sids: frozenset[str],
    ) -> None:
        """Deliver an encoded broadcast here and wherever else it must go.

        Must not wait: a broadcast never blocks its sender.

        Args:
            namespace: the namespace it is sent on.
            frames: the encoded packet, ready to send.
            rooms: the target rooms, or ALL for the whole namespace.
            except_rooms: members of these rooms are left out.
            except_sids: these sockets are left out.
        """
        raise NotImplementedError


class InMemoryAdapter(Adapter):
    """One process: a broadcast reaches the matching sockets of this server only."""

    def broadcast(
        self,
        namespace: str,
        frames: Sequence[Frame],
        rooms: frozenset[str] | Everyone,
        except_rooms: frozenset[str],
        except_sids: frozenset[str],
    ) -> None:
        """Deliver to this server's matching sockets."""
        self.server.deliver(namespace, frames, rooms, except_rooms, except_sids)
