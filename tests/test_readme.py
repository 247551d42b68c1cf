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


def test_the_readme_lists_every_notebook_and_links_only_to_fixed_names() -> None:
    notebooks = README.parent / "notebooks"
    linked = re.findall(r"\]\(notebooks/([0-9][^/)]*\.ipynb)\)", README.read_text())
    on_disk = sorted(path.name for path in notebooks.glob("[0-9]*.ipynb"))
    assert set(on_disk) <= set(linked), set(on_disk) - set(linked)
    # Notebooks still being written are linked by their fixed names (RULES.md).
    fixed = {"04b_long_polling.ipynb", "07_security.ipynb", "08_performance.ipynb"}
    assert set(linked) - set(on_disk) <= fixed
    assert linked == sorted(linked)  # in reading order
