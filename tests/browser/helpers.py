"""What the notebook browser tests do in JupyterLab: type, click, wait, ask the kernel.

The functions take a Playwright page on which ``run_notebook`` (conftest.py) opened a
notebook. Waiting reads ``textContent``, not ``innerText``: JupyterLab skips rendering
cells scrolled out of view, and ``innerText`` is empty for those.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

WAIT_MS = 30_000  # upper bound for anything on loopback; never reached when it passes

HAS_TEXT = (
    "([selector, text]) => { const el = document.querySelector(selector);"
    " return el !== null && el.textContent.includes(text); }"
)


def wait_for_text(page: Any, selector: str, text: str) -> None:
    """Wait until the first element matching ``selector`` contains ``text``."""
    page.wait_for_function(HAS_TEXT, arg=[selector, text], timeout=WAIT_MS)


def live_status(page: Any, pane: str) -> str:
    """A pane's status line as a learner reads it (the light's text, not its stylesheet)."""
    return str(page.text_content(f"{pane} .wslearn-status .wslearn-live"))


def send(page: Any, pane: str, text: str) -> None:
    """Type ``text`` into a pane's input and press Enter, as a learner does."""
    box = f"{pane} .wslearn-input input"
    page.wait_for_selector(f"{box}:not([disabled])", timeout=WAIT_MS)
    page.fill(box, text)
    page.press(box, "Enter")


_KERNEL_EVAL = """
async (code) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const future = kernel.requestExecute({ code, silent: false, store_history: false });
  let text = '';
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'stream') text += msg.content.text;
    const content = msg.content;
    if (msg.header.msg_type === 'error') text += 'ERROR ' + content.ename + ': ' + content.evalue;
  };
  await future.done;
  return text;
}
"""


def kernel_eval(page: Any, code: str) -> str:
    """Run ``code`` in the notebook's kernel (not in a cell) and return what it printed."""
    return str(page.evaluate(_KERNEL_EVAL, code))


def kernel_json(page: Any, expression: str) -> Any:
    """The value of a Python expression in the notebook's kernel, through JSON."""
    printed = kernel_eval(page, f"import json as _json\nprint(_json.dumps({expression}))")
    assert not printed.startswith("ERROR"), printed
    return json.loads(printed)


_RUN_CELL = """
async (index) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  panel.content.activeCellIndex = index;
  await app.commands.execute('notebook:run-cell');
  const kernel = panel.sessionContext.session.kernel;
  const deadline = Date.now() + 60000;
  const cell = () => panel.content.model.cells.get(index);
  while (kernel.status !== 'idle' || cell().executionCount === null) {
    if (Date.now() > deadline) throw new Error('the cell did not finish');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const errors = [];
  for (let j = 0; j < cell().outputs.length; j++) {
    const out = cell().outputs.get(j);
    if (out.type === 'error') errors.push(out.toJSON().ename);
  }
  return errors;
}
"""


def run_cell(page: Any, index: int) -> None:
    """Select cell ``index`` and run it again, as Shift+Enter does; fail if it raised."""
    errors = page.evaluate(_RUN_CELL, index)
    assert errors == [], errors


def cell_index(page: Any, snippet: str) -> int:
    """The index of the first cell whose source contains ``snippet``."""
    index = page.evaluate(
        "(snippet) => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells;"
        " for (let i = 0; i < cells.length; i++) {"
        "   if (cells.get(i).sharedModel.getSource().includes(snippet)) return i; }"
        " return -1; }",
        snippet,
    )
    assert index >= 0, f"no cell contains {snippet!r}"
    return int(index)


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$WSLEARN_ARTIFACTS`` when set, else the test's folder."""
    folder = Path(os.environ.get("WSLEARN_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_SCROLL_TO = """
async (index) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'center');
}
"""


def scroll_to_cell(page: Any, index: int) -> str:
    """Scroll cell ``index`` into view (JupyterLab renders far-away cells lazily);
    returns a CSS selector for the cell."""
    page.evaluate(_SCROLL_TO, index)
    selector = f".jp-Notebook .jp-Cell[data-windowed-list-index='{index}']"
    page.wait_for_selector(selector, timeout=WAIT_MS)
    return selector
