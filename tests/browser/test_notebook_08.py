"""Notebook 08 in a real browser: a message typed on process A's pane reaches process B's.

Every cell above the clean-up cell runs in JupyterLab (two ``python -m wslearn serve
--redis`` processes on a redis-server the notebook starts); then the test types into
Ann's pane, connected to process A, and waits for the message in Ben's pane, connected
to process B: it crossed through Redis. Screenshots of the two panes and of the
compression plot are saved as artifacts (under ``$WSLEARN_ARTIFACTS`` when set, else the
test's temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wslearn.local_redis import INSTALL_HINT, redis_server_path

if redis_server_path() is None:
    pytest.skip(f"SKIPPED notebook 08 in the browser: {INSTALL_HINT}", allow_module_level=True)

# Run All starts a redis-server and four server processes (two for the panes, then the
# fan-out runs): about 30 s on an idle machine, more beside other test runs.
pytestmark = pytest.mark.timeout(180)

ANN = ".wslearn-pane-ann"
BEN = ".wslearn-pane-ben"
WAIT_MS = 30_000


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([selector, text]) => { const el = document.querySelector(selector);"
        " return el !== null && el.textContent.includes(text); }",
        arg=[selector, text],
        timeout=WAIT_MS,
    )


def test_a_message_typed_on_process_a_appears_on_process_b(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook("08_performance.ipynb", stop_before=-1)
    for pane in (ANN, BEN):
        wait_for_text(page, f"{pane} .wslearn-status .wslearn-live", "connected")
    wait_for_text(page, f"{BEN} .wslearn-messages", "hello from process A")

    box = f"{ANN} .wslearn-input input"
    page.fill(box, "typed in Chromium, on process A")
    page.press(box, "Enter")
    wait_for_text(page, f"{BEN} .wslearn-messages", "typed in Chromium, on process A")

    artifacts = Path(os.environ.get("WSLEARN_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    row = page.locator(".wslearn-pane-row").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(artifacts / "notebook-08-panes.png"))
    plots = page.locator(".jp-RenderedImage img")
    assert plots.count() >= 3  # binary, compression, fan-out
    plots.nth(1).scroll_into_view_if_needed()
    plots.nth(1).screenshot(path=str(artifacts / "notebook-08-compression.png"))
    assert (artifacts / "notebook-08-panes.png").stat().st_size > 0
