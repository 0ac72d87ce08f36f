import math

import numpy as np
import pytest
import torch

from mdseg import SegMetrics


def _random(seed, n=3, c=6, h=10, w=12):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, c, (n, h, w), generator=g)
    pred = torch.where(torch.rand(n, h, w, generator=g) < 0.6, target, torch.randint(0, c, (n, h, w), generator=g))
    target[torch.rand(n, h, w, generator=g) < 0.1] = 255
    inst = torch.randint(1, 4, (n, h, w), generator=g)  # 3 instances per image
    inst[target == 0] = 0
    inst[target == 255] = 255
    return pred, target, inst


def _reference(preds, targets, c):
    """Plain-numpy IoU, accuracy by looping pixels."""
    conf = np.zeros((c, c))
    for p, t in zip(preds, targets):
        for a, b in zip(t.flatten().tolist(), p.flatten().tolist()):
            if a != 255:
                conf[a, b] += 1
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    return iou, tp.sum() / conf.sum(), conf


def test_matches_hand_computed_confusion_matrix_streaming():
    metrics = SegMetrics(num_classes=6)
    preds, targets = [], []
    for seed in range(3):
        p, t, _ = _random(seed)
        metrics.update(p, t)
        preds.append(p)
        targets.append(t)
    iou, acc, conf = _reference(preds, targets, 6)
    result = metrics.compute()
    np.testing.assert_array_equal(metrics.confusion.numpy(), conf)
    assert result["mIoU"] == pytest.approx(np.nanmean(iou))
    assert result["fg_mIoU"] == pytest.approx(np.nanmean(iou[1:]))
    assert result["acc"] == pytest.approx(acc)
    np.testing.assert_allclose(result["per_class_iou"], iou)


def test_logits_are_argmaxed():
    p, t, _ = _random(5)
    logits = torch.nn.functional.one_hot(p, 6).permute(0, 3, 1, 2).float()
    a, b = SegMetrics(6), SegMetrics(6)
    a.update(p, t)
    b.update(logits, t)
    assert a.compute()["mIoU"] == b.compute()["mIoU"]


def test_absent_classes_are_left_out():
    m = SegMetrics(num_classes=4)
    t = torch.tensor([[[0, 1], [1, 0]]])
    m.update(t.clone(), t)
    result = m.compute()
    assert result["mIoU"] == 1.0 and np.isnan(result["per_class_iou"][3])


def test_iiou_matches_cityscapes_definition():
    metrics = SegMetrics(num_classes=6)
    p, t, inst = _random(7)
    metrics.update(p, t, inst)
    # reference: per class, weight instance pixels by mean size / instance size
    per_class = {}
    for n in range(len(t)):
        for k in inst[n].unique().tolist():
            if k in (0, 255):
                continue
            region = inst[n] == k
            cls = int(torch.mode(t[n][region]).values)
            per_class.setdefault(cls, []).append((region.sum().item(), (p[n][region] == t[n][region]).sum().item()))
    _, _, conf = _reference([p], [t], 6)
    fp = conf.sum(0) - np.diag(conf)
    values = []
    for cls, items in per_class.items():
        if cls == 0:
            continue
        mean_size = np.mean([s for s, _ in items])
        itp = sum(mean_size / s * hit for s, hit in items)
        ifn = sum(mean_size / s * (s - hit) for s, hit in items)
        values.append(itp / (itp + ifn + fp[cls]))
    assert metrics.compute()["iIoU"] == pytest.approx(np.mean(values))


def test_iiou_weights_small_instances_up():
    """One big instance right, one small one wrong: pixel IoU is high, iIoU is about half."""
    t = torch.zeros(1, 10, 10, dtype=torch.long)
    t[0, :8, :] = 1
    t[0, 9, :2] = 1
    inst = torch.zeros_like(t)
    inst[0, :8] = 1
    inst[0, 9, :2] = 2
    p = t.clone()
    p[0, 9, :2] = 0
    m = SegMetrics(num_classes=2)
    m.update(p, t, inst)
    r = m.compute()
    assert r["fg_mIoU"] == pytest.approx(80 / 82)
    assert r["iIoU"] == pytest.approx(0.5, abs=0.01)


def test_no_instances_gives_nan_iiou():
    p, t, _ = _random(1)
    m = SegMetrics(6)
    m.update(p, t)
    assert np.isnan(m.compute()["iIoU"])


def test_batches_accumulate_to_what_one_batch_of_both_gives():
    """Counts add up over batches (and over processes: all_reduce sums the same counts)."""
    p1, t1, i1 = _random(1)
    p2, t2, i2 = _random(2)
    a, both = SegMetrics(6), SegMetrics(6)
    a.update(p1, t1, i1)
    a.update(p2, t2, i2)
    both.update(torch.cat([p1, p2]), torch.cat([t1, t2]), torch.cat([i1, i2]))
    for key in ("mIoU", "fg_mIoU", "acc", "iIoU"):
        assert a.compute()[key] == pytest.approx(both.compute()[key])
    np.testing.assert_array_equal(a.confusion, both.confusion)
    assert a.compute()["iIoU"] == pytest.approx(both.compute()["iIoU"])


def test_depth_metrics_are_blind_to_unit_and_offset_and_know_a_constant():
    from mdseg.training.metrics import DepthMetrics

    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 1, 8, 8, generator=g) + 0.5
    for pred in (target, 255 * target - 7):  # the same map in another unit and offset: perfect after alignment
        metrics = DepthMetrics()
        metrics.update(pred, target)
        out = metrics.compute()
        assert out["depth_r2"] == pytest.approx(1.0) and out["depth_abs_rel"] == pytest.approx(0.0, abs=1e-6)
        assert out["depth_delta1"] == 1.0
    flat = DepthMetrics()
    flat.update(torch.full_like(target, 3.0), target)  # a dead head: one value everywhere
    out = flat.compute()
    assert out["depth_r2"] == pytest.approx(0.0, abs=1e-9)
    mean = target.mean(dim=(2, 3), keepdim=True)
    assert out["depth_abs_rel"] == pytest.approx(float(((target - mean).abs() / target).mean()), rel=1e-6)


def test_depth_metrics_by_hand_with_holes_and_zeros():
    from mdseg.training.metrics import DepthMetrics

    target = torch.tensor([[[[0.0, 1.0], [2.0, float("nan")]]]])  # one pixel at 0, one without depth
    pred = torch.tensor([[[[0.0, 1.0], [1.0, 5.0]]]])
    metrics = DepthMetrics()
    metrics.update(pred, target)
    out = metrics.compute()
    # least squares of t on p over the 3 valid pixels: p = (0, 1, 1), t = (0, 1, 2) -> s = 1.5, t0 = 0
    aligned = torch.tensor([0.0, 1.5, 1.5])
    t = torch.tensor([0.0, 1.0, 2.0])
    r2 = 1 - float(((aligned - t) ** 2).sum() / ((t - t.mean()) ** 2).sum())
    assert out["depth_r2"] == pytest.approx(r2, rel=1e-6)
    assert out["depth_abs_rel"] == pytest.approx((0.5 / 1 + 0.5 / 2) / 2, rel=1e-6)  # the zero pixel left out
    assert out["depth_delta1"] == 0.0  # 1.5 / 1 = 1.5 and 2 / 1.5 = 1.33: both beyond 1.25
    empty = DepthMetrics()
    empty.update(pred, torch.full_like(target, float("nan")))
    assert all(math.isnan(v) for v in empty.compute().values())
