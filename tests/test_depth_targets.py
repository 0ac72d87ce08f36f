"""Depth target units (normalised, metric, disparity) and the depth weight (issue: why naive fails)."""
import shutil

import numpy as np
import pytest
import torch

from mdseg.data.arrays import ArraySplit
from mdseg.data.dataset import DatasetError, VOCDepth, depth_dir, read_split
from mdseg.depth.targets import METRIC_MAX_M, generate, to_target
from mdseg.training.config import TrainConfig
from mdseg.training.schedule import PAPER_DEPTH_WEIGHT, get_recipe
from mdseg.training.step import compute_losses
from mdseg.world.synthetic import read_true_depth


def test_metres_stay_metres_through_the_cache_and_both_loaders(writable_root):
    manifest = generate(writable_root, "simulated", "val", progress=False, target="metric")
    assert manifest["target"] == "metric" and manifest["convention"] == "metric-depth" and manifest["scale"] == 1e-3
    truths = [read_true_depth(writable_root, i) for i in read_split(writable_root, "val")]
    for dataset in (VOCDepth(writable_root, "val", "simulated", depth_target="metric"),
                    ArraySplit(VOCDepth(writable_root, "val", "simulated", depth_target="metric"), 64, progress=False)):
        depth = np.stack([dataset[i]["depth"][0].numpy() for i in range(len(dataset))])
        truth = np.stack(truths)
        assert depth.max() <= METRIC_MAX_M + 1e-3 and depth.max() > 1.5  # metres, not [0, 1]
        near = truth < 0.8 * METRIC_MAX_M
        ratio = np.median(depth[near] / truth[near])
        assert 0.8 < ratio < 1.25  # a metric teacher: the right scale, up to its error (up to 15%)


def test_a_cache_of_one_kind_is_never_read_or_extended_as_another(writable_root):
    generate(writable_root, "simulated", "val", progress=False, target="metric")
    normalised = depth_dir(writable_root, "simulated")
    shutil.copytree(depth_dir(writable_root, "simulated", "metric"), normalised)  # a metric cache where normalised goes
    with pytest.raises(DatasetError, match="holds 'metric' targets, not 'normalised'"):
        VOCDepth(writable_root, "val", "simulated")
    with pytest.raises(FileExistsError, match="target: cache has 'metric', asked for 'normalised'"):
        generate(writable_root, "simulated", "val", progress=False)


def test_disparity_is_the_teachers_inverse_depth_unnormalised():
    metres = np.array([[1.0, 2.0], [4.0, 20.0]], np.float32)
    np.testing.assert_allclose(to_target(metres, "metric-depth", "disparity"), 1 / metres)
    np.testing.assert_allclose(to_target(metres, "metric-depth", "metric"), [[1, 2], [4, METRIC_MAX_M]])
    assert to_target(metres, "metric-depth", "normalised").max() == 1
    with pytest.raises(ValueError, match="metric target needs"):
        to_target(metres, "relative-inverse-depth", "metric")


def test_relative_teachers_are_refused_for_metric_targets(writable_root):
    with pytest.raises(ValueError, match="no unit"):
        generate(writable_root, "depth-anything-v2", "val", progress=False, target="metric")


@pytest.mark.parametrize("recipe, w, name", [("naive-joint", PAPER_DEPTH_WEIGHT, "naive-joint"),
                                             ("naive-joint", 0.05, "naive-joint@w=0.05"),
                                             ("depth-first/copy/s->b", 0.5, "depth-first/copy/s->b@w=0.5")])
def test_the_depth_weight_reaches_the_loss(recipe, w, name):
    stage = get_recipe(recipe, 1, depth_weight=w).stages[-1]
    outputs = {"seg": torch.randn(2, 21, 8, 8), "depth": torch.rand(2, 1, 8, 8)}
    batch = {"mask": torch.randint(0, 21, (2, 8, 8)), "depth": torch.rand(2, 1, 8, 8)}
    terms = compute_losses(outputs, batch, stage, TrainConfig())
    assert float(terms["total"]) == pytest.approx((1 - w) * float(terms["seg"]) + w * float(terms["depth"]))
    assert get_recipe(recipe, 1, depth_weight=w).name == name  # the weight is named in run folders and tables
    assert get_recipe(recipe, 1, depth_weight=w).depth_weight == w  # and held as data


def test_weights_other_than_the_papers_are_named_and_bad_ones_refused():
    assert get_recipe("naive-joint", 1, depth_weight=0.01).name == "naive-joint@w=0.01"
    assert get_recipe("single-decoder", 1, depth_weight=0.01).name == "single-decoder"  # no depth, no weight
    with pytest.raises(ValueError, match="between 0 and 1"):
        get_recipe("naive-joint", 1, depth_weight=1.5)
    with pytest.raises(KeyError, match="a depth weight is a setting"):  # names are never parsed for settings
        get_recipe("naive-joint@w=0.05", 1)


def test_a_depth_unit_is_one_entry_of_the_registry():
    """Everything about a unit (help, stored code step, bits, cache normalisation) is one DepthUnit; the
    command line, the cache and the cache's identity read it from there."""
    from mdseg.cli import build_parser
    from mdseg.data.depth_cache import DEFAULT_UNIT, CODE_STEPS, TARGETS, UNITS, units_help

    assert TARGETS == tuple(UNITS) and DEFAULT_UNIT in UNITS
    assert CODE_STEPS == {name: unit.code_step for name, unit in UNITS.items()}
    assert UNITS["png8"].bits == 8 and all(u.bits == 16 for n, u in UNITS.items() if n != "png8")
    text = build_parser().format_help() + units_help()
    assert all(f"{u.name} ({u.help})" in units_help() for u in UNITS.values()) and text
