"""The README's first command, `make lab`, really serves the notebooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(
    not (VENV / ".installed").exists(),
    reason="runs inside the venv that `make` created (make test does); this one is not",
)
def test_make_lab_serves_the_notebooks_folder(tmp_path: Path) -> None:
    token = "make-lab-test"
    args = f"--no-browser --ServerApp.port=0 --ip=127.0.0.1 --IdentityProvider.token={token}"
    if os.geteuid() == 0:
        args += " --allow-root"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        ["make", "-s", "lab", f"VENV={VENV}", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        contents = _first_answer(tmp_path, token, proc)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
    names = {item["name"] for item in contents["content"]}
    notebooks = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks and notebooks <= names


def _first_answer(runtime: Path, token: str, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "make lab exited early"
        for info_file in runtime.glob("jpserver-*.json"):
            url = json.loads(info_file.read_text() or "{}").get("url")
            if not url:
                continue
            try:
                with urllib.request.urlopen(f"{url}api/contents?token={token}", timeout=2) as r:
                    answer: dict[str, object] = json.load(r)
                    return answer
            except OSError:
                pass
        time.sleep(0.2)
    raise AssertionError("JupyterLab did not answer within 60 s")
