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
    "room_rules",
    "ratelimit",
    "wiretap",
    "static",
    "_html",
    "framelog",
    "diagrams",
    "chatapp.rules",
    "chatapp.history",
    "chatapp.presence",
    "bench.wire",
    "bench.stats",
    "bench.machine",
]

FORBIDDEN = ("asyncio", "socket")

# Import one module of the package without running wslearn/__init__.py, then report
# which of the forbidden modules the import added to sys.modules.
PROBE = """
import importlib, json, os, sys, types
package_dir, name, forbidden = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
before = {m for m in forbidden if m in sys.modules}
# Stub the package and any subpackage on the way (their __init__ would import more).
parts = name.split(".")
for depth in range(len(parts)):
    package = ".".join(["wslearn", *parts[:depth]])
    stub = types.ModuleType(package)
    stub.__path__ = [os.path.join(package_dir, *parts[:depth])]
    sys.modules[package] = stub
importlib.import_module("wslearn." + name)
print(json.dumps({"before": sorted(before),
                  "after": sorted(m for m in forbidden if m in sys.modules)}))
"""


def module_path(name: str) -> Path:
    path = PACKAGE_DIR.joinpath(*name.split(".")).with_suffix(".py")
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


def test_the_probe_checks_a_subpackage_module_without_running_the_subpackage_init(
    tmp_path: Path,
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("import asyncio\n", encoding="utf-8")
    (tmp_path / "sub" / "pure.py").write_text("import json\n", encoding="utf-8")
    (tmp_path / "sub" / "impure.py").write_text("import socket\n", encoding="utf-8")

    def after(name: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(tmp_path), name, ",".join(FORBIDDEN)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found: list[str] = json.loads(result.stdout)["after"]
        return found

    assert after("sub.pure") == []
    assert after("sub.impure") == ["socket"]
