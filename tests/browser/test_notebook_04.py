"""Notebook 04 in a real browser: Run All, then type into the panes; the diagrams draw.

Every cell runs in JupyterLab, the last one included (it only shows what runs). Then
the test types into Alice's pane, checks Bob's pane and the frame inspector, and that
the Mermaid diagrams (the upgrade in Markdown, dave's session as an output) are drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    WAIT_MS,
    artifacts,
    cell_index,
    live_status,
    scroll_to_cell,
    send,
    wait_for_text,
)

pytestmark = pytest.mark.timeout(300)  # Run All of the notebook, then the checks

NAME = "04_socketio_enhanced_websockets.ipynb"
ALICE, BOB = ".wslearn-pane-alice", ".wslearn-pane-bob"


def test_run_all_leaves_the_panes_live_and_a_message_typed_shows_everywhere(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook(NAME)
    for pane in (ALICE, BOB):
        wait_for_text(page, f"{pane} .wslearn-status .wslearn-live", "connected")
    send(page, ALICE, "typed in Chromium after Run All")
    wait_for_text(page, f"{BOB} .wslearn-messages", "typed in Chromium after Run All")
    wait_for_text(page, ".wslearn-inspector-table", "typed in Chromium after Run All")
    assert live_status(page, ALICE) == "connected"
    # The inspector's header stays in view while its rows scroll under it.
    position = page.eval_on_selector(
        ".wslearn-inspector-table th", "(th) => getComputedStyle(th).position"
    )
    assert position == "sticky"
    # Mermaid draws the upgrade (Markdown) and dave's session (an output) as SVG images.
    for snippet in ("sequenceDiagram", "sequence_diagram(dave_log"):
        cell = scroll_to_cell(page, cell_index(page, snippet))
        mermaid = f"{cell} .jp-RenderedMermaid img[src^='data:image/svg']"  # drawn, as SVG
        page.wait_for_selector(mermaid, timeout=WAIT_MS)
    folder = artifacts(tmp_path)
    row = page.locator(".wslearn-pane-row").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(folder / "notebook-04-panes.png"))
    inspector = page.locator(".wslearn-inspector").first
    inspector.scroll_into_view_if_needed()
    inspector.screenshot(path=str(folder / "notebook-04-inspector.png"))
    diagram = page.locator(f"{cell} .jp-RenderedMermaid").first
    diagram.screenshot(path=str(folder / "notebook-04-sequence.png"))
    assert (folder / "notebook-04-sequence.png").stat().st_size > 0
