import hashlib

import numpy as np
import pytest
from PIL import Image

from mdseg.data import read_split
from mdseg.synthetic import (MAX_DEPTH_M, SyntheticSpec, boundary_band, make_voc_tree, read_true_depth,
                             render_scene)
from mdseg.voc import IGNORE_INDEX, NUM_CLASSES, PALETTE, voc_dir


def _digest(base, sub, ext):
    h = hashlib.sha256()
    for path in sorted((base / sub).glob(f"*.{ext}")):
        h.update(path.read_bytes())
    return h.hexdigest()


def test_layout_and_formats(synthetic_root):
    base = voc_dir(synthetic_root)
    train, val = read_split(synthetic_root, "train"), read_split(synthetic_root, "val")
    assert len(train) == 12 and len(val) == 4 and not set(train) & set(val)
    for image_id in train + val:
        with Image.open(base / "JPEGImages" / f"{image_id}.jpg") as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (64, 64)
        for folder in ("SegmentationClass", "SegmentationObject"):
            with Image.open(base / folder / f"{image_id}.png") as im:
                assert im.mode == "P"
                assert np.array_equal(np.array(im.getpalette()[:768]).reshape(256, 3), PALETTE)
                values = set(np.unique(np.array(im)).tolist())
            if folder == "SegmentationClass":
                assert values <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
        with Image.open(base / "TrueDepth" / f"{image_id}.png") as im:
            assert im.mode.startswith("I;16") or im.mode == "I"


def test_deterministic_from_seed(tmp_path):
    spec = SyntheticSpec(n_train=3, n_val=1, size=48, seed=7)
    a, b = make_voc_tree(tmp_path / "a", spec, False), make_voc_tree(tmp_path / "b", spec, False)
    c = make_voc_tree(tmp_path / "c", SyntheticSpec(n_train=3, n_val=1, size=48, seed=8), False)
    for sub, ext in (("JPEGImages", "jpg"), ("SegmentationClass", "png"), ("TrueDepth", "png")):
        assert _digest(a, sub, ext) == _digest(b, sub, ext)
        assert _digest(a, sub, ext) != _digest(c, sub, ext)


def test_existing_tree_with_other_spec_is_refused(synthetic_root):
    with pytest.raises(FileExistsError, match="already holds"):
        make_voc_tree(synthetic_root, SyntheticSpec(n_train=1, n_val=1, size=32), False)


def test_boundary_band_marks_both_sides_of_outlines():
    inst = np.zeros((8, 8), np.uint8)
    inst[2:6, 2:6] = 1
    band = boundary_band(inst, 1)
    assert band[2, 2] and band[1, 2] and band[2, 1]  # inside and outside the outline
    assert not band[4, 4] and not band[0, 7]
    assert boundary_band(inst, 2).sum() > band.sum()


def test_depth_is_consistent_with_perspective_and_occlusion():
    """Objects are nearer than the background just above them (they occlude it), the
    ground recedes towards the horizon, and outlines are depth discontinuities."""
    checked, across_jumps, inside_jumps = 0, [], []
    for i in range(40):
        rgb, labels, inst, depth = render_scene(np.random.default_rng([11, i]), 96)
        assert rgb.shape == (96, 96, 3) and depth.min() > 0 and depth.max() <= MAX_DEPTH_M
        col = depth[:, 0]
        ground = col[(col < MAX_DEPTH_M) & (inst[:, 0] == 0)]
        assert np.all(np.diff(ground) <= 1e-4)  # rows further down are nearer
        for k in range(1, inst.max() + 1):
            ys, xs = np.nonzero(inst == k)
            top = ys.min()
            for x in xs[ys == top]:
                if top > 0 and inst[top - 1, x] == 0:
                    assert depth[top, x] < depth[top - 1, x]
                    checked += 1
        crossing = inst[1:] != inst[:-1]
        jump = np.abs(np.diff(np.log(depth), axis=0))
        inside = ~crossing & (depth[1:] < MAX_DEPTH_M) & (depth[:-1] < MAX_DEPTH_M)
        across_jumps.append(jump[crossing])
        inside_jumps.append(jump[inside])
    assert checked > 50
    assert np.concatenate(across_jumps).mean() > 3 * np.concatenate(inside_jumps).mean()


def test_true_depth_reads_back_in_metres(synthetic_root):
    depth = read_true_depth(synthetic_root, "syn_000000")
    assert depth.dtype == np.float32 and depth.shape == (64, 64)
    assert 0.1 < depth.min() and depth.max() == pytest.approx(MAX_DEPTH_M)
