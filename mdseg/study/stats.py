"""Statistics of a VOC-layout tree (real or synthetic), so the synthetic world can be measured
against real VOC: framing (foreground fraction), objects and classes per image, class
frequencies, object sizes; and a colour-only classifier that says how much colour alone
reveals about a pixel's class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from tqdm.auto import tqdm

from ..data.dataset import read_image, read_labels, read_split
from ..training.metrics import SegMetrics
from ..voc import CLASSES, IGNORE_INDEX, NUM_CLASSES, voc_dir

MIN_COMPONENT = 0.005  # share of the image: smaller class blobs are not counted as objects
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def objects_of(labels: np.ndarray, instances: np.ndarray | None) -> list[tuple[int, float]]:
    """``(class, share of the image)`` per object: the instances of ``SegmentationObject`` when
    given, else the connected components (8-connected) of each class that cover at least
    :data:`MIN_COMPONENT` of the image (an approximation: an occluded object may split in two).

    Args: (H, W) class ids with 255 = ignore, and (H, W) instance ids (0 = none) or ``None``.
    """
    area = labels.size
    out = []
    if instances is not None:
        for inst in np.unique(instances):
            if inst in (0, IGNORE_INDEX):
                continue
            pixels = labels[instances == inst]
            pixels = pixels[pixels != IGNORE_INDEX]
            if pixels.size:
                out.append((int(np.bincount(pixels).argmax()), (instances == inst).sum() / area))
        return out
    for cls in np.unique(labels):
        if cls in (0, IGNORE_INDEX):
            continue
        components, n = ndimage.label(labels == cls, structure=np.ones((3, 3)))
        sizes = np.bincount(components.ravel())[1:] / area
        out += [(int(cls), float(s)) for s in sizes if s >= MIN_COMPONENT]
    return out


def tree_stats(root: str | Path, split: str, limit: int | None = None, progress: bool = False) -> dict:
    """Framing statistics of ``split``.

    Returns a dict: ``images``; ``instance_masks`` (images with ``SegmentationObject``);
    ``fg_fraction`` / ``objects`` / ``classes`` / ``object_size``: quantiles (:data:`QUANTILES`)
    and mean of foreground share of labelled pixels, objects per image, classes per image and
    object area as a share of the image; ``class_images``: share of images containing each class.
    """
    base = voc_dir(root)
    ids = read_split(root, split)[:limit]
    fg, n_obj, n_cls, sizes, with_masks = [], [], [], [], 0
    present = np.zeros(NUM_CLASSES)
    for image_id in tqdm(ids, desc=f"stats {split}", disable=not progress, unit="img"):
        labels = read_labels(base / "SegmentationClass" / f"{image_id}.png")
        inst_path = base / "SegmentationObject" / f"{image_id}.png"
        instances = read_labels(inst_path, "instance mask") if inst_path.exists() else None
        with_masks += instances is not None
        valid = labels != IGNORE_INDEX
        fg.append(float((labels[valid] > 0).mean()) if valid.any() else 0.0)
        classes = sorted(set(np.unique(labels).tolist()) - {0, IGNORE_INDEX})
        n_cls.append(len(classes))
        present[classes] += 1
        objects = objects_of(labels, instances)
        n_obj.append(len(objects))
        sizes += [s for _, s in objects]
    summary = lambda x: {"mean": float(np.mean(x)) if len(x) else float("nan"),  # noqa: E731
                         **{f"q{int(q * 100)}": float(np.quantile(x, q)) if len(x) else float("nan") for q in QUANTILES}}
    return {"images": len(ids), "instance_masks": with_masks, "fg_fraction": summary(fg), "objects": summary(n_obj),
            "classes": summary(n_cls), "object_size": summary(sizes),
            "class_images": {CLASSES[c]: present[c] / max(len(ids), 1) for c in range(1, NUM_CLASSES)}}


def stats_markdown(columns: dict[str, dict]) -> str:
    """A Markdown table of :func:`tree_stats` results side by side (one column per tree)."""
    names = list(columns)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    row = lambda title, cells: lines.append(f"| {title} | " + " | ".join(cells) + " |")  # noqa: E731
    row("images (with instance masks)", [f"{s['images']} ({s['instance_masks']})" for s in columns.values()])
    for key, title, fmt in (("fg_fraction", "foreground share", "{:.2f}"), ("objects", "objects per image", "{:.1f}"),
                            ("classes", "classes per image", "{:.1f}"), ("object_size", "object area / image", "{:.3f}")):
        row(f"{title}: median (25-75%)", [f"{fmt.format(s[key]['q50'])} ({fmt.format(s[key]['q25'])}-"
                                          f"{fmt.format(s[key]['q75'])})" for s in columns.values()])
        row(f"{title}: mean", [fmt.format(s[key]["mean"]) for s in columns.values()])
    top = sorted(CLASSES[1:], key=lambda c: -max(s["class_images"][c] for s in columns.values()))[:5]
    row("images with (top 5 classes)", [", ".join(f"{c} {s['class_images'][c]:.0%}" for c in top)
                                        for s in columns.values()])
    lines += ["", "Objects are instances of SegmentationObject where an image has one, else connected class "
              f"regions of at least {MIN_COMPONENT:.1%} of the image."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- colour only
def _codes(image: np.ndarray, bits: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) int64 index of its quantised colour (``bits`` per channel)."""
    q = image.astype(np.int64) >> (8 - bits)
    return (q[..., 0] << (2 * bits)) | (q[..., 1] << bits) | q[..., 2]


def colour_only_miou(root: str | Path, train: str = "train", val: str = "val", bits: int = 5,
                     limit: int | None = None) -> dict:
    """How far colour alone gets: for each quantised colour (``bits`` per channel), the class
    most often seen with it on ``train`` (a per-pixel classifier with no spatial context, the
    best any such classifier can do on these bins); returns :class:`SegMetrics` of its
    predictions on ``val`` (colours never seen in training predict background)."""
    base = voc_dir(root)
    counts = np.zeros((1 << (3 * bits), NUM_CLASSES), np.int64)
    for image_id in read_split(root, train)[:limit]:
        labels = read_labels(base / "SegmentationClass" / f"{image_id}.png")
        codes = _codes(read_image(base / "JPEGImages" / f"{image_id}.jpg"), bits)
        valid = labels != IGNORE_INDEX
        counts += np.bincount(codes[valid] * NUM_CLASSES + labels[valid], minlength=counts.size).reshape(counts.shape)
    lookup = counts.argmax(1)
    metrics = SegMetrics()
    for image_id in read_split(root, val)[:limit]:
        labels = read_labels(base / "SegmentationClass" / f"{image_id}.png")
        pred = lookup[_codes(read_image(base / "JPEGImages" / f"{image_id}.jpg"), bits)]
        metrics.update(torch.from_numpy(pred)[None], torch.from_numpy(labels.astype(np.int64))[None])
    return metrics.compute()


def compare_trees(ours: dict, reference: dict, name: str = "VOC") -> str:
    """Sentences setting a synthetic tree's :func:`tree_stats` beside a reference tree's (e.g. the
    real VOC samples), with VOC 2012's published objects per image (6,929 objects in 2,913
    segmentation images: 2.4)."""
    def pair(key, q="q50", fmt="{:.2f}"):
        return f"{fmt.format(ours[key][q])} vs {fmt.format(reference[key][q])}"

    small = f" ({reference['images']} images: a small sample)" if reference["images"] < 100 else ""
    return (f"Synthetic vs {name}{small}: median foreground share {pair('fg_fraction')}; objects per image "
            f"{pair('objects', 'mean', '{:.1f}')} on average (VOC 2012 as published: 2.4); classes per image "
            f"{pair('classes', 'mean', '{:.1f}')}; median object area {pair('object_size', fmt='{:.3f}')} of the "
            f"image; images with a person {ours['class_images']['person']:.0%} vs "
            f"{reference['class_images']['person']:.0%}.")
