"""The scale suite's tables and conclusion (:mod:`mdseg.study.scale_suite`), every comparison
through :mod:`mdseg.study.compare`."""
from __future__ import annotations

import math

from ..training.schedule import BASELINE, NAIVE
from .compare import comparison, format_stat, mean_std
from .report import PAPER, read_diagnostics, summarize
from .scale_suite import FOLLOW_UP, OPTIMISERS, SGD_LR_SEEDS, ScaleSuite, trained


def points_markdown(suite: ScaleSuite) -> str:
    """One row per point: target and scale, optimiser, weighted seg/depth gradient ratio, naive
    joint and its baseline (mean ± std, n), the difference and Welch's verdict."""
    lines = ["| depth target | scale k | optimiser | grad ratio seg/depth | naive joint mIoU | baseline mIoU | "
             "naive - baseline |", "|---|---|---|---|---|---|---|"]
    for point in sorted(suite.naive, key=lambda p: (OPTIMISERS.index(p.optimiser), p.target != "normalised",
                                                   p.target, p.scale)):
        done, base = suite.naive[point], suite.baselines.get(point.optimiser, [])
        if not done:
            lines.append(f"| {point.target} | {point.scale:g} | {suite.optimisers[point.optimiser]} | - | "
                         "not finished | - | - |")
            continue
        ratio = suite.grad_ratio(point)
        ok, base = trained(done), trained(base)
        naive = f"{format_stat(mean_std([r['metrics']['mIoU'] for r in ok]))} ({len(ok)})" if ok else ""
        if len(ok) < len(done):
            naive += f"{'; ' if ok else ''}diverged in {len(done) - len(ok)} of {len(done)} seeds"
        baseline = f"{format_stat(mean_std([r['metrics']['mIoU'] for r in base]))} ({len(base)})" if base else "not finished"
        cell = suite.comparison(point).cell() if base and ok else "-"
        lines.append(f"| {point.target} | {point.scale:g} | {suite.optimisers[point.optimiser]} | "
                     f"{'-' if math.isnan(ratio) else f'{ratio:.3g}'} | {naive} | {baseline} | {cell} |")
    return "\n".join(lines + ["", "mIoU mean ± sample std (seeds); naive joint at w = 0.15 against the baseline "
                                "trained with the same optimiser; 'worse' only where Welch's t-test gives p < 0.05. "
                                "Gradient ratio: the weighted segmentation over depth gradient norm on the shared "
                                "encoder, geometric mean over diagnosed steps and seeds (< 1: depth leads). Diverged: training "
                                "stopped on a non-finite loss (those seeds are left out of the mean)."])


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
    """Sentences built from the numbers: where naive joint training fails, if anywhere in the
    tested range, and the range that was tested."""
    tested = [p for p in suite.tested() if suite.comparison(p).tested]
    stopped = {p: suite.diverged(p) for p in suite.naive}
    diverged = [f"Diverges at {p.label}: a non-finite loss stopped {len(runs)} of {len(suite.naive[p])} "
                f"seeds ({runs[0]['diverged'].split('. Training stopped')[0]})." for p, runs in stopped.items() if runs]
    if not tested:
        return diverged or ["No point of the scale suite has both naive-joint and baseline runs with seeds to test yet."]
    ratios = [g for g in map(suite.grad_ratio, tested) if not math.isnan(g)]
    scope = (f"{len(tested)} points: depth targets {', '.join(sorted({p.target for p in tested}))}, scales "
             f"{', '.join(f'{s:g}' for s in sorted({p.scale for p in tested}))}, optimisers "
             f"{', '.join(suite.optimisers[o] for o in OPTIMISERS if any(p.optimiser == o for p in tested))}"
             + (f"; weighted seg/depth encoder-gradient ratios {min(ratios):.3g} to {max(ratios):.3g}" if ratios else ""))
    worse = [p for p in tested if suite.comparison(p).verdict == "worse"]
    better = [p for p in tested if suite.comparison(p).verdict == "better"]
    lines = [f"Tested on {scope}."]
    if not worse:
        lines.append("Naive joint training (w = 0.15) is not worse than its baseline at any of them (Welch p < 0.05): "
                     "on this world, at these scales and with these optimisers, the paper's naive failure does not "
                     "appear" + (" where training runs to the end." if diverged else "."))
    for p in worse:
        lines.append(f"Fails at {p.label}: " + suite.comparison(p).sentence())
        lines.append(f"Gradients there: {read_diagnostics(NAIVE, suite.diagnostics(p))}")
    for p in better:
        lines.append(f"Better at {p.label}: " + suite.comparison(p).sentence())
    lines += diverged
    lines += [rescue_sentence(point.label, results.summary, suite.follow_up_diverged.get(point, {}))
              for point, results in suite.follow_up.items()]
    return lines


RESCUE_GROUPS = ("back to the baseline (better than naive joint, within seed noise of the baseline)",
                 "above the baseline (better than naive joint and than the baseline)",
                 "partly (better than naive joint, still worse than the baseline)",
                 "not rescued (not better than naive joint)",
                 "too few seeds to test",
                 "diverged (a non-finite loss stopped training)")


def rescue_sentence(label: str, summary: dict[str, dict], diverged: dict[str, list[dict]] | None = None) -> str:
    """What rescues a failing point: each finished follow-up recipe tested against naive joint and
    against the baseline (Welch p < 0.05), grouped by the outcome (:data:`RESCUE_GROUPS`);
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
    return (f"At {label}, {len(FOLLOW_UP) - len(left)} of the {len(FOLLOW_UP)} follow-up recipes finished, each against naive "
            f"joint ({format_stat(summary[NAIVE]['mIoU'])}) and the baseline "
            f"({format_stat(summary[BASELINE]['mIoU'])}), Welch p < 0.05: {found}."
            + (f" Not finished: {', '.join(left)}." if left else ""))
