"""Real-browser fixtures: JupyterLab started headless, driven by Debian's Chromium.

Everything binds 127.0.0.1. The notebooks are copied to a temporary folder first, so
running them in the browser never rewrites the committed files (JupyterLab autosaves).
Tests here carry the ``browser`` marker and skip, saying why, when Chromium or
Playwright is missing; ``.ci/run`` installs both so CI runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("WSLEARN_CHROMIUM", "/usr/bin/chromium"))
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
TOKEN = "wslearn-browser-test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens, where its notebooks live, and its log
    (the kernels' own errors, a widget's failing comm message say, end up there)."""

    url: str
    token: str
    root: Path
    log: Path | None = None

    def notebook_url(self, name: str) -> str:
        return f"{self.url}lab/tree/{name}?token={self.token}&reset"


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    return sync_playwright


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1, a random port, a token, news and update checks off."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (CI does)")
    _playwright()
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "settings"
    plugin = settings / "@jupyterlab" / "apputils-extension"
    plugin.mkdir(parents=True)
    (plugin / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    runtime = base / "runtime"
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        # The kernel must run this interpreter, the one with wslearn installed.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")) if p
        ),
    }
    log = (base / "lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            "--ServerApp.port=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Lab(_wait_for_lab(proc, runtime, base / "lab.log"), TOKEN, root, base / "lab.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_for_lab(proc: subprocess.Popen[bytes], runtime: Path, log: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early:\n{log.read_text()[-3000:]}")
        for info_file in runtime.glob("jpserver-*.json"):
            info = json.loads(info_file.read_text() or "{}")
            url = info.get("url")
            if not url:
                continue
            try:
                with urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=2):
                    return str(url)
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer within 60 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Any]:
    """Debian's Chromium through Playwright (no browser download).

    Module-scoped: Playwright's sync API keeps an event loop running while it is open,
    which the asyncio tests of other modules must not inherit.
    """
    with _playwright()() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


_OPEN_AND_RUN_ALL = """
async ({name, stopBefore}) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const app = window.jupyterapp;
  const until = async (check, what) => {
    const deadline = Date.now() + 60000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
      await sleep(100);
    }
  };
  await app.started;
  await app.restored;
  let panel = null;
  await until(() => {
    panel = app.shell.currentWidget;
    return panel && panel.context && panel.context.path.endsWith(name);
  }, 'the notebook to open');
  await panel.context.ready;
  await panel.sessionContext.ready;
  const kernel = () => panel.sessionContext.session && panel.sessionContext.session.kernel;
  await until(() => kernel() && kernel().status === 'idle', 'an idle kernel');
  const cells = panel.content.model.cells;
  // Stored outputs carry execution counts: clear them so "did not run" means it.
  await app.commands.execute('notebook:clear-all-cell-outputs');
  const stop = stopBefore === null ? cells.length : (stopBefore + cells.length) % cells.length;
  if (stop < cells.length) {
    // Select a cell and run everything above it: the cells from there on (a clean-up
    // cell, say) stay unrun, so what the earlier cells started is still alive.
    panel.content.activeCellIndex = stop;
    await app.commands.execute('notebook:run-all-above');
  } else {
    await app.commands.execute('notebook:run-all-cells');
  }
  await until(() => kernel().status === 'idle', 'the kernel to finish');
  const problems = [];
  for (let i = 0; i < stop; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (cell.executionCount === null) problems.push('cell ' + i + ' did not run');
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j);
      if (out.type === 'error') problems.push('cell ' + i + ' raised ' + out.toJSON().ename);
    }
  }
  return problems;
}
"""


@pytest.fixture
def run_notebook(lab: Lab, page: Any) -> Any:
    """Open a notebook in JupyterLab, wait for an idle kernel, run all cells.

    Returns a function ``run(name, stop_before=None) -> page`` that fails the test if a
    cell raised or did not run. With ``stop_before`` (a cell index; -1 is the last
    cell) it runs only the cells above that one ("Run All Above Selected Cell"), for
    notebooks whose later cells clean up what the test still needs. Waiting for the
    session and an idle kernel before running is what makes this reliable; acting
    earlier races the kernel's start.
    """

    def run(name: str, stop_before: int | None = None) -> Any:
        page.goto(lab.notebook_url(name))
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        problems = page.evaluate(_OPEN_AND_RUN_ALL, {"name": name, "stopBefore": stop_before})
        assert problems == [], problems
        return page

    return run
