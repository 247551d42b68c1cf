"""The project passes its tests wherever it is checked out, a folder named wslearn too.

``git clone ... wslearn && cd wslearn && make test`` is the most natural way to get
the project, and it puts every test file under ``.../wslearn/tests/``: a test that
recognised wslearn's own code by ``/wslearn/`` in a path would count the tests' code
as the library's there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def copy_checkout(into: Path) -> None:
    """Copy every file git tracks or would track (what a clone of this state holds)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a deleted file is still listed until it is committed
            target = into / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout: nothing to clone")
def test_the_client_tests_pass_in_a_checkout_folder_named_wslearn(tmp_path: Path) -> None:
    checkout = tmp_path / "wslearn"
    copy_checkout(checkout)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    which = subprocess.run(
        [sys.executable, "-c", "import wslearn; print(wslearn.__file__)"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(which.stdout.strip()).is_relative_to(checkout)  # the copy's own package
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_client.py",
            "tests/interop/test_client_vs_socketio_server.py",  # counts wslearn's tasks too
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
