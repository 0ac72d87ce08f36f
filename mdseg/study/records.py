"""Finished runs read back without training, and without torch: one run as a typed
:class:`~mdseg.study.run_record.RunRecord` (its result, or where a non-finite loss stopped it) checked
against the identity the current code would give it (:func:`read_run`), a recipe list's runs as
:class:`Results` (:func:`read_recipes`). Training them: :mod:`mdseg.study.experiments`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..training import runs
from ..training.runs import run_dir
from ..training.schedule import Schedule, get_recipe
from ..training.schedule import recipes as all_recipes
from .profiles import Profile, check_seeds, identity, runs_root
from .report import results_markdown, summarize
from .run_record import RunRecord

RESULTS_TITLE = "Results, profile '{}' (ours beside the paper's)"


def to_schedule(profile: Profile, recipe: "Recipe") -> Schedule:
    """A recipe name as the profile's schedule of it (its depth weight and depth scale); a schedule stays."""
    if isinstance(recipe, Schedule):
        return recipe
    return get_recipe(recipe, profile.stage_epochs, depth_weight=profile.depth_weight, depth_scale=profile.depth_scale)


Recipe = str | Schedule  # a recipe name (at the profile's depth weight) or a schedule built as data


def schedules(profile: Profile, recipes: list[Recipe] | None = None) -> list[Schedule]:
    """The schedules of ``recipes`` (default: the profile's, else all of Tables 2 and 3), in order,
    each once: a name becomes the profile's schedule of that recipe, a :class:`Schedule` stays."""
    out = {}
    for recipe in recipes or profile.recipes or all_recipes(profile.stage_epochs):
        schedule = to_schedule(profile, recipe)
        out.setdefault(schedule.name, schedule)
    return list(out.values())


def recipe_names(profile: Profile, recipes: list[Recipe] | None = None) -> list[str]:
    """The run names of :func:`schedules` (for display and folders)."""
    return [s.name for s in schedules(profile, recipes)]


@dataclass
class Results:
    """What :func:`reproduce` returns: ``summary`` (recipe -> budget, paper numbers and each
    metric's mean, std and per-seed values; see :func:`mdseg.study.report.summarize`), the runs behind
    it, and the Markdown table as a rendering (``str(results)``; notebooks display it)."""

    profile: str
    summary: dict[str, dict]
    runs: dict[str, list[RunRecord]]
    title: str = ""

    def markdown(self) -> str:
        return results_markdown(self.summary, self.title)

    def __str__(self) -> str:
        return self.markdown()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def diagnostics(self, name: str) -> list[dict[str, float]]:
        """One :func:`~mdseg.training.runs.diagnostics_summary` per seed of run ``name`` (steps 0 where a
        run logged none); :func:`mdseg.study.report.read_diagnostics` reads them."""
        return [runs.diagnostics_summary(run.run_dir) for run in self.runs.get(name, [])]


def read_run(profile: Profile, recipe: "Recipe", seed: int, out: str | Path | None = None, base: str | Path = "runs",
             keep_divergence: bool = True) -> RunRecord | None:
    """The finished run of one recipe and seed, or, with ``keep_divergence``, a run a non-finite loss
    stopped (``stopped`` set, metrics NaN); ``None`` when neither is there. ``out``: the run's folder
    (default: its folder under :func:`~mdseg.study.profiles.runs_root` of ``base``). A folder holding a
    run of other settings raises :class:`~mdseg.errors.OutputExists`."""
    schedule = to_schedule(profile, recipe)
    folder = Path(out) if out else run_dir(runs_root(profile, base), schedule.name, seed)
    finished = runs.claim(folder, identity(profile, schedule, seed), write=False)
    if finished is not None:
        return RunRecord.from_result(finished, schedule, seed, folder)
    diverged = runs.read_divergence(folder)
    if diverged is not None and keep_divergence:
        return RunRecord.from_divergence(diverged, schedule, seed, folder)
    return None


def read_recipes(profile: Profile, out: str | Path, seeds: list[int] | None = None,
                 recipes: "list[Recipe] | None" = None) -> Results:
    """The finished runs of ``recipes`` (default: the profile's, else all of Tables 2 and 3) under ``out``,
    of ``seeds`` (default: the profile's) and of any other seed trained there; a recipe with none is left
    out, and each row says its number of seeds."""
    seeds = list(seeds or profile.seeds)
    check_seeds(seeds)
    by_recipe: dict[str, list[RunRecord]] = {}
    for schedule in schedules(profile, recipes):
        for seed in sorted(set(seeds) | set(runs.seeds_in(out, schedule.name))):
            found = read_run(profile, schedule, seed, run_dir(out, schedule.name, seed), keep_divergence=False)
            if found is not None:
                by_recipe.setdefault(schedule.name, []).append(found)
    return Results(profile.name, summarize(by_recipe), by_recipe, RESULTS_TITLE.format(profile.name))
