"""Figure 3 before any training: the reference's predictions on a fixed handful of val images, shipped
as small lossless PNGs with their provenance, so a notebook can show segmentations under
``MDSEG_TRAIN=none``.

``<reference>/gallery/`` holds, for :data:`COUNT` val images (the first ones of the split):
``images/<id>.png`` (the input as the model saw it), ``truth/<id>.png`` (palette PNG), and per run
``<run>/<id>_seg.png`` (palette PNG of the predicted classes) and ``<run>/<id>_depth.png`` (16-bit:
the predicted depth min-max scaled per image, for display only), plus ``gallery.json``: per run its
recipe, point, seed, val metrics and the SHA-256 of the checkpoint the predictions came from.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.dataset import VOCDepth, eval_transforms
from ..model.checkpoint import load_model
from ..model.shipped import sha256
from ..runtime.files import read_json, write_json
from ..training import runs
from ..training.schedule import BASELINE, BEST_RECIPE, NAIVE
from ..voc import IMAGENET_MEAN, IMAGENET_STD, save_label_png, write_depth_png
from .experiments import prepare_data, train_recipe
from .profiles import PROFILES, Profile, runs_root
from .reference import reference_root
from .scale_suite import Point, point_profile, scale_suite

COUNT = 16
GALLERY = "gallery"
NORM = "naive-joint/norm"
FAILURE_AND_RESCUE = (NAIVE, NORM)  # naive joint at the failing point, and what rescues it


def gallery_runs(profile: Profile, failing: Point | None, lr_sgd: float | None) -> dict[str, tuple[Profile, str]]:
    """``{label: (profile with the run's settings, recipe)}``: seed 0 of the baseline, naive joint and
    the paper's best recipe at the profile's setting, and naive joint and ``naive-joint/norm`` at the
    scale suite's failing point (when it has one)."""
    out = {r: (profile, r) for r in (BASELINE, NAIVE, BEST_RECIPE)}
    if failing is not None:
        variant = point_profile(profile, failing, lr_sgd)
        out.update({label_at(r, failing): (variant, r) for r in FAILURE_AND_RESCUE})
    return out


def label_at(recipe: str, point: Point) -> str:
    """The gallery's label of ``recipe``'s run at the scale suite's ``point``."""
    return f"{recipe} at {point.label}"


def folder_name(label: str) -> str:
    return label.replace("/", "__").replace(">", "").replace(",", "").replace(" ", "_")


def write_gallery(profile: Profile, failing: Point | None, lr_sgd: float | None, out: str | Path,
                  base: str | Path = "runs/gallery", count: int = COUNT, device: str | None = None) -> dict:
    """Train (or reuse, with their checkpoints) seed 0 of each :func:`gallery_runs` run under ``base``,
    predict the first ``count`` val images and write the gallery into ``out``. Returns its provenance."""
    out = Path(out)
    for sub in ("images", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    root = prepare_data(profile, with_depth=True)
    val = VOCDepth(root, "val", profile.teacher, eval_transforms(profile.eval_size))
    items = [val[i] for i in range(min(count, len(val)))]
    for item in items:
        Image.fromarray((image_array(item["image"]) * 255).round().astype(np.uint8)).save(out / "images" / f"{item['id']}.png")
        save_label_png(item["mask"].numpy(), out / "truth" / f"{item['id']}.png")
    provenance = {"ids": [item["id"] for item in items], "runs": {}}
    for label, (variant, recipe) in gallery_runs(profile, failing, lr_sgd).items():
        folder = runs.run_dir(runs_root(variant, base), recipe, 0)
        result = train_recipe(variant, recipe, 0, out=folder, device=device, progress=False)
        model, _ = load_model(folder, device)
        target = out / folder_name(label)
        target.mkdir(exist_ok=True)
        with torch.no_grad():
            outputs = model(torch.stack([item["image"] for item in items]).to(next(model.parameters()).device))
        for item, seg, depth in zip(items, outputs["seg"].argmax(1).cpu().numpy(), outputs["depth"][:, 0].cpu().numpy()):
            save_label_png(seg, target / f"{item['id']}_seg.png")
            low, high = float(depth.min()), float(depth.max())
            write_depth_png(np.round((depth - low) / max(high - low, 1e-12) * 65535), target / f"{item['id']}_depth.png")
        provenance["runs"][label] = {
            "folder": target.name, "recipe": recipe, "seed": 0, "run": str(folder.relative_to(base)),
            "checkpoint_sha256": sha256(folder / runs.CHECKPOINT),
            "metrics": {k: v for k, v in result.metrics.items() if k != "per_class_iou"},
            "settings": {k: getattr(variant, k) for k in ("optimizer", "lr", "lr_schedule", "depth_target", "depth_scale")}}
    write_json(out / "gallery.json", provenance)
    return provenance


def image_array(image: torch.Tensor) -> np.ndarray:
    """A normalised (3, H, W) tensor -> (H, W, 3) float in [0, 1]."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image.float() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def read_gallery(folder: str | Path) -> tuple[list[dict], dict[str, np.ndarray], dict[str, np.ndarray], dict] | None:
    """``(items, {label: (N, H, W) class ids}, {label: (N, H, W) depth in [0, 1]}, provenance)`` of a
    shipped gallery, the items shaped like a dataset's (``image`` normalised, ``mask``, ``id``) so
    :func:`mdseg.viz.figure3` and :func:`mdseg.viz.explorer` take them; ``None`` where none is shipped."""
    folder = Path(folder)
    if not (folder / "gallery.json").exists():
        return None
    provenance = read_json(folder / "gallery.json", "restore the shipped reference with `git checkout mdseg/reference`")
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    items = []
    for image_id in provenance["ids"]:
        rgb = torch.from_numpy(np.asarray(Image.open(folder / "images" / f"{image_id}.png"), np.float32) / 255)
        mask = torch.from_numpy(np.asarray(Image.open(folder / "truth" / f"{image_id}.png"), np.int64))
        items.append({"id": image_id, "image": (rgb.permute(2, 0, 1) - mean) / std, "mask": mask})
    seg, depth = {}, {}
    for label, about in provenance["runs"].items():
        sub = folder / about["folder"]
        seg[label] = np.stack([np.asarray(Image.open(sub / f"{i}_seg.png"), np.int64) for i in provenance["ids"]])
        depth[label] = np.stack([np.asarray(Image.open(sub / f"{i}_depth.png"), np.float32) / 65535
                                 for i in provenance["ids"]])
    return items, seg, depth, provenance


def reference_gallery(profile_name: str = "cpu"):
    """:func:`read_gallery` of the shipped reference (``None`` where none is shipped)."""
    return read_gallery(reference_root(profile_name) / GALLERY)


def main_gallery(base: str | Path = "runs", out: str | Path | None = None) -> dict:
    """Write the reference's gallery from the cpu profile and the shipped scale suite's first
    failing point (what ``tools/reference_gallery.py`` runs)."""
    cpu = PROFILES["cpu"]
    scale = scale_suite(cpu, finished_only=True, progress=False, base=reference_root("cpu"))
    failing = scale.failing()
    return write_gallery(cpu, failing[0] if failing else None, scale.lr_sgd, out or Path(base) / GALLERY,
                         Path(base) / f"{GALLERY}-runs")
