"""The paper's numbers (Tables 2 and 3), results tables that put ours beside them, and the prose
about the diagnostics and the failure experiment, every claim through :mod:`mdseg.study.compare`."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..training.schedule import NAIVE, PAPER_DEPTH_WEIGHT
from .compare import MARGIN, comparison, format_stat, mean_std
from .run_record import HOSTS_NOTE
from .run_record import METRICS, RunRecord
from .paper import PAPER, both_numbers  # noqa: F401 (PAPER: report.PAPER for older callers)

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


def depth_text(values: list[float], seeds: int, trains_depth: bool = True) -> str:
    """``0.612 ± 0.010 (3)`` of the depth R² measured on ``values`` (``(2 of 3)`` when fewer than the
    ``seeds`` a row has), ``not measured`` where none was, ``-`` where the row trains no depth."""
    if not trains_depth:
        return "-"
    if not values:
        return "not measured"
    n = len(values)
    return f"{format_stat(mean_std(values), '{:.3f}')} ({n}{'' if n == seeds else f' of {seeds}'})"


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


# ----------------------------------------------------------------------------- why naive joint training fails
COLLAPSE = ("depth-first/copy/b", "depth-first/no-copy/b")  # the paper: mIoU 0.0136 and 0.0085


def weights_markdown(suite: dict[str, dict[str, dict]], baseline: str = "single-decoder") -> str:
    """Naive joint training at each depth weight, one column per depth target: mIoU mean ± std and
    the test against ``baseline``; ``-`` where a run is not finished. ``suite``: target ->
    :func:`summarize` result."""
    targets = list(suite)
    weights = sorted({w for s in suite.values() for w in naive_runs(s)})
    lines = ["| depth weight w | " + " | ".join(f"{t}: mIoU | {t}: vs {baseline} | {t}: depth R²" for t in targets) + " |",
             "|---|" + "---|---|---|" * len(targets)]
    for w in weights:
        cells = []
        for t in targets:
            name = naive_runs(suite[t]).get(w)
            versus = comparison(suite[t], name, baseline).cell() if name and baseline in suite[t] else "-"
            cells += [format_stat(suite[t][name]["mIoU"]) if name else "-", versus, depth_cell(suite[t][name]) if name else "-"]
        lines.append(f"| {w:g}{' (paper)' if w == PAPER_DEPTH_WEIGHT else ''} | " + " | ".join(cells) + " |")
    base = next((s[baseline]["mIoU"] for s in suite.values() if baseline in s), None)
    told = f"mIoU {format_stat(base)}" if base else "not finished"
    return "\n".join(lines + ["", f"{baseline} (no depth): {told}. Naive joint training trains "
                                  f"(1 - w) L_seg + w L_depth from the start. {DEPTH_NOTE} Against {baseline}: {VERSUS_NOTE}"])


def table3_markdown(suite: dict[str, dict[str, dict]]) -> str:
    """Tables 2 and 3 under each depth target beside the paper's mIoU (``-``: not finished)."""
    targets = list(suite)
    names = [n for n in PAPER if any(n in s for s in suite.values())]
    lines = ["| recipe | paper mIoU | " + " | ".join(f"{t}: mIoU" for t in targets) + " |",
             "|---|---|" + "---|" * len(targets)]
    for name in names:
        lines.append(f"| {name} | {both_numbers(name)} | "
                     + " | ".join(format_stat(suite[t][name]["mIoU"]) if name in suite[t] else "-" for t in targets)
                     + " |")
    return "\n".join(lines)


def naive_runs(summary: dict) -> dict[float, str]:
    """``{depth weight: run name}`` of the plain naive joint runs in ``summary`` (entries whose
    ``recipe`` is ``naive-joint``, at their ``depth_weight``; variants such as ``naive-joint/ssi``
    are other recipes), by increasing weight."""
    runs = {float(e["depth_weight"]): name for name, e in summary.items() if e.get("recipe") == NAIVE}
    return dict(sorted(runs.items()))


def _units_line(naive_worse: dict[str, bool], failing: list[str]) -> str:
    """The loss-scale hypothesis, judged over the depth targets whose naive runs finished."""
    if failing and len(failing) < len(naive_worse):
        return (f"Loss scale (units): naive joint training falls below the baseline with {', '.join(failing)} "
                f"depth targets and not with {', '.join(t for t in naive_worse if t not in failing)}: the depth "
                "target's units reproduce the paper's naive failure here.")
    if failing:
        return ("Loss scale (units): naive joint training falls below the baseline with every depth target "
                "tried, so the units are not needed for the failure here.")
    return (f"Loss scale (units): naive joint training does not fall below the baseline by the test with "
            f"any depth target tried ({', '.join(naive_worse)}), so the paper's naive failure does not "
            "appear at these units (w = 0.15, the profile's optimiser); larger loss scales and other "
            "optimisers are the scale suite's question.")


def failure_conclusion(suite: dict[str, dict[str, dict]], diagnostics: dict[str, list[dict]] | None = None,
                       baseline: str = "single-decoder") -> list[str]:
    """Which hypothesis reproduces which part of the paper's pattern, from the numbers of
    :func:`mdseg.study.failure_suite.failure_suite` (``target -> summarize() result``) and, optionally, the
    naive runs' diagnostics per target. Parts: naive joint training below the baseline; the
    depth-first/b recipes collapsing; depth-first/copy/s->b best. Hypotheses: depth target units
    (loss scale), an untuned weight, gradient conflict. Every claim rests on a stated test; parts
    whose runs are not finished are said to be so."""
    if not any(baseline in summary for summary in suite.values()):
        return [f"No finished {baseline} run: nothing to compare with yet."]
    suite = {t: summary for t, summary in suite.items() if baseline in summary}
    out = []
    naive_worse = {}
    for target, summary in suite.items():
        if NAIVE not in summary:
            out.append(f"[{target} depth] Naive joint at the paper's weight: not finished.")
            continue
        c = comparison(summary, NAIVE, baseline)
        naive_worse[target] = c.verdict == "worse"
        out.append(f"[{target} depth] Naive joint at the paper's weight: {c.sentence()}")
    failing = [t for t, worse in naive_worse.items() if worse]
    if naive_worse:  # else no naive run finished: nothing to say about units
        out.append(_units_line(naive_worse, failing))
    for target, summary in suite.items():
        tests = {w: comparison(summary, n, baseline) for w, n in naive_runs(summary).items()}
        tried = [w for w, c in tests.items() if c.tested]
        worse_at = [w for w in tried if tests[w].verdict == "worse"]
        untested = [f"; w = {', '.join(f'{w:g}' for w, c in tests.items() if c.verdict == reason)} has {label}, not tested"
                    for reason, label in (("one seed", "one seed"), ("no spread", "no spread over seeds"))
                    if any(c.verdict == reason for c in tests.values())]
        if len(tried) > 1:
            verdict = (f"below the baseline at w = {', '.join(f'{w:g}' for w in worse_at)} and not at the others"
                       if worse_at and len(worse_at) < len(tried) else
                       "below the baseline at every weight tried" if worse_at else "not below the baseline at any weight tried")
            out.append(f"Weight ({target} depth): naive joint training is {verdict} "
                       f"(w = {', '.join(f'{w:g}' for w in tried)}){''.join(untested)}.")
    for target, summary in suite.items():
        present = [r for r in COLLAPSE if r in summary]
        if present:
            collapsed = [r for r in present if comparison(summary, r, baseline).verdict == "worse"
                         and summary[r]["mIoU"]["mean"] < 0.5 * summary[baseline]["mIoU"]["mean"]]
            out.append(f"Collapse ({target} depth): {len(collapsed)} of {len(present)} depth-first/b recipes fall to "
                       "less than half the baseline's mIoU (the paper: both, to about 0.01)"
                       + (f": {', '.join(collapsed)}." if collapsed else "."))
        if "depth-first/copy/s->b" in summary:
            c = comparison(summary, "depth-first/copy/s->b", baseline)
            top = max(summary, key=lambda r: summary[r]["mIoU"]["mean"])
            highest = ("has the highest mean, as in the paper" if top == "depth-first/copy/s->b"
                       else f"does not have the highest mean ({top} does)")
            out.append(f"Best recipe ({target} depth): depth-first/copy/s->b is {c.verdict} against the baseline "
                       f"and {highest}.")
    for target, summaries in (diagnostics or {}).items():
        if NAIVE in suite.get(target, {}):  # an unfinished target was said to be so above
            out.append(f"Gradients ({target} depth): {read_diagnostics(NAIVE, summaries)}")
    return out


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
