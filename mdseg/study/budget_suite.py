"""Is a verdict only a matter of training longer? The budget suite (``reproduce --suite budget``).

The profile's four story recipes (:data:`RECIPES`) at :data:`STAGE_EPOCHS` epochs per stage (the
cpu profile trains 2), each budget's runs in its own :func:`~mdseg.study.profiles.runs_root`
(``runs/cpu-e4``, ``runs/cpu-e8``; 2 is the profile's own ``runs/cpu``, shared with Tables 2 and 3).
The baseline also trains at :data:`EQUAL_TOTAL_EPOCHS` per stage, so that every staged recipe
(3 stages) meets a baseline of the same total epochs as well as one of the same
segmentation-updating epochs (the baseline's 2 stage-lengths; :func:`mdseg.training.schedule.recipes`).

Fixed before its first run, from the baseline's learning alone: the budgets, and the plateau rule
the tables are read by (:data:`PLATEAU_GAIN`). Runs train arm by arm in :func:`jobs` order, the
baseline first, so a suite stopped part-way still shows where the baseline stops improving.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from ..training.schedule import BASELINE, BEST_RECIPE, NAIVE
from .records import Results
from .run_record import RunRecord
from .jobs import Job, train_jobs
from .profiles import Profile
from .report import summarize

RECIPES = (BASELINE, NAIVE, BEST_RECIPE, "depth-first/no-copy/s->b")
STAGE_EPOCHS = (2, 4, 8)
EQUAL_TOTAL_EPOCHS = (3, 6)  # the baseline at 2 x 3 = 6 and 2 x 6 = 12 epochs: a staged recipe's 3 x 2 and 3 x 4
# The plateau rule, declared before any run: a recipe has stopped improving at a budget when its mean
# val mIoU gained less than this per added epoch from the budget before.
PLATEAU_GAIN = 0.005


def jobs(profile: Profile) -> list[Job]:
    """Every (profile at a budget, recipe) of the suite, in training order: the baseline at every
    budget first (its learning decides where the tables are read), then the other recipes at each
    longer budget, the baseline's equal-total-epoch budgets, and last the other recipes at the
    profile's own budget (Tables 2 and 3 share those runs: usually finished already)."""
    at = lambda epochs: replace(profile, stage_epochs=epochs)  # noqa: E731
    others = [r for r in RECIPES if r != BASELINE]
    out = [(at(e), BASELINE) for e in STAGE_EPOCHS]
    out += [(at(e), r) for e in STAGE_EPOCHS if e != profile.stage_epochs for r in others]
    out += [(at(e), BASELINE) for e in EQUAL_TOTAL_EPOCHS]
    return out + [(profile, r) for r in others]


def budget_suite(profile: Profile, seeds: list[int] | None = None, device: str | None = None,
                 progress: bool = True, finished_only: bool = False, base: str | Path = "runs") -> dict[int, Results]:
    """Train (or, with ``finished_only``, only read) the suite of the module docstring. Returns
    ``{epochs per stage: Results}`` with the recipes finished at that budget (runs a non-finite loss
    stopped are kept as such, their ``stopped`` set)."""
    seeds = list(seeds or profile.seeds)
    wanted = jobs(profile)
    if progress and not finished_only:
        from .planning import plan_line  # timing steps needs torch: reading the suite does not

        tqdm.write(plan_line("Budget suite", wanted, seeds, device, base))
    done = train_jobs(wanted, seeds, device, progress, not finished_only, f"budget suite [{profile.name}]", base)
    by_budget: dict[int, dict[str, list[RunRecord]]] = {}
    for (variant, recipe), runs in zip(wanted, done):
        if runs:
            by_budget.setdefault(variant.stage_epochs, {})[recipe] = runs
    return {epochs: Results(profile.name, summarize(found), found, f"{epochs} epochs per stage")
            for epochs, found in sorted(by_budget.items())}
