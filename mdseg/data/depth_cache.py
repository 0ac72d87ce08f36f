"""The pseudo-depth cache's file format, defined once: where a teacher's targets live
(``VOC2012/PseudoDepth/<teacher>[-<target>]/<id>.png``), their units (:data:`TARGETS`), how a value
is stored (a 16-bit PNG code, or 8-bit for ``png8``, times the code step the manifest stores under
``scale``, a key kept so existing caches stay valid) and the manifest that names what a cache
holds. :mod:`mdseg.depth.targets` writes caches; the datasets read them through :func:`read_depth` and :func:`code_step`."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..runtime.files import write_json
from ..voc import read_depth_png, voc_dir, write_depth_png

PSEUDO_DEPTH_DIR = "PseudoDepth"
MANIFEST = "manifest.json"
CODE_MAX = 65535  # the largest 16-bit code


@dataclass(frozen=True)
class DepthUnit:
    """One unit a depth target can be trained in, everything about it in one entry: ``help`` (the
    command line's words), ``code_step`` (a stored code times this is the value), ``bits`` per stored
    code, and ``normalisation`` (what a cache of it records, so caches of other kinds are refused).
    How a teacher's output becomes this unit: :func:`mdseg.depth.targets.to_target`."""

    name: str
    help: str
    code_step: float
    bits: int = 16
    normalisation: str | None = None


DEFAULT_UNIT = "normalised"
UNITS = {u.name: u for u in (
    DepthUnit("normalised", "per-image inverse depth in [0, 1]", 1 / 65535, normalisation="inverse-depth/percentile-1-99/v1"),
    DepthUnit("metric", "metres", 1e-3),
    DepthUnit("disparity", "the teacher's inverse depth", 1e-3),
    DepthUnit("png8", "the transformers pipeline's 8-bit depth image, 0-255", 1.0, bits=8,
              normalisation="min-max per image x 255, truncated to uint8 (transformers depth-estimation pipeline)"),
)}
TARGETS = tuple(UNITS)  # the unit names, in the order the command line lists them
CODE_STEPS = {name: unit.code_step for name, unit in UNITS.items()}  # stored code x code step = value


def units_help() -> str:
    """``normalised (per-image inverse depth in [0, 1]), metric (metres), ...`` for a command's help."""
    return ", ".join(f"{u.name} ({u.help})" for u in UNITS.values())


def depth_dir(root: str | Path, teacher: str, target: str = DEFAULT_UNIT) -> Path:
    """Folder of a teacher's cached pseudo depth: ``VOC2012/PseudoDepth/<teacher>`` for the
    default unit, ``<teacher>-<target>`` for the others."""
    return voc_dir(root) / PSEUDO_DEPTH_DIR / (teacher if target == DEFAULT_UNIT else f"{teacher}-{target}")


def read_depth(path: Path, code_step: float = CODE_STEPS[DEFAULT_UNIT]) -> np.ndarray:
    """A cached pseudo-depth PNG -> (H, W) float32: code x ``code_step`` (the cache manifest's;
    the default gives the normalised target in [0, 1])."""
    try:
        return read_depth_png(path).astype(np.float32) * np.float32(code_step)
    except (OSError, SyntaxError) as error:
        raise DatasetError(
            f"Cannot read pseudo depth {path} ({error}); rerun `python -m mdseg depth` to redo broken files."
        ) from error


def write_codes(codes: np.ndarray, path: Path, target: str) -> None:
    """Write (H, W) codes of ``target`` atomically (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")  # per process: two preparing the same root never share it
    write_depth_png(codes, tmp, bits=UNITS[target].bits)
    os.replace(tmp, path)


def read_manifest(folder: Path) -> dict | None:
    """A cache's manifest, or ``None`` when it is missing or torn (every file is then verified again)."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def write_manifest(folder: Path, manifest: dict) -> None:
    """Atomically write ``manifest.json``; ``count`` is derived from the listed images."""
    manifest["count"] = len(manifest["images"])
    write_json(folder / MANIFEST, manifest)


def code_step(root: str | Path, teacher: str, target: str) -> float:
    """The code step of the cache of ``teacher``'s ``target`` after checking that its manifest holds
    that target (a cache of one kind is never read as another)."""
    folder = depth_dir(root, teacher, target)
    command = f"`python -m mdseg depth --root {root} --teacher {teacher} --depth-target {target}`"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as error:
        if target == "normalised":  # files without a manifest: the historical normalised format
            return CODE_STEPS[DEFAULT_UNIT]
        raise DatasetError(f"Pseudo-depth cache {folder} has no readable {MANIFEST} ({error}); run {command}.") \
            from error
    held = manifest.get("target", "normalised")
    if held != target:
        raise DatasetError(f"Pseudo-depth cache {folder} holds '{held}' targets, not '{target}': "
                           f"a cache of one kind is never read as another. Run {command}.")
    return float(manifest.get("scale", CODE_STEPS[DEFAULT_UNIT]))
