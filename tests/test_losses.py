import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mdseg import depth_loss, focal_loss


def _batch(seed=0, n=2, c=5, h=6, w=7):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g) * 3
    target = torch.randint(0, c, (n, h, w), generator=g)
    target[:, 0, :3] = 255
    return logits, target


def test_focal_equals_cross_entropy_at_gamma_zero():
    logits, target = _batch()
    expected = F.cross_entropy(logits, target, ignore_index=255)
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0), expected)


@pytest.mark.parametrize("gamma,alpha", [(2.0, 1.0), (0.5, 0.25), (3.0, 2.0)])
def test_focal_matches_per_pixel_formula(gamma, alpha):
    logits, target = _batch(seed=int(gamma * 10))
    probs = logits.softmax(1)
    total, count = 0.0, 0
    for n, y, x in np.ndindex(*target.shape):
        label = int(target[n, y, x])
        if label == 255:
            continue
        p = float(probs[n, label, y, x])
        total += alpha * (1 - p) ** gamma * -math.log(p)
        count += 1
    assert focal_loss(logits, target, gamma=gamma, alpha=alpha).item() == pytest.approx(total / count, rel=1e-4)


def test_focal_all_ignored_is_zero_and_differentiable():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = focal_loss(logits, torch.full((1, 4, 4), 255))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_depth_mse_over_valid_pixels_only():
    pred, target = torch.randn(2, 1, 5, 5), torch.rand(2, 1, 5, 5)
    target[0, 0, 0, :] = float("nan")
    valid = torch.ones_like(target, dtype=torch.bool)
    valid[1, 0, 2] = False
    keep = torch.isfinite(target) & valid
    expected = ((pred - target)[keep] ** 2).mean()
    torch.testing.assert_close(depth_loss(pred, target, valid), expected)


def test_ssi_loss_ignores_scale_and_shift_but_not_structure():
    target = torch.rand(3, 1, 8, 8)
    affine = target * torch.tensor([2.0, 0.5, -1.0]).view(3, 1, 1, 1) + 0.3
    assert depth_loss(affine, target, kind="ssi").item() < 1e-10
    assert depth_loss(affine, target, kind="mse").item() > 1e-2
    assert depth_loss(torch.rand(3, 1, 8, 8), target, kind="ssi").item() > 1e-3


def test_unknown_depth_loss():
    with pytest.raises(ValueError, match="Unknown depth loss"):
        depth_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), kind="l1")
