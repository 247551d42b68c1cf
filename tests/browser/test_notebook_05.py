"""Notebook 05 in a real browser: Run All, then type into the panes, yours and wslearn's.

Every cell runs in JupyterLab, the last one included (it only shows what runs, with a
"Stop everything" button nobody clicks here). Then the test types into Alice's pane,
presses Enter, and checks Bob's pane, both status lights, the pane the learner wrote,
and a room switch by the field and the button. A
screenshot of the two panes mid-conversation is saved as an artifact (under
``$WSLEARN_ARTIFACTS`` when set, else the test's temporary folder); docs/chat-panes.png
is a copy of one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    WAIT_MS,
    artifacts,
    cell_index,
    kernel_eval,
    kernel_json,
    live_status,
    scroll_to_cell,
    send,
    wait_for_text,
)

NAME = "05_widgets_integration.ipynb"
ALICE = ".wslearn-pane-alice"
BOB = ".wslearn-pane-bob"

pytestmark = pytest.mark.timeout(300)  # Run All of the notebook, then the checks


def test_run_all_then_type_into_the_panes_yours_too_and_switch_a_room_once(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook(NAME)
    for pane in (ALICE, BOB):
        wait_for_text(page, f"{pane} .wslearn-status .wslearn-live", "connected")

    send(page, ALICE, "Hello Bob, typed in Chromium!")
    wait_for_text(page, f"{BOB} .wslearn-messages", "Hello Bob, typed in Chromium!")
    assert page.input_value(f"{ALICE} .wslearn-input input") == ""  # cleared after send
    send(page, BOB, "Got it, Alice!")
    wait_for_text(page, f"{ALICE} .wslearn-messages", "Got it, Alice!")
    for pane in (ALICE, BOB):
        assert live_status(page, pane) == "connected"
        assert page.locator(f"{pane} .wslearn-light-green").count() == 1
    assert "Alice, Bob" in page.text_content(f"{BOB} .wslearn-presence")

    folder = artifacts(tmp_path)
    row = page.locator(".wslearn-pane-row").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(folder / "chat-panes.png"))
    assert (folder / "chat-panes.png").stat().st_size > 0

    # The pane you wrote yourself, at the top, is live too.
    scroll_to_cell(page, cell_index(page, "my_pane = ipywidgets.VBox"))
    box = page.locator("input[placeholder='type, then press Enter']").first
    box.fill("typed into my own pane")
    box.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')].some("
        "(el) => el.textContent.includes('Me: typed into my own pane'))",
        timeout=WAIT_MS,
    )

    # Typing a room and clicking "Join room" (the click blurs the field) joins once.
    kernel_eval(
        page,
        "_sent = []\n"
        "bob.client.add_frame_listener("
        "lambda d, f, at: _sent.append(f) if d == 'sent' and 'room' in str(f) else None)",
    )
    scroll_to_cell(page, cell_index(page, "alice = ChatPane(alice_client"))
    page.fill(f"{BOB} .wslearn-room input", "kitchen")
    page.click(f"{BOB} .wslearn-join")
    wait_for_text(page, f"{BOB} .wslearn-title", "#kitchen")
    wait_for_text(page, f"{BOB} .wslearn-presence", "In the room: Bob")
    kernel_eval(page, "await bob.client.call('broadcast', 'flush')")  # errors are in by now
    sent = kernel_json(page, "[f.lstrip('0123456789') for f in _sent]")
    assert sent == ['["leave-room","lobby"]', '["join-room","kitchen"]']
    assert kernel_json(page, "bob.error_line.value") == ""
