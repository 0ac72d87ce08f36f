"""Shared fixtures: a tiny synthetic VOC tree, the real VOC samples when present."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network

from mdseg.world.synthetic import SyntheticSpec, make_voc_tree  # noqa: E402

# a folder holding VOCdevkit with a few real VOC images: MDSEG_VOC_SAMPLES, else the maintainers' checkout layout
VOC_SAMPLES = Path(os.environ.get("MDSEG_VOC_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "voc-samples")
TINY = SyntheticSpec(n_train=12, n_val=4, size=64, seed=3)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A read-only tiny synthetic tree shared by the whole session (copy it before changing it)."""
    root = tmp_path_factory.mktemp("synthetic")
    make_voc_tree(root, TINY, progress=False)
    return root


@pytest.fixture
def writable_root(synthetic_root, tmp_path) -> Path:
    """A private copy of the tiny tree that a test may damage."""
    shutil.copytree(synthetic_root / "VOCdevkit", tmp_path / "VOCdevkit")
    return tmp_path


CI_SPLITS = {"train": 96, "val": 32}


@pytest.fixture(scope="session")
def ci_tree(tmp_path_factory) -> Path:
    """The ci profile's synthetic tree with its split lists cut to :data:`CI_SPLITS` images, so
    that command-line trainings in tests take seconds (read-only: use ``ci_root``)."""
    from mdseg.data.prepare import prepare_synthetic
    from mdseg.study.profiles import get_profile

    root = tmp_path_factory.mktemp("ci-tree")
    base = prepare_synthetic(root, get_profile("ci").synthetic, progress=False)
    for split, n in CI_SPLITS.items():
        path = base / "ImageSets" / "Segmentation" / f"{split}.txt"
        path.write_text("\n".join(path.read_text().split()[:n]) + "\n")
    return root


@pytest.fixture
def ci_root(ci_tree, tmp_path) -> Path:
    """A private copy of :func:`ci_tree` at ``tmp_path / "data"``."""
    shutil.copytree(ci_tree, tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def voc_samples() -> Path:
    if not (VOC_SAMPLES / "VOCdevkit").is_dir():
        pytest.skip(f"no real VOC samples at {VOC_SAMPLES}: set MDSEG_VOC_SAMPLES to a folder holding VOCdevkit")
    return VOC_SAMPLES


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Random-weight models of the two hub teachers' architectures, saved with save_pretrained."""
    from tiny_teachers import tiny_teacher

    base = tmp_path_factory.mktemp("tiny")
    return {kind: tiny_teacher(kind, base / kind) for kind in ("dpt-dinov2", "depth-anything-v2")}


@pytest.fixture(scope="session")
def data(tmp_path_factory, synthetic_root):
    """(train, val) datasets of the tiny tree with simulated pseudo depth, 32 px."""
    from mdseg.data.dataset import VOCDepth, eval_transforms, train_transforms
    from mdseg.depth.targets import generate

    root = tmp_path_factory.mktemp("train-data")
    shutil.copytree(synthetic_root / "VOCdevkit", root / "VOCdevkit")
    for split in ("train", "val"):
        generate(root, "simulated", split, progress=False)
    return (VOCDepth(root, "train", "simulated", train_transforms(32, (0.5, 1.0))),
            VOCDepth(root, "val", "simulated", eval_transforms(32)))
