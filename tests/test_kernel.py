"""Tests for wslearn.kernel: the registry of what a notebook started, run() and the loop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap

import pytest
from jupyter_client.manager import AsyncKernelManager
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from wslearn import _registry, kernel
from wslearn.client import Client, ClientState
from wslearn.echo import EchoServer, WebSocketClient
from wslearn.exceptions import KernelLoopError, UsageError
from wslearn.kernel import Registry
from wslearn.server import Server


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


class StopFails(EchoServer):
    """An echo server whose stop() stops it and then reports a failure."""

    async def stop(self) -> None:
        await super().stop()
        raise RuntimeError("could not say goodbye")


async def test_start_records_the_server_and_it_serves() -> None:
    registry = Registry()
    server = EchoServer()
    started = await registry.start(server, name="echo")
    assert started.info.url == server.url
    assert started.replaced is None
    assert repr(started) == f"'echo' (websocket echo) is serving at {server.url}"
    [info] = registry.running()
    assert (info.name, info.url, info.kind) == ("echo", server.url, "websocket echo")
    async with WebSocketClient(server.url) as client:
        client.close()
    assert [event.kind for event in server.log] == ["connect", "disconnect"]
    assert await registry.stop_all() == [info]
    assert not server.running


async def test_a_server_of_another_kind_is_listed_by_its_class_name() -> None:
    class Bare:
        """A minimal server: start, stop and url, nothing else."""

        def __init__(self) -> None:
            self.echo = EchoServer()

        @property
        def url(self) -> str:
            return self.echo.url

        async def start(self) -> None:
            await self.echo.start()

        async def stop(self) -> None:
            await self.echo.stop()

    bare = Bare()
    registry = Registry()
    started = await registry.start(bare)
    assert (started.info.name, started.info.kind) == ("Bare", "Bare")
    await registry.stop_all()
    assert not bare.echo.running


async def test_starting_a_name_again_replaces_the_old_server_and_says_so() -> None:
    registry = Registry()
    first, second = EchoServer(), EchoServer()
    await registry.start(first, name="echo")
    old_url = first.url
    started = await registry.start(second, name="echo")
    assert started.replaced is not None and started.replaced.url == old_url
    assert repr(started).endswith("; the previous 'echo' was stopped")
    assert not first.running and second.running
    assert [info.url for info in registry.running()] == [second.url]
    await registry.stop_all()


async def test_rerunning_the_same_cell_many_times_leaves_one_server() -> None:
    registry = Registry()
    made = [EchoServer() for _ in range(5)]
    for server in made:
        await registry.start(server, name="echo")
    assert [server.running for server in made] == [False] * 4 + [True]
    assert len(registry.running()) == 1
    await registry.stop_all()


async def test_starting_the_same_server_twice_changes_nothing() -> None:
    registry = Registry()
    server = EchoServer()
    await registry.start(server, name="echo")
    again = await registry.start(server, name="echo")
    assert again.already_running
    assert "already running: nothing changed" in repr(again)
    assert server.running and len(registry.running()) == 1
    with pytest.raises(UsageError, match="already registered as 'echo'"):
        await registry.start(server, name="other")
    await registry.stop_all()


async def test_a_replacement_that_fails_to_start_leaves_the_old_server_serving() -> None:
    registry = Registry()
    old = EchoServer()
    await registry.start(old, name="echo")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            await registry.start(EchoServer(port=port), name="echo")
    assert old.running
    assert [info.url for info in registry.running()] == [old.url]
    await registry.stop_all()


async def test_stop_all_stops_everything_newest_first_and_empties_the_list() -> None:
    registry = Registry()
    made = {name: EchoServer() for name in ("a", "b", "c")}
    for name, server in made.items():
        await registry.start(server, name=name)
    stopped = await registry.stop_all()
    assert [info.name for info in stopped] == ["c", "b", "a"]
    assert registry.running() == ()
    assert not any(server.running for server in made.values())
    assert await registry.stop_all() == []


async def test_stop_all_tries_every_server_even_when_one_fails() -> None:
    registry = Registry()
    good, bad = EchoServer(), StopFails()
    await registry.start(good, name="good")
    await registry.start(bad, name="bad")
    with pytest.raises(ExceptionGroup, match="some things failed to stop") as caught:
        await registry.stop_all()
    assert [str(exc) for exc in caught.value.exceptions] == ["could not say goodbye"]
    assert not good.running and not bad.running
    assert registry.running() == ()


async def test_stop_by_name_and_a_clear_error_for_unknown_names() -> None:
    registry = Registry()
    await registry.start(EchoServer(), name="echo")
    with pytest.raises(UsageError, match=r"nothing named 'nope' is running \(running: 'echo'\)"):
        await registry.stop("nope")
    info = await registry.stop("echo")
    assert info.name == "echo"
    assert registry.running() == ()


async def test_the_module_functions_share_the_kernel_registry() -> None:
    try:
        started = await kernel.start(EchoServer(), name="module-level")
        assert started.info in kernel.servers()
        assert await kernel.stop("module-level") == started.info
    finally:
        await kernel.stop_all()
    assert kernel.servers() == []


async def test_run_inside_a_running_loop_raises_a_kernel_loop_error_saying_await() -> None:
    with pytest.raises(KernelLoopError, match=r"write `await answer\(\.\.\.\)` in the cell"):
        kernel.run(answer())


async def test_run_inside_a_loop_leaves_no_never_awaited_warning(
    recwarn: pytest.WarningsRecorder,
) -> None:
    with pytest.raises(KernelLoopError):
        kernel.run(answer())
    import gc

    gc.collect()
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_run_outside_a_loop_runs_the_coroutine() -> None:
    assert kernel.run(answer()) == 42


def test_kernel_loop_error_is_both_a_usage_error_and_a_runtime_error() -> None:
    assert issubclass(KernelLoopError, UsageError)
    assert issubclass(KernelLoopError, RuntimeError)


async def test_explain_event_loop_inside_a_loop_recommends_await() -> None:
    text = kernel.explain_event_loop()
    assert "already running" in text and "`await main()`" in text


def test_explain_event_loop_outside_a_loop_says_asyncio_run_works() -> None:
    assert "No event loop is running" in kernel.explain_event_loop()


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_wslearn_does_not_apply_nest_asyncio() -> None:
    out = run_python(
        """
        import asyncio, sys
        import wslearn, wslearn.kernel, wslearn.echo
        print('nest_asyncio' in sys.modules, hasattr(asyncio, '_nest_patched'))
        """
    )
    assert out == "False False"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="nest_asyncio is refused on 3.12+")
def test_allow_nested_run_makes_run_work_inside_a_loop() -> None:
    # In a fresh interpreter: the patch is process-wide and cannot be undone.
    out = run_python(
        """
        import asyncio
        from wslearn import kernel
        from wslearn.exceptions import KernelLoopError

        async def inner():
            return 7

        async def outer():
            try:
                kernel.run(inner())
            except KernelLoopError:
                print('refused')
            kernel.allow_nested_run()
            kernel.allow_nested_run()  # a second call does not patch twice
            print(kernel.run(inner()), asyncio.run(inner()))

        asyncio.run(outer())
        """
    )
    assert out.splitlines() == ["refused", "7 7"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="only refused on 3.12+")
def test_allow_nested_run_refuses_on_new_pythons() -> None:
    with pytest.raises(KernelLoopError, match=r"3\.12"):
        kernel.allow_nested_run()


async def test_wait_until_returns_once_the_condition_holds() -> None:
    inbox: list[str] = []
    asyncio.get_running_loop().call_later(0.05, inbox.append, "hi")
    await kernel.wait_until(lambda: inbox, timeout=5)
    assert inbox == ["hi"]


async def test_wait_until_gives_up_with_a_timeout_naming_what_it_awaited() -> None:
    with pytest.raises(TimeoutError, match=r"the reply was still false after 0\.05 s"):
        await kernel.wait_until(lambda: False, timeout=0.05, what="the reply")


# --- keeping things that are not servers ----------------------------------------------


async def test_connect_connects_a_client_and_a_second_one_disconnects_the_first() -> None:
    registry = Registry()
    server = Server()
    await registry.start(server, name="chat")
    first, second = Client(server.url), Client(server.url)
    note = await registry.connect(first, name="alice")
    assert first.connected
    assert repr(note) == f"'alice' (Client) is connected to {server.url}"
    note = await registry.connect(second, name="alice")
    assert repr(note).endswith("; the previous 'alice' was stopped")
    assert second.connected and first.state is ClientState.CLOSED
    assert [entry.name for entry in registry.running()] == ["chat", "alice"]
    await registry.stop_all()
    assert second.state is ClientState.CLOSED and not server.running


async def test_keep_stops_what_it_replaces_in_the_background_and_settle_waits_for_it() -> None:
    registry = Registry()
    server = await Server().start()
    try:
        old = Client(server.url)
        await old.connect()
        registry.keep(old, name="bob")
        new = Client(server.url)
        await new.connect()
        note = registry.keep(new, name="bob")
        assert note.replaced is not None and note.replaced.name == "bob"
        await registry.settle()
        assert old.state is ClientState.CLOSED and new.connected
        await registry.stop_all()
        assert new.state is ClientState.CLOSED
    finally:
        await server.stop()


async def test_a_websockets_server_and_a_task_are_kept_and_stopped_their_own_way() -> None:
    registry = Registry()

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    plain = await serve(handler, "127.0.0.1", 0)
    host, port = plain.sockets[0].getsockname()[:2]
    task = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    assert (
        repr(registry.keep(plain, name="mine")) == f"'mine' (Server) is running at {host}:{port}"
    )
    registry.keep(task, name="ticker", kind="a task")
    assert [(e.name, e.kind) for e in registry.running()] == [
        ("mine", "Server"),
        ("ticker", "a task"),
    ]
    await registry.stop_all()
    assert task.cancelled()
    with pytest.raises(OSError):
        await asyncio.open_connection(host, port)


def test_keeping_something_that_cannot_be_stopped_says_how_to() -> None:
    with pytest.raises(UsageError, match=r"pass stop=\.\.\. to say how to stop it"):
        Registry().keep(object(), name="rock")


async def test_keep_with_an_explicit_stop_calls_it() -> None:
    registry = Registry()
    stopped: list[str] = []
    note = registry.keep(object(), name="thing", stop=lambda: stopped.append("thing"))
    assert repr(note) == "'thing' (object) is running"  # no URL: no 'at'
    registry.keep(object(), name="thing", stop=lambda: stopped.append("second"))
    assert stopped == ["thing"]  # a synchronous stop runs at once
    await registry.stop_all()
    assert stopped == ["thing", "second"]


async def test_forget_drops_an_entry_without_stopping_it_and_listeners_hear_every_change() -> None:
    registry = Registry()
    changes: list[int] = []
    unsubscribe = registry.on_change(lambda: changes.append(len(registry)))
    server = await EchoServer().start()
    registry.keep(server, name="echo")
    assert registry.get("echo") is server
    assert registry.forget(server) and not registry.forget(server)
    assert server.running and registry.get("echo") is None
    unsubscribe()
    registry.keep(server, name="echo")
    assert changes == [1, 0]
    await registry.stop_all()
    assert not server.running


async def test_the_listing_prints_as_a_table_and_says_when_nothing_runs() -> None:
    registry = Registry()
    assert repr(registry.running()) == "nothing is running in this kernel"
    server = EchoServer()
    await registry.start(server, name="echo")
    registry.keep(object(), name="a longer name", stop=lambda: None, kind="thing")
    assert repr(registry.running()).splitlines() == [
        "2 running in this kernel, oldest first:",
        f"  'echo'           websocket echo  {server.url}",
        "  'a longer name'  thing",
    ]
    await registry.stop_all()


async def test_a_thing_that_never_stops_is_given_up_on_after_the_stop_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_registry, "STOP_TIMEOUT", 0.05)
    registry = Registry()
    never = asyncio.Event()
    registry.keep(object(), name="stuck", stop=never.wait)
    with pytest.raises(ExceptionGroup) as caught:
        await registry.stop_all()
    [error] = caught.value.exceptions
    assert str(error) == "'stuck' did not stop within 0.05 s"
    assert registry.running() == ()


def test_replacing_an_async_thing_without_a_running_loop_says_to_use_a_cell() -> None:
    registry = Registry()

    async def stop() -> None:
        return None

    registry.keep(object(), name="x", stop=stop)
    with pytest.raises(UsageError, match="no event loop is running"):
        registry.keep(object(), name="x", stop=stop)


# --- nothing outlives the kernel -------------------------------------------------------

EXITING_SCRIPT = """
import asyncio, sys
from wslearn import kernel
from wslearn.echo import EchoServer

async def main():
    server = EchoServer()
    await kernel.start(server, name="echo")
    print(server.url, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

loop = asyncio.new_event_loop()
loop.run_until_complete(main())
# No stop_all(): the interpreter exits with the server still registered.
"""


async def test_the_kernel_registry_stops_what_is_left_when_the_interpreter_exits() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        EXITING_SCRIPT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    async with connect(url) as ws:
        proc.stdin.write(b"\n")
        await proc.stdin.drain()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    # 1001 "going away" is the server's own goodbye: the hook stopped it. Without the
    # hook the process would just die and the client would see 1006.
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


KERNEL_CELL = """
from wslearn import kernel
from wslearn.echo import EchoServer
from wslearn.server import Server
echo = EchoServer()
await kernel.start(echo, name="echo")
chat = Server()
await kernel.start(chat, name="chat")
print(echo.url, chat.port)
"""


async def test_shutting_down_a_real_kernel_stops_its_servers_and_frees_their_ports() -> None:
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        lines: list[str] = []
        reply = await client.execute_interactive(
            KERNEL_CELL,
            timeout=60,
            output_hook=lambda msg: lines.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        url, chat_port = "".join(lines).split()
        async with connect(url) as ws:
            await manager.shutdown_kernel(now=False)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        for port in (int(url.rsplit(":", 1)[1]), int(chat_port)):
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)
    finally:
        client.stop_channels()
        if await manager.is_alive():
            await manager.shutdown_kernel(now=True)
