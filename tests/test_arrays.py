"""The array path: cache verified against its sources, batched augmentation keeps everything
aligned, and its batches look like the v2 loader's."""
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mdseg.data.arrays import ArraySplit, augment, build, cache_dir
from mdseg.data.dataset import VOCDepth, train_transforms
from mdseg.depth.targets import generate
from mdseg.voc import IGNORE_INDEX, save_label_png, voc_dir


def _square_batch(b=6, side=40):
    """Images that are red exactly where the mask is 1 (a square), depth = column index + 1."""
    image = torch.zeros(b, 3, side, side)
    mask = torch.zeros(b, side, side, dtype=torch.uint8)
    for i in range(b):
        y, x = 5 + 3 * i, 4 + 2 * i
        mask[i, y:y + 14, x:x + 10] = 1
    image[:, 0] = mask.float()
    depth = (torch.arange(side).float() + 1).expand(b, 1, side, side).clone()
    sizes = torch.tensor([[side, side]] * b)
    return image, mask, mask.clone(), depth, sizes


@pytest.mark.parametrize("scale", [(0.5, 0.8), (1.0, 1.0), (1.2, 2.0)])
def test_augment_keeps_image_mask_and_depth_aligned(scale):
    image, mask, inst, depth, sizes = _square_batch()
    out_image, out_mask, out_inst, out_depth = augment(image, mask, inst, depth, sizes, 32, scale,
                                                       torch.Generator().manual_seed(1))
    assert out_image.shape == (6, 3, 32, 32) and out_mask.shape == out_inst.shape == (6, 32, 32)
    assert torch.equal(out_mask, out_inst)  # masks move together
    assert set(out_mask.unique().tolist()) <= {0, 1, IGNORE_INDEX}  # never interpolated
    red = out_image[:, 0]
    assert (red[out_mask == 1] > 0.5).float().mean() > 0.9  # the square stays red (bilinear mixes its edge)
    assert (red[out_mask == 0] < 0.5).float().mean() > 0.9
    padded = out_mask == IGNORE_INDEX
    assert torch.isnan(out_depth[:, 0][padded]).all() and torch.isfinite(out_depth[:, 0][~padded]).all()
    assert (out_image.sum(1)[padded] == 0).all()  # padding is black
    for row in out_depth[:, 0, 16]:  # depth follows the columns: monotonic along a row, reversed when flipped
        steps = row[torch.isfinite(row)].diff()
        assert (steps >= 0).all() or (steps <= 0).all()


def test_cache_is_reused_and_rebuilt_when_a_source_changes(writable_root):
    dataset = VOCDepth(writable_root, "val")
    folder = build(dataset, 64, progress=False)
    stamp = (folder / "mask.npy").stat().st_mtime_ns
    assert build(dataset, 64, progress=False) == folder and (folder / "mask.npy").stat().st_mtime_ns == stamp
    image_id = dataset.ids[0]
    path = voc_dir(writable_root) / "SegmentationClass" / f"{image_id}.png"
    labels = np.array(Image.open(path))
    labels[:8, :8] = 15
    time.sleep(0.01)
    save_label_png(labels, path)
    os.utime(path)
    build(VOCDepth(writable_root, "val"), 64, progress=False)
    assert (cache_dir(dataset, 64) / "mask.npy").stat().st_mtime_ns != stamp
    assert (np.load(cache_dir(dataset, 64) / "mask.npy")[0, :8, :8] == 15).all()


def test_array_batches_look_like_the_v2_loader_batches(writable_root):
    generate(writable_root, "simulated", "train", progress=False)
    v2 = VOCDepth(writable_root, "train", "simulated", train_transforms(48, (0.75, 1.5)))
    arrays = ArraySplit(VOCDepth(writable_root, "train", "simulated"), 64, crop=48, scale=(0.75, 1.5), progress=False)
    a = next(iter(DataLoader(v2, batch_size=4)))
    b = next(iter(arrays.batches(4, True, 0)))
    for key in ("image", "mask", "instances", "depth"):
        assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
    assert set(b["mask"].unique().tolist()) <= set(range(21)) | {IGNORE_INDEX}
    assert 0 <= float(torch.nan_to_num(b["depth"]).min()) and float(torch.nan_to_num(b["depth"]).max()) <= 1
    assert -3 < float(b["image"].min()) < 0 < float(b["image"].max()) < 3 and len(b["id"]) == 4
    batches = arrays.batches(4, True, 0)
    assert len(batches) == len(arrays) // 4 and sum(len(x["id"]) for x in batches) == len(batches) * 4


def test_same_seed_same_batches(writable_root):
    arrays = ArraySplit(VOCDepth(writable_root, "train"), 64, crop=48, scale=(0.75, 1.5), progress=False)
    first, again = next(iter(arrays.batches(4, True, 7))), next(iter(arrays.batches(4, True, 7)))
    assert first["id"] == again["id"] and torch.equal(first["image"], again["image"])
    assert torch.equal(first["mask"], again["mask"])


@pytest.mark.parametrize("shape", [(64, 64), (375, 500), (500, 333)])
def test_the_cache_letterbox_is_the_evaluation_transform(shape):
    """The array path stores what eval_transforms gives the v2 loader, pixel for pixel, on square
    and non-square images (VOC photos are 500 px on their longer side)."""
    from torchvision import tv_tensors

    from mdseg.data.arrays import _letterbox
    from mdseg.data.dataset import DepthMap, eval_transforms

    h, w = shape
    g = torch.Generator().manual_seed(0)
    item = {"image": tv_tensors.Image(torch.randint(0, 255, (3, h, w), dtype=torch.uint8, generator=g)),
            "mask": tv_tensors.Mask(torch.randint(0, 21, (h, w), generator=g)),
            "instances": tv_tensors.Mask(torch.randint(0, 5, (h, w), generator=g)),
            "depth": DepthMap(torch.rand(1, h, w, generator=g))}
    cached, loaded = _letterbox(item, 64), eval_transforms(64)(item)
    np.testing.assert_array_equal(cached["mask"], loaded["mask"].numpy())
    np.testing.assert_array_equal(cached["instances"], loaded["instances"].numpy())
    np.testing.assert_array_equal(cached["depth"], loaded["depth"][0].numpy())
    valid = ~np.isnan(cached["depth"])
    assert tuple(cached["size"]) == (valid.any(1).sum(), valid.any(0).sum())
