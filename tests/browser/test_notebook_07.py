"""Notebook 07 in a real browser: Run All in JupyterLab, then the forged-token table,
the limiter's memory and the TLS capture are on the page. A screenshot of the forged
token table is saved (under ``$WSLEARN_ARTIFACTS`` when set, else the test's folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

WAIT_MS = 30_000  # upper bound for anything on loopback; never reached when it passes


def page_has(page: Any, text: str) -> None:
    # textContent, not innerText: JupyterLab skips rendering cells out of view.
    page.wait_for_function(
        "text => document.querySelector('.jp-Notebook').textContent.includes(text)",
        arg=text,
        timeout=WAIT_MS,
    )


def test_run_all_shows_the_attacks_refused(run_notebook: Any, tmp_path: Path) -> None:
    page = run_notebook("07_security.ipynb", stop_before=-1)
    page_has(page, "the guide's server says I am: ['admin']")
    page_has(page, "refused: algorithm not allowed")
    page_has(page, "join the member's id room   private")
    page_has(page, "KeyedLimiter")
    page_has(page, "wss:// readable: False · token visible: False")
    page_has(page, "Not yet (07.1")

    artifacts = Path(os.environ.get("WSLEARN_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    table = page.locator(".jp-OutputArea-output", has_text="mistake A").first
    table.scroll_into_view_if_needed()
    table.screenshot(path=str(artifacts / "notebook-07-forged-tokens.png"))
    assert (artifacts / "notebook-07-forged-tokens.png").stat().st_size > 0
