"""Which runs the trade-off figure draws (:func:`mdseg.viz.tradeoffs`): per suite, every recipe's
segmentation against its depth quality, where the verdicts are read. Nothing here trains or draws."""
from __future__ import annotations

from .budget_report import reading_budget
from .mechanism import runs_at
from .profiles import PROFILES
from .records import Results
from .run_record import RunRecord
from .scale_suite import ScaleSuite

Panels = dict[str, dict[str, list[RunRecord]]]  # {panel title: {recipe: runs}}


def measured(runs: dict[str, list[RunRecord]]) -> int:
    """How many of ``runs`` trained depth and record its quality."""
    return sum(not r.diverged and bool(r.budget.get("depth_epochs")) and "depth_r2" in r.metrics
               for done in runs.values() for r in done)


def tradeoff_panels(scale: ScaleSuite | None = None, budget: dict[int, Results] | None = None,
                    copied: Results | None = None) -> tuple[Panels, list[str]]:
    """``(panels, titles of the panels left out)``: Tables 2-3's recipes where the budget suite reads
    them, every recipe at each of the scale suite's failing points (:func:`~mdseg.study.mechanism.runs_at`)
    and the copy suite; a panel none of whose runs records depth quality yet is left out by title."""
    wanted: Panels = {}
    if budget:
        epochs, _ = reading_budget(budget)
        wanted[f"Tables 2-3 at {epochs} epochs per stage (the budget suite)"] = dict(budget[epochs].runs)
    for point in scale.failing() if scale is not None else []:
        wanted[f"At the collapse, {point.label} ({PROFILES[scale.profile].stage_epochs} epochs per stage)"] = \
            runs_at(scale, point)
    if copied is not None and copied.runs:
        wanted[f"The copy suite ({PROFILES[copied.profile].stage_epochs} epochs per stage)"] = dict(copied.runs)
    drawn = {title: runs for title, runs in wanted.items() if measured(runs)}
    return drawn, [title for title in wanted if title not in drawn]
