"""Charts of numbers: training curves, schedules, per-class IoU, gradient diagnostics, mIoU
against the depth weight."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from adjustText import adjust_text
from matplotlib.patches import Patch
from matplotlib.transforms import Bbox
from matplotlib.ticker import MaxNLocator

from ..study.budget_report import plateau
from ..study.compare import t_interval
from ..study.paper import naive_gaps
from ..study.failure_report import naive_runs
from ..voc import CLASSES, PALETTE


def training_curves(histories: dict[str, list[dict]], metric: str = "mIoU",
                    boundaries: dict[str, list[int]] | None = None) -> plt.Figure:
    """Per run: training loss terms per epoch (seg, and depth when any run trains it) and a
    validation metric, by global epoch (integer ticks); dashed lines mark stage boundaries. A loss
    panel whose values span more than 100x (depth in metres beside normalised depth) is drawn on a
    log scale, so every run's curve stays visible."""
    panels = [("seg", "train focal loss L_seg"), ("depth", "train depth MSE L_depth"), (metric, f"val {metric}")]
    if not any("depth" in r["train"] for history in histories.values() for r in history):
        panels.pop(1)  # no run trained the depth decoder: no empty panel
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 4.2))
    plotted: dict[str, list[float]] = {key: [] for key, _ in panels}
    for name, history in histories.items():
        epochs = [r["global_epoch"] for r in history]
        for ax, (key, _) in zip(axes, panels):
            source = [r.get("val", {}) if key == metric else r["train"] for r in history]
            values = [s.get(key, np.nan) for s in source]
            plotted[key] += values
            line, = ax.plot(epochs, values, marker="o", ms=4, label=name)
            for edge in (boundaries or {}).get(name, [])[:-1]:
                ax.axvline(edge + 0.5, color=line.get_color(), ls="--", lw=0.8, alpha=0.6)
    for ax, (key, title) in zip(axes, panels):
        values = np.asarray(plotted[key], float)
        positive = values[np.isfinite(values) & (values > 0)]
        if key != metric and positive.size and positive.max() > 100 * positive.min():
            ax.set_yscale("log")
            title += " (log scale)"
        ax.set_title(title)
        ax.set_xlabel("epoch (all stages)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("loss")
    axes[-1].set_ylabel(metric)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


TASK_COLOURS = {("seg",): "tab:blue", ("depth",): "tab:orange", ("seg", "depth"): "tab:green"}


def schedule_timeline(schedules: Sequence) -> plt.Figure:
    """One row per schedule, one bar per stage (colour = decoders trained, width = epochs);
    a '⇢ copy' label where a decoder body is copied before the stage."""
    fig, ax = plt.subplots(figsize=(11, 0.6 * len(schedules) + 1.2))
    for row, schedule in enumerate(schedules):
        start = 0
        for stage in schedule.stages:
            ax.barh(row, stage.epochs, left=start, color=TASK_COLOURS[tuple(sorted(stage.tasks, reverse=True))],
                    edgecolor="white")
            label = "+".join(f"{w:g}·{t}" for t, w in stage.weights.items())
            if stage.copy:
                label = f"copy {stage.copy[0]}→{stage.copy[1]}, " + label
            ax.text(start + stage.epochs / 2, row, label, ha="center", va="center", fontsize=7, color="white")
            start += stage.epochs
    ax.set_yticks(range(len(schedules)), [s.name for s in schedules])
    ax.invert_yaxis()
    ax.set_xlabel("epoch")
    ax.set_title("Training schedules: which decoders train when")
    handles = [Patch(color=c, label=" + ".join(t)) for t, c in TASK_COLOURS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=8, title="decoders trained")
    fig.tight_layout()
    return fig


def per_class_iou_difference(ours: Sequence[Sequence[float]], baseline: Sequence[Sequence[float]],
                             title: str = "IoU(staged) − IoU(baseline)") -> plt.Figure:
    """Per VOC class, the IoU difference between two recipes, paired by seed: ``ours`` and
    ``baseline`` are (seeds, classes) with row k of each from the same seed
    (:func:`mdseg.study.report.paired_per_class`; one row = one seed). A bar for the mean difference,
    a dot per seed, the 95% t interval as an error bar; classes whose interval covers 0 (or with
    one seed, no interval) are drawn grey. NaN (a class absent from a seed) is left out of that class."""
    diff = np.atleast_2d(np.array(ours, dtype=float)) - np.atleast_2d(np.array(baseline, dtype=float))
    fig, ax = plt.subplots(figsize=(12, 4))
    classes = diff.shape[1]
    for c in range(classes):
        values = diff[:, c][~np.isnan(diff[:, c])]
        if not len(values):
            continue
        mean = float(values.mean())
        interval = t_interval(list(values))
        clear = interval is not None and (interval[0] > 0 or interval[1] < 0)
        colour = ("tab:green" if mean > 0 else "tab:red") if clear else "lightgrey"
        ax.bar(c, mean, color=colour, edgecolor="grey", lw=0.4)
        if interval is not None:
            ax.errorbar(c, mean, yerr=[[mean - interval[0]], [interval[1] - mean]], color="black", capsize=3, lw=1)
        ax.plot(np.full(len(values), c) + np.linspace(-0.2, 0.2, len(values)), values, "o", ms=3, color="black",
                alpha=0.6)
    ax.set_xticks(range(classes), CLASSES[:classes], rotation=60, ha="right")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("IoU difference")
    seeds = diff.shape[0]
    ax.set_title(f"{title}\n{seeds} paired seed{'s' if seeds > 1 else ''}: bar = mean, dots = seeds, "
                 "error bar = 95% interval; grey: the interval covers 0" + (" (one seed: no interval)" if seeds < 2 else ""),
                 fontsize=10)
    fig.tight_layout()
    return fig


def per_class_iou(ious: Sequence[float], title: str = "per-class IoU") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(12, 3.5))
    ax.bar(range(len(ious)), np.nan_to_num(np.array(ious, dtype=float)),
           color=[PALETTE[i] / 255 for i in range(len(ious))], edgecolor="black", lw=0.4)
    ax.set_xticks(range(len(ious)), CLASSES[: len(ious)], rotation=60, ha="right")
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- predictions


def diagnostics_figure(diagnostics: dict[str, list[dict]]) -> plt.Figure:
    """Per run, over training steps: the two weighted loss terms, the seg/depth ratio of the
    encoder gradient norms (log scale) and the cosine between the two task gradients.
    ``diagnostics`` maps a run name to its ``diagnostics.jsonl`` records."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for name, records in diagnostics.items():
        steps = [r["global_step"] for r in records]
        two = [(s, r) for s, r in zip(steps, records) if "grad_cosine" in r]
        style = {"marker": "o", "ms": 3} if len(records) <= 30 else {}  # few points: show each one
        line, = axes[0].plot(steps, [r["loss"].get("seg", np.nan) for r in records], label=f"{name}: L_seg", **style)
        axes[0].plot(steps, [r["loss"].get("depth", np.nan) for r in records], ls="--", color=line.get_color(),
                     label=f"{name}: L_depth", **style)
        axes[1].plot([s for s, _ in two], [r["grad_ratio_seg_depth"] for _, r in two], color=line.get_color(),
                     label=name, **style)
        axes[2].plot([s for s, _ in two], [r["grad_cosine"] for _, r in two], color=line.get_color(), label=name,
                     **style)
    axes[0].set_yscale("log")
    axes[0].set_title("raw loss terms (log)")
    axes[1].set_yscale("log")
    axes[1].set_title("‖∇enc 0.85·L_seg‖ / ‖∇enc 0.15·L_depth‖ (log)")
    axes[1].axhline(1, color="black", lw=0.7)
    axes[2].set_title("cosine(∇enc L_seg, ∇enc L_depth)")
    axes[2].axhline(0, color="black", lw=0.7)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def weight_curve(suite: dict[str, dict[str, dict]], baseline: str = "single-decoder") -> plt.Figure:
    """Naive joint training's val mIoU against the depth weight ``w`` (log axis), one line per depth
    target with error bars of one sample std over seeds, the baseline as a band (mean ± std).
    ``suite``: depth target -> :func:`mdseg.study.report.summarize` result (naive runs named
    ``naive-joint`` for the paper's 0.15, ``naive-joint@w=<w>`` otherwise)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for target, summary in suite.items():
        points = [(w, summary[n]["mIoU"]) for w, n in naive_runs(summary).items()]
        if points:
            ax.errorbar([w for w, _ in points], [s["mean"] for _, s in points],
                        yerr=[s["std"] for _, s in points], marker="o", capsize=4,
                        label=f"naive joint, {target} depth")
    base = next(iter(suite.values()))[baseline]["mIoU"]
    ax.axhspan(base["mean"] - base["std"], base["mean"] + base["std"], color="grey", alpha=0.3,
               label=f"{baseline} (mean ± std)")
    ax.axhline(base["mean"], color="grey", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("depth weight w in (1 - w) L_seg + w L_depth")
    ax.set_ylabel("val mIoU")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def failure_map(points: Sequence[dict]) -> plt.Figure:
    """The map of where naive joint training costs segmentation: naive minus baseline val mIoU in %
    of the baseline's mean (paired by seed; error bars: the 95% paired interval) against the
    weighted seg/depth encoder-gradient ratio (log axis), one colour per optimiser, one marker per
    depth target; both of the paper's gaps (its text and its Table 2) as lines; points where seeds
    collapsed ringed. ``points``: :meth:`mdseg.study.scale_suite.ScaleSuite.map_points`."""
    fig, ax = plt.subplots(figsize=(8, 5))
    colours: dict[str, str] = {}
    markers = {"normalised": "o", "png8": "s", "metric": "^"}
    labels, intervals = [], []
    for p in sorted(points, key=lambda q: (q["ratio"], q["rel"])):
        colour = colours.setdefault(p["optimiser"], f"C{len(colours)}")
        y = 100 * p["rel"]
        low, high = 100 * p["rel_low"], 100 * p["rel_high"]
        yerr = None if np.isnan(low) else [[y - low], [high - y]]
        ax.errorbar(p["ratio"], y, yerr=yerr, fmt=markers.get(p["target"], "D"), color=colour, capsize=3, ms=7)
        if yerr is not None:
            intervals.append([(p["ratio"], low), (p["ratio"], high)])
        if p.get("collapsed"):
            ax.plot(p["ratio"], y, "o", ms=16, mfc="none", mec="red", mew=1.5)
        label = "png8" if p["target"] == "png8" else ("metric" if p["target"] == "metric" else f"x{p['depth_scale']:g}")
        labels.append(ax.text(p["ratio"], y, label, fontsize=7, color=colour))
    ax.axhline(0, color="grey", lw=1)
    gaps = naive_gaps()
    styles = {"text": ":", "Table 2": "--"}
    for source, gap in gaps.items():
        ax.axhline(100 * gap, color="black", ls=styles[source], lw=1)
    ax.axvline(1, color="grey", lw=0.8, ls=":")
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=o) for o, c in colours.items()]
    handles += [plt.Line2D([], [], color="grey", marker=m, ls="", label=t) for t, m in markers.items()
                if any(p["target"] == t for p in points)]
    handles += [plt.Line2D([], [], color="black", ls=styles[s], label=f"the paper's gap, its {s} ({100 * g:+.1f}%)")
                for s, g in gaps.items()]
    handles += [plt.Line2D([], [], color="grey", marker="|", ls="", ms=10, label="95% paired interval (seeds)")]
    if any(p.get("collapsed") for p in points):
        handles.append(plt.Line2D([], [], marker="o", ms=10, mfc="none", mec="red", ls="",
                                  label="seeds collapsed (< half the baseline)"))
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    ax.set_xscale("log")
    ax.set_xlabel("weighted seg / depth gradient norm on the shared encoder (< 1: depth leads)")
    ax.set_ylabel("naive joint - baseline val mIoU, % of the baseline")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    # Last, once the axes' limits are final: move the point labels apart and off the points, the intervals
    # and the legend, each joined to its point by a thin line where it moved. adjust_text reads the boxes to
    # avoid in data units; a fixed number of iterations (not its default time limit) draws the same figure
    # on every machine.
    to_data = ax.transData.inverted()
    avoid = [Bbox(ax.transData.transform(ends)).padded(3).transformed(to_data) for ends in intervals]
    avoid += [Bbox(ax.transData.transform([t.get_position()] * 2)).padded(6).transformed(to_data) for t in labels]  # markers
    avoid.append(ax.get_legend().get_window_extent(fig.canvas.get_renderer()).transformed(to_data))
    adjust_text(labels, objects=avoid, ax=ax, iter_lim=300, arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"})
    return fig


def budget_curves(curves: dict[str, list], plateau_gain: float | None = None) -> plt.Figure:
    """Final val mIoU against the total epochs trained, one line per recipe (the budget suite:
    :func:`mdseg.study.budget_report.curves`), each budget's mean over seeds with its 95% t interval
    and a dot per seed; a ring marks where a recipe meets the plateau rule (``plateau_gain``)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (recipe, points) in enumerate(curves.items()):
        colour = f"C{i}"
        xs = [p.epochs for p in points]
        means = [p.entry["mIoU"]["mean"] for p in points]
        intervals = [t_interval(p.entry["mIoU"]["values"]) for p in points]
        low = [m - (iv[0] if iv else m) for m, iv in zip(means, intervals)]
        high = [(iv[1] if iv else m) - m for m, iv in zip(means, intervals)]
        ax.errorbar(xs, means, yerr=[low, high], marker="o", capsize=3, color=colour, label=recipe)
        for p in points:
            values = p.entry["mIoU"]["values"]
            ax.plot([p.epochs] * len(values), values, ".", color=colour, alpha=0.4)
        found = plateau(points, plateau_gain) if plateau_gain is not None else None
        if found is not None:
            ax.plot(found.epochs, found.entry["mIoU"]["mean"], "o", ms=14, mfc="none", mec=colour, mew=1.5)
    ax.set_xlabel("total epochs trained")
    ax.set_ylabel("val mIoU (mean, 95% interval, seeds)")
    ax.set_title("Longer budgets" + (f"; ring: the recipe gains < {plateau_gain} mIoU per added epoch" if plateau_gain
                                     else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
