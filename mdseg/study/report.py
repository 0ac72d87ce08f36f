"""Results tables that put ours beside the paper's numbers (Tables 2 and 3), and the prose about the
gradient diagnostics, every claim through :mod:`mdseg.study.compare` (the failure suite's tables:
:mod:`mdseg.study.failure_report`)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .compare import MARGIN, comparison, format_stat, mean_std
from .paper import PAPER, both_numbers  # noqa: F401 (PAPER: report.PAPER for older callers)
from .run_record import HOSTS_NOTE, METRICS, RunRecord

DEPTH_METRICS = ("depth_r2", "depth_abs_rel", "depth_delta1")  # mdseg.training.metrics.DepthMetrics


def summarize(runs: dict[str, list[RunRecord]]) -> dict[str, dict]:
    """Per recipe, mean and sample standard deviation over seeds of each metric.

    Args:
        runs: recipe -> its runs (:class:`~mdseg.study.records.RunRecord`), one per seed.
    """
    out = {}
    for recipe, results in runs.items():
        first = results[0]
        entry = {"seeds": [r.seed for r in results], "hosts": [r.host for r in results],
                 "budget": dict(first.budget), "paper": PAPER.get(recipe),
                 "recipe": first.recipe, "depth_weight": first.depth_weight}
        for metric in METRICS:
            entry[metric] = mean_std([r.metric(metric) for r in results])
        for metric in DEPTH_METRICS:  # runs that train depth, measured since depth quality was recorded
            measured = [r.metrics[metric] for r in results if metric in r.metrics]
            if measured:
                entry[metric] = mean_std(measured)
        per_class = np.array([r.metrics.get("per_class_iou", []) for r in results], dtype=float)
        with warnings.catch_warnings():  # a class absent from every seed stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            entry["per_class_iou_mean"] = np.nanmean(per_class, 0).tolist() if per_class.size else []
        entry["per_class_iou"] = per_class.tolist()  # one row per seed, in the order of "seeds"
        out[recipe] = entry
    return out


VERSUS_NOTE = ("the difference of means with its 95% interval, paired by seed (the same seed gives both recipes "
               "the same initialisation and batches; Welch's unpaired test where the seeds differ); 'worse' / "
               "'better' where the interval excludes 0, else 'not distinguishable from 0'; then where the interval "
               f"stands against a margin of ± {MARGIN:.1%} of the baseline's mean (about the paper's text gap). One "
               f"seed is never called a gain. {HOSTS_NOTE}")


DEPTH_NOTE = ("Depth R²: the val depth after per-image least-squares scale and shift onto its target, 1 - SSE / SST "
              "(1 = perfect, 0 = no better than the image's mean; the same in any unit), mean ± std (seeds measured); "
              "'-' where a run trains no depth; 'not measured' where its runs were trained before depth quality was "
              "recorded (a retrain on the same host and seed gives it); 'n of m': measured on n of its m seeds.")


def seeds_text(n: int) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} seed{'' if n == 1 else 's'}"


def depth_text(values: list[float], seeds: int, trains_depth: bool = True) -> str:
    """``0.612 ± 0.010 (3)`` of the depth R² measured on ``values`` (``(2 of 3)`` when fewer than the
    ``seeds`` a row has), ``not measured`` where none was, ``-`` where the row trains no depth."""
    if not trains_depth:
        return "-"
    if not values:
        return "not measured"
    n = len(values)
    return f"{format_stat(mean_std(values), '{:.3f}')} ({n}{'' if n == seeds else f' of {seeds}'})"


def measured_r2(runs: list[RunRecord]) -> list[float]:
    """The depth R² of each of ``runs`` that recorded one (runs from before depth quality have none)."""
    return [r.metrics["depth_r2"] for r in runs if "depth_r2" in r.metrics]


def depth_cell(entry: dict) -> str:
    """:func:`depth_text` of a summary entry."""
    stat = entry.get("depth_r2")
    return depth_text(stat["values"] if stat else [], len(entry["seeds"]), bool(entry["budget"]["depth_epochs"]))


def paired_per_class(summary: dict[str, dict], recipe: str, baseline: str) -> tuple[list[list[float]], list[list[float]]]:
    """The per-class IoU rows of ``recipe`` and ``baseline`` over the seeds both have, row k of each
    from the same seed (for :func:`mdseg.viz.per_class_iou_difference`)."""
    rows = {name: dict(zip(summary[name]["seeds"], summary[name]["per_class_iou"])) for name in (recipe, baseline)}
    common = sorted(set(rows[recipe]) & set(rows[baseline]), key=str)
    return [rows[recipe][k] for k in common], [rows[baseline][k] for k in common]


def _paper(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def results_markdown(summary: dict[str, dict], title: str = "", baseline: str = "single-decoder") -> str:
    """A Markdown table: our mean ± std over seeds beside the paper's number for each recipe, and
    each recipe's mIoU against ``baseline`` (when present) as :meth:`Comparison.cell`."""
    against = baseline in summary
    depth = any(e["budget"]["depth_epochs"] for e in summary.values())
    lines = [f"## {title}", ""] if title else []
    lines += [
        "| recipe | epochs (seg / depth / total) | seeds | mIoU | paper mIoU |"
        + (f" mIoU vs {baseline} |" if against else "") + (" depth R² |" if depth else "")
        + " fg mIoU | iIoU (inst.) | paper iIoU | acc | paper acc |",
        "|---|---|---|---|---|" + ("---|" if against else "") + ("---|" if depth else "") + "---|---|---|---|---|",
    ]
    for recipe, e in summary.items():
        b, p = e["budget"], e["paper"] or {}
        versus = ("-" if recipe == baseline else comparison(summary, recipe, baseline).cell()) if against else None
        lines.append(
            f"| {recipe} | {b['seg_epochs']} / {b['depth_epochs']} / {b['epochs']} | {len(e['seeds'])} | "
            f"{format_stat(e['mIoU'])} | {both_numbers(recipe)} | " + (f"{versus} | " if against else "")
            + (f"{depth_cell(e)} | " if depth else "")
            + f"{format_stat(e['fg_mIoU'])} | {format_stat(e['iIoU'])} | "
            f"{_paper(p.get('iIoU'))} | {format_stat(e['acc'])} | {_paper(p.get('acc'))} |"
        )
    lines += ["", "mIoU over 21 classes; fg mIoU over the 20 object classes (the paper's written 'iIoU' definition); "
              "iIoU (inst.) is Cityscapes' instance-weighted IoU. Mean ± sample std over seeds. "
              + (f"{DEPTH_NOTE} " if depth else "")
              + (f"Against {baseline}: {VERSUS_NOTE}" if against else "")]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- diagnostics
MIN_DIAGNOSED_STEPS = 20  # fewer measured steps than this and the diagnostics say nothing


def diagnostics_markdown(runs: dict[str, list[dict[str, float]]]) -> str:
    """A Markdown table of :func:`mdseg.training.diagnostics.summarize_diagnostics` results, mean ± sample
    std over the summaries (one per seed) given for each run name, with the measured steps."""
    columns = [("loss_seg", "L_seg", "{:.3f}"), ("loss_depth", "L_depth", "{:.4f}"),
               ("loss_ratio", "L_seg / L_depth", "{:.2f}"), ("grad_ratio", "grad ratio seg/depth", "{:.2f}"),
               ("cosine", "cosine", "{:+.3f}"), ("conflict", "steps in conflict", "{:.0%}"),
               ("vanished", "steps with a zero task gradient", "{:.0%}")]
    lines = ["| run | seeds | steps | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for name, summaries in runs.items():
        done = [s for s in summaries if s["steps"]]
        cells = [format_stat(mean_std([s.get(key, 0.0) for s in done]), fmt) if done else "-" for key, _, fmt in columns]
        lines.append(f"| {name} | {len(summaries)} | {sum(s['steps'] for s in summaries)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", "Over the diagnosed steps where both tasks train the encoder; gradient ratio of "
                                "the weighted terms (geometric mean) and cosine over the steps where neither task's "
                                "encoder gradient is exactly zero; mean ± sample std over seeds."])


def read_diagnostics(name: str, summaries: list[dict[str, float]], min_steps: int = MIN_DIAGNOSED_STEPS) -> str:
    """What a run's diagnostics measured (one :func:`~mdseg.training.diagnostics.summarize_diagnostics` per
    seed): which task's weighted gradient is larger on the shared encoder, and how often the two
    conflict. With fewer than ``min_steps`` diagnosed steps in all, it says so instead."""
    done = [s for s in summaries if s["steps"]]
    steps = sum(s["steps"] for s in done)
    if steps < min_steps:
        return (f"{name}: {steps} diagnosed step{'s' if steps != 1 else ''} where both tasks train the encoder; "
                f"at least {min_steps} are needed to say anything about loss scales or gradients.")
    vanished = float(np.mean([s.get("vanished", 0.0) for s in done]))
    gone = (f"; in {vanished:.0%} of them one task's gradient on the encoder is exactly zero (its decoder no longer "
            "passes a gradient back), which the ratio and cosine leave out") if vanished > 0 else ""
    head = f"{name} ({len(done)} seed{'s' if len(done) > 1 else ''}, {steps} diagnosed steps): L_seg is"
    live = [s for s in done if not math.isnan(s["grad_ratio"])]
    if not live:
        return f"{head} {np.mean([s['loss_ratio'] for s in done]):.3g}x L_depth{gone}: no step with both gradients."
    mean = {k: float(np.mean([s[k] for s in live])) for k in ("loss_ratio", "grad_ratio", "cosine", "conflict")}
    g = mean["grad_ratio"]
    if g >= 2:
        scale = f"the weighted segmentation gradient on the shared encoder is {g:.1f}x the depth one: segmentation leads"
    elif g <= 0.5:
        scale = f"the weighted depth gradient on the shared encoder is {1 / g:.1f}x the segmentation one: depth leads"
    else:
        scale = f"the two weighted gradients on the shared encoder are of similar size (seg/depth {g:.2f})"
    agree = "mostly agree" if mean["conflict"] < 0.5 else "mostly conflict"
    return (f"{head} {mean['loss_ratio']:.3g}x L_depth and {scale}; the two gradients {agree} (negative cosine in "
            f"{mean['conflict']:.0%} of steps, mean cosine {mean['cosine']:+.3f}){gone}.")


def summary_sentence(summary: dict[str, dict], recipe: str, metric: str = "mIoU") -> str:
    """One recipe's ``metric`` as mean ± std over its seeds, with each seed's value; one seed is
    labelled as one seed."""
    stat = summary[recipe][metric]
    seeds = summary[recipe]["seeds"]
    if len(stat["values"]) == 1:
        return f"{recipe}: {metric} {stat['mean']:.4f} (one seed, {seeds[0]}: no spread is known)."
    per_seed = ", ".join(f"{v:.4f}" for v in stat["values"])
    return f"{recipe}: {metric} {format_stat(stat)} over {len(seeds)} seeds ({per_seed})."


def ranking(summary: dict[str, dict], metric: str = "mIoU") -> str:
    """The recipes ordered by mean ``metric``, saying that an order of means is not a result."""
    ordered = sorted(summary, key=lambda r: -summary[r][metric]["mean"])
    seeds = sorted({len(e[metric]["values"]) for e in summary.values()})
    return (f"Ordered by mean {metric} ({'/'.join(map(str, seeds))} seed{'s' if seeds != [1] else ''} each): "
            + ", ".join(f"{r} {summary[r][metric]['mean']:.4f}" for r in ordered)
            + ". An order of means is not a result: only the tested comparisons say which differences hold.")
