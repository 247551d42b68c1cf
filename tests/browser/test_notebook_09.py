"""Notebook 09 in a real browser: Run All leaves the chat app live; type into a pane.

Every cell runs in JupyterLab (the last one only lists what runs). Then the test types
into Alice's pane, presses Enter, and checks that Bob's pane shows it and that Alice's
message gets its delivered tick; a screenshot of the three panes is saved as an
artifact (under ``$WSLEARN_ARTIFACTS`` when set, else the test's temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ALICE = ".wslearn-app-pane-alice"
BOB = ".wslearn-app-pane-bob"
WAIT_MS = 30_000  # upper bound for anything on loopback; never reached when it passes


def wait_for(page: Any, script: str, *arg: str) -> None:
    # textContent, not innerText: JupyterLab skips rendering cells scrolled out of view.
    page.wait_for_function(script, arg=list(arg), timeout=WAIT_MS)


HAS_TEXT = (
    "([selector, text]) => { const el = document.querySelector(selector);"
    " return el !== null && el.textContent.includes(text); }"
)


def test_run_all_then_a_message_typed_in_alice_pane_reaches_bob_with_ticks(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook("09_next_steps_chat_app.ipynb")
    for pane in (ALICE, BOB):
        wait_for(page, HAS_TEXT, f"{pane} .wslearn-status", "connected")
    box = f"{ALICE} .wslearn-input input"
    page.fill(box, "typed in Chromium, after Run All")
    page.press(box, "Enter")
    wait_for(page, HAS_TEXT, f"{BOB} .wslearn-messages", "typed in Chromium, after Run All")
    wait_for(
        page,
        "([selector, text]) => [...document.querySelectorAll(selector)].some((m) =>"
        " m.textContent.includes(text) &&"
        " m.querySelector('.wslearn-tick[data-status=delivered]') !== null)",
        f"{ALICE} .wslearn-messages .wslearn-message",
        "typed in Chromium, after Run All",
    )
    assert "Alice, Bob, Carol" in page.text_content(f"{BOB} .wslearn-presence")
    artifacts = Path(os.environ.get("WSLEARN_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    row = page.locator(".wslearn-app-pane").first.locator("xpath=..")
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(artifacts / "chat-app-panes.png"))
    assert (artifacts / "chat-app-panes.png").stat().st_size > 0
