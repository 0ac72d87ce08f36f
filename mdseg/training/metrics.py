"""Streaming metrics: segmentation from a confusion matrix (torch.bincount) plus instance counts
(:class:`SegMetrics`), depth quality after per-image scale-and-shift alignment (:class:`DepthMetrics`).
A model's metrics over a split: :func:`mdseg.training.loop.evaluate`."""
from __future__ import annotations

import torch

from ..depth.align import align_scale_shift
from ..runtime.distributed import all_sum
from ..voc import IGNORE_INDEX, NUM_CLASSES


class SegMetrics:
    """Accumulate predictions batch by batch; :meth:`compute` returns

    * ``mIoU``: mean over classes of ``TP / (TP + FP + FN)``, all ``num_classes`` classes
      with background (the VOC convention); classes absent from both prediction and
      label are left out of the mean.
    * ``fg_mIoU``: the same mean over object classes only (1..num_classes-1): the paper's
      written definition of its "iIoU" (IoU over objects, background excluded).
    * ``iIoU``: Cityscapes' instance-level IoU, ``iTP / (iTP + FP + iFN)`` per object class,
      where each ground-truth pixel of an instance is weighted by (mean instance size of
      its class) / (its instance's size), so small objects count as much as large ones;
      FP is not weighted. Mean over object classes with at least one instance; NaN when
      no instance masks were given.
    * ``acc``: pixel accuracy, correct / labelled pixels.
    * ``per_class_iou``: list of ``num_classes`` IoUs (NaN for absent classes).

    Pixels labelled ``ignore_index`` never count.
    """

    COUNTS = ("confusion", "inst_count", "inst_pixels", "inst_recall")  # the state: sums over images

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        n = self.num_classes
        self.confusion = torch.zeros(n, n, dtype=torch.int64)  # rows: label, cols: prediction
        self.inst_count = torch.zeros(n, dtype=torch.float64)  # instances per class
        self.inst_pixels = torch.zeros(n, dtype=torch.float64)  # their labelled pixels
        self.inst_recall = torch.zeros(n, dtype=torch.float64)  # sum of TP / size over instances

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor, instances: torch.Tensor | None = None) -> None:
        """Add a batch.

        Args:
            pred: (N, H, W) int64 class ids, or (N, C, H, W) scores (argmax taken).
            target: (N, H, W) int64 labels with ``ignore_index``.
            instances: optional (N, H, W) instance ids (0 = none, ``ignore_index`` = ignore).
        """
        if pred.dim() == 4:
            pred = pred.argmax(1)
        pred, target = pred.cpu(), target.cpu()
        valid = target != self.ignore_index
        n = self.num_classes
        index = target[valid] * n + pred[valid]
        self.confusion += torch.bincount(index, minlength=n * n).reshape(n, n)
        if instances is not None:
            self._update_instances(pred, target, instances.cpu(), valid)

    def _update_instances(self, pred, target, instances, valid) -> None:
        n = self.num_classes
        has = valid & (instances > 0) & (instances != self.ignore_index)
        if not has.any():
            return
        image = torch.arange(len(target)).view(-1, 1, 1).expand_as(target)
        key = (image * 256 + instances)[has]  # one id per (image, instance)
        keys, inverse = torch.unique(key, return_inverse=True)
        size = torch.bincount(inverse, minlength=len(keys)).double()
        hits = torch.bincount(inverse, weights=(pred[has] == target[has]).double(), minlength=len(keys))
        # an instance's class is the majority label over its pixels
        votes = torch.bincount(inverse * n + target[has], minlength=len(keys) * n).reshape(len(keys), n)
        cls = votes.argmax(1)
        fg = cls > 0
        self.inst_count += torch.bincount(cls[fg], minlength=n).double()
        self.inst_pixels += torch.bincount(cls[fg], weights=size[fg], minlength=n)
        self.inst_recall += torch.bincount(cls[fg], weights=(hits / size)[fg], minlength=n)

    def compute(self) -> dict:
        conf = self.confusion.double()
        tp = conf.diag()
        fp = conf.sum(0) - tp
        fn = conf.sum(1) - tp
        union = tp + fp + fn
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
        with_instances = self.inst_count > 0
        mean_size = self.inst_pixels / self.inst_count.clamp(min=1)
        itp = mean_size * self.inst_recall  # weighted TP; weighted TP + FN = inst_pixels
        iiou = itp / (self.inst_pixels + fp).clamp(min=1e-12)
        iiou = torch.where(with_instances, iiou, torch.full_like(iiou, float("nan")))
        total = conf.sum()
        return {
            "mIoU": _nanmean(iou),
            "fg_mIoU": _nanmean(iou[1:]),
            "iIoU": _nanmean(iiou[1:]),
            "acc": float(tp.sum() / total) if total > 0 else float("nan"),
            "per_class_iou": iou.tolist(),
        }

    def all_reduce(self) -> None:
        """Sum the counts over torch.distributed processes (no-op in one process)."""
        for name in self.COUNTS:
            all_sum(getattr(self, name))


def _nanmean(values: torch.Tensor) -> float:
    kept = values[~torch.isnan(values)]
    return float(kept.mean()) if kept.numel() else float("nan")


class DepthMetrics:
    """Depth quality that any target unit can be read in: each predicted image is first aligned to its
    target by the least-squares scale and shift (:func:`~mdseg.depth.align.align_scale_shift`, the
    MiDaS / Depth Anything evaluation convention), so a depth head is judged on the shape of its
    map, not on its unit or offset. :meth:`compute` returns, averaged over images:

    * ``depth_r2``: ``1 - SSE / SST`` of the aligned prediction (1 = perfect, 0 = no better than
      predicting the image's mean; the same for a target in any unit or times any factor).
    * ``depth_abs_rel``: mean ``|aligned - target| / target`` over pixels whose target is positive
      (a relative error is undefined at 0, e.g. the far 1% the normalised target clips to 0); in
      the target's own quantity (inverse depth for ``normalised`` and ``png8``, metres for ``metric``).
    * ``depth_delta1``: share of those pixels with ``max(aligned / target, target / aligned) < 1.25``.

    Images whose target is constant (no R^2) or has no positive pixel are left out of that mean;
    NaN when no image counts.
    """

    KEYS = ("depth_r2", "depth_abs_rel", "depth_delta1")

    def __init__(self):
        self.sums = torch.zeros(2 * len(self.KEYS), dtype=torch.float64)  # (sum, images) per key

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``pred`` and ``target`` (N, 1, H, W) float; non-finite target pixels have no depth."""
        pred, target = pred.detach().double().cpu(), target.detach().double().cpu()
        valid = torch.isfinite(target)
        aligned = align_scale_shift(pred, target, valid).flatten(1)
        t, valid = torch.nan_to_num(target, posinf=0.0, neginf=0.0).flatten(1), valid.flatten(1)
        w = valid.double()
        n = w.sum(1)
        mean = (t * w).sum(1) / n.clamp(min=1)
        sse = ((aligned - t) ** 2 * w).sum(1)
        sst = ((t - mean[:, None]) ** 2 * w).sum(1)
        has_r2 = (n > 1) & (sst > 0)
        positive = valid & (t > 0)
        p = positive.double()
        n_pos = p.sum(1)
        safe_t = torch.where(positive, t, torch.ones_like(t))
        abs_rel = ((aligned - t).abs() / safe_t * p).sum(1) / n_pos.clamp(min=1)
        ratio = torch.where(aligned > 0, torch.maximum(aligned / safe_t, safe_t / aligned.clamp(min=1e-30)),
                            torch.full_like(t, float("inf")))
        delta1 = ((ratio < 1.25).double() * p).sum(1) / n_pos.clamp(min=1)
        has_pos = n_pos > 0
        r2 = 1 - sse / sst.clamp(min=1e-300)
        for i, (value, counted) in enumerate(((r2, has_r2), (abs_rel, has_pos), (delta1, has_pos))):
            self.sums[2 * i] += value[counted].sum()
            self.sums[2 * i + 1] += counted.sum()

    def all_reduce(self) -> None:
        """Sum over torch.distributed processes (no-op in one process)."""
        all_sum(self.sums)

    def compute(self) -> dict[str, float]:
        return {key: float(self.sums[2 * i] / self.sums[2 * i + 1]) if self.sums[2 * i + 1] > 0 else float("nan")
                for i, key in enumerate(self.KEYS)}
