"""Strip outputs, execution counts and widget state from notebooks (``python tools/nbclean.py notebooks/*.ipynb``).

``--check`` changes nothing and exits 1 when a notebook is not clean (the test suite runs it).
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import nbformat


def clean(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    nb.metadata.get("language_info", {}).pop("version", None)
    return nbformat.writes(nb) + "\n"


def rewrite_all(argv: list[str], transform: Callable[[str, Path], str], changed: str, stale: str) -> int:
    """Apply ``transform(text, path)`` to every notebook path in ``argv`` and write what changes,
    printing ``<changed>: path``; with ``--check`` write nothing, print ``<stale>: path`` and
    return 1 if any notebook would change."""
    check = "--check" in argv
    differing = []
    for path in (Path(a) for a in argv if a != "--check"):
        text = path.read_text()
        new = transform(text, path)
        if new != text:
            differing.append(path)
            if not check:
                path.write_text(new)
    for path in differing:
        print(f"{stale if check else changed}: {path}")
    return 1 if (check and differing) else 0


def main(argv: list[str]) -> int:
    return rewrite_all(argv, lambda text, path: clean(text), "cleaned", "not clean")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
