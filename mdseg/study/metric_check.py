"""Which metric could the paper's collapse rows have used? Trivial predictors scored under every
reading of "mIoU" the paper could have meant.

The paper's depth-first/b rows report mIoU 0.0136 and 0.0085 with pixel accuracy 0.91. Under the
standard VOC metric (21 classes with background, accumulated over the dataset) predicting
background everywhere already scores about (background IoU) / 21, and a model that gets 91% of
pixels right cannot have every class IoU near zero. Here each predictor is scored under four
readings:

* ``21 classes, dataset``: the standard (:class:`~mdseg.training.metrics.SegMetrics`' ``mIoU``);
* ``20 classes, dataset``: object classes only (``fg_mIoU``, the paper's written iIoU definition);
* ``21 classes, per image`` / ``20 classes, per image``: the mean over classes present in an
  image's label or prediction, averaged over images;

with pixel accuracy (labelled pixels; the same under every reading).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..model.checkpoint import load_model
from ..training.schedule import get_recipe
from ..voc import CLASSES, IGNORE_INDEX, NUM_CLASSES
from .experiments import train_recipe
from .failure_report import COLLAPSE
from .paper import PAPER

if TYPE_CHECKING:  # annotations only
    from ..model.unet import MultiDecoderUNet
    from .profiles import Profile

READINGS = ("21 classes, dataset", "20 classes, dataset", "21 classes, per image", "20 classes, per image")
Predictor = Callable[[dict], torch.Tensor]  # a batch -> (B, H, W) class ids


def confusion(pred: np.ndarray, label: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """(n, n) counts, rows = label, columns = prediction, over pixels not labelled ignore."""
    valid = label != IGNORE_INDEX
    return np.bincount(label[valid].astype(np.int64) * n + pred[valid], minlength=n * n).reshape(n, n)


def _ious(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU, NaN for a class absent from both label and prediction."""
    tp = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def _mean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def readings(confusions: list[np.ndarray]) -> dict[str, float]:
    """Every reading of :data:`READINGS` and ``acc`` from per-image confusion matrices."""
    total = np.sum(confusions, axis=0)
    per_image = [_ious(c) for c in confusions]
    return {READINGS[0]: _mean(_ious(total)), READINGS[1]: _mean(_ious(total)[1:]),
            READINGS[2]: float(np.nanmean([_mean(i) for i in per_image])),
            READINGS[3]: float(np.nanmean([_mean(i[1:]) for i in per_image])),
            "acc": float(np.trace(total) / max(total.sum(), 1))}


def constant(class_id: int) -> Predictor:
    """A predictor that says ``class_id`` everywhere."""
    return lambda batch: torch.full(batch["mask"].shape, class_id, dtype=torch.int64)


def score(batches: Iterable[dict], predictors: dict[str, Predictor]) -> dict[str, dict[str, float]]:
    """``{predictor: readings}`` over ``batches`` (dicts with ``mask`` (B, H, W) and what the
    predictors read). Every predictor sees every batch once."""
    confusions: dict[str, list[np.ndarray]] = {name: [] for name in predictors}
    for batch in batches:
        labels = batch["mask"].cpu().numpy()
        for name, predict in predictors.items():
            pred = predict(batch).cpu().numpy()
            confusions[name] += [confusion(p, label) for p, label in zip(pred, labels)]
    return {name: readings(c) for name, c in confusions.items()}


def trivial_scores(batches: list[dict], model: Predictor | None = None,
                   model_name: str = "untrained head, depth-first encoder") -> dict[str, dict[str, float]]:
    """All background; the best single object class under each reading (its name in the row);
    and ``model`` when given. ``batches`` is a list (it is read once per predictor group)."""
    scored = score(batches, {f"all {CLASSES[c]}": constant(c) for c in range(NUM_CLASSES)})
    out = {"all background": scored.pop("all background")}
    best = {r: max(scored, key=lambda name: np.nan_to_num(scored[name][r], nan=-1)) for r in READINGS}
    for name in dict.fromkeys(best.values()):
        under = [r for r in READINGS if best[r] == name]
        out[f"{name} (the best single class under {'every reading' if len(under) == len(READINGS) else '; '.join(under)})"] \
            = scored[name]
    if model is not None:
        out[model_name] = score(batches, {model_name: model})[model_name]
    return out


def scores_markdown(scores: dict[str, dict[str, float]], where: str) -> str:
    """The predictors as rows, each reading and acc as columns, with the paper's collapse rows."""
    lines = [f"| predictor ({where}) | " + " | ".join(READINGS) + " | acc |", "|---|" + "---|" * (len(READINGS) + 1)]
    for name, values in scores.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[r]:.4f}" for r in READINGS) + f" | {values['acc']:.4f} |")
    for recipe in COLLAPSE:
        paper = PAPER[recipe]
        lines.append(f"| paper, {recipe} | mIoU {paper['mIoU']:.4f} (reading not stated) | iIoU {paper['iIoU']:.4f} "
                     f"| | | {paper['acc']:.4f} |")
    return "\n".join(lines)


def paper_fit(scores: dict[str, dict[str, float]], where: str) -> str:
    """Which readings the paper's collapse rows fit on these images: a reading fits when some
    trivial predictor scores at most the paper's largest collapse mIoU and at least its smallest
    collapse accuracy. A sentence built from the numbers."""
    miou = max(PAPER[r]["mIoU"] for r in COLLAPSE)
    acc = min(PAPER[r]["acc"] for r in COLLAPSE)
    fits, detail = [], []
    for reading in READINGS:
        low = [s for s in scores.values() if s[reading] <= miou]
        if any(s["acc"] >= acc for s in low):
            fits.append(reading)
        best_acc = max((s["acc"] for s in low), default=float("nan"))
        detail.append(f"{reading}: " + (f"predictors at or below mIoU {miou} reach acc {best_acc:.3f} at most"
                                        if low else f"no trivial predictor is as low as {miou}"))
    verdict = (f"the paper's collapse rows (mIoU <= {miou} with acc >= {acc}) fit {', '.join(fits)}"
               if fits else f"no reading fits the paper's collapse rows (mIoU <= {miou} with acc >= {acc})")
    return f"On {where}, {verdict}: " + "; ".join(detail) + "."


COLLAPSING = "depth-first/copy/b"  # the paper's collapse row whose first stage is trained here


def depth_first_start(profile: Profile, seed: int = 0, progress: bool = True) -> MultiDecoderUNet:
    """The model as the paper's collapse recipe ``depth-first/copy/b`` enters its joint stage: its
    first stage (depth only, the encoder trains too) trained as a run of its own (reused when
    finished, ``runs/<profile>/depth-first-stage-1/seed<k>``), then the depth decoder's body copied
    into the semantic decoder, whose head has never trained."""
    recipe = get_recipe(COLLAPSING, profile.stage_epochs)
    first = replace(recipe, name="depth-first-stage-1", stages=recipe.stages[:1],
                    description=f"the first stage of {COLLAPSING}")
    result = train_recipe(profile, first, seed, progress=progress)
    model, _ = load_model(result.run_dir)
    model.copy_decoder(*recipe.stages[1].copy)
    return model.eval()


def model_predictor(model: MultiDecoderUNet) -> Predictor:
    """A predictor from a model's semantic decoder (argmax over classes)."""
    device = next(model.parameters()).device

    @torch.no_grad()
    def predict(batch: dict) -> torch.Tensor:
        return model(batch["image"].to(device), tasks=("seg",))["seg"].argmax(1).cpu()

    return predict
