"""The browser harness itself: a widget typed into in Chromium reaches the kernel and back."""

from __future__ import annotations

from typing import Any

import nbformat

from .conftest import Lab

CELL = """\
import ipywidgets as w
box = w.Text(continuous_update=False)
box.add_class("probe-in")
echo = w.Label("nothing yet")
echo.add_class("probe-out")
box.observe(lambda change: setattr(echo, "value", "kernel got " + change["new"]), "value")
w.VBox([box, echo])
"""


def test_text_typed_in_the_browser_round_trips_through_the_kernel(
    lab: Lab, run_notebook: Any
) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    nbformat.write(nb, lab.root / "probe.ipynb")

    page = run_notebook("probe.ipynb")
    page.wait_for_selector(".probe-in input", timeout=30_000)
    page.fill(".probe-in input", "hello")
    page.press(".probe-in input", "Enter")
    page.wait_for_function(
        "() => document.querySelector('.probe-out').innerText.includes('kernel got hello')",
        timeout=15_000,
    )
    assert "kernel got hello" in page.inner_text(".probe-out")
