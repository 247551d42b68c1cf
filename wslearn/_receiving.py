"""The receive loop of :class:`wslearn.client.Client`: frames in, listeners called.

One task per connection reads frames, answers pings, records CONNECT answers, hands
acks to the calls waiting for them and events to their listeners, and returns the
reason the connection ended. Silence longer than pingInterval + pingTimeout ends it
too: the server is gone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from ._client_base import ClientBase
from ._client_transports import TransportClosed, TransportSwitched
from ._emitter import call_listener
from ._session import NamespaceState, Session, ack_data
from .exceptions import ConnectRefusedError, PacketError
from .heartbeat import SilenceWatch
from .packets import EnginePacket, EngineType, Packet, PacketType, decode_engine

__all__ = ["Receiver"]

_log = logging.getLogger("wslearn.client")


class Receiver(ClientBase):
    """The receiving half of a client."""

    async def _read(self, session: Session) -> str:
        """Receive until the transport ends; return the disconnect reason."""
        loop = asyncio.get_running_loop()
        info = session.info
        watch = SilenceWatch(info.ping_interval / 1000, info.ping_timeout / 1000, loop.time())
        reason = "transport close"
        try:
            while True:
                transport = session.transport
                try:
                    async with asyncio.timeout_at(watch.deadline):
                        frame = await transport.recv()
                except TimeoutError:
                    reason = "ping timeout"
                    break
                except TransportSwitched:
                    continue  # upgraded: read from the new transport
                except TransportClosed as exc:
                    if exc.reason.startswith(("xhr", "parse")):
                        reason = "transport error"
                    break
                watch.heard(loop.time())
                self._frame("received", frame, transport.name)
                try:
                    item = (
                        decode_engine(frame)
                        if isinstance(frame, str) and frame[:1] != "4"
                        else session.decoder.feed(frame)
                    )
                    outcome = None if item is None else await self._handle(session, item)
                except PacketError as exc:
                    _log.warning("closing the connection: the server sent a bad packet (%s)", exc)
                    reason = "parse error"
                    break
                except TransportClosed:
                    break
                if outcome is not None:
                    reason = outcome
                    break
        except asyncio.CancelledError:
            raise  # whoever cancelled the reader closes the session (disconnect() says 41)
        except Exception:
            # A bug must not leave the old socket open while the client reconnects.
            session.live = False
            await session.close(polite=False)
            raise
        session.live = False
        await session.close(polite=reason in ("io server disconnect", "transport close"))
        return reason

    async def _handle(self, session: Session, item: EnginePacket | Packet) -> str | None:
        """React to one packet; return a disconnect reason when the session ends."""
        if isinstance(item, EnginePacket):
            if item.type is EngineType.PING:
                probe = item.data if isinstance(item.data, str) else ""
                async with session.lock:
                    await self._write(session, ["3" + probe])
            elif item.type is EngineType.CLOSE:
                return "transport close"
            return None
        ns = self._namespaces.get(item.namespace)
        if ns is None or not ns.active:
            _log.debug("ignored a packet for namespace %s", item.namespace)
            return None
        kind = item.type
        if kind is PacketType.CONNECT:
            sid = item.data.get("sid") if isinstance(item.data, dict) else None
            if not isinstance(sid, str):
                raise PacketError("the CONNECT reply has no sid (not a Socket.IO v5 server?)")
            if not session.settled.done():
                pid = item.data.get("pid")
                pid = pid if isinstance(pid, str) else None
                ns.recovered = pid is not None and pid == ns.pid  # the server kept it
                if pid != ns.pid:
                    ns.offset = None  # a new session: older offsets mean nothing to it
                ns.pid = pid
                ns.sid, ns.connected = sid, True
                session.answered(ns.name)
        elif kind is PacketType.CONNECT_ERROR:
            data = item.data
            if isinstance(data, str):  # python-socketio's form for an unknown namespace
                error = ConnectRefusedError(data, None, ns.name)
            else:
                error = ConnectRefusedError(
                    str(data.get("message", "")), data.get("data"), ns.name
                )
            if not session.settled.done():
                session.refusals.append(error)
                session.answered(ns.name)
            self._fire(ns.emitter, "connect_error", error)
        elif kind is PacketType.DISCONNECT:
            if ns.connected:
                ns.connected, ns.active, ns.sid = False, False, None
                self._fail_pending(ns.name, "the server disconnected this namespace")
                self._fire(ns.emitter, "disconnect", "io server disconnect")
            if not any(n.connected for n in self._namespaces.values()):
                return "io server disconnect"
        elif kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
            if session.ready:
                self._dispatch(session, ns, item)
            else:
                ns.inbox.append(item)
        else:  # ACK, BINARY_ACK
            entry = self._pending.get(item.id) if item.id is not None else None
            callback = session.callbacks.pop(item.id, None) if item.id is not None else None
            if entry is not None and entry[0] == ns.name and not entry[1].done():
                entry[1].set_result(item.args)
            elif callback is not None:
                ok, result = call_listener(callback, tuple(item.args), _log)
                if ok and inspect.isawaitable(result):
                    self._spawn(result)
            else:
                _log.debug("ignored an ack for unknown id %s on %s", item.id, ns.name)
        return None

    def _dispatch(self, session: Session, ns: NamespaceState, packet: Packet) -> None:
        """Call the listeners of one event; synchronous so events keep their order."""
        event, args = packet.event or "", tuple(packet.args)
        if ns.pid is not None and packet.id is None and args and isinstance(args[-1], str):
            ns.offset = args[-1]  # recovery: the server's offset rides last, as in Node
        for awaitable in ns.emitter.emit_any(event, *args):
            self._spawn(awaitable)
        listeners = ns.emitter.listeners(event)
        if not listeners:
            _log.debug("no listener for event %r on %s", event, ns.name)
        first_ok, first = not listeners, None
        for index, listener in enumerate(listeners):
            ok, result = call_listener(listener, args, _log)
            if index == 0:
                first_ok, first = ok, result
            elif ok and inspect.isawaitable(result):
                self._spawn(result)
        if packet.id is not None and first_ok:
            self._spawn(self._ack(session, ns.name, packet.id, first))
        elif inspect.isawaitable(first):
            self._spawn(first)
        # A listener that raised sends no ack: the server's own timeout reports it.

    async def _ack(self, session: Session, namespace: str, ack_id: int, value: Any) -> None:
        if inspect.isawaitable(value):
            value = await value
        if session is not self._session or not session.live:
            return  # acks belong to the session that asked; the server forgot it
        frames = self._parser.encode(Packet(PacketType.ACK, namespace, ack_data(value), ack_id))
        try:
            async with session.lock:
                await self._write(session, frames)
        except TransportClosed:
            pass
