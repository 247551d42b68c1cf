"""Tests for wslearn.kernel: the server registry, run() and the kernel's loop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap

import pytest

from wslearn import kernel
from wslearn.echo import EchoServer, WebSocketClient
from wslearn.exceptions import KernelLoopError, UsageError
from wslearn.kernel import ServerRegistry


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


class StopFails(EchoServer):
    """An echo server whose stop() stops it and then reports a failure."""

    async def stop(self) -> None:
        await super().stop()
        raise RuntimeError("could not say goodbye")


async def test_start_records_the_server_and_it_serves() -> None:
    registry = ServerRegistry()
    server = EchoServer()
    started = await registry.start(server, name="echo")
    assert started.info.url == server.url
    assert started.replaced is None
    assert repr(started) == f"'echo' (websocket echo) is serving at {server.url}"
    [info] = registry.servers()
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
    registry = ServerRegistry()
    started = await registry.start(bare)
    assert (started.info.name, started.info.kind) == ("Bare", "Bare")
    await registry.stop_all()
    assert not bare.echo.running


async def test_starting_a_name_again_replaces_the_old_server_and_says_so() -> None:
    registry = ServerRegistry()
    first, second = EchoServer(), EchoServer()
    await registry.start(first, name="echo")
    old_url = first.url
    started = await registry.start(second, name="echo")
    assert started.replaced is not None and started.replaced.url == old_url
    assert repr(started).endswith("; the previous 'echo' was stopped")
    assert not first.running and second.running
    assert [info.url for info in registry.servers()] == [second.url]
    await registry.stop_all()


async def test_rerunning_the_same_cell_many_times_leaves_one_server() -> None:
    registry = ServerRegistry()
    made = [EchoServer() for _ in range(5)]
    for server in made:
        await registry.start(server, name="echo")
    assert [server.running for server in made] == [False] * 4 + [True]
    assert len(registry.servers()) == 1
    await registry.stop_all()


async def test_starting_the_same_server_twice_changes_nothing() -> None:
    registry = ServerRegistry()
    server = EchoServer()
    await registry.start(server, name="echo")
    again = await registry.start(server, name="echo")
    assert again.already_running
    assert "already running: nothing changed" in repr(again)
    assert server.running and len(registry.servers()) == 1
    with pytest.raises(UsageError, match="already running as 'echo'"):
        await registry.start(server, name="other")
    await registry.stop_all()


async def test_a_replacement_that_fails_to_start_leaves_the_old_server_serving() -> None:
    registry = ServerRegistry()
    old = EchoServer()
    await registry.start(old, name="echo")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            await registry.start(EchoServer(port=port), name="echo")
    assert old.running
    assert [info.url for info in registry.servers()] == [old.url]
    await registry.stop_all()


async def test_stop_all_stops_everything_newest_first_and_empties_the_list() -> None:
    registry = ServerRegistry()
    made = {name: EchoServer() for name in ("a", "b", "c")}
    for name, server in made.items():
        await registry.start(server, name=name)
    stopped = await registry.stop_all()
    assert [info.name for info in stopped] == ["c", "b", "a"]
    assert registry.servers() == []
    assert not any(server.running for server in made.values())
    assert await registry.stop_all() == []


async def test_stop_all_tries_every_server_even_when_one_fails() -> None:
    registry = ServerRegistry()
    good, bad = EchoServer(), StopFails()
    await registry.start(good, name="good")
    await registry.start(bad, name="bad")
    with pytest.raises(ExceptionGroup) as caught:
        await registry.stop_all()
    assert [str(exc) for exc in caught.value.exceptions] == ["could not say goodbye"]
    assert not good.running and not bad.running
    assert registry.servers() == []


async def test_stop_by_name_and_a_clear_error_for_unknown_names() -> None:
    registry = ServerRegistry()
    await registry.start(EchoServer(), name="echo")
    with pytest.raises(UsageError, match=r"no server named 'nope' is running \(running: 'echo'\)"):
        await registry.stop("nope")
    info = await registry.stop("echo")
    assert info.name == "echo"
    assert registry.servers() == []


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
