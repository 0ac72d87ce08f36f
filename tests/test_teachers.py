import json
import shutil
import time

import numpy as np
import pytest

from mdseg.cli import main
from mdseg.data.dataset import VOCDepth, read_split
from mdseg.data.depth_cache import MANIFEST, depth_dir
from mdseg.depth.targets import NORMALISATION, depth_quality, evaluate_teacher, generate, normalise, to_inverse_depth
from mdseg.depth.teachers import TeacherUnavailable
from mdseg.world.synthetic import read_true_depth

from helpers import depth_files


@pytest.mark.parametrize("kind", ["dpt-dinov2", "depth-anything-v2"])
def test_hub_teacher_code_path_end_to_end_through_cli(writable_root, tiny_models, kind):
    args = ["depth", "--root", str(writable_root), "--teacher", kind, "--model", str(tiny_models[kind]),
            "--batch-size", "3"]
    assert main(args) == 0
    ids = read_split(writable_root, "train") + read_split(writable_root, "val")
    assert depth_files(writable_root, kind) == sorted(f"{i}.png" for i in ids)
    manifest = json.loads((depth_dir(writable_root, kind) / MANIFEST).read_text())
    assert manifest["teacher"] == kind and manifest["model"] == str(tiny_models[kind])
    assert manifest["normalisation"] == NORMALISATION and manifest["count"] == len(ids)
    item = VOCDepth(writable_root, "val", teacher=kind)[0]
    assert item["depth"].shape == (1, 64, 64) and np.isfinite(item["depth"].numpy()).all()
    assert 0 <= item["depth"].min() and item["depth"].max() <= 1


def test_any_size_and_aspect_ratio(voc_samples, tmp_path, tiny_models):
    shutil.copytree(voc_samples / "VOCdevkit", tmp_path / "VOCdevkit")
    manifest = generate(tmp_path, "depth-anything-v2", "val", model=str(tiny_models["depth-anything-v2"]),
                        progress=False)
    dataset = VOCDepth(tmp_path, "val", teacher="depth-anything-v2")
    shapes = set()
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["depth"].shape[1:] == item["mask"].shape
        shapes.add(tuple(item["mask"].shape))
    assert len(shapes) > 1 and manifest["count"] == 12


def test_hub_teacher_offline_fails_fast_naming_id_cache_and_alternatives(writable_root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(TeacherUnavailable) as info:
        generate(writable_root, "depth-anything-v2", "val", progress=False)
    message = str(info.value)
    assert time.monotonic() - start < 10
    for part in ("depth-anything/Depth-Anything-V2-Small-hf", "Hub cache", "--teacher simulated", "HF_HUB_OFFLINE=1"):
        assert part in message


def test_simulated_teacher_is_good_but_not_ground_truth(writable_root):
    generate(writable_root, "simulated", "val", progress=False)
    quality = evaluate_teacher(writable_root, "simulated", "val")["mean"]
    assert quality["spearman"] > 0.85 and quality["delta1"] > 0.75
    assert quality["abs_rel"] > 0.01 and quality["delta1"] < 0.999
    # exact ground truth would score perfectly
    truth = read_true_depth(writable_root, "syn_000012")
    perfect = depth_quality(normalise(1 / truth), truth)
    assert perfect["abs_rel"] < 0.02 and perfect["spearman"] > 0.99




def test_normalisation_and_conventions():
    metric = np.array([[1.0, 2.0], [4.0, 8.0]])
    inverse = to_inverse_depth(metric, "metric-depth")
    np.testing.assert_allclose(inverse, 1 / metric)
    out = normalise(inverse)
    assert out.dtype == np.float32 and out.min() == 0 and out.max() == 1 and out[0, 0] == 1  # nearest = 1
    np.testing.assert_allclose(normalise(3 * inverse + 7), out, atol=1e-6)  # affine-invariant
    with pytest.raises(ValueError):
        to_inverse_depth(metric, "log-depth")
