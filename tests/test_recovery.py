"""Tests for wslearn.recovery: connection state recovery, pure and end to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import WIRE_TIMEOUT, eventually

from wslearn.backoff import Backoff
from wslearn.client import Client, ClientState
from wslearn.namespace import Socket
from wslearn.proxy import LinkProxy
from wslearn.recovery import RecoveryStore, SavedSession
from wslearn.rooms import ALL
from wslearn.server import Server

# -- the store, with time passed in ------------------------------------------------------


def saved(pid: str = "p1", sid: str = "s1", rooms: frozenset[str] = frozenset({"r1"})) -> Any:
    return SavedSession(pid, sid, "/", rooms, {"user": "ann"}, saved_at=0.0)


def test_events_get_increasing_offsets_appended_as_their_last_argument() -> None:
    store = RecoveryStore(window=10)
    first = store.log("/", ALL, ["news", "a"], now=0)
    second = store.log("/", ALL, ["news", "b"], now=0)
    assert first[:2] == ["news", "a"] and second[:2] == ["news", "b"]
    assert int(second[-1]) > int(first[-1])


def test_restore_returns_the_session_and_only_the_events_it_missed_and_could_see() -> None:
    store = RecoveryStore(window=10)
    seen = store.log("/", frozenset({"r1"}), ["news", "seen"], now=0)[-1]
    store.save(saved())
    store.log("/", frozenset({"r1"}), ["news", "missed"], now=1)
    store.log("/", frozenset({"r2"}), ["news", "other room"], now=1)
    store.log("/", frozenset({"s1"}), ["direct", "to s1"], now=1)
    store.log("/", ALL, ["all", "but r1"], now=1, except_rooms=frozenset({"r1"}))
    store.log("/", ALL, ["all", "but s1"], now=1, except_sids=frozenset({"s1"}))
    store.log("/chat", ALL, ["elsewhere"], now=1)
    store.log("/", ALL, ["all"], now=1)
    restored = store.restore("p1", seen, "/", now=2)
    assert restored is not None
    session, missed = restored
    assert session.sid == "s1" and session.data == {"user": "ann"}
    assert [e.data[:-1] for e in missed] == [["news", "missed"], ["direct", "to s1"], ["all"]]
    assert store.restore("p1", seen, "/", now=2) is None  # a session is restored once


def test_an_unknown_pid_an_expired_session_or_a_lost_offset_start_afresh() -> None:
    store = RecoveryStore(window=10, max_events=2)
    offset = store.log("/", ALL, ["a"], now=0)[-1]
    store.save(saved())
    assert store.restore("nope", offset, "/", now=1) is None
    assert store.restore("p1", offset, "/chat", now=1) is None  # another namespace
    store.log("/", ALL, ["b"], now=1)
    store.log("/", ALL, ["c"], now=1)  # pushes the offset out of the bounded log
    assert store.restore("p1", offset, "/", now=1) is None
    store.save(saved("p2"))
    last = store.log("/", ALL, ["d"], now=1)[-1]
    assert store.restore("p2", last, "/", now=10.5) is None  # the session expired
    assert store.sessions == 0


def test_old_events_leave_the_log_after_the_window() -> None:
    store = RecoveryStore(window=10)
    store.log("/", ALL, ["a"], now=0)
    store.log("/", ALL, ["b"], now=5)
    store.expire(now=12)
    assert store.events == 1


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"window": float("inf")}, {"max_events": 0}])
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RecoveryStore(**kwargs)


# -- end to end --------------------------------------------------------------------------


@pytest.fixture
async def recovering() -> AsyncIterator[tuple[Server, LinkProxy]]:
    server = Server(recovery_window=5, close_timeout=0.2)

    @server.on("join-room")
    def join_room(socket: Socket, room: str) -> None:
        socket.join(room)
        socket.data["joined"] = room

    await server.start()
    link = await LinkProxy("127.0.0.1", server.port).start()
    yield server, link
    await link.stop()
    await server.stop()


async def test_a_client_back_within_the_window_keeps_its_sid_rooms_and_missed_events(
    recovering: tuple[Server, LinkProxy],
) -> None:
    server, link = recovering
    client = Client(f"http://127.0.0.1:{link.port}", reconnection=Backoff(initial=0.05, jitter=0))
    news: list[Any] = []
    client.on("news", lambda *args: news.append(args))
    frames: list[Any] = []
    client.add_frame_listener(lambda d, f, at: frames.append((d, f)))
    try:
        await client.connect()
        sid = client.sid
        assert not client.recovered
        await client.call("join-room", "r1")
        await server.to("r1").emit("news", "a")
        await eventually(lambda: len(news) == 1)
        await link.down()  # the transport drops; nothing reaches the client
        namespace = server.of("/")
        await eventually(lambda: sid not in namespace.sockets)
        await server.to("r1").emit("news", "b")
        await server.to("r2").emit("news", "not for you")
        await server.to("r1").emit("news", "c")
        link.up()
        await eventually(lambda: client.connected and len(news) == 3, WIRE_TIMEOUT)
        assert client.recovered
        assert client.sid == sid
        assert [args[0] for args in news] == ["a", "b", "c"]  # offsets ride last, as in Node
        assert all(isinstance(args[-1], str) for args in news)
        socket = namespace.sockets[sid]
        assert socket.recovered and "r1" in socket.rooms and socket.data == {"joined": "r1"}
        connects = [f for d, f in frames if d == "sent" and f.startswith("40")]
        assert connects[0] == "40"  # no auth, no session yet
        assert json.loads(connects[-1][2:]) == {"pid": socket.pid, "offset": news[0][-1]}
    finally:
        await client.disconnect()


async def test_a_client_back_after_the_window_gets_a_fresh_session(
    recovering: tuple[Server, LinkProxy],
) -> None:
    server, link = recovering
    server.recovery.window = 0.05  # type: ignore[union-attr]
    client = Client(f"http://127.0.0.1:{link.port}", reconnection=Backoff(initial=0.05, jitter=0))
    client.on("news", lambda *args: None)
    try:
        await client.connect()
        sid = client.sid
        await client.call("join-room", "r1")
        await server.to("r1").emit("news", "a")
        await link.down()
        await eventually(lambda: client.state is ClientState.RECONNECTING)
        await asyncio.sleep(0.1)
        link.up()
        await eventually(lambda: client.connected)
        assert not client.recovered
        assert client.sid != sid
        assert "r1" not in server.of("/").rooms
    finally:
        await client.disconnect()


async def test_without_recovery_there_is_no_pid_and_no_offset(server: Server) -> None:
    received: list[Any] = []
    client = Client(server.url, reconnection=None)
    client.on("news", lambda *args: received.append(args))
    frames: list[Any] = []
    client.add_frame_listener(lambda d, f, at: frames.append((d, f)))
    try:
        await client.connect()
        await server.emit("news", "a")
        await eventually(lambda: received == [("a",)])
    finally:
        await client.disconnect()
    reply = next(f for d, f in frames if d == "received" and f.startswith("40"))
    assert set(json.loads(reply[2:])) == {"sid"}


async def test_an_emit_of_unsendable_data_is_refused_before_it_enters_the_log() -> None:
    # A logged event that cannot be encoded used to break the CONNECT of every socket
    # recovering past it: the reply went out, the replay raised, nothing more happened.
    server = Server(recovery_window=5, close_timeout=0.2)
    fresh: list[Socket] = []
    server.on("connect")(fresh.append)
    server.on("echo")(lambda socket, value: value)
    await server.start()
    client = Client(server.url, reconnection=Backoff(initial=0.05, jitter=0))
    news: list[Any] = []
    client.on("news", lambda *args: news.append(args))
    try:
        await client.connect()
        await server.emit("news", "a")
        await eventually(lambda: len(news) == 1)
        logged = server.recovery.events  # type: ignore[union-attr]
        with pytest.raises(TypeError):
            await server.emit("news", object())
        with pytest.raises(TypeError):
            await fresh[0].emit("news", object())
        assert server.recovery.events == logged  # type: ignore[union-attr]
        fresh[0]._conn.transport.close(1001, "")  # the transport drops; the client is back
        await server.emit("news", "b")
        await eventually(lambda: len(news) == 2 and client.connected)
        assert client.recovered and [args[0] for args in news] == ["a", "b"]
        assert await client.call("echo", "c") == ["c"]  # the recovered CONNECT completed
    finally:
        await client.disconnect()
        await server.stop()
