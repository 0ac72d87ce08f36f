"""Why a scaled depth loss breaks naive joint training, read from the scale suite's mechanism controls
(:data:`~mdseg.study.scale_suite.AT_FAILING`, depth alone) and each seed's diagnostics: a table of
the controls and sentences that say, per seed where seeds disagree, what failed alone and what only
failed together. Nothing here trains."""
from __future__ import annotations

import math
from statistics import fmean

from ..training import runs as run_files
from ..training.schedule import BASELINE, DEPTH_ONLY, NAIVE
from .compare import collapsed, comparison, format_stat, mean_std
from .run_record import RunRecord
from .report import measured_r2, summarize
from .jobs import trained
from .scale_suite import AT_FAILING, Point, ScaleSuite


def _per_seed(values: list[float], fmt: str = "{:.2f}") -> str:
    return ", ".join(fmt.format(v) for v in values)


def seeds_disagree(values: list[float], spread: float = 0.5) -> bool:
    """Whether per-seed shares (0-1) disagree: their range is wider than ``spread``."""
    known = [v for v in values if not math.isnan(v)]
    return len(known) > 1 and max(known) - min(known) > spread


def diagnostics_per_seed(runs: list[RunRecord]) -> list[dict]:
    """Each run's diagnostics summary, with its seed and whether a non-finite loss stopped it (steps 0
    where it logged none)."""
    return [{"seed": r.seed, "diverged": r.diverged, **run_files.diagnostics_summary(r.run_dir)} for r in runs]


def vanished_sentence(label: str, runs: list[RunRecord]) -> str:
    """Per seed, the share of two-task steps where a task's encoder gradient was exactly zero, and
    which task's where the runs recorded it; says when the seeds disagree."""
    summaries = [s for s in diagnostics_per_seed(runs) if s["steps"]]
    if not summaries:
        return f"{label}: no diagnosed two-task steps."
    shares = [s["vanished"] for s in summaries]
    which = ""
    if all("vanished_depth" in s for s in summaries):
        which = ("; the depth task's: " + _per_seed([s["vanished_depth"] for s in summaries], "{:.0%}")
                 + ", the segmentation task's: " + _per_seed([s["vanished_seg"] for s in summaries], "{:.0%}"))
    verdict = ("the seeds disagree, so no single mechanism is read from their mean" if seeds_disagree(shares)
               else "the seeds agree")
    return (f"{label}: a task's encoder gradient was exactly zero in {_per_seed(shares, '{:.0%}')} of the diagnosed "
            f"two-task steps (seeds {', '.join(_seed_name(s) for s in summaries)}){which}; {verdict}.")


def _seed_name(summary: dict) -> str:
    """A seed's number, saying where a non-finite loss stopped it (its shares cover the steps before)."""
    return f"{summary['seed']} (diverged)" if summary.get("diverged") else str(summary["seed"])


def controls_markdown(suite: ScaleSuite) -> str:
    """One row per control: its point, seeds finished and diverged, mIoU against the baseline and
    naive joint there (paired), how many seeds collapsed, depth R², and from its diagnostics the
    encoder's and the depth decoder's update sizes and the depth decoder's dead units at the end."""
    lines = ["| control | point | seeds (diverged) | mIoU | vs baseline | vs naive joint | depth R² | "
             "update encoder / depth decoder | dead depth units at the end |", "|---|---|---|---|---|---|---|---|---|"]
    for (point, recipe), done in suite.controls.items():
        ok = trained(done)
        head = f"| {recipe} | {point.label} | {len(done)} ({len(done) - len(ok)}) |"
        if not done:
            lines.append(f"{head} not finished | | | | | |")
            continue
        cells = _seg_cells(suite, point, recipe, ok) if recipe != DEPTH_ONLY else ["- (no segmentation)", "-", "-"]
        r2 = measured_r2(ok)
        summaries = [s for s in diagnostics_per_seed(done) if s.get("diagnosed")]
        updates = (f"{_median('update_encoder', summaries)} / {_median('update_depth', summaries)}" if summaries else "-")
        dead = _per_seed([s["dead_depth_last"] for s in summaries if "dead_depth_last" in s], "{:.0%}") or "-"
        lines.append(f"{head} {' | '.join(cells)} | {format_stat(mean_std(r2), '{:.3f}') if r2 else '-'} | {updates} | "
                     f"{dead} |")
    return "\n".join(lines + ["", CONTROLS_NOTE])


CONTROLS_NOTE = (
    "depth-only: the encoder and the depth decoder on depth alone. naive-joint/slow-depth-decoder: the depth decoder "
    "and head at the learning rate / k, the encoder still receiving the k-times larger depth gradient. "
    "naive-joint/damped-depth-into-encoder: the depth gradient entering the encoder / k, the depth decoder on the "
    "full gradient. log-loss: sum of log losses, blind to any loss scale. Update: the median over the last stage's "
    "diagnosed steps of ||delta theta|| / ||theta||, mean over seeds; dead units: per seed, the share of the depth "
    "decoder's ReLU channels silent on a whole batch at its last diagnosed step. Comparisons paired by seed.")


def _median(key: str, summaries: list[dict]) -> str:
    values = [s[key] for s in summaries if key in s]
    return f"{fmean(values):.2g}" if values else "-"


def _seg_cells(suite: ScaleSuite, point: Point, recipe: str, ok: list[RunRecord]) -> list[str]:
    if not ok:
        return ["all diverged", "-", "-"]
    base, naive = trained(suite.baselines.get(point.optimiser, [])), trained(suite.naive.get(point, []))
    summary = summarize({recipe: ok, **({BASELINE: base} if base else {}), **({NAIVE: naive} if naive else {})})
    mean_base = summary[BASELINE]["mIoU"]["mean"] if base else math.nan
    fell = sum(collapsed(r.miou, mean_base) for r in ok) if base else 0
    miou = format_stat(summary[recipe]["mIoU"]) + (f"; {fell} of {len(ok)} collapsed" if fell else "")
    return [miou, comparison(summary, recipe, BASELINE).cell() if base else "-",
            comparison(summary, recipe, NAIVE).cell() if naive else "-"]


def mechanism(suite: ScaleSuite, every_point: bool = True) -> list[str]:
    """What fails alone and what only fails together, from the controls that finished, each with its
    seeds' depth R² where recorded (the per-seed diagnostics of naive joint where it collapses:
    :func:`vanished_sentence`); with ``every_point``
    first a line with depth alone at every point it trained (the story leaves it to the results page)."""
    lines = []
    alone = {p: d for (p, r), d in suite.controls.items() if r == DEPTH_ONLY and d}
    if alone and every_point:
        parts = []
        for p, done in alone.items():
            ok = trained(done)
            r2 = [r.metric("depth_r2") for r in ok]
            parts.append(f"{p.label}: {len(done) - len(ok)} of {len(done)} diverged"
                         + (f", depth R² {_per_seed(r2, '{:.2f}')}" if ok else ""))
        lines.append("Depth alone (no segmentation loss): " + "; ".join(parts) + ".")
    for point in suite.failing():
        if (point, DEPTH_ONLY) in suite.controls:
            lines.append(depth_alone_sentence(suite, point))
        outcomes = []
        for recipe in AT_FAILING:
            done = suite.controls.get((point, recipe), [])
            if not done:
                continue
            ok = trained(done)
            base = trained(suite.baselines.get(point.optimiser, []))
            mean_base = fmean(r.miou for r in base) if base else math.nan
            fell = sum(collapsed(r.miou, mean_base) for r in ok)
            stopped = len(done) - len(ok)
            state = ("prevents the collapse" if not fell and not stopped else
                     f"does not prevent the collapse ({fell} collapsed, {stopped} diverged of {len(done)} seeds)")
            r2 = measured_r2(ok)
            outcomes.append(f"{recipe} {state}" + (f", depth R² {_per_seed(r2)}" if r2 else ""))
        if outcomes:
            lines.append(f"At {point.label}, the mechanism controls (each undoes the depth scale in one place, or "
                         "ignores it): " + "; ".join(outcomes) + ".")
    return lines


def depth_alone_sentence(suite: ScaleSuite, point: Point) -> str:
    """Whether depth alone fails at ``point`` without any segmentation loss: per seed, diverged or
    collapsed (a depth R² under :func:`~mdseg.study.compare.collapsed`'s fraction of depth alone's mean
    R² at x1 under the same optimiser, the rule segmentation uses), or trained."""
    done = suite.controls.get((point, DEPTH_ONLY), [])
    if not done:
        return f"Depth alone at {point.label}: not finished."
    at_one = trained(suite.controls.get((Point(point.optimiser, point.target, 1), DEPTH_ONLY), []))
    reference = fmean(r.metric("depth_r2") for r in at_one) if at_one else math.nan
    ok = trained(done)
    fell = [r for r in ok if collapsed(r.metric("depth_r2"), reference)]
    failed = len(done) - len(ok) + len(fell)
    seeds = f"{len(done) - len(ok)} diverged, {len(fell)} collapsed, {len(ok) - len(fell)} trained, of {len(done)} seed{'' if len(done) == 1 else 's'}"
    if math.isnan(reference):
        return f"Depth alone at {point.label}: {seeds}; no run of depth alone at x1 to judge its depth R² against."
    rule = f"collapsed: depth R² under half of depth alone's at x1, {reference:.2f}"
    others = [f"under the {p.optimiser} optimiser {_per_seed([r.metric('depth_r2') for r in trained(d)])}"
              for (p, r), d in suite.controls.items() if r == DEPTH_ONLY and p != point and trained(d)
              and (p.target, p.depth_scale) == (point.target, point.depth_scale)]
    rule += f"; depth R² at the same scale {'; '.join(others)}" if others else ""
    if failed == len(done):
        return (f"Depth alone fails at {point.label} with no segmentation loss to interfere ({seeds}; {rule}): "
                "the scale alone is enough, as a step size on the shared encoder and the depth decoder.")
    if failed == 0:
        return (f"Depth alone trains at {point.label} (depth R² {_per_seed([r.metric('depth_r2') for r in ok])}; "
                f"{rule}): the collapse needs both tasks together.")
    return (f"Depth alone fails at {point.label} on some seeds ({seeds}; {rule}): the scale alone can be enough, "
            "but not on every seed.")


def runs_at(scale: ScaleSuite, point: Point) -> dict[str, list[RunRecord]]:
    """Every recipe trained at ``point`` (a failing point), for the trade-off figure
    (:func:`mdseg.viz.tradeoff`): its baseline, naive joint and the follow-ups (each with the seeds a
    non-finite loss stopped), then the mechanism controls and depth alone there."""
    found: dict[str, list[RunRecord]] = {}
    results = scale.follow_up.get(point)
    stopped = scale.follow_up_diverged.get(point, {})
    if results is not None:
        found.update({recipe: list(done) + list(stopped.get(recipe, [])) for recipe, done in results.runs.items()})
    found.update({recipe: list(done) for recipe, done in stopped.items() if recipe not in found and done})
    found.update({recipe: list(done) for (where, recipe), done in scale.controls.items() if where == point and done})
    return found
