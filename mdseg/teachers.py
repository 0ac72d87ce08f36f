"""Depth teachers: a teacher maps a batch of RGB images to depth maps at the images' own size.

Teachers and the depth convention each produces:

* ``dpt-dinov2`` (paper-faithful): DPT head on a DINOv2 backbone, ``facebook/dpt-dinov2-small-nyu``
  (``dpt-dinov2-kitti``: the KITTI-trained head). Metric depth in metres.
* ``depth-anything-v2``: ``depth-anything/Depth-Anything-V2-Small-hf`` (DINOv2 encoder).
  Relative inverse depth (affine-invariant disparity).
* ``simulated`` (synthetic data only): the scene's true depth degraded the way a monocular
  model's output differs from truth; see :class:`SimulatedTeacher`.

Whatever the teacher, the stored target is the same :data:`NORMALISATION`: per image,
inverse depth, mapped linearly so that its 1st percentile is 0 and its 99th is 1, clipped to
[0, 1] (1 = nearest). Files: ``VOC2012/PseudoDepth/<teacher>/<id>.png``, 16-bit, value / 65535.
"""
from __future__ import annotations

import json
import os
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage, stats
from tqdm.auto import tqdm

from .data import DEPTH_MAX_CODE, DatasetError, depth_dir, find_voc, read_depth, read_image, read_split
from .device import amp_dtype, pick_device
from .hub import offline_unless_reachable
from .synthetic import MAX_DEPTH_M, read_true_depth
from .voc import IMAGENET_MEAN, IMAGENET_STD, write_depth_png

NORMALISATION = "inverse-depth/percentile-1-99/v1"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class TeacherSpec:
    model_id: str | None
    convention: str  # "metric-depth" or "relative-inverse-depth"


TEACHERS: dict[str, TeacherSpec] = {
    "dpt-dinov2": TeacherSpec("facebook/dpt-dinov2-small-nyu", "metric-depth"),
    "dpt-dinov2-kitti": TeacherSpec("facebook/dpt-dinov2-small-kitti", "metric-depth"),
    "depth-anything-v2": TeacherSpec("depth-anything/Depth-Anything-V2-Small-hf", "relative-inverse-depth"),
    "simulated": TeacherSpec(None, "relative-inverse-depth"),
}


class TeacherUnavailable(RuntimeError):
    """A teacher's weights cannot be loaded (offline, wrong id or path)."""


def teacher_spec(name: str) -> TeacherSpec:
    """The :data:`TEACHERS` entry of ``name``, with a clear error listing the teachers."""
    if name not in TEACHERS:
        raise KeyError(f"Unknown teacher '{name}'. Teachers: {', '.join(TEACHERS)}.")
    return TEACHERS[name]


# ----------------------------------------------------------------------------- normalisation
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


# ----------------------------------------------------------------------------- teachers
class HubTeacher:
    """A transformers depth-estimation model (DPT-DINOv2, Depth Anything) and its own image
    processor (patch-14 sizes, normalisation). fp16/bf16 on CUDA, fp32 on CPU."""

    def __init__(self, name: str, model_id: str | None = None, device: str | None = None):
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        self.name, self.convention = name, TEACHERS[name].convention
        self.model_id = model_id or TEACHERS[name].model_id
        self.device = pick_device(device)
        self.dtype = amp_dtype(self.device) or torch.float32
        local = Path(self.model_id).expanduser().is_dir()
        with offline_unless_reachable() as online:
            try:
                self.processor = AutoImageProcessor.from_pretrained(self.model_id)
                model = AutoModelForDepthEstimation.from_pretrained(self.model_id)
            except (OSError, ValueError) as error:
                raise TeacherUnavailable(self._unavailable(online or local, error)) from error
        self.model = model.to(self.device, self.dtype).eval()
        self.revision = getattr(model.config, "_commit_hash", None)

    def _unavailable(self, online: bool, error: Exception) -> str:
        from huggingface_hub.constants import HF_HUB_CACHE

        reason = f"{type(error).__name__}: {error}" if online else "no network and not in the local cache"
        return (
            f"Cannot load teacher '{self.name}' from '{self.model_id}' ({reason}). Hub cache: {HF_HUB_CACHE}. "
            "Offline options: `--teacher simulated` on the synthetic dataset; or download the weights once "
            "with network (e.g. `huggingface-cli download "
            f"{TEACHERS[self.name].model_id}`) and rerun with HF_HUB_OFFLINE=1, or pass "
            "--model /path/to/a/save_pretrained/folder."
        )

    @torch.inference_mode()
    def __call__(self, images: list[np.ndarray], ids: list[str]) -> list[np.ndarray]:
        """(H, W, 3) uint8 images of one size -> raw depth maps (H, W) float32 at that size."""
        inputs = self.processor(images=images, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        outputs = self.model(pixel_values=pixels)
        outputs.predicted_depth = outputs.predicted_depth.float()
        sizes = [image.shape[:2] for image in images]
        post = self.processor.post_process_depth_estimation(outputs, target_sizes=sizes)
        return [p["predicted_depth"].cpu().numpy().astype(np.float32) for p in post]


class SimulatedTeacher:
    """A stand-in for a monocular teacher on the synthetic dataset, built from the true depth.

    What it does to the true depth ``z`` of each image (seeded by ``(seed, id)``):

    1. inverse depth ``1 / z`` (monocular models predict disparity-like values);
    2. Gaussian smoothing of ``sigma = blur * image size`` (edges blurred across objects,
       as ViT-based teachers do at patch scale);
    3. a smooth low-frequency error: a random tilt (ramp) of up to ``tilt`` of the range;
    4. an unknown per-image scale in [0.5, 2] and shift in [0, 0.5] x range;
    5. pixel noise of ``noise`` x range.

    It never returns the ground truth: its scale-and-shift-aligned error is small but not zero.
    """

    name, convention, model_id, revision = "simulated", "relative-inverse-depth", None, None

    def __init__(self, root: str | Path, seed: int = 0, blur: float = 0.012, tilt: float = 0.08,
                 noise: float = 0.02):
        self.root, self.seed, self.blur, self.tilt, self.noise = Path(root), seed, blur, tilt, noise

    def __call__(self, images: list[np.ndarray], ids: list[str]) -> list[np.ndarray]:
        out = []
        for image, image_id in zip(images, ids):
            inverse = 1.0 / read_true_depth(self.root, image_id)
            if inverse.shape != image.shape[:2]:
                raise DatasetError(f"True depth of {image_id} is {inverse.shape}, its image {image.shape[:2]}.")
            rng = np.random.default_rng([self.seed, zlib.crc32(image_id.encode())])
            h, w = inverse.shape
            smooth = ndimage.gaussian_filter(inverse, sigma=max(self.blur * max(h, w), 0.5))
            span = float(np.ptp(smooth)) or 1.0
            yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
            ramp = self.tilt * span * (rng.normal() * (xx - 0.5) + rng.normal() * (yy - 0.5))
            scale, shift = rng.uniform(0.5, 2.0), rng.uniform(0.0, 0.5) * span
            noisy = scale * (smooth + ramp) + shift + rng.normal(0, self.noise * span, (h, w))
            out.append(noisy.astype(np.float32))
        return out


def make_teacher(name: str, root: str | Path | None = None, model: str | None = None,
                 device: str | None = None):
    """A teacher by name (see :data:`TEACHERS`)."""
    teacher_spec(name)
    if name == "simulated":
        return SimulatedTeacher(root)
    return HubTeacher(name, model, device)


def tiny_teacher(kind: str, folder: str | Path, seed: int = 0) -> Path:
    """Save a tiny random-weight model of a real teacher's architecture (with its image processor)
    with ``save_pretrained``, for offline tests and benchmarks. ``kind``: ``dpt-dinov2`` (DPT on a
    ``Dinov2Config`` backbone) or ``depth-anything-v2``. Its depth is meaningless."""
    from transformers import (DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTConfig,
                              DPTForDepthEstimation, DPTImageProcessor)

    torch.manual_seed(seed)
    backbone = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                    image_size=56, patch_size=14, reshape_hidden_states=False)
    if kind == "dpt-dinov2":
        config = DPTConfig(
            backbone_config=Dinov2Config(out_features=["stage1", "stage2", "stage3", "stage4"], **backbone),
            hidden_size=32, neck_hidden_sizes=[16, 32, 64, 64], fusion_hidden_size=256, head_in_index=-1,
            reassemble_factors=[4, 2, 1, 0.5], is_hybrid=False, use_bias_in_fusion_residual=False,
            add_projection=True, readout_type="project", depth_estimation_type="metric",
        )
        model = DPTForDepthEstimation(config)
    elif kind == "depth-anything-v2":
        config = DepthAnythingConfig(
            backbone_config=Dinov2Config(out_indices=[1, 2, 3, 4], apply_layernorm=True, **backbone),
            neck_hidden_sizes=[16, 32, 64, 64], fusion_hidden_size=16, head_hidden_size=8,
            reassemble_hidden_size=32, patch_size=14,
        )
        model = DepthAnythingForDepthEstimation(config)
    else:
        raise KeyError(f"No tiny model for '{kind}'; use dpt-dinov2 or depth-anything-v2.")
    processor = DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                                  resample=Image.BICUBIC, image_mean=list(IMAGENET_MEAN),
                                  image_std=list(IMAGENET_STD))
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# ----------------------------------------------------------------------------- the cache
def _identity(name: str, model_id: str | None, convention: str) -> dict:
    """What a cache's targets depend on: a cache made with another identity is refused."""
    return {"teacher": name, "model": model_id, "convention": convention, "normalisation": NORMALISATION}


def read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # a torn manifest: every file is verified again and redone where needed


def _write_manifest(folder: Path, manifest: dict) -> None:
    """Atomically write ``manifest.json``; ``count`` is derived from the listed images."""
    manifest["count"] = len(manifest["images"])
    tmp = folder / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, folder / MANIFEST)


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
             batch_size: int = 8, device: str | None = None, progress: bool = True) -> dict:
    """Compute and cache pseudo depth for every image of ``split``; returns the manifest.

    Each image is computed once: done ids (listed in the manifest with a file of the recorded
    size) are skipped, so an interrupted run resumes; missing, truncated or resized files are
    redone. A cache made by another teacher, model or normalisation is refused.

    ``teacher`` is a name from :data:`TEACHERS` (``model`` overrides its hub id or gives a
    local ``save_pretrained`` folder) or an already built teacher object.
    """
    base = find_voc(root)
    if isinstance(teacher, str):
        spec = teacher_spec(teacher)
        name, wanted = teacher, _identity(teacher, model or spec.model_id, spec.convention)
    else:
        name, wanted = teacher.name, _identity(teacher.name, teacher.model_id, teacher.convention)
    folder = depth_dir(root, name)
    manifest = read_manifest(folder)
    if manifest is not None:
        stale = {k: (manifest.get(k), v) for k, v in wanted.items() if manifest.get(k) != v}
        if stale:
            detail = "; ".join(f"{k}: cache has {a!r}, asked for {b!r}" for k, (a, b) in stale.items())
            raise FileExistsError(
                f"Pseudo-depth cache {folder} was made differently ({detail}). Mixing would corrupt the targets: "
                f"delete {folder} to regenerate, or keep it and use the teacher and model it was made with."
            )
    else:
        manifest = {**wanted, "revision": None, "format": f"16-bit PNG, value / {DEPTH_MAX_CODE}", "images": {}}
    folder.mkdir(parents=True, exist_ok=True)

    ids = read_split(root, split)
    sizes = {i: _image_size(base / "JPEGImages" / f"{i}.jpg") for i in ids}
    faults = {i: _fault(folder, i, manifest["images"].get(i), sizes[i]) for i in ids}
    todo = [i for i in ids if faults[i]]
    if not todo:
        return manifest
    reasons = {r: sum(1 for i in todo if faults[i] == r) for r in sorted({faults[i] for i in todo})}
    if progress and len(todo) < len(ids):
        tqdm.write(f"{folder}: {len(ids) - len(todo)} files done, redoing {len(todo)} ({reasons})")
    runner = make_teacher(name, root, model, device) if isinstance(teacher, str) else teacher
    manifest["revision"] = runner.revision
    by_size: dict[tuple[int, int], list[str]] = defaultdict(list)
    for image_id in todo:  # the processors batch images of one size
        by_size[sizes[image_id]].append(image_id)
    batches = [group[i:i + batch_size] for group in by_size.values() for i in range(0, len(group), batch_size)]
    bar = tqdm(total=len(todo), desc=f"pseudo depth [{name}] {split}", unit="img", disable=not progress)
    start = time.perf_counter()
    try:
        for batch in batches:
            images = [read_image(base / "JPEGImages" / f"{i}.jpg") for i in batch]
            for image_id, raw in zip(batch, runner(images, batch)):
                target = normalise(to_inverse_depth(raw, runner.convention))
                path = folder / f"{image_id}.png"
                tmp = folder / f".{image_id}.tmp.png"
                write_depth_png(np.round(target * DEPTH_MAX_CODE), tmp)
                os.replace(tmp, path)
                manifest["images"][image_id] = {"size": list(target.shape), "bytes": path.stat().st_size}
            _write_manifest(folder, manifest)
            bar.update(len(batch))
    finally:
        bar.close()
        _write_manifest(folder, manifest)
    manifest["last_run"] = {"split": split, "images": len(todo), "reasons": reasons,
                            "seconds": time.perf_counter() - start}
    return manifest


# ----------------------------------------------------------------------------- quality check
def align_inverse(pred: np.ndarray, reference_inverse: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Least-squares ``s * pred + t`` matching ``reference_inverse`` over ``valid`` pixels."""
    a = np.stack([pred[valid], np.ones(valid.sum())], 1)
    (s, t), *_ = np.linalg.lstsq(a, reference_inverse[valid], rcond=None)
    return s * pred + t


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
    """:func:`depth_quality` of a cached teacher against the synthetic true depth, per image and
    averaged: ``{"mean": {...}, "per_image": {id: {...}}}``."""
    per_image = {}
    for image_id in read_split(root, split)[:limit]:
        pred = read_depth(depth_dir(root, teacher) / f"{image_id}.png")
        per_image[image_id] = depth_quality(pred, read_true_depth(root, image_id))
    keys = next(iter(per_image.values())).keys()
    return {"mean": {k: float(np.mean([m[k] for m in per_image.values()])) for k in keys}, "per_image": per_image}
