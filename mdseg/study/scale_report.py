"""The scale suite's tables and conclusion (:mod:`mdseg.study.scale_suite`), every comparison
through :mod:`mdseg.study.compare`."""
from __future__ import annotations

import math

from ..training.schedule import BASELINE, NAIVE
from .compare import COLLAPSE_FRACTION, LEVEL, MARGIN, comparison, format_stat, mean_std
from ..training.runs import where_text
from .mechanism import mechanism, vanished_sentence
from .report import DEPTH_NOTE, PAPER, depth_text, measured_r2, read_diagnostics, summarize
from .jobs import trained
from .profiles import PROFILES
from .run_record import RunRecord
from .scale_suite import FOLLOW_UP, OPTIMISERS, SGD_LR_SEEDS, ScaleSuite


def _order(point) -> tuple:
    return (OPTIMISERS.index(point.optimiser), point.target != "normalised", point.target, point.depth_scale)


def _rel(row: dict) -> str:
    if math.isnan(row["rel_low"]):
        return f"{row['rel']:+.1%}"
    return f"{row['rel']:+.1%} [{row['rel_low']:+.1%}, {row['rel_high']:+.1%}]"


def points_markdown(suite: ScaleSuite) -> str:
    """One row per point: target and scale, optimiser, weighted seg/depth gradient ratio, naive
    joint and its baseline (mean ± std, n), the paired difference with its 95% interval, the same
    relative to the baseline, the raw and Holm-adjusted p over the family, the verdict, and the
    seeds that diverged or collapsed."""
    lines = ["| depth target | scale k | optimiser | grad ratio seg/depth | naive joint mIoU | naive joint depth R² | "
             "baseline mIoU | naive - baseline [95% interval] | relative to the baseline | p (Holm) | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = {row["point"]: row for row in suite.map_points()}
    for point in sorted(suite.naive, key=_order):
        done, base = suite.naive[point], trained(suite.baselines.get(point.optimiser, []))
        head = f"| {point.target} | {point.depth_scale:g} | {suite.optimisers[point.optimiser]} |"
        if not done:
            lines.append(f"{head} - | not finished | - | - | - | - | - | - |")
            continue
        ratio = suite.grad_ratio(point)
        ok = trained(done)
        naive = f"{format_stat(mean_std([r['metrics']['mIoU'] for r in ok]))} ({len(ok)})" if ok else ""
        if len(ok) < len(done):
            naive += f"{' over the finished seeds; ' if ok else ''}{len(done) - len(ok)} of {len(done)} seeds diverged"
        baseline = f"{format_stat(mean_std([r['metrics']['mIoU'] for r in base]))} ({len(base)})" if base else "not finished"
        row = rows.get(point)
        if row is None or not row["comparison"].tested:
            cells = "- | - | - | -" if row is None else f"{row['comparison'].cell()} | - | - | -"
        else:
            c = row["comparison"]
            low, high = c.interval
            cells = (f"{c.diff:+.4f} [{low:+.4f}, {high:+.4f}] | {_rel(row)} | {row['p']:.2g} ({row['p_holm']:.2g}) | "
                     f"{c.verdict}; {c.against_margin}")
            if row["collapsed"]:
                cells += f"; {row['collapsed']} of {len(c.values)} {'finished ' if row['diverged'] else ''}seeds collapsed"
        depth = depth_text(measured_r2(ok), len(ok))
        lines.append(f"{head} {'-' if math.isnan(ratio) else f'{ratio:.3g}'} | {naive} | {depth} | {baseline} | {cells} |")
    return "\n".join(lines + ["", POINTS_NOTE, DEPTH_NOTE])


POINTS_NOTE = (
    "mIoU mean ± sample std (seeds); naive joint at w = 0.15 against the baseline trained with the same optimiser, "
    "paired by seed (the same seed: the same initialisation and batches), the difference with its 95% t interval, "
    "also relative to the baseline's mean. p: the paired test; (Holm): adjusted over every tested point of the map, "
    f"the family the map is read as. Verdict: worse / better where the interval excludes 0, then against the margin "
    f"(± {MARGIN:.1%} of the baseline). Collapsed: a seed below {COLLAPSE_FRACTION:.0%} of its baseline's mean "
    "(declared before use; no test). Gradient ratio: the weighted segmentation over depth gradient norm on the "
    "shared encoder, geometric mean over diagnosed steps and seeds (< 1: depth leads). Diverged: training stopped "
    "on a non-finite loss, an outcome: those seeds are counted, and the means are over the finished seeds.")


def depth_first_markdown(suite: ScaleSuite) -> str:
    """The paper's depth-first/copy recipes under the paper's optimiser, against its baseline."""
    base = trained(suite.baselines.get("paper", []))
    lines = ["| recipe | depth target | mIoU | vs baseline (paper optimiser) | paper |", "|---|---|---|---|---|"]
    for (target, recipe), runs_of in suite.depth_first.items():
        done = trained(runs_of)
        if not done:
            state = f"diverged in {len(runs_of)} of {len(runs_of)} seeds" if runs_of else "not finished"
            lines.append(f"| {recipe} | {target} | {state} | - | {PAPER[recipe]['mIoU']:.4f} |")
            continue
        summary = summarize({recipe: done, BASELINE: base}) if base else None
        cell = comparison(summary, recipe, BASELINE).cell() if summary else "-"
        lines.append(f"| {recipe} | {target} | {format_stat(mean_std([r['metrics']['mIoU'] for r in done]))} "
                     f"({len(done)}) | {cell} | {PAPER[recipe]['mIoU']:.4f} |")
    return "\n".join(lines)


def sweep_markdown(suite: ScaleSuite) -> str:
    cells = ", ".join(f"lr {lr:g}: {format_stat(stat)}" for lr, stat in sorted(suite.sweep.items()))
    if not suite.sweep and suite.lr_sgd is None:
        return "SGD: not part of this run of the suite."
    chosen = f"chosen: {suite.lr_sgd:g}" if suite.lr_sgd is not None else "not finished: no SGD points yet"
    return (f"SGD's learning rate, from the single-decoder baseline alone (val mIoU over seeds "
            f"{', '.join(map(str, SGD_LR_SEEDS))}): {cells or 'none finished'}; {chosen}.")


def conclusion(suite: ScaleSuite) -> list[str]:
    """Sentences built from the numbers: where naive joint training is measurably worse than its
    baseline and by how much (paired 95% intervals, relative to the baseline), which of those hold
    for the family (Holm), where seeds collapse or diverge, what the runs could have missed where
    nothing is distinguishable, and the range that was tested."""
    rows = [r for r in suite.map_points() if r["comparison"].tested]
    stopped = {p: suite.diverged(p) for p in suite.naive}
    diverged = [f"Diverges at {p.label}: a non-finite loss stopped {len(runs)} of {len(suite.naive[p])} "
                f"seeds (the first at {where_text(runs[0].stopped.fields())})." for p, runs in stopped.items() if runs]
    if not rows:
        return diverged or ["No point of the scale suite has both naive-joint and baseline runs with seeds to test yet."]
    tested = [r["point"] for r in rows]
    ratios = [r["ratio"] for r in rows if not math.isnan(r["ratio"])]
    seeds = sorted({r["seeds"] for r in rows})
    scope = (f"{len(tested)} points ({'/'.join(map(str, seeds))} paired seeds each, "
             f"{PROFILES[suite.profile].stage_epochs} epochs per stage): depth targets "
             f"{', '.join(sorted({p.target for p in tested}))}, scales "
             f"{', '.join(f'{s:g}' for s in sorted({p.depth_scale for p in tested}))}, optimisers "
             f"{', '.join(suite.optimisers[o] for o in OPTIMISERS if any(p.optimiser == o for p in tested))}"
             + (f"; weighted seg/depth encoder-gradient ratios {min(ratios):.3g} to {max(ratios):.3g}" if ratios else ""))
    lines = [f"Tested on {scope}."]
    worse = [r for r in rows if r["comparison"].verdict == "worse"]
    better = [r for r in rows if r["comparison"].verdict == "better"]
    unclear = [r for r in rows if r["comparison"].verdict == "not distinguishable from 0"]
    if worse:
        held = [r for r in worse if r["p_holm"] is not None and r["p_holm"] < LEVEL]
        lines.append(f"Naive joint training is measurably worse than its baseline at {len(worse)} of {len(rows)} points "
                     f"(95% paired interval below 0): " + "; ".join(f"{r['point'].label} {_rel(r)}" for r in worse)
                     + f". {len(held)} of them hold for the family of {len(rows)} points (Holm-adjusted p < {LEVEL})"
                     + (f": {', '.join(r['point'].label for r in held)}." if held else "."))
    else:
        lines.append("Naive joint training (w = 0.15) is not measurably worse than its baseline at any of them (no "
                     "95% paired interval below 0): on this world, at these scales and with these optimisers, the "
                     "paper's naive failure does not appear" + (" where training runs to the end." if diverged else "."))
    if worse:
        large = [r for r in worse if r["comparison"].against_margin == "worse by more than the margin"]
        if large:
            lines.append(f"Worse by more than the margin (± {MARGIN:.1%} of the baseline, about the paper's text gap) at "
                         + ", ".join(r["point"].label for r in large) + ".")
    for r in better:
        lines.append(f"Better at {r['point'].label}: {r['comparison'].sentence()}")
    if unclear:
        lines.append(f"Not distinguishable from 0 at {len(unclear)} points; there the runs cannot rule out a drop of "
                     + ", ".join(f"{-r['rel_low']:.1%} ({r['point'].label})" for r in unclear if not math.isnan(r['rel_low']))
                     + " of the baseline: more seeds would narrow these.")
    for r in (r for r in rows if r["collapsed"]):
        lines.append(f"Collapse at {r['point'].label}: {collapse_count(r)}. {r['comparison'].sentence()}")
        lines.append(f"Gradients there: {read_diagnostics(NAIVE, suite.diagnostics(r['point']))}")
        lines.append(vanished_sentence("Per seed there", suite.naive.get(r["point"], [])))
    lines += diverged
    lines += mechanism(suite)
    lines += [rescue_sentence(point.label, results.summary, suite.follow_up_diverged.get(point, {}))
              for point, results in suite.follow_up.items()]
    return lines


RESCUE_GROUPS = ("back to the baseline (better than naive joint, not distinguishable from the baseline)",
                 "above the baseline (better than naive joint and than the baseline)",
                 "partly (better than naive joint, still worse than the baseline)",
                 "not rescued (not better than naive joint)",
                 "too few seeds to test",
                 "diverged (a non-finite loss stopped training)")


def rescue_sentence(label: str, summary: dict[str, dict], diverged: dict[str, list[RunRecord]] | None = None) -> str:
    """What rescues a failing point: each finished follow-up recipe tested against naive joint and
    against the baseline (paired 95% intervals), grouped by the outcome (:data:`RESCUE_GROUPS`);
    ``diverged``: per recipe its seeds a non-finite loss stopped."""
    diverged = diverged or {}
    finished = [r for r in summary if r not in (BASELINE, NAIVE)]
    if not finished and not diverged:
        return (f"At {label}: the follow-up recipes (Table 3, uncertainty, naive-joint/norm) are not finished, so nothing is "
                "known yet about what rescues it.")
    groups: dict[str, list[str]] = {g: [] for g in RESCUE_GROUPS}
    for recipe in finished:
        vs_naive, vs_base = comparison(summary, recipe, NAIVE), comparison(summary, recipe, BASELINE)
        if not (vs_naive.tested and vs_base.tested):
            group = RESCUE_GROUPS[4]
        elif vs_naive.verdict != "better":
            group = RESCUE_GROUPS[3]
        else:
            group = {"worse": RESCUE_GROUPS[2], "better": RESCUE_GROUPS[1]}.get(vs_base.verdict, RESCUE_GROUPS[0])
        groups[group].append(f"{recipe} ({format_stat(summary[recipe]['mIoU'])})")
    for recipe, stopped in diverged.items():
        seeds = len(stopped) + len(summary.get(recipe, {}).get("seeds", []))
        groups[RESCUE_GROUPS[5]].append(f"{recipe} ({len(stopped)} of {seeds} seeds)")
    found = "; ".join(f"{group}: {', '.join(names)}" for group, names in groups.items() if names)
    left = [r for r in FOLLOW_UP if r not in finished and r not in diverged]
    whole = [r for r in finished if r not in diverged]
    return (f"At {label}, {len(FOLLOW_UP) - len(left)} of the {len(FOLLOW_UP)} follow-up recipes have outcomes "
            f"({len(whole)} trained to the end on every seed, {len(diverged)} stopped by a non-finite loss on some or all "
            f"seeds, their means over the seeds that finished), each against naive "
            f"joint ({format_stat(summary[NAIVE]['mIoU'])}) and the baseline "
            f"({format_stat(summary[BASELINE]['mIoU'])}), paired 95% intervals: {found}."
            + (f" Not finished: {', '.join(left)}." if left else ""))


def collapse_count(row: dict) -> str:
    """How many of a map point's seeds collapsed (:data:`~mdseg.study.compare.COLLAPSE_FRACTION`), e.g.
    ``4 of 4 finished seeds below 50% of the baseline's mean, 1 of 5 diverged``: a diverged seed is an
    outcome of its own, counted apart, and the difference is over the finished seeds."""
    if not row["diverged"]:
        return f"{row['collapsed']} of {row['seeds']} seeds below {COLLAPSE_FRACTION:.0%} of the baseline's mean"
    return (f"{row['collapsed']} of {row['seeds']} finished seeds below {COLLAPSE_FRACTION:.0%} of the baseline's mean, "
            f"{row['diverged']} of {row['seeds'] + row['diverged']} diverged (the difference is over the finished seeds)")
