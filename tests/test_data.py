import numpy as np
import torch
from PIL import Image

from mdseg.data import prepare
from mdseg.data.dataset import VOCDepth, depth_dir, eval_transforms, read_split, train_transforms
from mdseg.voc import IGNORE_INDEX, voc_dir, write_depth_png


def _fake_depth(root, teacher="fake"):
    """A depth cache whose values encode the column index, to follow it through transforms."""
    folder = depth_dir(root, teacher)
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        for image_id in read_split(root, split):
            h, w = np.array(Image.open(voc_dir(root) / "SegmentationClass" / f"{image_id}.png")).shape
            write_depth_png(np.tile(np.linspace(0, 65535, w), (h, 1)).round(), folder / f"{image_id}.png")
    return teacher


def test_item_types_and_shapes(synthetic_root):
    item = VOCDepth(synthetic_root, "val")[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert item["mask"].shape == (64, 64) and item["mask"].dtype == torch.int64
    assert item["instances"].shape == (64, 64) and item["id"] == "syn_000012"
    assert "depth" not in item
    assert -3 < item["image"].min() < 0 < item["image"].max() < 3  # normalised


def test_train_transforms_move_everything_together(writable_root):
    teacher = _fake_depth(writable_root)
    raw = VOCDepth(writable_root, "train", teacher=teacher)
    aug = VOCDepth(writable_root, "train", teacher=teacher, transforms=train_transforms(48, (0.6, 1.6)))
    torch.manual_seed(0)
    flips = 0
    for index in range(len(raw)):
        before, after = raw[index], aug[index]
        assert after["image"].shape == (3, 48, 48) and after["depth"].shape == (1, 48, 48)
        # labels are never interpolated: only values that existed (plus padding's 255)
        assert set(after["mask"].unique().tolist()) <= set(before["mask"].unique().tolist()) | {IGNORE_INDEX}
        depth = after["depth"][0]
        pad = torch.isnan(depth)
        assert torch.all(after["mask"][pad] == IGNORE_INDEX)
        row = depth[24][~pad[24]]
        if len(row) > 2:  # the column code runs left to right, or right to left when flipped
            d = torch.diff(row)
            assert torch.all(d >= 0) or torch.all(d <= 0)
            flips += bool(torch.all(d <= 0))
    assert 0 < flips < len(raw)


def test_eval_transforms_letterbox_without_distortion(voc_samples):
    dataset = VOCDepth(voc_samples, "val", transforms=eval_transforms(128))
    for item in (dataset[i] for i in range(3)):
        assert item["image"].shape == (3, 128, 128)
        mask = item["mask"]
        rows = (mask != IGNORE_INDEX).any(1).sum().item()
        cols = (mask != IGNORE_INDEX).any(0).sum().item()
        assert max(rows, cols) == 128 and min(rows, cols) < 128  # VOC images are not square


def test_real_voc_samples(voc_samples):
    dataset = VOCDepth(voc_samples, "val")
    assert len(dataset) == 12
    sizes = set()
    for index in range(len(dataset)):
        item = dataset[index]
        sizes.add(tuple(item["mask"].shape))
        values = set(item["mask"].unique().tolist())
        assert values <= set(range(21)) | {255} and 255 in values
    assert len(sizes) > 1
    inst = dataset[dataset.ids.index("2007_000063")]["instances"]
    assert inst.max() == 255 and len(inst.unique()) > 2


def test_dataset_check_passes_on_good_data(synthetic_root):
    assert prepare.check(synthetic_root, ["train", "val"], progress=False) == []


# ---------------------------------------------------------------- bad input: one clear error each
