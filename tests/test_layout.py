"""The package's layering: data preparation, data loading and training never import plotting or
the report's prose, so they run (and are tested) without matplotlib's or the paper's concerns."""
import ast
from pathlib import Path

import mdseg

PACKAGE = Path(mdseg.__file__).parent
LOWER = ["voc", "dataset", "prepare", "synthetic", "objects", "drawing", "scenes", "arrays", "teachers",
         "pseudo_depth", "model", "losses", "metrics", "multitask", "schedule", "runs", "checkpoint", "train"]


def imported_modules(path: Path) -> set[str]:
    """Every mdseg module a file imports, at top level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mdseg."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("mdseg.")}
    return names


def test_data_and_training_never_import_viz_or_report():
    for name in LOWER:
        wrong = imported_modules(PACKAGE / f"{name}.py") & {"viz", "report", "cli", "notebook", "experiments"}
        assert not wrong, f"mdseg/{name}.py imports {sorted(wrong)}"


def test_the_checker_sees_lazy_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from .viz import dataset_grid\n    from . import report\n")
    assert imported_modules(path) == {"viz", "report"}
