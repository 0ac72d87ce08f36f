"""The multi-task trade-off: segmentation against depth quality, per recipe and seed, one panel per
group of runs (a suite, or one point of the scale map)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from ..study.compare import mean_std
from ..study.report import seeds_text
from ..study.run_record import RunRecord


def draw_tradeoff(ax: plt.Axes, runs: dict[str, list[RunRecord]], title: str = "",
                  styles: dict[str, tuple] | None = None) -> int:
    """Draw on ``ax``: val mIoU against val depth R² (after per-image scale-and-shift alignment), one
    colour (and marker) per recipe, a small mark per seed and a large black-edged one at the mean. A
    recipe without depth (the baseline) is a horizontal band at its mean ± std, one without
    segmentation (depth alone) a vertical one. Runs a
    non-finite loss stopped, and runs trained before depth quality was recorded, are left out; the
    title counts both. ``styles``: a recipe's ``(colour, marker)`` (default: a colour by its place in
    ``runs``, dots). Returns how many were left out unmeasured."""
    unmeasured = diverged = 0
    means = False
    for i, (recipe, done) in enumerate(runs.items()):
        colour, marker = (styles or {}).get(recipe, (f"C{i % 10}", "o"))
        finished = [r for r in done if not r.diverged]
        stopped = len(done) - len(finished)
        diverged += stopped
        note = f", {stopped} diverged" if stopped else ""
        if finished and not any(r.budget.get("depth_epochs", 0) for r in finished):
            band = mean_std([r.miou for r in finished])
            ax.axhspan(band["mean"] - band["std"], band["mean"] + band["std"], color=colour, alpha=0.15)
            ax.axhline(band["mean"], color=colour, lw=1, label=f"{recipe} (no depth, {seeds_text(len(finished))}{note})")
            continue
        measured = [r for r in finished if "depth_r2" in r.metrics and not math.isnan(r.metrics["depth_r2"])]
        unmeasured += len(finished) - len(measured)
        if not measured:
            continue
        x = [r.metrics["depth_r2"] for r in measured]
        if all(r.budget.get("seg_epochs") == 0 for r in measured):  # depth alone
            band = mean_std(x)
            ax.axvspan(band["mean"] - band["std"], band["mean"] + band["std"], color=colour, alpha=0.15)
            ax.axvline(band["mean"], color=colour, lw=1, ls="--", label=f"{recipe} (no segmentation, {seeds_text(len(measured))}{note})")
            continue
        y = [r.miou for r in measured]
        ax.plot(x, y, marker, ls="", color=colour, alpha=0.6, label=f"{recipe} ({seeds_text(len(measured))}{note})")
        ax.plot(np.mean(x), np.mean(y), marker, color=colour, ms=12, mec="black", mew=1.5)
        means = True
    ax.set_xlabel("val depth R² after per-image scale and shift (1 = perfect, 0 = a constant)")
    ax.set_ylabel("val mIoU")
    out = [f"{unmeasured} runs from before depth quality was recorded"] if unmeasured else []
    out += [f"{diverged} that diverged"] if diverged else []
    left = f"\n(left out: {', '.join(out)})" if out else ""
    ax.set_title((title or "segmentation against depth quality") + left, fontsize=9)
    ax.grid(alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if means:
        handles.append(plt.Line2D([], [], marker="o", ls="", color="white", ms=9, mec="black", mew=1.5,
                                  label="large, black-edged: the recipe's mean over its seeds"))
    ax.legend(handles=handles, fontsize=7)
    return unmeasured


def _drawn(runs: list[RunRecord]) -> bool:
    """Whether :func:`draw_tradeoff` draws anything of one recipe's runs: a baseline band or a measured seed."""
    finished = [r for r in runs if not r.diverged]
    return bool(finished) and (not any(r.budget.get("depth_epochs", 0) for r in finished)
                               or any("depth_r2" in r.metrics for r in finished))


def tradeoff(runs: dict[str, list[RunRecord]], title: str = "") -> plt.Figure:
    """:func:`draw_tradeoff` of one group of runs (``{recipe: runs}``) as a figure."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_tradeoff(ax, runs, title)
    fig.tight_layout()
    return fig


def tradeoffs(panels: dict[str, dict[str, list[RunRecord]]], columns: int = 2) -> plt.Figure:
    """One :func:`draw_tradeoff` panel per entry of ``panels`` (``{title: {recipe: runs}}``), ``columns``
    wide; a recipe keeps its colour in every panel."""
    if not panels:
        raise ValueError("No runs to draw: pass at least one panel of {recipe: runs}.")
    columns = min(columns, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7 * columns, 4.6 * rows), squeeze=False)
    drawn = list(dict.fromkeys(recipe for runs in panels.values() for recipe, done in runs.items() if _drawn(done)))
    styles = {recipe: (f"C{i % 10}", "osD^v"[i // 10 % 5]) for i, recipe in enumerate(drawn)}
    for ax, (title, runs) in zip(axes.flat, panels.items()):
        draw_tradeoff(ax, runs, title, styles)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
