"""What runs, in a real browser: re-running a cell replaces, Stop everything stops all,
a reload after it finds no broken widget, a restart greys the panes out, and a saved
notebook shows placeholders where its widgets will be.

Notebook 05 is the subject: its panes, its own pane's client, the hook's client, an
inspector and two servers cover every kind of thing the kernel registry keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Lab
from .helpers import (
    WAIT_MS,
    artifacts,
    cell_index,
    kernel_eval,
    kernel_json,
    listening,
    run_cell,
    wait_for_text,
)

NAME = "05_widgets_integration.ipynb"
ALICE, BOB = ".wslearn-pane-alice", ".wslearn-pane-bob"

pytestmark = pytest.mark.timeout(300)  # Run All of the notebook, then the checks


def ports(page: Any) -> set[int]:
    urls = kernel_json(page, "[e.url for e in kernel.running() if e.url]")
    return {urlsplit(url if "://" in url else f"tcp://{url}").port for url in urls} - {None}


def test_rerun_the_pane_cell_then_stop_everything_leaves_nothing_listening(
    run_notebook: Any, lab: Lab, tmp_path: Path
) -> None:
    page = run_notebook(NAME)
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "connected")
    names = kernel_json(page, "sorted(e.name for e in kernel.running())")
    assert names.count("pane Alice") == 1 and names.count("pane Bob") == 1
    kernel_eval(page, "_old_alice, _old_bob = alice, bob")

    run_cell(page, cell_index(page, "alice = ChatPane(alice_client"))  # Shift+Enter again
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "connected")
    again = kernel_json(page, "sorted(e.name for e in kernel.running())")
    assert again == names  # replaced, not added
    old = kernel_json(
        page,
        "[_old_alice.closed, _old_alice.client.state.value, _old_bob.closed,"
        " alice is not _old_alice]",
    )
    assert old == [True, "closed", True, True]
    assert kernel_json(page, "len(alice.users)") == 2  # one Alice and one Bob in the lobby

    open_ports = ports(page)
    assert open_ports and all(listening(port) for port in open_ports)
    stop = page.locator(".wslearn-stop-everything").last
    stop.scroll_into_view_if_needed()
    stop.click()
    wait_for_text(page, ".wslearn-kernel-result", "Nothing is running now")
    assert kernel_json(page, "len(kernel.running())") == 0
    assert not any(listening(port) for port in open_ports)
    assert kernel_json(page, "alice.closed and alice.client.state.value == 'closed'")

    # The page reloads: the front end asks the kernel for every open widget's state.
    before = lab.log.read_text() if lab.log else ""
    page.reload()
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10", timeout=WAIT_MS
    )
    page.wait_for_timeout(3000)  # time for the widgets to be restored from the kernel
    after = lab.log.read_text() if lab.log else ""
    new = after[len(before) :]
    assert "comm_id" not in new and "AttributeError" not in new, new[-2000:]
    page.screenshot(path=str(artifacts(tmp_path) / "05-after-stop-and-reload.png"))


_RESTART = """
async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.sessionContext.restartKernel();
  const deadline = Date.now() + 60000;
  const kernel = () => panel.sessionContext.session && panel.sessionContext.session.kernel;
  while (!kernel() || kernel().status !== 'idle') {
    if (Date.now() > deadline) throw new Error('the kernel did not come back');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
"""


def test_after_a_kernel_restart_the_panes_grey_out_and_say_to_run_from_the_top(
    run_notebook: Any, tmp_path: Path
) -> None:
    page = run_notebook(NAME)
    wait_for_text(page, f"{ALICE} .wslearn-status .wslearn-live", "connected")
    stale = f"{ALICE} .wslearn-status .wslearn-stale"
    assert page.eval_on_selector(stale, "(el) => getComputedStyle(el).display") == "none"
    page.evaluate(_RESTART)
    page.wait_for_function(
        "(selector) => { const el = document.querySelector(selector);"
        " return el !== null && getComputedStyle(el).display !== 'none'; }",
        arg=stale,
        timeout=WAIT_MS,
    )
    assert "run the notebook from the top" in str(page.text_content(stale))
    live = f"{ALICE} .wslearn-status .wslearn-live"
    assert page.eval_on_selector(live, "(el) => getComputedStyle(el).display") == "none"
    pane = page.locator(ALICE).first
    pane.scroll_into_view_if_needed()
    pane.screenshot(path=str(artifacts(tmp_path) / "05-after-restart.png"))


def test_a_saved_notebook_shows_what_its_widgets_will_be(
    lab: Lab, page: Any, tmp_path: Path
) -> None:
    page.goto(lab.notebook_url(NAME))
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10", timeout=WAIT_MS
    )
    page.wait_for_timeout(3000)
    text = page.locator(".jp-Notebook").first.text_content() or ""
    assert "PaneRow(Alice | Bob)" not in text and "<FrameInspector>" not in text
    shown = page.locator(".wslearn-placeholder")
    placeholder_text = " ".join(shown.all_text_contents())
    row = page.locator(".jp-OutputArea-output", has_text="Alice | Bob").first
    row.scroll_into_view_if_needed()
    row.screenshot(path=str(artifacts(tmp_path) / "05-saved.png"))
    assert "Alice | Bob" in placeholder_text, placeholder_text[:500]
