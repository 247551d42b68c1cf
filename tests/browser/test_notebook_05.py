"""Notebook 05 in a real browser: two chat panes, typed into with Chromium.

Every cell above the clean-up cell runs in JupyterLab; then the test types into
Alice's pane, presses Enter, and checks Bob's pane and both status lights. A
screenshot of the two panes mid-conversation is saved as an artifact (under
``$WSLEARN_ARTIFACTS`` when set, else the test's temporary folder); docs/chat-panes.png
is a copy of one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ALICE = ".wslearn-pane-alice"
BOB = ".wslearn-pane-bob"
WAIT_MS = 30_000  # upper bound for anything on loopback; never reached when it passes


def wait_for_text(page: Any, selector: str, text: str) -> None:
    # textContent, not innerText: JupyterLab skips rendering cells scrolled out of
    # view (content-visibility), and innerText is empty for those.
    page.wait_for_function(
        "([selector, text]) => { const el = document.querySelector(selector);"
        " return el !== null && el.textContent.includes(text); }",
        arg=[selector, text],
        timeout=WAIT_MS,
    )


def send(page: Any, pane: str, text: str) -> None:
    box = f"{pane} .wslearn-input input"
    page.wait_for_selector(f"{box}:not([disabled])", timeout=WAIT_MS)
    page.fill(box, text)
    page.press(box, "Enter")


def test_a_message_typed_in_alice_pane_appears_in_bob_pane(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook("05_widgets_integration.ipynb", stop_before=-1)
    for pane in (ALICE, BOB):
        page.wait_for_selector(f"{pane} .wslearn-status", timeout=WAIT_MS)
        wait_for_text(page, f"{pane} .wslearn-status .wslearn-live", "connected")

    send(page, ALICE, "Hello Bob, typed in Chromium!")
    wait_for_text(page, f"{BOB} .wslearn-messages", "Hello Bob, typed in Chromium!")
    assert page.input_value(f"{ALICE} .wslearn-input input") == ""  # cleared after send
    send(page, BOB, "Got it, Alice 👋")
    wait_for_text(page, f"{ALICE} .wslearn-messages", "Got it, Alice 👋")

    for pane in (ALICE, BOB):
        assert page.text_content(f"{pane} .wslearn-status .wslearn-live") == "connected"
        assert page.locator(f"{pane} .wslearn-light-green").count() == 1
    assert "Alice, Bob" in page.text_content(f"{BOB} .wslearn-presence")

    artifacts = Path(os.environ.get("WSLEARN_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    row = page.locator(".wslearn-pane-row").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(artifacts / "chat-panes.png"))
    assert (artifacts / "chat-panes.png").stat().st_size > 0
