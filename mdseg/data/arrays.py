"""The fast data path: each split decoded once into arrays, and the joint random scale / crop /
flip applied to whole batches on the device.

The v2 loader (:mod:`mdseg.data.dataset`) decodes a JPEG, a PNG or three and transforms every sample on
the CPU, every epoch; a GPU needs more images per second than a few CPU cores can prepare that
way. Here a split is decoded and letterboxed once (longer side to ``size``, padded) into a cache
under ``VOC2012/ArrayCache/`` (uint8 images, masks and instance masks, uint16 depth), verified
against its source files like the pseudo-depth cache and rebuilt when one changes. Training
batches are then gathered on the device and augmented there with one ``grid_sample`` per tensor:
bilinear for the image, nearest for masks, instances and depth, so labels are never
interpolated and everything moves together. Padding is 0 (image), 255 (masks) and NaN (depth),
as in the v2 path.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from ..errors import DatasetError
from ..runtime import distributed as dist
from ..voc import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD
from .dataset import PadTo, VOCDepth

CACHE_DIR = "ArrayCache"
DEPTH_CODES = 65534  # uint16 code = 1 + round(value / scale); 0 = no depth


def fingerprint(dataset: VOCDepth) -> str:
    """SHA-256 over every source file's name, size and modification time (and the depth cache's
    manifest): it changes whenever a source file does."""
    digest = hashlib.sha256()
    paths = [p for i in dataset.ids for p in (dataset.image_path(i), dataset.mask_path(i),
                                             dataset.instances_path(i))]
    if dataset.teacher is not None:
        paths += [dataset.depth_path(i) for i in dataset.ids]
    for path in paths:
        stat = path.stat() if path.exists() else None
        digest.update(f"{path.name}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}\n".encode())
    return digest.hexdigest()


def cache_dir(dataset: VOCDepth, size: int) -> Path:
    """``ArrayCache/<split>-<teacher>-<depth target>-<size>`` (``nodepth`` without a teacher)."""
    depth = f"{dataset.teacher}-{dataset.depth_target}" if dataset.teacher else "nodepth"
    return dataset.base / CACHE_DIR / f"{dataset.split}-{depth}-{size}"


def _letterbox(item: dict, size: int) -> dict[str, np.ndarray]:
    """:func:`~mdseg.data.dataset.eval_transforms`' letterbox (longer side to ``size``, aspect kept;
    image bilinear, the rest nearest; pad right and bottom) of a raw item, as arrays."""
    resized = v2.Resize(size=None, max_size=size, antialias=True)(item)
    out = {"size": np.array(resized["mask"].shape[-2:], np.int32)}
    padded = PadTo(size)(resized)
    out["image"] = padded["image"].permute(1, 2, 0).numpy()
    for key in ("mask", "instances"):
        out[key] = padded[key].numpy().astype(np.uint8)
    if "depth" in padded:
        out["depth"] = padded["depth"][0].numpy()
    return out


def _is_current(folder: Path, stamp: dict) -> bool:
    manifest = folder / "manifest.json"
    return manifest.exists() and {k: v for k, v in json.loads(manifest.read_text()).items() if k in stamp} == stamp


def build(dataset: VOCDepth, size: int, progress: bool = True) -> Path:
    """Decode ``dataset`` (no transforms) into the array cache, unless an up-to-date one exists;
    returns its folder. Written to a temporary folder of this process and renamed, so a cache is
    always whole, also when several processes build it at once; under torch.distributed rank 0
    builds while the others wait. The cache holds depth in the target's own units: a
    ``depth_scale`` is applied when it is read (:class:`ArraySplit`), so one cache serves every scale."""
    if dataset.depth_scale != 1.0:
        dataset = copy.copy(dataset)
        dataset.depth_scale = 1.0
    folder = cache_dir(dataset, size)
    stamp = {"ids": len(dataset.ids), "size": size, "teacher": dataset.teacher, "fingerprint": fingerprint(dataset),
             "depth_target": dataset.depth_target if dataset.teacher else None}
    rank, world_size = dist.world()
    if world_size > 1:
        if rank == 0 and not _is_current(folder, stamp):
            _build(dataset, size, folder, stamp, progress)
        dist.barrier()
    if not _is_current(folder, stamp):
        _build(dataset, size, folder, stamp, progress and rank == 0)
    return folder


def _build(dataset: VOCDepth, size: int, folder: Path, stamp: dict, progress: bool) -> None:
    n = len(dataset)
    arrays = {"image": np.zeros((n, size, size, 3), np.uint8), "mask": np.zeros((n, size, size), np.uint8),
              "instances": np.zeros((n, size, size), np.uint8), "size": np.zeros((n, 2), np.int32)}
    depth = np.zeros((n, size, size), np.float32) if dataset.teacher else None
    for index in tqdm(range(n), desc=f"array cache {dataset.split} ({size} px)", disable=not progress, unit="img"):
        item = _letterbox(dataset.load(index), size)
        for key in arrays:
            arrays[key][index] = item[key]
        if depth is not None:
            depth[index] = item["depth"]
    if depth is not None:  # uint16 codes, 0 = no depth, with the scale that maps them back
        finite = depth[np.isfinite(depth)]
        scale = max(float(finite.max()) if finite.size else 1.0, 1e-12) / DEPTH_CODES
        arrays["depth"] = np.where(np.isfinite(depth), 1 + np.round(np.nan_to_num(depth) / scale), 0).astype(np.uint16)
        stamp["depth_scale"] = scale
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for key, value in arrays.items():
            np.save(tmp / f"{key}.npy", value)
        (tmp / "ids.txt").write_text("\n".join(dataset.ids) + "\n")
        (tmp / "manifest.json").write_text(json.dumps(stamp, indent=1))
    except OSError as error:  # a full disk or a read-only folder: leave nothing half-written behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetError(f"Could not write the array cache {folder} ({error.strerror or error}): free space or "
                           "make the data folder writable, then rerun (nothing was left behind).") from None
    if _is_current(folder, stamp):  # another process finished the same cache meanwhile
        shutil.rmtree(tmp)
        return
    stale = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    if folder.exists():
        os.replace(folder, stale)
    try:
        os.replace(tmp, folder)
    except OSError:  # a concurrent builder renamed its copy in first
        shutil.rmtree(tmp, ignore_errors=True)
        if not _is_current(folder, stamp):
            raise
    shutil.rmtree(stale, ignore_errors=True)


class ArraySplit:
    """A split held as tensors (moved to the training device on first use) that yields batches.

    Args:
        dataset: the split as a :class:`~mdseg.data.dataset.VOCDepth` without transforms.
        size: cache canvas (longer side); evaluation batches are this letterbox.
        crop, scale: with ``crop``, training batches: random shorter side in ``scale`` x ``crop``
            (as :func:`~mdseg.data.dataset.train_transforms`), random ``crop`` x ``crop`` window, flip.
    Batches are the loader's dicts: ``image`` (B, 3, H, W) normalised float, ``mask`` and
    ``instances`` (B, H, W) int64, ``depth`` (B, 1, H, W) float with NaN (times the dataset's
    ``depth_scale``), ``id`` list.
    """

    def __init__(self, dataset: VOCDepth, size: int, crop: int | None = None,
                 scale: tuple[float, float] = (0.5, 2.0), progress: bool = True):
        self.root, self.split, self.teacher, self.ids = dataset.root, dataset.split, dataset.teacher, dataset.ids
        self.crop, self.scale = crop, scale
        folder = build(dataset, size, progress)
        load = lambda name: torch.from_numpy(np.load(folder / f"{name}.npy"))  # noqa: E731
        self.tensors = {"image": load("image").permute(0, 3, 1, 2).contiguous(), "mask": load("mask"),
                        "instances": load("instances"), "size": load("size")}
        if self.teacher is not None:
            scale_m = json.loads((folder / "manifest.json").read_text())["depth_scale"]
            codes = load("depth").to(torch.int32).float()
            depth = torch.where(codes > 0, (codes - 1) * scale_m, torch.nan)[:, None]
            self.tensors["depth"] = depth * dataset.depth_scale if dataset.depth_scale != 1.0 else depth

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        """One evaluation-style item (the letterboxed canvas), like the v2 dataset's."""
        return {k: v[0] for k, v in self._gather(torch.tensor([index]), torch.device("cpu")).items()}

    def to(self, device: torch.device) -> "ArraySplit":
        """Keep the tensors on ``device`` (the GPU-resident path)."""
        self.tensors = {k: v.to(device) for k, v in self.tensors.items()}
        return self

    def _gather(self, index: torch.Tensor, device: torch.device, generator: torch.Generator | None = None) -> dict:
        t = {k: v[index.to(v.device)].to(device, non_blocking=True) for k, v in self.tensors.items()}
        image, mask, inst, depth = t["image"].float() / 255, t["mask"], t["instances"], t.get("depth")
        if self.crop is not None:
            image, mask, inst, depth = augment(image, mask, inst, depth, t["size"], self.crop, self.scale, generator)
        out = {"image": TF.normalize(image, IMAGENET_MEAN, IMAGENET_STD), "mask": mask.long(),
               "instances": inst.long(), "id": [self.ids[i] for i in index.tolist()]}
        if depth is not None:
            out["depth"] = depth.float()
        return out

    def batches(self, batch_size: int, shuffle: bool, seed: int, device: torch.device | str = "cpu",
                shard: bool = False) -> "Batches":
        """The batches of one epoch (``shuffle``: a seeded permutation, last partial batch
        dropped). Under torch.distributed each process takes its part: of the permutation when
        shuffling, else (``shard``) every size-th item, so evaluation sees each item once."""
        return Batches(self, batch_size, shuffle, seed, torch.device(device), shard)


class Batches:
    """One epoch of :class:`ArraySplit` batches; ``len()`` is the number of batches."""

    def __init__(self, split: ArraySplit, batch_size: int, shuffle: bool, seed: int, device: torch.device,
                 shard: bool):
        self.split, self.batch_size, self.shuffle, self.device = split, batch_size, shuffle, device
        self.generator = torch.Generator().manual_seed(seed)
        n = len(split)
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        rank, size = dist.world()
        if size > 1 and (shuffle or shard):
            order = order[: n - n % size][rank::size] if shuffle else order[rank::size]
        self.order = order

    def __len__(self) -> int:
        n = len(self.order)
        return n // self.batch_size if self.shuffle else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[dict]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = self.order[start:start + self.batch_size]
            yield self.split._gather(index, self.device, self.generator if self.shuffle else None)


def augment(image: torch.Tensor, mask: torch.Tensor, instances: torch.Tensor, depth: torch.Tensor | None,
            sizes: torch.Tensor, crop: int, scale: tuple[float, float], generator: torch.Generator | None = None):
    """Random scale, crop and flip of a batch, jointly for every tensor.

    Args:
        image: (B, 3, S, S) float in [0, 1]; mask, instances: (B, S, S) uint8; depth: (B, 1, S, S)
            float with NaN, or ``None``; sizes: (B, 2) valid height and width at the top left.
        crop: output side; scale: range of the scaled shorter side, in crops.
    Returns ``(image, mask, instances, depth)`` of side ``crop``: image bilinear (0 outside),
    masks nearest (255 outside), depth nearest (NaN outside).
    """
    b, device = image.shape[0], image.device
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(device)  # noqa: E731
    low, high = (round(s * crop) for s in scale)
    shorter = torch.floor(low + rand(b) * (high - low + 1)).clamp(max=high)
    h, w = sizes[:, 0].to(device).float(), sizes[:, 1].to(device).float()
    factor = shorter / torch.minimum(h, w)  # output pixels per input pixel
    new_h, new_w = h * factor, w * factor
    off_y = torch.floor(rand(b) * (new_h - crop + 1))  # negative when the image is smaller: it lands inside
    off_x = torch.floor(rand(b) * (new_w - crop + 1))
    flip = rand(b) < 0.5
    side = image.shape[-1]
    out = (torch.arange(crop, device=device).float() + 0.5)[None]  # output pixel centres
    cols = torch.where(flip[:, None], crop - out, out)
    x_in = (cols + off_x[:, None]) / factor[:, None]  # input coordinates in pixels, (B, crop)
    y_in = (out + off_y[:, None]) / factor[:, None]
    inside = ((x_in >= 0) & (x_in < w[:, None]))[:, None, :] & ((y_in >= 0) & (y_in < h[:, None]))[:, :, None]
    grid = torch.stack(torch.broadcast_tensors(x_in[:, None, :], y_in[:, :, None]), -1) * (2 / side) - 1

    def sample(x: torch.Tensor, mode: str) -> torch.Tensor:
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)

    image = sample(image, "bilinear") * inside[:, None]
    labels = sample(torch.stack([mask, instances], 1).float(), "nearest").round().to(torch.uint8)
    labels = torch.where(inside[:, None], labels, IGNORE_INDEX)
    if depth is not None:
        depth = torch.where(inside[:, None], sample(torch.nan_to_num(depth, nan=-1.0), "nearest"), -1.0)
        depth = torch.where(depth < 0, torch.nan, depth)
    return image, labels[:, 0], labels[:, 1], depth

