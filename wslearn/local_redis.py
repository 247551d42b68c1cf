"""A throwaway ``redis-server`` on loopback, for notebooks and tests.

::

    redis = await LocalRedis().start()     # a free port, a temporary directory
    print(redis.url)                       # redis://127.0.0.1:<port>/0
    await redis.restart()                  # same port: clients see it go and come back
    await redis.stop()                     # the process ends, the directory goes

It runs Debian's ``redis-server`` (``apt-get install redis-server``) with nothing
persisted (no RDB snapshots, no append-only file), bound to 127.0.0.1 only.
:func:`redis_server_path` says whether it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Self

from ._service import Service
from .exceptions import UsageError

__all__ = ["INSTALL_HINT", "LocalRedis", "redis_server_path"]

INSTALL_HINT = (
    "redis-server is not installed: on Debian or Ubuntu run "
    "`sudo apt-get install redis-server` (Binder installs it from apt.txt)"
)


def redis_server_path() -> str | None:
    """Where ``redis-server`` is, or None when it is not on PATH."""
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class LocalRedis(Service):
    """A ``redis-server`` subprocess on 127.0.0.1.

    Args:
        port: the port to listen on; 0 picks a free one (kept across restarts).
        startup_timeout: seconds to wait for it to answer PING.
    """

    def __init__(self, port: int = 0, *, startup_timeout: float = 10.0) -> None:
        self._port = port
        self.startup_timeout = startup_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._dir: Path | None = None

    def __repr__(self) -> str:
        return f"<LocalRedis {self.url if self.running else 'stopped'}>"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._proc is not None

    @property
    def port(self) -> int:
        """The port it listens on.

        Raises:
            UsageError: it was never started.
        """
        if self._port == 0:
            raise UsageError("the redis-server is not started: `await redis.start()` first")
        return self._port

    @property
    def url(self) -> str:
        """The URL to give a Redis client, e.g. ``redis://127.0.0.1:6390/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> Self:
        """Run redis-server and wait until it answers PING; starting twice does nothing.

        Raises:
            UsageError: redis-server is not installed (the message says how to).
            TimeoutError: it did not answer within ``startup_timeout``.
        """
        if self._proc is not None:
            return self
        executable = redis_server_path()
        if executable is None:
            raise UsageError(INSTALL_HINT)
        if self._port == 0:
            self._port = _free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="wslearn-redis-"))
        self._proc = await asyncio.create_subprocess_exec(
            executable,
            "--port", str(self._port),
            "--bind", "127.0.0.1",
            "--dir", str(self._dir),
            "--save", "",
            "--appendonly", "no",
            "--loglevel", "warning",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self.startup_timeout):
                while not await self._answers_ping():
                    if self._proc.returncode is not None:
                        raise UsageError(
                            f"redis-server exited at once (code {self._proc.returncode}); "
                            f"is port {self._port} in use?"
                        )
                    await asyncio.sleep(0.02)
        except BaseException:
            await self.stop()
            raise
        return self

    async def _answers_ping(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await reader.readline()) == b"+PONG\r\n"
        except OSError:
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL after 5 s) and remove its directory."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def kill(self) -> None:
        """End the process abruptly (SIGKILL), as a crash would; :meth:`start` again later."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        await self.stop()

    async def restart(self) -> None:
        """Stop and start again on the same port (its data is gone: nothing persists)."""
        await self.stop()
        await self.start()
