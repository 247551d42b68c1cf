"""Notebook 03 in a real browser: the page's own JavaScript WebSocket reaches the kernel.

The notebook renders a <script> that opens a native ``WebSocket`` to the echo server
running in the kernel. Run up to that cell in JupyterLab and read what the script
wrote into the page: the browser's open, the server's echo, and a clean close.
"""

from __future__ import annotations

from typing import Any

import nbformat

from .conftest import NOTEBOOKS

NAME = "03_native_websocket_api.ipynb"


def test_the_browser_websocket_in_the_page_gets_the_kernel_echo(run_notebook: Any) -> None:
    cells = nbformat.read(NOTEBOOKS / NAME, as_version=4).cells
    [script_cell] = [i for i, cell in enumerate(cells) if "new WebSocket(" in cell.source]

    page = run_notebook(NAME, stop_before=script_cell + 1)
    page.wait_for_function(
        "() => { const box = document.getElementById('ws-demo-03');"
        " return box !== null && box.textContent.includes('close:'); }",
        timeout=30_000,
    )
    lines = page.locator("#ws-demo-03 div").all_text_contents()
    assert lines == ["open", "message: Echo: Hello from the browser!", "close: code 1000"]
