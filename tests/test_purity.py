"""The pure core does no I/O: importing it pulls in neither asyncio nor socket.

Each module is imported in a fresh interpreter with the ``wslearn`` package stubbed
out, so the check covers the module and what it imports itself, not whatever the
package ``__init__`` re-exports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "wslearn"

PURE_MODULES = [
    "handshake",
    "frames",
    "packets",
    "rooms",
    "backoff",
    "heartbeat",
    "outbox",
    "dedup",
    "recovery",
    "exceptions",
    "claims",
    "static",
    "_html",
    "framelog",
    "diagrams",
]

FORBIDDEN = ("asyncio", "socket")

# Import one module of the package without running wslearn/__init__.py, then report
# which of the forbidden modules the import added to sys.modules.
PROBE = """
import importlib, json, sys, types
package_dir, name, forbidden = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
before = {m for m in forbidden if m in sys.modules}
stub = types.ModuleType("wslearn")
stub.__path__ = [package_dir]
sys.modules["wslearn"] = stub
importlib.import_module("wslearn." + name)
print(json.dumps({"before": sorted(before),
                  "after": sorted(m for m in forbidden if m in sys.modules)}))
"""


def module_path(name: str) -> Path:
    path = PACKAGE_DIR / f"{name}.py"
    if not path.exists():
        pytest.skip(f"wslearn/{name}.py does not exist yet (another part of the project)")
    return path


def imported_names(source: str) -> set[str]:
    """Top-level names of every module imported anywhere in the source."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", PURE_MODULES)
def test_importing_a_pure_module_loads_neither_asyncio_nor_socket(name: str) -> None:
    module_path(name)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(PACKAGE_DIR), name, ",".join(FORBIDDEN)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["before"] == [], f"the interpreter loads {report['before']} at startup"
    assert report["after"] == [], f"wslearn.{name} imports {report['after']}"


@pytest.mark.parametrize("name", PURE_MODULES)
def test_a_pure_module_source_has_no_asyncio_or_socket_import(name: str) -> None:
    source = module_path(name).read_text(encoding="utf-8")
    assert imported_names(source).isdisjoint(FORBIDDEN)


def test_the_import_scan_sees_every_form_of_import() -> None:
    source = (
        "import asyncio\n"
        "import os.path as p\n"
        "from socket import socket\n"
        "from . import sibling\n"
        "def f():\n"
        "    import asyncio.subprocess\n"
    )
    assert imported_names(source) == {"asyncio", "os", "socket"}


def test_the_probe_detects_a_module_that_imports_asyncio(tmp_path: Path) -> None:
    (tmp_path / "impure.py").write_text("import asyncio\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), "impure", ",".join(FORBIDDEN)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "asyncio" in json.loads(result.stdout)["after"]
