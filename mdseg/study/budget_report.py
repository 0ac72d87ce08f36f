"""The budget suite's tables and conclusion (:mod:`mdseg.study.budget_suite`): where each recipe stops
improving by the declared plateau rule, at which budget the tables are read, and every recipe against
the baseline at equal segmentation-updating epochs and at equal total epochs, paired by seed."""
from __future__ import annotations

from dataclasses import dataclass

from ..training.schedule import BASELINE, BEST_RECIPE
from .budget_suite import PLATEAU_GAIN, RECIPES
from .compare import Comparison, comparison, format_stat
from .records import Results
from .report import depth_cell


@dataclass(frozen=True)
class Budget:
    """One recipe at one budget: epochs per stage, its schedule's epochs, and its summary entry."""

    stage_epochs: int
    epochs: int  # total
    seg_epochs: int
    entry: dict


def curves(suite: dict[int, Results]) -> dict[str, list[Budget]]:
    """Per recipe, its budgets in increasing total epochs (only those with finished runs)."""
    out: dict[str, list[Budget]] = {}
    for stage_epochs, results in suite.items():
        for recipe, entry in results.summary.items():
            b = entry["budget"]
            out.setdefault(recipe, []).append(Budget(stage_epochs, b["epochs"], b["seg_epochs"], entry))
    return {r: sorted(points, key=lambda p: p.epochs) for r, points in out.items()}


def plateau(points: list[Budget], gain: float = PLATEAU_GAIN) -> Budget | None:
    """The first budget at which the recipe's mean val mIoU gained less than ``gain`` per added
    epoch from the budget before (the rule declared in :mod:`mdseg.study.budget_suite`); ``None`` when
    it still gains that much at every budget tried."""
    for before, after in zip(points, points[1:]):
        per_epoch = (after.entry["mIoU"]["mean"] - before.entry["mIoU"]["mean"]) / (after.epochs - before.epochs)
        if per_epoch < gain:
            return after
    return None


def reading_budget(suite: dict[int, Results]) -> tuple[int, bool]:
    """``(epochs per stage, reached)``: the budget the tables are read at, from the baseline's
    learning alone. Where the baseline's whole curve (every budget it trained, the equal-total-epoch
    ones too) meets the plateau rule, the first budget at or beyond it where the other recipes have runs
    (``reached`` True); else the largest budget they have reached (``reached`` False)."""
    if BASELINE not in curves(suite):
        raise ValueError("The budget suite has no finished baseline runs yet.")
    found, main = baseline_plateau(suite), sorted(_main_budgets(suite))
    beyond = [e for e in main if found is not None and e >= found.stage_epochs]
    return (beyond[0], True) if beyond else (main[-1], False)


def baseline_plateau(suite: dict[int, Results]) -> Budget | None:
    """Where the baseline stops improving by the declared rule (:func:`plateau` over all its budgets)."""
    return plateau(curves(suite).get(BASELINE, []))


def _main_budgets(suite: dict[int, Results]) -> set[int]:
    """The budgets at which more than the baseline trains (the equal-total-epoch ones train it alone)."""
    return {e for e, results in suite.items() if len(results.summary) > 1} or set(suite)


def versus(entry: dict, base: dict, recipe: str, label: str) -> Comparison:
    """:func:`~mdseg.study.compare.comparison` of two summary entries from different budgets."""
    return comparison({recipe: entry, label: base}, recipe, label)


def budget_markdown(suite: dict[int, Results]) -> str:
    """One row per recipe and budget: epochs, mIoU (mean ± std, seeds), depth R², against the
    baseline with as many segmentation-updating epochs and against the baseline with as many total
    epochs (paired 95% intervals; ``-`` where that baseline was not trained)."""
    by_recipe = curves(suite)
    baseline = {p.epochs: p.entry for p in by_recipe.get(BASELINE, [])}
    baseline_seg = {p.seg_epochs: p.entry for p in by_recipe.get(BASELINE, [])}
    lines = ["| recipe | epochs per stage | epochs (seg / total) | seeds | mIoU | depth R² | vs baseline, equal seg epochs | "
             "vs baseline, equal total epochs |", "|---|---|---|---|---|---|---|---|"]
    for recipe in [r for r in RECIPES if r in by_recipe]:
        for p in by_recipe[recipe]:
            if recipe == BASELINE:
                seg_cell = total_cell = "-"
            else:
                same_seg, same_total = baseline_seg.get(p.seg_epochs), baseline.get(p.epochs)
                seg_cell = versus(p.entry, same_seg, recipe, BASELINE).cell() if same_seg else "not trained"
                total_cell = versus(p.entry, same_total, recipe, BASELINE).cell() if same_total else "not trained"
            lines.append(f"| {recipe} | {p.stage_epochs} | {p.seg_epochs} / {p.epochs} | {len(p.entry['seeds'])} | "
                         f"{format_stat(p.entry['mIoU'])} | {depth_cell(p.entry)} | {seg_cell} | {total_cell} |")
    return "\n".join(lines + ["", BUDGET_NOTE])


BUDGET_NOTE = ("The cpu profile's recipes at more epochs per stage (2 is the profile's own). 'Equal seg epochs': "
               "against the baseline that updates the semantic decoder as many epochs (the tables' comparison); "
               "'equal total epochs': against the baseline trained as many epochs in all (a 3-stage recipe's 3 x e "
               "against the baseline's 2 x 1.5e). Differences paired by seed, with their 95% intervals.")


def plateau_lines(suite: dict[int, Results]) -> list[str]:
    """Per recipe, its mean mIoU at each budget, the gain per added epoch, and where it meets the plateau rule."""
    out = []
    for recipe, points in curves(suite).items():
        if len(points) < 2:
            continue
        steps = ", ".join(f"{p.epochs} epochs {p.entry['mIoU']['mean']:.4f}" for p in points)
        found = plateau(points)
        where = (f"stops improving by the rule at {found.epochs} epochs ({found.stage_epochs} per stage)" if found else
                 f"still gains at least {PLATEAU_GAIN} mIoU per added epoch at every budget tried")
        out.append(f"{recipe}: {steps}; {where}.")
    return out


def reading_sentence(suite: dict[int, Results]) -> str:
    """Where the tables are read and why, in one sentence (:func:`reading_budget`)."""
    epochs, reached = reading_budget(suite)
    found = baseline_plateau(suite)
    rule = f"the plateau rule (< {PLATEAU_GAIN} mIoU per added epoch)"
    if reached:
        return f"The tables are read at {epochs} epochs per stage: where the baseline meets {rule}."
    return (f"The tables are read at {epochs} epochs per stage: the longest budget at which the other recipes have "
            "runs yet; " + (f"the baseline meets {rule} only at {found.epochs} epochs ({found.stage_epochs} per stage), "
                            "where the other recipes are still to train" if found else
                            f"the baseline has not met {rule} by then") + ", so this budget still reads it while it improves.")


def copy_by_budget(suite: dict[int, Results]) -> str:
    """The weight copy's effect at each budget: ``depth-first/copy/s->b`` minus ``depth-first/no-copy/s->b``,
    paired by seed, with its 95% interval (``""`` where no budget holds both)."""
    copy, no_copy = BEST_RECIPE, "depth-first/no-copy/s->b"
    cells = [f"at {e} epochs per stage {comparison(r.summary, copy, no_copy).cell()}"
             for e, r in sorted(suite.items()) if {copy, no_copy} <= set(r.summary)]
    return f"The copy against no-copy ({copy} minus {no_copy}, paired by seed): " + "; ".join(cells) + "." if cells else ""


def budget_conclusion(suite: dict[int, Results]) -> list[str]:
    """The plateau per recipe, the budget the tables are read at, and the story's comparisons there
    and at the profile's own budget."""
    if BASELINE not in curves(suite):
        return ["No finished baseline run in the budget suite yet."]
    lines = plateau_lines(suite) + [reading_sentence(suite)]
    epochs, _ = reading_budget(suite)
    results = suite[epochs]
    for recipe in [r for r in RECIPES if r != BASELINE and r in results.summary]:
        c = versus(results.summary[recipe], results.summary[BASELINE], recipe, BASELINE)
        lines.append(f"At {epochs} epochs per stage: {c.sentence()}")
    return lines + [line for line in [copy_by_budget(suite)] if line]
