"""Figures and widgets. Every builder returns a matplotlib Figure and works without a browser;
widgets are thin factories over those builders (tests set their values and read the figure)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from .data import denormalize
from .voc import CLASSES, IGNORE_INDEX, PALETTE, colorize

DEPTH_CMAP = "magma"


def class_legend(fig: plt.Figure, labels: Iterable[np.ndarray] = ()) -> None:
    """A legend of the VOC classes present in ``labels`` (all classes when empty), under the figure."""
    present = sorted({int(v) for lab in labels for v in np.unique(lab)} - {IGNORE_INDEX}) or list(range(len(CLASSES)))
    handles = [Patch(color=PALETTE[i] / 255, label=CLASSES[i]) for i in present]
    handles.append(Patch(color=PALETTE[IGNORE_INDEX] / 255, label="ignore (255)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=8, frameon=False)


def _show_depth(ax, depth: np.ndarray, title: str, fig, colorbar: bool = True):
    im = ax.imshow(depth, cmap=DEPTH_CMAP)
    ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    return im


def _off(axes) -> None:
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])


def dataset_grid(dataset, indices: Iterable[int], true_depth: bool = False) -> plt.Figure:
    """Rows of (image, class mask, depth) for dataset items; depth is the pseudo depth when
    the dataset has a teacher, the true depth with ``true_depth`` on synthetic data."""
    from .synthetic import read_true_depth

    indices = list(indices)
    with_depth = true_depth or dataset.teacher is not None
    cols = 3 if with_depth else 2
    fig, axes = plt.subplots(len(indices), cols, figsize=(3.2 * cols + 1.5, 2.8 * len(indices)), squeeze=False)
    masks = []
    for row, index in enumerate(indices):
        item = dataset[index]
        axes[row, 0].imshow(denormalize(item["image"]))
        axes[row, 0].set_title(item["id"])
        mask = item["mask"].numpy()
        masks.append(mask)
        axes[row, 1].imshow(colorize(mask))
        axes[row, 1].set_title("class mask")
        if with_depth:
            if dataset.teacher is not None:
                _show_depth(axes[row, 2], item["depth"][0].numpy(), f"pseudo depth ({dataset.teacher})", fig)
            else:
                _show_depth(axes[row, 2], 1.0 / read_true_depth(dataset.root, item["id"]),
                            "true inverse depth (1/m)", fig)
    _off(axes)
    fig.tight_layout(rect=(0, 0.06 if len(indices) < 3 else 0.03, 1, 1))
    class_legend(fig, masks)
    return fig
