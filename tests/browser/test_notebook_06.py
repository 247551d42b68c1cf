"""The 06 notebooks in a real browser: Run All, then type into the panes and use the link.

Each notebook runs whole in JupyterLab (its last cell only shows what runs). Then the
test types into Alice's pane and checks Bob's, and presses the buttons a learner would:
Pause in 06 (the light turns yellow within the heartbeat's bound, "last heard" counts
up, Resume brings her back), Unplug in 06b (the status counts attempts, Plug back brings
her back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import artifacts, live_status, send, wait_for_text

ALICE, BOB = ".wslearn-pane-alice", ".wslearn-pane-bob"

pytestmark = pytest.mark.timeout(300)  # Run All of the notebook, then the checks


def type_and_see(page: Any, text: str) -> None:
    for pane in (ALICE, BOB):
        wait_for_text(page, f"{pane} .wslearn-status .wslearn-live", "connected")
    send(page, ALICE, text)
    wait_for_text(page, f"{BOB} .wslearn-messages", text)


def click(page: Any, label: str) -> None:
    page.locator(".wslearn-link-controls button", has_text=label).first.click()


def test_run_all_of_06c_then_a_message_typed_in_alice_pane_reaches_bob(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook("06c_offline_queue.ipynb")
    type_and_see(page, "typed after Run All of 06c")
    row = page.locator(".wslearn-pane-row").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(artifacts(tmp_path) / "06c-panes.png"))


def test_pause_in_06_turns_the_light_yellow_within_the_heartbeat_and_resume_restores_it(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook("06_heartbeats.ipynb")
    type_and_see(page, "typed after Run All of 06, before the pause")
    click(page, "Pause")
    wait_for_text(page, ".wslearn-link-light .wslearn-live", "paused")
    # Nothing arrives any more: "last heard" counts up before anyone notices.
    wait_for_text(page, f"{ALICE} .wslearn-heard", "last heard from the server 2 s ago")
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "reconnecting")
    wait_for_text(page, f"{BOB} .wslearn-presence", "In the room: Bob")
    assert page.locator(f"{ALICE} .wslearn-light-yellow").count() == 1
    folder = artifacts(tmp_path)
    page.locator(".wslearn-pane-row").first.screenshot(path=str(folder / "06-paused.png"))
    click(page, "Resume")
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "connected")
    wait_for_text(page, f"{BOB} .wslearn-presence", "Alice, Bob")


def test_unplug_in_06b_counts_attempts_and_plug_back_restores_the_pane(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook("06b_reconnection.ipynb")
    type_and_see(page, "typed after Run All of 06b, before the unplug")
    click(page, "Unplug")
    wait_for_text(page, ".wslearn-link-light .wslearn-live", "down (unplugged)")
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "(attempt 2)")
    page.locator(".wslearn-pane-row").first.screenshot(
        path=str(artifacts(tmp_path) / "06b-unplugged.png")
    )
    click(page, "Plug back")
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "connected")
    assert live_status(page, ALICE) == "connected"
    type_and_see(page, "after plugging back in")
