"""The paper's losses: softmax focal loss (eq. 1) and depth MSE (eq. 2), plus a
scale-and-shift-invariant depth loss for relative (monocular) depth targets."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..depth.align import align_scale_shift
from ..errors import SettingError
from ..voc import IGNORE_INDEX

FOCAL_GAMMA = 2.0  # the paper's Table 1
FOCAL_ALPHA = 1.0  # not given by the paper


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA, alpha: float = FOCAL_ALPHA,
               ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Softmax focal loss ``alpha * (1 - exp(-CE))**gamma * CE``, averaged over labelled pixels.

    ``exp(-CE)`` is the predicted probability of the true class, so this is the standard
    focal loss (Lin et al. 2017); at ``gamma=0`` and ``alpha=1`` it equals cross-entropy.

    Args:
        logits: (N, C, H, W) float scores.
        target: (N, H, W) int64 class ids; ``ignore_index`` pixels do not count.
    Returns:
        A scalar; 0 (still differentiable) when no pixel is labelled.
    """
    ce = F.cross_entropy(logits.float(), target, ignore_index=ignore_index, reduction="none")
    valid = target != ignore_index
    focal = alpha * (1.0 - torch.exp(-ce)).pow(gamma) * ce
    return focal[valid].sum() / valid.sum().clamp(min=1)


def standardize(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per image, ``(x - mean) / std`` over ``valid`` pixels; (N, 1, H, W) in and out."""
    w = valid.float().flatten(1)
    n = w.sum(1).clamp(min=1)
    v = torch.nan_to_num(x).flatten(1)
    mean = (v * w).sum(1) / n
    std = (((v - mean[:, None]) ** 2 * w).sum(1) / n).sqrt().clamp(min=1e-6)
    return (x - mean.view(-1, 1, 1, 1)) / std.view(-1, 1, 1, 1)


def depth_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
               kind: str = "mse") -> torch.Tensor:
    """Depth regression loss over pixels with a target.

    Args:
        pred: (N, 1, H, W) float.
        target: (N, 1, H, W) float; NaN or inf marks pixels with no depth.
        valid: optional (N, 1, H, W) bool, ANDed with ``isfinite(target)``.
        kind: ``"mse"`` (paper's eq. 2: mean squared error); ``"ssi"`` (MSE after the
            per-image least-squares scale and shift of ``pred`` onto ``target``, for
            targets known only up to an affine map); ``"norm"`` (MSE between per-image
            standardised prediction and target: unit scale whatever the teacher).
    Returns:
        A scalar; 0 (still differentiable) when no pixel has depth.
    """
    mask = torch.isfinite(target)
    if valid is not None:
        mask = mask & valid
    pred = pred.float()
    if kind == "ssi":
        pred = align_scale_shift(pred, target, mask)
    elif kind == "norm":
        pred, target = standardize(pred, mask), standardize(target, mask)
    elif kind != "mse":
        raise SettingError(f"Unknown depth loss '{kind}'; use 'mse', 'ssi' or 'norm'.")
    error = (pred - torch.nan_to_num(target)).pow(2)
    return error[mask].sum() / mask.sum().clamp(min=1)
