"""Every notebook has the shape of the learner's path (RULES.md, "Notebooks").

A title with what you will learn; live demos left running by "Run All" (no notebook
stops its own demos: the last code cell is the "stop everything" panel); exercises with
checks, and a solutions notebook, run by make test, linked from the notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
SOLUTIONS = sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))


def code(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_a_notebook_says_what_you_will_learn_and_ends_with_the_stop_everything_panel(
    path: Path,
) -> None:
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert re.search(r"what you(?:'ll| will) learn", first.source, re.IGNORECASE)
    assert_demos_left_live(nb)


def assert_demos_left_live(nb: nbformat.NotebookNode) -> None:
    cells = code(nb)
    assert cells[-1].strip() == "kernel.panel()", "the last code cell is the panel"
    stops = [source for source in cells if "stop_all()" in source and "`" not in source]
    assert not stops, "a notebook must not stop its own demos (Run All leaves them live)"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_a_solutions_notebook_also_leaves_its_demos_live(path: Path) -> None:
    assert_demos_left_live(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_a_notebook_has_checked_exercises_and_links_its_solutions(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    assert re.search(r"\bcheck[._]\w+\(", text), "exercises end with a check(...)"
    solutions = NOTEBOOKS / "solutions" / f"{path.stem}_solutions.ipynb"
    assert solutions.is_file(), f"no solutions notebook for {path.name}: {solutions.name}"
    assert f"solutions/{solutions.name}" in text, "the notebook links its solutions"
