"""Depth known only up to a scale and a shift: the per-image least-squares alignment that the
scale-and-shift-invariant loss and the teachers' quality check share."""
from __future__ import annotations

import torch


def align_scale_shift(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per image, the least-squares ``s * pred + t`` closest to ``target`` over ``valid`` pixels.

    Args: (N, 1, H, W) each (``valid`` bool). Returns the aligned prediction, (N, 1, H, W).
    """
    w = valid.float().flatten(1)
    p, y = pred.flatten(1) * w, torch.nan_to_num(target).flatten(1) * w
    n = w.sum(1).clamp(min=1)
    mp, my = p.sum(1) / n, y.sum(1) / n
    var = (p * p).sum(1) / n - mp * mp
    cov = (p * y).sum(1) / n - mp * my
    scale = cov / var.clamp(min=1e-8)
    shift = my - scale * mp
    return pred * scale.view(-1, 1, 1, 1) + shift.view(-1, 1, 1, 1)
