"""Statistics of VOC-layout trees (`mdseg data stats`) and the colour-only check."""
import numpy as np
import pytest

from mdseg.cli import main
from mdseg.study.stats import MIN_COMPONENT, colour_only_miou, objects_of, stats_markdown, tree_stats
from mdseg.world.synthetic import SyntheticSpec, make_voc_tree

# Single-decoder baseline of the cpu profile: measured 0.5242 mean over seeds 0-2 on the CPU (README,
# "What the cpu profile shows"); its target, 0.50, is used. The colour-only classifier must stay
# below half of it.
CPU_BASELINE_MIOU = 0.5


def test_objects_from_instances_or_components():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:8, 2:8] = 15
    labels[12:18, 2:8] = 15
    labels[10:12, 15:17] = 7  # 1% of the image
    labels[0, 19] = 3  # a 1-pixel speck: below MIN_COMPONENT
    found = sorted(objects_of(labels, None))
    assert found == [(7, 0.01), (15, 0.09), (15, 0.09)] and MIN_COMPONENT > 1 / 400
    instances = np.zeros_like(labels)
    instances[2:8, 2:8], instances[12:18, 2:8] = 1, 1  # one person in two pieces (occluded)
    instances[2:4, 2:4] = 255  # 4 void pixels: the object has 68 of the 400
    assert objects_of(labels, instances) == [(15, pytest.approx(0.17))]


def test_tree_stats_of_a_synthetic_tree(synthetic_root):
    stats = tree_stats(synthetic_root, "train")
    assert stats["images"] == stats["instance_masks"] == 12
    assert 0 < stats["fg_fraction"]["q50"] < 1 and stats["objects"]["mean"] >= 1
    assert stats["classes"]["q10"] <= stats["classes"]["q50"] <= stats["classes"]["q90"]
    assert sum(stats["class_images"].values()) >= 1  # every image has a class
    table = stats_markdown({"a": stats, "b": stats})
    assert "| foreground share: median (25-75%) |" in table and table.count("| a | b |") == 1


def test_tree_stats_of_the_real_voc_samples(voc_samples):
    stats = tree_stats(voc_samples, "val")
    assert stats["images"] == 12 and stats["instance_masks"] == 1
    assert stats["fg_fraction"]["q50"] == pytest.approx(0.44, abs=0.01)
    assert stats["class_images"]["person"] == pytest.approx(5 / 12)


def test_data_stats_cli_puts_trees_side_by_side(synthetic_root, voc_samples, capsys):
    assert main(["data", "stats", "--root", str(synthetic_root), "--root", str(voc_samples)]) == 0
    out = capsys.readouterr().out
    assert f"{synthetic_root} (train)" in out and f"{voc_samples} (val)" in out and "objects per image" in out


@pytest.mark.slow
def test_colour_alone_does_not_name_the_class(tmp_path):
    """A per-pixel classifier on RGB (the best class per quantised colour on train) stays far
    below the U-Net: colour narrows a class down but never names it."""
    make_voc_tree(tmp_path, SyntheticSpec(n_train=400, n_val=100, size=64, seed=0), False)
    metrics = colour_only_miou(tmp_path)
    assert metrics["mIoU"] < CPU_BASELINE_MIOU / 2
    assert metrics["per_class_iou"][0] > 0.4  # it does find the background: the check is not vacuous
