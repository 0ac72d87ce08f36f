"""The package's layers: folders in order, each importing only the layers before it (type-only
imports included), no import cycles anywhere, and data and training free of plots and prose."""
import ast
from pathlib import Path

import mdseg

PACKAGE = Path(mdseg.__file__).parent
LAYERS = ["runtime", "world", "data", "depth", "model", "training", "study", "viz"]
SHARED = {"errors", "voc"}  # the vocabulary every layer uses: errors and VOC's formats
TOP = {"cli", "commands", "notebook", "rehearsal", "__init__", "__main__"}  # entry points and the Colab rehearsal harness: may import anything, imported by nothing


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every mdseg module a file imports (absolute names), at top level, inside functions or
    under ``if TYPE_CHECKING``."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("mdseg"):
                continue
            for alias in node.names:  # "from . import runs" imports a module; "from .x import f" a name of x
                candidate = f"{module}.{alias.name}"
                names.add(candidate if _exists(candidate) else module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("mdseg")}
    return {n for n in names if n != "mdseg"}


def _exists(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules() -> dict[str, set[str]]:
    return {module_name(p): imported_modules(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_lives_in_a_layer_or_is_shared_or_an_entry_point():
    for name in modules():
        parts = name.split(".")
        assert len(parts) == 1 or parts[1] in LAYERS + list(SHARED | TOP), name


def test_layers_import_only_the_layers_before_them():
    for name, imports in modules().items():
        here = layer(name)
        if here not in LAYERS:
            if here in SHARED:
                assert imports <= {"mdseg.errors"}, f"{name} (shared) imports {sorted(imports)}"
            continue
        for other in imports:
            there = layer(other)
            assert there not in TOP, f"{name} imports the entry point {other}"
            if there in SHARED:
                continue
            assert LAYERS.index(there) <= LAYERS.index(here), f"{name} imports {other}: an upward import"


def test_there_are_no_import_cycles():
    found = modules()
    graph = {name: {i for i in imports if i in found} for name, imports in found.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join(path[path.index(nxt):] + [nxt]) if nxt in path else f"{node} -> {nxt}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in graph:
        if start not in state and layer(start) not in TOP:
            visit(start, [start])


def test_data_and_training_never_import_viz_or_the_study():
    for name, imports in modules().items():
        if layer(name) in ("data", "depth", "model", "training"):
            wrong = {i for i in imports if layer(i) in ("viz", "study")}
            assert not wrong, f"{name} imports {sorted(wrong)}"


def test_the_checker_sees_lazy_and_type_only_imports(tmp_path):
    path = PACKAGE / "training" / "_probe_for_test.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..study.profiles import Profile\n"
                    "def f():\n    from ..viz import dataset_grid\n    from . import runs\n")
    try:
        assert imported_modules(path) == {"mdseg.study.profiles", "mdseg.viz", "mdseg.training.runs"}
    finally:
        path.unlink()


def test_every_module_is_short_enough_to_read_at_once():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert not long, f"modules over 300 lines (split them by job): {long}"


def test_the_read_path_needs_no_torch():
    """`python tools/reference_tables.py` (every suite's tables, read from the shipped reference) runs
    where torch cannot be imported: reading results never trains and never loads a model."""
    import subprocess
    import sys

    block = ("import importlib.abc, runpy, sys\n"
             "class Block(importlib.abc.MetaPathFinder):\n"
             "    def find_spec(self, name, path, target=None):\n"
             "        if name.split('.')[0] in ('torch', 'torchvision', 'segmentation_models_pytorch', 'timm', 'transformers'):\n"
             "            raise ImportError('blocked: ' + name)\n"
             "sys.meta_path.insert(0, Block())\n"
             "sys.argv = ['reference_tables.py']\n"
             "runpy.run_path('tools/reference_tables.py', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", block], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "## Tables 2 and 3" in done.stdout and "## The scale suite" in done.stdout
