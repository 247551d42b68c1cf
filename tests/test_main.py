"""Tests for ``python -m wslearn``: the chat server in a real subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest
import socketio

from wslearn.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[1]


async def start_serve(*extra: str) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wslearn",
        "serve",
        "--port",
        "0",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert match, line
    return proc, match.group(0)


async def test_serve_runs_the_chat_until_sigint_and_exits_cleanly() -> None:
    proc, url = await start_serve()
    try:
        alice = socketio.AsyncClient(reconnection=False)
        bob = socketio.AsyncClient(reconnection=False)
        received: asyncio.Queue[object] = asyncio.Queue()
        bob.on("receive-message", received.put_nowait)
        for client in (alice, bob):
            await client.connect(url, transports=["websocket"], wait_timeout=10)
            await client.call("join-room", "room-123", timeout=10)
        await alice.emit("send-message", {"roomId": "room-123", "message": "hello"})
        message = await asyncio.wait_for(received.get(), 10)
        assert isinstance(message, dict)
        assert message["userId"] == alice.get_sid() and message["message"] == "hello"
        for client in (alice, bob):
            await client.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "stopped"
    assert stderr.decode() == ""


async def test_serve_enforces_the_room_rules() -> None:
    proc, url = await start_serve()
    try:
        member = socketio.AsyncClient(reconnection=False)
        outsider = socketio.AsyncClient(reconnection=False)
        for client in (member, outsider):
            await client.connect(url, transports=["websocket"], wait_timeout=10)
        await member.call("join-room", "room-123", timeout=10)
        post = {"roomId": "room-123", "message": "not a member"}
        refused = await outsider.call("send-message", post, timeout=10)
        assert refused["error"]["rule"] == "not member"
        spy = await outsider.call("join-room", member.get_sid(), timeout=10)
        assert spy["error"]["rule"] == "private"
        for client in (member, outsider):
            await client.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0


async def test_sigterm_also_stops_the_server_cleanly() -> None:
    proc, _ = await start_serve()
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
    args = build_parser().parse_args(["serve", "--port", "0"])
    assert (args.command, args.host, args.port) == ("serve", "127.0.0.1", 0)


def test_the_ledger_command_needs_a_log_file() -> None:
    args = build_parser().parse_args(["ledger", "--log", "applied.jsonl", "--port", "0"])
    assert (args.command, args.log, args.port, args.per_key) == (
        "ledger",
        "applied.jsonl",
        0,
        10_000,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ledger"])


async def test_chat_serves_the_page_and_the_app_on_one_port_and_prints_the_url() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTERHUB_SERVICE_PREFIX": "/user/x/"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wslearn",
        "chat",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        note = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        assert match, first
        url, port = match.group(0), match.group(1)
        assert note.startswith(f"open {url}/ in a browser")
        assert f"/user/x/proxy/{port}/" in note
        page = await asyncio.to_thread(_get, url + "/")
        assert "<title>wslearn chat</title>" in page
        door = socketio.AsyncClient(reconnection=False)
        await door.connect(url, transports=["websocket"], wait_timeout=10)
        reply = await door.call("sign-in", {"name": "Cli"}, timeout=10)
        await door.disconnect()
        assert reply["user"] == {"id": "cli", "name": "Cli"}
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, stderr.decode()
    assert stderr.decode() == ""


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


def test_the_chat_command_defaults_to_port_8000() -> None:
    args = build_parser().parse_args(["chat"])
    assert (args.command, args.host, args.port) == ("chat", "127.0.0.1", 8000)


def test_serve_with_an_unreachable_redis_says_it_cannot_join_the_cluster() -> None:
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wslearn",
            "serve",
            "--port",
            "0",
            "--redis",
            "redis://127.0.0.1:1/0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "cannot join the cluster" in done.stderr and "redis://127.0.0.1:1/0" in done.stderr


def test_serve_takes_a_redis_url() -> None:
    args = build_parser().parse_args(["serve", "--redis", "redis://127.0.0.1:6379/0"])
    assert args.redis == "redis://127.0.0.1:6379/0"
    assert build_parser().parse_args(["serve"]).redis is None
