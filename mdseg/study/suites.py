"""Every suite as one value: its name, what it asks, and its runs (:class:`Suite`). A suite of fixed
runs lists them as *arms* (a profile with a run's settings and a recipe, at the profile's seeds), and
everything else derives from that list: its planned size, reading its finished runs (nothing trains,
no torch), the shipped reference's provenance and ``tools/parallel_runs.py``'s jobs. A suite whose runs
depend on finished ones (the scale suite: its SGD rate, its failing points) gives its own ``size`` and
``read``. A new suite is one :func:`register` call; training and reports stay in each suite's module.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..training.schedule import BASELINE, get_recipe
from .budget_suite import jobs as budget_jobs
from .copy_suite import recipes as copy_recipes
from .failure_suite import failure_schedules
from .jobs import Job, train_jobs
from .profiles import Profile, runs_root
from .records import schedules, to_schedule
from .run_record import RunRecord
from .scale_suite import (AT_FAILING, DEPTH_ALONE_OPTIMISERS, DEPTH_FIRST, FOLLOW_UP, OPTIMISERS, SGD_LR_GRID,
                          SGD_LR_SEEDS, SGD_DEPTH_SCALES, points, scale_suite)

FAILURE_TARGETS = ("normalised", "metric")


@dataclass(frozen=True)
class Suite:
    """Attributes: ``name`` (``reproduce --suite <name>``), ``about`` (one line), ``arms`` (a fixed suite's
    runs for a profile), ``size`` and ``read`` (a suite whose runs depend on finished ones)."""

    name: str
    about: str
    arms: Callable[[Profile], list[Job]] | None = None
    size: Callable[[Profile, Path | None], tuple[int, str]] | None = None
    read: Callable[[Profile, Path], list[RunRecord]] | None = None

    @property
    def command(self) -> str:
        """The command that trains it, with ``{p}`` for the profile."""
        return "python -m mdseg reproduce --profile {p}" + ("" if self.name == "tables" else f" --suite {self.name}")

    def folders(self, profile: Profile, base: str | Path = "runs") -> list[tuple[Profile, str | object, Path]]:
        """Each arm with the folder its runs go to (``<runs root>/<recipe>``), each folder once."""
        out = {}
        for variant, recipe in self.arms(profile):
            schedule = to_schedule(variant, recipe)
            out.setdefault(runs_root(variant, base) / schedule.name, (variant, schedule))
        return [(variant, schedule, folder) for folder, (variant, schedule) in out.items()]

    def planned(self, profile: Profile, base: str | Path | None = None) -> tuple[int, str]:
        """How many runs the suite trains at the profile's seeds, and what that count covers."""
        if self.size is not None:
            return self.size(profile, base)
        return len(self.folders(profile)) * len(profile.seeds), ""

    def runs(self, profile: Profile, base: str | Path) -> list[RunRecord]:
        """Every finished (or diverged) run of the suite under ``base``, each run folder once; nothing trains."""
        if self.read is not None:
            found = self.read(profile, base)
        else:
            jobs = [(variant, schedule) for variant, schedule, _ in self.folders(profile, base)]
            found = [r for done in train_jobs(jobs, list(profile.seeds), None, False, False, self.name, base)
                     for r in done]
        return list({r.run_dir: r for r in found}.values())


SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    SUITES[suite.name] = suite
    return suite


def _failure_arms(profile: Profile) -> list[Job]:
    """The baseline once (it has no depth), then naive joint at each weight and the profile's recipes
    under each depth target."""
    baseline = get_recipe(BASELINE, profile.stage_epochs)
    return [(profile, baseline)] + [(replace(profile, depth_target=t), s) for t in FAILURE_TARGETS
                                    for s in failure_schedules(replace(profile, depth_target=t))]


def _scale_size(profile: Profile, base: str | Path | None) -> tuple[int, str]:
    """The scale suite's runs: baselines, naive points, the depth-first recipes in two units, the depth-alone
    controls, the SGD sweep (its chosen rate is the SGD baseline), and at each failing point the runs
    under ``base`` show (none without ``base``) the follow-ups and controls."""
    seeds = len(profile.seeds)
    sweep = (len(SGD_LR_GRID) - 1) * len(SGD_LR_SEEDS)
    failing = len(scale_suite(profile, finished_only=True, progress=False, base=base).failing()) if base else 0
    controls = len(DEPTH_ALONE_OPTIMISERS) * len(SGD_DEPTH_SCALES) + failing * len(AT_FAILING)
    size = (len(OPTIMISERS) + len(points()) + 2 * len(DEPTH_FIRST) + failing * len(FOLLOW_UP) + controls) * seeds + sweep
    if failing:
        return size, (f"with the follow-ups ({len(FOLLOW_UP)} recipes x seeds) and the mechanism controls at the "
                      f"{failing} failing point{'s' if failing > 1 else ''} its finished runs show")
    return size, f"without the follow-ups at failing points ({len(FOLLOW_UP)} recipes x seeds per failing point)"


register(Suite("tables", "Tables 2 and 3: every recipe of the paper",
               arms=lambda profile: [(profile, s) for s in schedules(profile)]))
register(Suite("failure", "why naive joint fails: its depth weight and Table 3, in normalised and metric depth",
               arms=_failure_arms))
register(Suite("scale", "naive joint at the loss scales pipelines produce, under three optimisers, with controls",
               size=_scale_size,
               read=lambda profile, base: scale_suite(profile, finished_only=True, progress=False, base=base).all_runs()))
register(Suite("budget", "the story's recipes at longer budgets", arms=budget_jobs))
register(Suite("copy", "why the weight copy hurts: three repairs",
               arms=lambda profile: [(profile, r) for r in copy_recipes(profile)]))
