"""Which arms get more seeds, and how many: the statistics' plan over the shipped reference.

Every comparison the kit reads a verdict from (naive joint at each point of the scale map, and the
story's recipes against the baseline in Tables 2-3) names its two arms; the follow-ups at a failing
point are arms without a power target. Each arm trains up to :func:`seeds_wanted`: at least
:data:`LEAST_SEEDS`, more where an undecided comparison's power calculation asks (for a true
difference the size of the margin, 80% power: :func:`~mdseg.study.power.seeds_needed`), at most
:data:`MOST_SEEDS`. The targets come from the pilot alone (:func:`pilot`: seeds 0-2), however many
seeds the reference holds by then, so a verdict that looks decided after some extra seeds still gets
the seeds its pilot asked for: a fixed design, not a sequential one (stopping an arm once its
interval looks decided would make the 95% intervals optimistic). ``tools/extra_seeds.py`` trains the plan; the results page
prints it (:func:`~mdseg.study.power.seeds_plan_markdown`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..training.schedule import BASELINE, BEST_RECIPE, NAIVE
from .compare import MARGIN, Comparison, comparison
from .jobs import Job
from .pilot import PILOT_SEEDS, pilot
from .power import seeds_needed
from .profiles import Profile, runs_root
from .records import Results

LEAST_SEEDS = 6  # every arm a verdict or a follow-up reads, at least
MOST_SEEDS = 10  # no comparison's arms beyond this, decided or not
BEYOND = 201  # "needs more than 200 seeds" (where the power calculation stops looking)
TABLE_RECIPES = (NAIVE, BEST_RECIPE, "depth-first/no-copy/s->b")  # against the baseline in Tables 2-3


def seeds_wanted(c: Comparison | None, least: int = LEAST_SEEDS, most: int = MOST_SEEDS) -> tuple[int | None, int]:
    """``(seeds its verdict needs, seeds to train its arms to)`` for comparison ``c``: the needed
    seeds are ``None`` where the verdict is decided already, cannot be tested yet, or ``c`` is
    ``None`` (an arm without a power target); the arms then train to ``least``. An undecided
    comparison's arms train to what it needs, at least ``least`` and at most ``most``."""
    if c is None or not c.paired or not c.tested or c.against_margin != "inconclusive":
        return None, least
    needed = seeds_needed(float(np.std(c.differences, ddof=1)), c.margin_abs, most=BEYOND - 1) or BEYOND
    return needed, min(max(needed, least), most)


@dataclass(frozen=True)
class Arm:
    """One arm to train: what it is (``label``), its job, the seeds it should have and, where
    comparisons ask for them, the most and the fewest seeds their verdicts need (``None``: the floor
    only). An arm serves its cheapest comparison first, so plans are ordered by ``first``, and then by
    ``group`` (that comparison's place in the plan), so the two arms of one verdict train one after the other."""

    label: str
    job: Job
    wanted: int
    needed: int | None
    first: int | None = None
    group: int = 0

    def seeds(self, up_to: int | None = None) -> list[int]:
        """The seeds beyond the pilot this arm still trains, this call capped at ``up_to`` seeds in all."""
        return list(range(PILOT_SEEDS, min(self.wanted, up_to or self.wanted)))


def tables_at(budget: dict[int, Results], profile: Profile) -> tuple[Profile, Results, str]:
    """Where Tables 2-3's verdicts are read: ``(profile at the budget suite's reading budget, the
    budget suite's results there, a label such as "Tables 2-3 at 8 epochs per stage")``
    (:func:`~mdseg.study.budget_report.reading_budget`, from the baseline's learning alone)."""
    from .budget_report import reading_budget

    epochs, _ = reading_budget(budget)
    return replace(profile, stage_epochs=epochs), budget[epochs], f"Tables 2-3 at {epochs} epochs per stage"


def plan(profile: Profile, scale, tables, lr_sgd: float | None = None,
         least: int = LEAST_SEEDS, most: int = MOST_SEEDS,
         tables_profile: Profile | None = None, tables_label: str = "Tables 2-3") -> list[Arm]:
    """The arms of every comparison of ``scale`` (a :class:`~mdseg.study.scale_suite.ScaleSuite`) and
    ``tables`` (Tables 2-3's :class:`~mdseg.study.records.Results` at ``tables_profile``, default
    ``profile``; :func:`tables_at` gives the budget they are read at), and the follow-ups
    at ``scale``'s failing points, each once (an arm shared by several comparisons, e.g. a baseline,
    takes the most seeds any of them asks). Ordered so a plan stopped part-way has decided what it
    could: both arms of the cheapest undecided verdicts first, then the arms trained only to the floor."""
    from .scale_suite import FOLLOW_UP, baseline_profile, point_profile

    entries: list[tuple[Comparison | None, list[tuple[str, Job]]]] = []  # (comparison, its arms: (label, job))
    for row in scale.map_points():
        point = row["point"]
        entries.append((row["comparison"], [(f"{NAIVE} at {point.label}", (point_profile(profile, point, lr_sgd), NAIVE)),
                                            (f"{BASELINE} under the {point.optimiser} optimiser",
                                             (baseline_profile(profile, point.optimiser, lr_sgd), BASELINE))]))
    at = tables_profile or profile
    for recipe in TABLE_RECIPES:
        if recipe in tables.summary:
            entries.append((comparison(tables.summary, recipe, BASELINE),
                            [(f"{recipe}, {tables_label}", (at, recipe)), (f"{BASELINE}, {tables_label}", (at, BASELINE))]))
    for point in scale.failing():
        entries += [(None, [(f"{r}, follow-up at {point.label}", (point_profile(profile, point, lr_sgd), r))]) for r in FOLLOW_UP]
    arms: dict[tuple[str, str], Arm] = {}
    for group, (c, jobs) in enumerate(entries):
        needed, wanted = seeds_wanted(pilot(c), least, most)
        for label, job in jobs:
            key = (runs_root(job[0]).name, job[1])
            old = arms.get(key)
            if old is None:
                arms[key] = Arm(label, job, wanted, needed, needed, group)
            else:  # shared (a baseline): the most any comparison asks, named after the first, grouped with its cheapest
                asked = [n for n in (needed, old.needed, old.first) if n is not None]
                cheaper = needed is not None and (old.first is None or needed < old.first)
                arms[key] = Arm(old.label, job, max(wanted, old.wanted), max(asked, default=None),
                                min(asked, default=None), group if cheaper else old.group)
    return sorted(arms.values(), key=lambda a: (a.first is None, a.first or 0, a.group, a.label))


def seeds_plan_markdown(comparisons: dict[str, Comparison], least: int = LEAST_SEEDS, most: int = MOST_SEEDS) -> str:
    """Per comparison, the paired seeds its pilot asked for (:func:`seeds_wanted` of :func:`pilot`:
    enough to detect a true difference of the margin, :data:`~mdseg.study.compare.MARGIN` of the
    baseline, 4 times in 5, from the spread of the pilot's per-seed differences), whether the seeds it
    holds now decide it (its interval lies wholly on one side of 0 or wholly within, or wholly beyond,
    the margin; read, never used to stop training) and what its arms still train."""
    lines = ["| comparison | paired seeds | verdict | seeds its pilot asked for (margin, 80% power) | decided now? | train |",
             "|---|---|---|---|---|---|"]
    for label, c in comparisons.items():
        have = len(c.common_seeds)
        first = pilot(c)
        needed, planned = seeds_wanted(first, least, most)
        train = f"{planned - have} more" if planned > have else "-"
        if needed is None:
            asked = f"the floor, {least} ({'decided by the pilot' if first.paired and first.tested else 'no paired pilot'})"
        else:
            asked = "more than 200" if needed == BEYOND else str(needed)
        if not c.paired or not c.tested:
            lines.append(f"| {label} | {have} | {c.verdict} | {asked} | no test yet | {train} |")
            continue
        decided = c.against_margin != "inconclusive"
        lines.append(f"| {label} | {have} | {c.verdict}; {c.against_margin} | {asked} | "
                     f"{'yes' if decided else 'no'} | {train} |")
    return "\n".join(lines + ["", f"The margin: ± {MARGIN:.1%} of the baseline's mean. Every arm's target is fixed "
                                  f"from the pilot (seeds 0-{PILOT_SEEDS - 1}): at least {least} seeds per arm, and for "
                                  f"a verdict the pilot left undecided what its power asks, at most {most}. Targets are not "
                                  "recomputed as seeds arrive, so a verdict that looks decided part-way still gets its "
                                  "planned seeds (stopping there would make the intervals optimistic). 'Decided now': the "
                                  "95% interval of the seeds held no longer reaches across a margin."])


def seeds_held(arm: Arm, base) -> int:
    """How many seeds of ``arm`` have an outcome under ``base`` (a runs folder or the reference): a
    finished run or one a non-finite loss stopped."""
    from ..training import runs
    from .records import to_schedule

    variant, recipe = arm.job
    out = runs_root(variant, base)
    name = to_schedule(variant, recipe).name
    return sum(any((runs.run_dir(out, name, s) / f).exists() for f in (runs.RESULT, runs.DIVERGED))
               for s in runs.seeds_in(out, name))


def arms_markdown(arms: list[Arm], base) -> str:
    """Per arm of the plan: the seeds ``base`` holds, the seeds planned, and what is still to train."""
    lines = ["| arm | seeds held | planned | still to train |", "|---|---|---|---|"]
    missing = 0
    for arm in arms:
        held = seeds_held(arm, base)  # reads the run folders: once per arm
        missing += (short := max(arm.wanted - held, 0))
        lines.append(f"| {arm.label} | {held} | {arm.wanted} | {short or '-'} |")
    state = (f"{missing} runs are still to train (`python tools/extra_seeds.py`); an arm holds fewer seeds than planned "
             "only because they have not been trained yet, and its verdict is read from the seeds it holds." if missing
             else "Every arm holds the seeds planned for it: the plan is complete. A verdict still inconclusive "
                  "got the seeds its pilot's power asked (power is a probability, not a promise) or stopped at the cap "
                  f"of {MOST_SEEDS} (those needing more than {MOST_SEEDS} above); more seeds would narrow it.")
    return "\n".join(lines + ["", f"Planned: at least {LEAST_SEEDS} seeds per arm, an undecided verdict's arms what its "
                                  f"power asks, at most {MOST_SEEDS} (the table above). " + state])
