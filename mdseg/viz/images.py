"""Images: dataset samples, depth maps, predictions (Figure 3) and the widget explorer over them."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ..data.dataset import VOCDepth, denormalize, find_voc, read_image
from ..data.depth_cache import depth_dir, read_depth
from ..depth.targets import align_inverse, depth_quality
from ..runtime.display import show
from ..voc import CLASSES, IGNORE_INDEX, PALETTE, colorize
from ..world.synthetic import MAX_DEPTH_M, read_true_depth

DEPTH_CMAP = "magma"


def class_legend(fig: plt.Figure, labels: Iterable[np.ndarray] = ()) -> None:
    """A legend of the VOC classes present in ``labels`` (all classes when empty), under the
    figure's axes: the axes are laid out again above it, so it never covers an image."""
    present = sorted({int(v) for lab in labels for v in np.unique(lab)} - {IGNORE_INDEX}) or list(range(len(CLASSES)))
    handles = [Patch(color=PALETTE[i] / 255, label=CLASSES[i]) for i in present]
    handles.append(Patch(color=PALETTE[IGNORE_INDEX] / 255, label="ignore (255)"))
    legend = fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=8, frameon=False)
    fig.canvas.draw()
    height = legend.get_window_extent().transformed(fig.transFigure.inverted()).height
    fig.tight_layout(rect=(0, min(height + 0.01, 0.5), 1, 1))


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
    class_legend(fig, masks)
    return fig


# ----------------------------------------------------------------------------- pseudo depth
def save_preview(root: str | Path, path: str | Path, count: int = 6) -> Path:
    """Save :func:`dataset_grid` of the first ``count`` training images of the tree at ``root``
    (with their true depth) to ``path``, once; returns ``path``."""
    path = Path(path)
    if not path.exists():
        train_set = VOCDepth(root, "train")
        fig = dataset_grid(train_set, range(min(count, len(train_set))), true_depth=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path


def depth_gallery(root, teacher: str, ids: Sequence[str]) -> plt.Figure:
    """Rows of (image, teacher depth, reference inverse depth, error after scale-and-shift
    alignment) for synthetic images; the reference is the scene's true depth."""
    fig, axes = plt.subplots(len(ids), 4, figsize=(15, 3.2 * len(ids)), squeeze=False)
    base = find_voc(root)
    for row, image_id in enumerate(ids):
        pred = read_depth(depth_dir(root, teacher) / f"{image_id}.png")
        truth = read_true_depth(root, image_id)
        valid = truth < MAX_DEPTH_M * 0.999
        ref = 1.0 / truth
        aligned = align_inverse(pred.astype(np.float64), ref, valid)
        q = depth_quality(pred, truth)
        axes[row, 0].imshow(read_image(base / "JPEGImages" / f"{image_id}.jpg"))
        axes[row, 0].set_title(image_id)
        _show_depth(axes[row, 1], pred, f"{teacher} (normalised inverse depth)", fig)
        _show_depth(axes[row, 2], ref, "reference inverse depth (1/m)", fig)
        error = np.where(valid, aligned - ref, np.nan)
        limit = float(np.nanmax(np.abs(error))) if np.isfinite(error).any() else 1.0
        err = axes[row, 3].imshow(error, cmap="coolwarm", vmin=-limit, vmax=limit)  # white = no error
        axes[row, 3].set_title(f"aligned error  AbsRel {q['abs_rel']:.3f}  δ1 {q['delta1']:.2f}")
        fig.colorbar(err, ax=axes[row, 3], fraction=0.046, pad=0.02, label="1/m")
    _off(axes)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- training
def predict(model, images) -> np.ndarray:
    """(N, 3, H, W) normalised images -> (N, H, W) predicted class ids (semantic decoder only)."""
    import torch  # deferred: the figures of shipped results draw without torch

    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        out = model(images.to(device), tasks=("seg",)) if hasattr(model, "seg_decoder") else {"seg": model(images.to(device))}
    return out["seg"].argmax(1).cpu().numpy()


def _pixel_accuracy(pred: np.ndarray, item: dict) -> float:
    """Share of labelled pixels of ``item["mask"]`` (H, W) that ``pred`` (H, W) gets right."""
    mask = item["mask"].numpy()
    valid = mask != IGNORE_INDEX
    return float((pred[valid] == mask[valid]).mean())


def figure3(items: Sequence[dict], predictions: dict[str, np.ndarray]) -> plt.Figure:
    """The paper's Figure 3: rows of (input, ground truth, one column per model's prediction,
    pseudo depth). ``predictions`` maps a model name to (N, H, W) class ids."""
    cols = 3 + len(predictions) - (0 if "depth" in items[0] else 1)
    fig, axes = plt.subplots(len(items), cols, figsize=(2.9 * cols, 2.9 * len(items) + 0.6), squeeze=False)
    for row, item in enumerate(items):
        panels = [(denormalize(item["image"]), f"input {item['id']}"), (colorize(item["mask"].numpy()), "ground truth")]
        for name, pred in predictions.items():
            panels.append((colorize(pred[row]), f"{name}\npixel acc {_pixel_accuracy(pred[row], item):.3f}"))
        for col, (img, title) in enumerate(panels):
            axes[row, col].imshow(img)
            axes[row, col].set_title(title, fontsize=9)
        if "depth" in item:
            _show_depth(axes[row, -1], item["depth"][0].numpy(), "pseudo depth", fig, colorbar=row == 0)
    _off(axes)
    class_legend(fig, [item["mask"].numpy() for item in items] + list(predictions.values()))
    return fig


def overlay(item: dict, pred: np.ndarray, opacity: float = 0.5, errors: bool = False) -> np.ndarray:
    """The image with a prediction blended on top; with ``errors``, wrong pixels in red and
    right ones dimmed instead. Returns (H, W, 3) float in [0, 1]."""
    image = denormalize(item["image"])
    mask = item["mask"].numpy()
    if errors:
        wrong = (pred != mask) & (mask != IGNORE_INDEX)
        colour = np.where(wrong[..., None], np.array([1.0, 0.0, 0.0]), image * 0.3)
    else:
        colour = colorize(pred) / 255.0
    return np.clip((1 - opacity) * image + opacity * colour, 0, 1)


def explorer_figure(items: Sequence[dict], predictions: dict[str, np.ndarray], index: int = 0,
                    model: str | None = None, opacity: float = 0.5, errors: bool = False) -> plt.Figure:
    """What the explorer widget shows: the image, the chosen model's prediction overlaid
    (or its errors), and the ground truth."""
    model = model or next(iter(predictions))
    item, pred = items[index], predictions[model][index]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.9))
    axes[0].imshow(denormalize(item["image"]))
    axes[0].set_title(f"image {item['id']}")
    axes[1].imshow(overlay(item, pred, opacity, errors))
    axes[1].set_title(f"{model}: {'errors (red)' if errors else 'prediction'}, acc {_pixel_accuracy(pred, item):.3f}")
    axes[2].imshow(colorize(item["mask"].numpy()))
    axes[2].set_title("ground truth")
    _off(axes)
    class_legend(fig, [item["mask"].numpy(), pred])
    return fig


def explorer(items: Sequence[dict], predictions: dict[str, np.ndarray]):
    """An ipywidgets explorer over :func:`explorer_figure`: pick the image, the model, the
    overlay opacity, and whether to show errors. Returns the ``interactive`` widget; its
    ``children`` are the controls (set ``.value`` in tests) and ``result`` the last figure."""
    import ipywidgets as widgets  # deferred: only a notebook needs the widgets

    def draw(index, model, opacity, errors):
        fig = explorer_figure(items, predictions, index, model, opacity, errors)
        show(fig)  # displayed once as an image, then closed, whatever the backend
        return fig

    return widgets.interactive(
        draw,
        index=widgets.IntSlider(0, 0, len(items) - 1, description="image"),
        model=widgets.Dropdown(options=list(predictions), description="model"),
        opacity=widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="opacity"),
        errors=widgets.Checkbox(False, description="show errors"),
    )


# ----------------------------------------------------------------------------- diagnostics
