"""Strip outputs, execution counts and widget state from notebooks (``python tools/nbclean.py notebooks/*.ipynb``).

``--check`` changes nothing and exits 1 when a notebook is not clean (the test suite runs it).
"""
from __future__ import annotations

import sys
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


def main(argv: list[str]) -> int:
    check = "--check" in argv
    dirty = []
    for path in (Path(a) for a in argv if a != "--check"):
        text = path.read_text()
        cleaned = clean(text)
        if cleaned != text:
            dirty.append(path)
            if not check:
                path.write_text(cleaned)
    for path in dirty:
        print(f"{'not clean' if check else 'cleaned'}: {path}")
    return 1 if (check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
