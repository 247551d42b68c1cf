"""Re-execute notebooks in a fresh kernel each and store their outputs in place.

Usage: python tools/store_notebooks.py notebooks/01_*.ipynb [...]

Each notebook runs top to bottom in its own kernel with the notebook's folder as the
working directory, so execution counts go 1, 2, 3... Widget state is not stored: the
views cannot be replayed from git anyway, and the state holds random model ids (the
widgets' outputs carry an HTML placeholder that says to run the notebook instead).
The notebooks leave their demos running, as "Run All" does; the kernel's shutdown
stops them. The time each notebook took is printed, then the total.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def store(path: Path, timeout: int = 120) -> float:
    """Execute one notebook and write it back. Returns the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    client.execute()
    elapsed = time.perf_counter() - started
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    total = 0.0
    for name in argv:
        path = Path(name)
        seconds = store(path)
        total += seconds
        print(f"{path}: {seconds:.1f} s")
    print(f"{len(argv)} notebooks: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
