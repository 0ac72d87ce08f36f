"""The paper's pseudo depth: a teacher's depth turned into a training target, cached once per
image and verified, and checked against true depth where it exists.

Targets (``depth_target``), all stored as ``VOC2012/PseudoDepth/<teacher>[-<target>]/<id>.png``
(16-bit, value = code x the manifest's ``scale``):

* ``normalised`` (default): per image, inverse depth mapped linearly so that its 1st percentile
  is 0 and its 99th is 1, clipped to [0, 1] (1 = nearest); any teacher.
* ``metric``: depth in metres as a metric teacher gives it (``dpt-dinov2`` is trained on NYU:
  metres, indoor range), clipped to :data:`METRIC_MAX_M` like an NYU-trained model's range; the
  simulated teacher then degrades its scene's true depth in metres. Relative teachers have no
  unit and are refused.
* ``disparity``: inverse depth as the teacher gives it, not normalised (Depth Anything's raw
  relative disparity; 1 / metres for a metric teacher).
* ``png8``: what transformers' ``pipeline("depth-estimation")`` hands a user as its ``depth``
  image: the teacher's output in its own convention (metres for ``dpt-dinov2``, far = 255;
  inverse depth for Depth Anything and the simulated teacher, near = 255) min-max rescaled per
  image to 0-255 and truncated to 8 bits. Trained in those 0-255 units, as a user who saves that
  PNG and reads it back with ``np.array`` would; stored as an 8-bit PNG.

A cache's manifest names its teacher, model, target and normalisation: a cache of one kind is
never read or extended as another.
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import stats
from tqdm.auto import tqdm

from ..data.dataset import find_voc, read_image, read_split
from ..data.depth_cache import (
    CODE_MAX,
    CODE_STEPS,
    TARGETS,
    UNITS,
    depth_dir,
    read_depth,
    read_manifest,
    write_codes,
    write_manifest,
)
from ..errors import DatasetError, OutputExists, SettingError
from ..world.synthetic import MAX_DEPTH_M, read_true_depth
from .align import align_scale_shift
from .teachers import make_teacher, teacher_spec

NORMALISATION = UNITS["normalised"].normalisation
METRIC_MAX_M = 10.0  # NYU-trained models (dpt-dinov2-small-nyu) see rooms: about 10 m at most
PNG8 = UNITS["png8"].normalisation


def to_inverse_depth(raw: np.ndarray, convention: str) -> np.ndarray:
    """A teacher's raw output -> inverse depth (larger = nearer)."""
    if convention == "metric-depth":
        return 1.0 / np.maximum(raw, 1e-3)
    if convention == "relative-inverse-depth":
        return raw
    raise ValueError(f"Unknown depth convention '{convention}'.")


def normalise(inverse: np.ndarray) -> np.ndarray:
    """Per-image :data:`NORMALISATION`: (H, W) inverse depth -> float32 in [0, 1]."""
    low, high = np.percentile(inverse, [1, 99])
    return np.clip((inverse - low) / max(high - low, 1e-12), 0, 1).astype(np.float32)


def to_target(raw: np.ndarray, convention: str, target: str = "normalised") -> np.ndarray:
    """A teacher's raw (H, W) output in its ``convention`` -> the training target, float32."""
    if target == "normalised":
        return normalise(to_inverse_depth(raw, convention))
    if target == "metric":
        if convention != "metric-depth":
            raise SettingError("a metric target needs a teacher that outputs metres (dpt-dinov2, or simulated).")
        return np.clip(raw, 0.0, METRIC_MAX_M).astype(np.float32)
    if target == "disparity":
        return to_inverse_depth(raw, convention).astype(np.float32)
    if target == "png8":
        return as_png8(raw)
    raise SettingError(f"Unknown depth target '{target}'; use one of {', '.join(TARGETS)}.")


def as_png8(raw: np.ndarray) -> np.ndarray:
    """:data:`PNG8`: (H, W) raw teacher output -> float32 codes 0..255, as the transformers
    pipeline computes its ``depth`` image (a constant map becomes all 0)."""
    low, high = float(np.min(raw)), float(np.max(raw))
    scaled = (raw - low) / (high - low) if high > low else np.zeros_like(raw)
    return (scaled * 255).astype(np.uint8).astype(np.float32)


# ----------------------------------------------------------------------------- the cache
def _identity(name: str, model_id: str | None, convention: str, target: str) -> dict:
    """What a cache's targets depend on: a cache made with another identity is refused."""
    normalisation = UNITS[target].normalisation
    return {"teacher": name, "model": model_id, "convention": convention, "target": target,
            "normalisation": normalisation, "scale": CODE_STEPS[target]}


def _fault(folder: Path, image_id: str, record: dict | None, size: tuple[int, int]) -> str | None:
    """Why a cached file must be (re)done, or ``None`` when it is done: it is listed in the
    manifest with this image size and its byte count."""
    path = folder / f"{image_id}.png"
    if not path.exists():
        return "missing"
    if record is None:
        return "not in manifest"
    if tuple(record["size"]) != tuple(size):
        return "image size changed"
    if path.stat().st_size != record["bytes"]:
        return "truncated or changed"
    return None


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.height, image.width


def generate(root: str | Path, teacher: str | object, split: str = "train", model: str | None = None,
             batch_size: int = 8, device: str | None = None, progress: bool = True,
             target: str = "normalised") -> dict:
    """Compute and cache the pseudo-depth ``target`` of every image of ``split``; returns the manifest,
    whose ``last_run`` says what this call did (``images``: how many it computed, 0 when all were cached).

    Each image is computed once: done ids (listed in the manifest with a file of the recorded
    size) are skipped, so an interrupted run resumes; missing, truncated or resized files are
    redone. A cache made by another teacher, model, target or normalisation is refused.

    ``teacher`` is a name from :data:`~mdseg.depth.teachers.TEACHERS` (``model`` overrides its hub id or
    gives a local ``save_pretrained`` folder) or an already built teacher object.
    """
    if target not in TARGETS:
        raise SettingError(f"Unknown depth target '{target}'; use one of {', '.join(TARGETS)}.")
    if isinstance(teacher, str):
        spec = teacher_spec(teacher)  # a settings error before the data is even looked at
        convention = "metric-depth" if teacher == "simulated" and target == "metric" else spec.convention
        name, wanted = teacher, _identity(teacher, model or spec.model_id, convention, target)
    else:
        name, wanted = teacher.name, _identity(teacher.name, teacher.model_id, teacher.convention, target)
    if target == "metric" and wanted["convention"] != "metric-depth":
        raise SettingError(f"Teacher '{name}' gives relative inverse depth, which has no unit: a metric depth target "
                         "needs a teacher that outputs metres (dpt-dinov2, or simulated on synthetic data).")
    base = find_voc(root)
    folder = depth_dir(root, name, target)
    manifest = read_manifest(folder)
    if manifest is not None:
        manifest = {"target": "normalised", "scale": CODE_STEPS["normalised"], **manifest}  # caches older than targets
        stale = {k: (manifest.get(k), v) for k, v in wanted.items() if manifest.get(k) != v}
        if stale:
            detail = "; ".join(f"{k}: cache has {a!r}, asked for {b!r}" for k, (a, b) in stale.items())
            raise OutputExists(
                f"Pseudo-depth cache {folder} was made differently ({detail}). Mixing would corrupt the targets: "
                f"delete {folder} to regenerate, or keep it and use the teacher and model it was made with."
            )
    else:
        bits = 8 if target == "png8" else 16
        manifest = {**wanted, "revision": None, "format": f"{bits}-bit PNG, value = code x scale", "images": {}}
    folder.mkdir(parents=True, exist_ok=True)

    ids = read_split(root, split)
    sizes = {i: _image_size(base / "JPEGImages" / f"{i}.jpg") for i in ids}
    faults = {i: _fault(folder, i, manifest["images"].get(i), sizes[i]) for i in ids}
    todo = [i for i in ids if faults[i]]
    if not todo:  # every file verified: this call made none (the manifest on disk keeps the run that made them)
        return {**manifest, "last_run": {"split": split, "images": 0, "reasons": {}, "seconds": 0.0}}
    reasons = {r: sum(1 for i in todo if faults[i] == r) for r in sorted({faults[i] for i in todo})}
    if progress and len(todo) < len(ids):
        tqdm.write(f"{folder}: {len(ids) - len(todo)} files done, redoing {len(todo)} ({reasons})")
    runner = make_teacher(name, root, model, device, metric=target == "metric") if isinstance(teacher, str) \
        else teacher
    manifest["revision"] = runner.revision
    by_size: dict[tuple[int, int], list[str]] = defaultdict(list)
    for image_id in todo:  # the processors batch images of one size
        by_size[sizes[image_id]].append(image_id)
    batches = [group[i:i + batch_size] for group in by_size.values() for i in range(0, len(group), batch_size)]
    bar = tqdm(total=len(todo), desc=f"pseudo depth [{name}, {target}] {split}", unit="img", disable=not progress)
    start = time.perf_counter()
    try:
        for batch in batches:
            images = [read_image(base / "JPEGImages" / f"{i}.jpg") for i in batch]
            for image_id, raw in zip(batch, runner(images, batch)):
                codes = np.clip(np.round(to_target(raw, runner.convention, target) / CODE_STEPS[target]), 0, CODE_MAX)
                path = folder / f"{image_id}.png"
                write_codes(codes, path, target)
                manifest["images"][image_id] = {"size": list(codes.shape), "bytes": path.stat().st_size}
            write_manifest(folder, manifest)
            bar.update(len(batch))
    finally:
        bar.close()
        write_manifest(folder, manifest)
    manifest["last_run"] = {"split": split, "images": len(todo), "reasons": reasons,
                            "seconds": time.perf_counter() - start}
    return manifest


# ----------------------------------------------------------------------------- quality check
def align_inverse(pred: np.ndarray, reference_inverse: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Least-squares ``s * pred + t`` matching ``reference_inverse`` over ``valid`` pixels
    (:func:`mdseg.depth.align.align_scale_shift` on one image); (H, W) arrays in, (H, W) out."""
    as_batch = lambda a: torch.as_tensor(np.asarray(a, np.float64))[None, None]  # noqa: E731
    return align_scale_shift(as_batch(pred), as_batch(reference_inverse), as_batch(valid).bool())[0, 0].numpy()


def depth_quality(pred_inverse: np.ndarray, true_depth: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Compare a teacher's inverse depth with a reference depth (metres).

    The prediction is aligned to ``1 / true_depth`` by least-squares scale and shift (teachers
    give relative depth), turned back into depth, then:
    ``abs_rel`` = mean |d - d*| / d*, ``delta1`` = share of pixels with max(d/d*, d*/d) < 1.25,
    ``spearman`` = rank correlation of ``pred_inverse`` with ``1 / true_depth`` (alignment-free).
    ``valid`` defaults to pixels nearer than the sky.
    """
    if valid is None:
        valid = true_depth < MAX_DEPTH_M * 0.999
    ref_inv = 1.0 / true_depth
    aligned = align_inverse(pred_inverse.astype(np.float64), ref_inv, valid)
    depth = 1.0 / np.clip(aligned, 1.0 / (10 * MAX_DEPTH_M), None)
    d, g = depth[valid], true_depth[valid]
    ratio = np.maximum(d / g, g / d)
    return {"abs_rel": float(np.mean(np.abs(d - g) / g)), "delta1": float(np.mean(ratio < 1.25)),
            "spearman": float(stats.spearmanr(pred_inverse[valid], ref_inv[valid]).statistic)}


def evaluate_teacher(root: str | Path, teacher: str, split: str = "val", limit: int | None = None) -> dict:
    """:func:`depth_quality` of a cached (normalised) teacher against the synthetic true depth, per
    image and averaged: ``{"mean": {...}, "per_image": {id: {...}}}``."""
    per_image = {}
    for image_id in read_split(root, split)[:limit]:
        pred = read_depth(depth_dir(root, teacher) / f"{image_id}.png")
        per_image[image_id] = depth_quality(pred, read_true_depth(root, image_id))
    if not per_image:
        raise DatasetError(f"Split '{split}' of {root} has no images to evaluate the teacher on.")
    keys = next(iter(per_image.values())).keys()
    return {"mean": {k: float(np.mean([m[k] for m in per_image.values()])) for k in keys}, "per_image": per_image}
