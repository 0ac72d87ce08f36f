"""Why does naive joint training fail? The failure suite (``reproduce --suite failure``): naive joint
training at several depth weights and all of Table 3, under each depth unit, beside the baseline."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from ..training.schedule import BASELINE, NAIVE, Schedule, get_recipe
from .profiles import Profile, runs_root
from .records import Recipe, Results, read_recipes, schedules
from .report import summarize


def failure_schedules(profile: Profile, recipes: list[Recipe] | None = None,
                      weights: tuple[float, ...] | None = None) -> list[Schedule]:
    """What :func:`failure_suite` trains for each depth target besides the baseline: naive joint
    training at each weight (default: the profile's ``depth_weights``), then ``recipes``."""
    naive = [get_recipe(NAIVE, profile.stage_epochs, depth_weight=w) for w in (weights or profile.depth_weights)]
    return [s for s in schedules(profile, naive + schedules(profile, recipes)) if s.recipe != BASELINE]




def failure_suite(profile: Profile, targets: tuple[str, ...] = ("normalised", "metric"),
                  weights: tuple[float, ...] | None = None, recipes: list[str] | None = None,
                  seeds: list[int] | None = None, device: str | None = None, progress: bool = True,
                  finished_only: bool = False, base: str | Path = "runs") -> dict[str, Results]:
    """Why does naive joint training fail? For each depth target: naive joint training at each
    depth weight (default: the profile's ``depth_weights``) beside the baseline, and the profile's
    Table 3 recipes at the paper's weight. Runs go to each target's :func:`runs_root` (shared with
    the notebooks); the baseline, which has no depth, trains once. Returns ``{target: Results}``.
    ``finished_only``: train nothing, report what is finished (see :func:`reproduce`); ``base``:
    where the runs roots are (e.g. the shipped reference, :mod:`mdseg.study.reference`)."""
    names = failure_schedules(profile, recipes, weights)
    out = {}
    baseline = None
    for index, target in enumerate(targets):
        units = replace(profile, depth_target=target)
        wanted = ([BASELINE] if index == 0 else []) + names
        if finished_only:
            results = read_recipes(units, runs_root(units, base), seeds, wanted)
        else:
            from .experiments import reproduce  # training needs torch: reading the suite does not
            from .planning import plan

            if progress:
                tqdm.write(str(plan(units, runs_root(units, base), wanted, seeds, device)))
            results = reproduce(units, runs_root(units, base), seeds, wanted, device, progress, report="failure",
                                detail=False)
        if index == 0:
            baseline = results.runs.get(BASELINE)
        elif baseline:
            results.runs = {BASELINE: baseline, **results.runs}
            results.summary = summarize(results.runs)
        out[target] = results
    return out
