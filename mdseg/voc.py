"""PASCAL VOC 2012 constants and file-format helpers shared by every module.

The layout (``root/VOCdevkit/VOC2012/...``) and the palette PNG format are those of the
official release, so the synthetic dataset and real VOC go through the same code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)
NUM_CLASSES = len(CLASSES)
IGNORE_INDEX = 255
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def voc_palette() -> np.ndarray:
    """The VOC colour map: uint8 array (256, 3); index 255 (ignore) is cream (224, 224, 192)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        label, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((label >> 0) & 1) << (7 - bit)
            g |= ((label >> 1) & 1) << (7 - bit)
            b |= ((label >> 2) & 1) << (7 - bit)
            label >>= 3
        palette[index] = (r, g, b)
    return palette


PALETTE = voc_palette()


def voc_dir(root: str | Path) -> Path:
    """``root/VOCdevkit/VOC2012``: ``root`` is the folder that holds ``VOCdevkit`` (torchvision's convention)."""
    return Path(root) / "VOCdevkit" / "VOC2012"


def save_label_png(labels: np.ndarray, path: str | Path) -> None:
    """Write a (H, W) uint8 label map as a VOC palette PNG."""
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette(PALETTE.flatten().tolist())
    image.save(path)


def colorize(labels: np.ndarray) -> np.ndarray:
    """(H, W) integer labels -> (H, W, 3) uint8 RGB with the VOC palette."""
    return PALETTE[np.asarray(labels).astype(np.int64) & 255]


def read_depth_png(path: str | Path) -> np.ndarray:
    """A 16-bit (or 8-bit) greyscale PNG -> (H, W) uint16 array."""
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.uint16)


def write_depth_png(values: np.ndarray, path: str | Path, bits: int = 16) -> None:
    """Write (H, W) codes as a 16-bit (or, with ``bits=8``, 8-bit) greyscale PNG."""
    dtype = np.uint8 if bits == 8 else np.uint16
    Image.fromarray(np.ascontiguousarray(values, dtype=dtype)).save(path)
