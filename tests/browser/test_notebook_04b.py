"""Notebook 04b in a real browser: Run All, then chat across the two transports.

Every cell runs in JupyterLab. Alice's pane talks to the chat server through a proxy
that refuses WebSocket, so it stays on HTTP long-polling; Bob's pane uses a WebSocket.
The test types into both panes and checks each message reaches the other one, that the
transports are still what the notebook says, and that re-running the pane cell replaces
the panes (nothing is left running twice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import artifacts, cell_index, kernel_json, run_cell, send, wait_for_text

pytestmark = pytest.mark.timeout(300)

NAME = "04b_long_polling.ipynb"
ALICE, BOB = ".wslearn-pane-alice", ".wslearn-pane-bob"


def test_a_pane_on_long_polling_and_one_on_websocket_chat_after_run_all(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook(NAME)
    for pane in (ALICE, BOB):
        wait_for_text(page, f"{pane} .wslearn-status .wslearn-live", "connected")
    send(page, ALICE, "typed in Chromium, sent by POST")
    wait_for_text(page, f"{BOB} .wslearn-messages", "typed in Chromium, sent by POST")
    send(page, BOB, "typed in Chromium, sent over WebSocket")
    wait_for_text(page, f"{ALICE} .wslearn-messages", "typed in Chromium, sent over WebSocket")
    transports = kernel_json(page, "[alice.client.transport, bob.client.transport]")
    assert transports == ["polling", "websocket"]
    folder = artifacts(tmp_path)
    row = page.locator(".wslearn-pane-row").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(folder / "notebook-04b-panes.png"))

    # Re-running the pane cell replaces both panes: one Alice, one Bob, still chatting.
    run_cell(page, cell_index(page, "alice = await ChatPane.open("))
    names = kernel_json(page, "sorted(e.name for e in kernel.running() if e.kind == 'chat pane')")
    assert names == ["pane Alice", "pane Bob"]
    send(page, ALICE, "after the re-run")
    wait_for_text(page, f"{BOB} .wslearn-messages", "after the re-run")
