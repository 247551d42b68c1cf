"""The README's library example runs as written."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

from support import eventually

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


async def test_the_library_example_connects_and_joins_a_room() -> None:
    [example] = python_blocks()
    code = compile(example, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    scope: dict[str, Any] = {}
    result = eval(code, scope)
    if asyncio.iscoroutine(result):
        await result
    server, client = scope["server"], scope["client"]
    try:
        assert client.connected
        await eventually(lambda: "room-123" in server.registry.rooms_of("/", client.sid))
        assert "room-123" in server.registry.rooms_of("/", client.sid)
    finally:
        await client.disconnect()
        await server.stop()
