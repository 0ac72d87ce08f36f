"""Streaming segmentation metrics from a confusion matrix (torch.bincount) plus instance counts.
A model's metrics over a split: :func:`mdseg.training.loop.evaluate`."""
from __future__ import annotations

import torch

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

    def merge(self, other: "SegMetrics") -> None:
        """Add another accumulator's counts (e.g. gathered from other processes)."""
        for name in self.COUNTS:
            getattr(self, name).add_(getattr(other, name))


def _nanmean(values: torch.Tensor) -> float:
    kept = values[~torch.isnan(values)]
    return float(kept.mean()) if kept.numel() else float("nan")
