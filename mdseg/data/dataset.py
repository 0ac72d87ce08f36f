"""A dataset over the PASCAL VOC 2012 layout (real or synthetic) with optional pseudo depth.

Items are dicts (shapes after the transforms):

* ``image``: float32 (3, H, W), normalised with ImageNet mean and std;
* ``mask``: int64 (H, W) class ids 0..20, 255 = ignore (VOC boundary band, padding);
* ``instances``: int64 (H, W) instance ids from ``SegmentationObject`` (0 = none, 255 = ignore);
  all zeros when the image has no ``SegmentationObject`` file;
* ``depth`` (only when a teacher is named): float32 (1, H, W) in the target's units (normalised:
  [0, 1]; png8: 0-255) times ``depth_scale``, read from ``PseudoDepth/<teacher>[-<target>]/<id>.png``;
  NaN where there is no depth (padding);
* ``id``: the VOC image id.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..errors import DatasetError
from ..voc import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD, NUM_CLASSES, voc_dir
from .depth_cache import DEFAULT_UNIT, code_step, depth_dir, read_depth


class DepthMap(tv_tensors.Mask):
    """A depth map that moves with the masks (nearest resampling, no blending across
    object edges) but is padded with NaN, so padding never looks like a depth."""


def find_voc(root: str | Path) -> Path:
    """Check that ``root`` holds ``VOCdevkit/VOC2012`` and return that folder.

    Raises :class:`DatasetError` naming the folder it expected and, when the user pointed one
    level too high or too low, the ``root`` to use instead.
    """
    root = Path(root).expanduser()
    base = voc_dir(root)
    if base.is_dir():
        return base
    hint = ""
    if root.name in ("VOC2012", "VOCdevkit") and root.is_dir():
        parent = root.parent if root.name == "VOCdevkit" else root.parent.parent
        hint = f" You pointed inside the tree: pass --root {parent} (the folder that holds VOCdevkit)."
    elif root.is_dir():
        below = sorted(p.parent for p in root.glob("*/VOCdevkit/VOC2012"))
        if below:
            hint = f" Found one a level down: pass --root {below[0].parent}."
    raise DatasetError(
        f"No PASCAL VOC 2012 tree at {base}.{hint} To get one: `python -m mdseg data voc --root {root}` "
        f"(downloads VOC 2012, 2 GB) or `python -m mdseg data synthetic --root {root}` (offline, seconds)."
    )


def read_split(root: str | Path, split: str) -> list[str]:
    """Image ids listed in ``ImageSets/Segmentation/<split>.txt``."""
    folder = find_voc(root) / "ImageSets" / "Segmentation"
    path = folder / f"{split}.txt"
    if not path.exists():
        known = sorted(p.stem for p in folder.glob("*.txt"))
        raise DatasetError(f"Unknown split '{split}': no {path}. Splits here: {known or 'none'}.")
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise DatasetError(f"Split file {path} lists no image ids; regenerate or fix the dataset.")
    return ids


def read_labels(path: Path, what: str = "mask") -> np.ndarray:
    """A VOC palette PNG -> (H, W) uint8 labels, checked to be 0..20 or 255."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise DatasetError(
                    f"{what} {path} is a {image.mode} image; VOC masks are palette (P) PNGs holding class ids."
                )
            labels = np.array(image, dtype=np.uint8)
    except (OSError, SyntaxError) as error:
        raise DatasetError(f"Cannot read {what} {path} ({error}); restore or regenerate the file.") from error
    if what == "mask":
        values = np.unique(labels)
        bad = values[(values >= NUM_CLASSES) & (values != IGNORE_INDEX)]
        if bad.size:
            raise DatasetError(
                f"Mask {path} has labels {bad.tolist()} outside 0..{NUM_CLASSES - 1} and {IGNORE_INDEX}. "
                "VOC masks must hold class ids (palette indices), not colours; re-save it as a palette PNG."
            )
    return labels


def read_image(path: Path) -> np.ndarray:
    """A JPEG -> (H, W, 3) uint8 RGB; a truncated or corrupt file raises :class:`DatasetError`."""
    try:
        with Image.open(path) as image:
            image.load()
            return np.array(image.convert("RGB"))
    except (OSError, SyntaxError) as error:
        raise DatasetError(f"Cannot decode image {path} ({error}); re-download or regenerate it.") from error


class VOCDepth(torch.utils.data.Dataset):
    """PASCAL VOC 2012 segmentation (real or synthetic layout) with optional pseudo depth.

    Args:
        root: folder holding ``VOCdevkit/`` (torchvision's convention).
        split: name of a file in ``ImageSets/Segmentation`` (``train``, ``val``, ...).
        teacher: read depth from ``PseudoDepth/<teacher>/``; ``None`` for no depth.
        depth_target: its units, ``normalised`` (default), ``metric``, ``disparity`` or ``png8``; the
            cache's manifest must say it holds that target (see :mod:`mdseg.depth.targets`).
        depth_scale: every depth value is multiplied by this (``--depth-scale``; 1 = the target's units).
        transforms: joint transform over the item dict (see :func:`train_transforms`,
            :func:`eval_transforms`); ``None`` returns full-size tensors, image normalised.
    """

    def __init__(self, root: str | Path, split: str = "train", teacher: str | None = None,
                 transforms: Callable[[dict], dict] | None = None, depth_target: str = DEFAULT_UNIT,
                 depth_scale: float = 1.0):
        self.root = Path(root)
        self.base = find_voc(root)
        self.split = split
        self.teacher = teacher
        self.depth_target = depth_target
        self.depth_scale = depth_scale
        self.ids = read_split(root, split)
        self.transforms = transforms
        self._check_files()
        self.code_step = code_step(self.root, teacher, depth_target) if teacher is not None else None

    def _check_files(self) -> None:
        for image_id in self.ids:
            for path in (self.image_path(image_id), self.mask_path(image_id)):
                if not path.exists():
                    raise DatasetError(
                        f"Split '{self.split}' lists '{image_id}' but {path} is missing. "
                        f"Restore the file or remove the id from {self.base / 'ImageSets/Segmentation' / self.split}.txt."
                    )
        if self.teacher is not None:
            missing = [i for i in self.ids if not self.depth_path(i).exists()]
            if missing:
                target = "" if self.depth_target == DEFAULT_UNIT else f" --depth-target {self.depth_target}"
                raise DatasetError(
                    f"{len(missing)} of {len(self.ids)} '{self.split}' images have no pseudo depth in "
                    f"{depth_dir(self.root, self.teacher, self.depth_target)} (first: {missing[0]}). Run "
                    f"`python -m mdseg depth --root {self.root} --teacher {self.teacher} --split {self.split}{target}`."
                )

    def image_path(self, image_id: str) -> Path:
        return self.base / "JPEGImages" / f"{image_id}.jpg"

    def mask_path(self, image_id: str) -> Path:
        return self.base / "SegmentationClass" / f"{image_id}.png"

    def instances_path(self, image_id: str) -> Path:
        return self.base / "SegmentationObject" / f"{image_id}.png"

    def depth_path(self, image_id: str) -> Path:
        return depth_dir(self.root, self.teacher, self.depth_target) / f"{image_id}.png"

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> dict[str, Any]:
        """The raw item: uint8 image, masks and depth as tv_tensors at the file's size."""
        image_id = self.ids[index]
        image = read_image(self.image_path(image_id))
        mask = read_labels(self.mask_path(image_id))
        if mask.shape != image.shape[:2]:
            raise DatasetError(
                f"Mask {self.mask_path(image_id)} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                f"{image.shape[1]}x{image.shape[0]}; image and mask must have the same size."
            )
        inst_path = self.instances_path(image_id)
        instances = read_labels(inst_path, "instance mask") if inst_path.exists() else np.zeros_like(mask)
        if instances.shape != mask.shape:
            raise DatasetError(f"Instance mask {inst_path} is {instances.shape[::-1]}, its class mask {mask.shape[::-1]}.")
        item: dict[str, Any] = {
            "image": tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)),
            "mask": tv_tensors.Mask(torch.from_numpy(mask).long()),
            "instances": tv_tensors.Mask(torch.from_numpy(instances).long()),
            "id": image_id,
        }
        if self.teacher is not None:
            depth = read_depth(self.depth_path(image_id), self.code_step) * np.float32(self.depth_scale)
            if depth.shape != mask.shape:
                raise DatasetError(
                    f"Pseudo depth {self.depth_path(image_id)} is {depth.shape[::-1]} but the image is "
                    f"{mask.shape[::-1]}: the cache is stale. Rerun `python -m mdseg depth` for this teacher."
                )
            item["depth"] = DepthMap(torch.from_numpy(depth)[None])
        return item

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.load(index)
        transforms = self.transforms or to_model_input
        return transforms(item)


FILL = {tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX, DepthMap: float("nan")}


def to_model_input(item: dict[str, Any]) -> dict[str, Any]:
    """uint8 image -> normalised float; masks -> plain int64 tensors; depth -> float (1, H, W)."""
    out = dict(item)
    image = TF.to_dtype(item["image"], torch.float32, scale=True)
    out["image"] = TF.normalize(image, IMAGENET_MEAN, IMAGENET_STD).as_subclass(torch.Tensor)
    for key in ("mask", "instances"):
        out[key] = item[key].as_subclass(torch.Tensor).long()
    if "depth" in item:
        out["depth"] = item["depth"].as_subclass(torch.Tensor).float()
    return out


class PadTo(v2.Transform):
    """Pad right and bottom up to ``size`` x ``size`` (image 0, masks 255, depth NaN)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        return {"padding": [0, 0, max(self.size - width, 0), max(self.size - height, 0)]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        fill = FILL.get(type(inpt), 0)
        return self._call_kernel(TF.pad, inpt, padding=params["padding"], fill=fill)


def train_transforms(crop_size: int, scale: tuple[float, float] = (0.5, 2.0)) -> v2.Compose:
    """Random scale (shorter side in ``scale`` x ``crop_size``), random crop (padded with
    ignore / NaN where the image is smaller), horizontal flip; then :func:`to_model_input`.
    Masks and depth use nearest resampling: labels are never interpolated."""
    low, high = (int(round(s * crop_size)) for s in scale)
    return v2.Compose([
        v2.RandomResize(low, high + 1, antialias=True),
        v2.RandomCrop(crop_size, pad_if_needed=True, fill=FILL),
        v2.RandomHorizontalFlip(),
        to_model_input,
    ])


def eval_transforms(size: int) -> v2.Compose:
    """Resize the longer side to ``size`` (aspect kept), pad to ``size`` x ``size``."""
    return v2.Compose([
        v2.Resize(size=None, max_size=size, antialias=True),
        PadTo(size),
        to_model_input,
    ])


def denormalize(image: torch.Tensor) -> np.ndarray:
    """A normalised (3, H, W) tensor -> (H, W, 3) float array in [0, 1] for display."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (image.detach().cpu().float() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
