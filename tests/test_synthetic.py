import hashlib

import numpy as np
import pytest
from PIL import Image

from mdseg.data.dataset import read_split
from mdseg.study.stats import tree_stats
from mdseg.voc import CLASSES, IGNORE_INDEX, NUM_CLASSES, PALETTE, voc_dir
from mdseg.world.objects import CLASS_LOOKS
from mdseg.world.scenes import CLASS_CONTEXTS, CONTEXTS, VOC_IMAGES_PER_CLASS, Camera
from mdseg.world.synthetic import (
    MAX_DEPTH_M,
    PRETRAIN_SEEDS,
    SyntheticSpec,
    boundary_band,
    make_voc_tree,
    read_true_depth,
    render_scene,
)


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


def test_boundary_band_width_follows_voc():
    inst = np.zeros((8, 8), np.uint8)
    inst[2:6, 2:6] = 1
    one = boundary_band(inst, 1)  # the far side only: the background's pixel
    assert one[1, 2] and one[2, 1] and not one[2, 2]
    two = boundary_band(inst, 2)  # both sides
    assert two[2, 2] and two[1, 2] and two[2, 1]
    assert not two[4, 4] and not two[0, 7]
    assert boundary_band(inst, 4).sum() > two.sum() > one.sum()
    inst[3:5, 3:5] = 2  # a nearer object in front: the band falls on the farther object's side
    assert boundary_band(inst, 1)[2, 3] and not boundary_band(inst, 1)[3, 3]


def test_ground_plane_geometry():
    """The ground recedes towards the horizon, and contact_row inverts ground_depth."""
    cam = Camera(focal=80.0, height=1.5, horizon=20.0)
    rows = np.arange(21.0, 96.0)
    depth = cam.ground_depth(rows)
    assert np.all(np.diff(depth) < 0) and np.isinf(cam.ground_depth(np.array([19.0]))).all()
    for d in (2.0, 7.5, 30.0):
        assert cam.ground_depth(np.array([cam.contact_row(d)]))[0] == pytest.approx(d)


def test_depth_is_consistent_with_occlusion():
    """Objects are nearer than what is just above them (they stand in front of it), and
    outlines are depth discontinuities."""
    nearer, checked, across_jumps, inside_jumps = 0, 0, [], []
    for i in range(40):
        scene = render_scene(np.random.default_rng([11, i]), 96)
        inst, depth = scene.instances, scene.depth
        assert scene.rgb.shape == (96, 96, 3) and depth.min() > 0 and depth.max() <= MAX_DEPTH_M
        for k in range(1, inst.max() + 1):
            ys, xs = np.nonzero(inst == k)
            top = ys.min()
            for x in xs[ys == top]:
                if top > 0 and inst[top - 1, x] == 0:
                    nearer += depth[top, x] < depth[top - 1, x]
                    checked += 1
        crossing = inst[1:] != inst[:-1]
        jump = np.abs(np.diff(np.log(depth), axis=0))
        inside = ~crossing & (depth[1:] < MAX_DEPTH_M) & (depth[:-1] < MAX_DEPTH_M)
        across_jumps.append(jump[crossing])
        inside_jumps.append(jump[inside])
    assert checked > 100 and nearer / checked > 0.97  # the rest: background clutter standing in front
    assert np.concatenate(across_jumps).mean() > 3 * np.concatenate(inside_jumps).mean()


def test_every_class_and_context_is_drawn_as_documented():
    assert set(CLASS_CONTEXTS) == set(CLASSES[1:]) == set(CLASS_LOOKS) == set(VOC_IMAGES_PER_CLASS)
    for name, contexts in CLASS_CONTEXTS.items():
        assert len(contexts) >= 2 and set(contexts) <= set(CONTEXTS) and sum(contexts.values()) == pytest.approx(1)
    seen = {render_scene(np.random.default_rng([12, i]), 48).main for i in range(300)}
    assert seen == set(CLASSES[1:])


def test_framing_is_close_to_voc(tmp_path):
    """Measured with the same code as `mdseg data stats`, against VOC's published 2.4 objects and
    about 1.5 classes per image and the real samples' foreground share (median 0.44)."""
    make_voc_tree(tmp_path, SyntheticSpec(n_train=300, n_val=1, size=64, seed=5), False)
    stats = tree_stats(tmp_path, "train")
    assert 0.3 <= stats["fg_fraction"]["q50"] <= 0.55
    assert 2.0 <= stats["objects"]["mean"] <= 2.8 and 1.3 <= stats["classes"]["mean"] <= 1.8
    assert stats["object_size"]["q10"] >= 0.005  # few tiny objects
    assert 0.2 <= stats["class_images"]["person"] <= 0.45


def test_seeds_of_the_pretraining_world_are_refused_for_trees():
    with pytest.raises(ValueError, match="pretraining"):
        SyntheticSpec(seed=PRETRAIN_SEEDS)


def test_a_tree_of_another_world_version_is_refused(tmp_path):
    spec = SyntheticSpec(n_train=1, n_val=1, size=32)
    make_voc_tree(tmp_path, spec, False)
    stamp = voc_dir(tmp_path) / "synthetic.json"
    stamp.write_text(stamp.read_text().replace(spec.world, "voc-like/1"))
    with pytest.raises(FileExistsError, match="voc-like/1"):
        make_voc_tree(tmp_path, spec, False)


def test_true_depth_reads_back_in_metres(synthetic_root):
    depth = read_true_depth(synthetic_root, "syn_000000")
    assert depth.dtype == np.float32 and depth.shape == (64, 64)
    assert 0.1 < depth.min() and depth.max() == pytest.approx(MAX_DEPTH_M)
