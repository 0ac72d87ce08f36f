"""Where does the paper's naive-joint failure live? The scale suite (``reproduce --suite scale``).

Naive joint training (``0.85 L_seg + 0.15 L_depth`` from the start) against the baseline, at the
depth-loss scales real pipelines produce and under three optimisers, each point with gradient
diagnostics (the weighted seg/depth encoder-gradient ratio). Fixed before its first run:

* **scales**: the normalised target times k for k in :data:`DEPTH_SCALES`, and ``png8`` (the
  transformers pipeline's 8-bit depth image read back as 0-255), plus the failure suite's metric
  point (metres, clipped at 10 m) for the map;
* **optimisers** (:data:`OPTIMISERS`): the profile's own (cpu: Adam 1e-3, cosine), the paper's
  (Adam 1e-4, constant) and SGD with momentum 0.9 (the profile's schedule) at the learning rate
  :func:`sgd_lr` chose from the single-decoder baseline alone (:data:`SGD_LR_GRID`), at k in
  :data:`SGD_DEPTH_SCALES`; each optimiser has its own baseline;
* the paper's depth-first/copy recipes with the paper's optimiser, normalised and ``png8``;
* at up to two **failing points** (naive joint worse than its baseline, Welch p < 0.05: the rule
  declared before the first run; the tables now read every point paired, :mod:`mdseg.study.compare`): the
  smallest failing scale, and ``png8`` if it fails, get all 8 Table 3 recipes, ``uncertainty``
  and ``naive-joint/norm`` (:data:`FOLLOW_UP`) under the optimiser it failed with.

Every row is the profile's seeds (3 on cpu); rows from other devices are never compared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..training import runs
from ..training.schedule import (BASELINE, DAMPED_DEPTH_INTO_ENCODER, DEPTH_ONLY, NAIVE, PAPER_LR, SLOW_DEPTH_DECODER,
                                 get_recipe, table3)
from .compare import LEVEL, Comparison, collapsed, comparison, holm, mean_std
from .records import Results
from .run_record import RunRecord
from .jobs import Job, train_jobs, trained
from .pilot import pilot
from .profiles import Profile
from .report import seeds_text, summarize

DEPTH_SCALES = (1, 4, 16, 64, 255)
SGD_DEPTH_SCALES = (1, 16, 255)
SGD_LR_GRID = (0.003, 0.01, 0.03, 0.1)
SGD_LR_SEEDS = (0, 1)  # seeds of the SGD learning-rate sweep (single-decoder only)
OPTIMISERS = ("profile", "paper", "sgd")
DEPTH_FIRST = ("depth-first/copy/s->b", "depth-first/copy/b")
FOLLOW_UP = tuple(table3(1)) + ("uncertainty", "naive-joint/norm")
# The mechanism controls (added after the suite's first runs; they change none of them): depth alone under
# SGD and the profile's Adam at each SGD scale, and, at each failing point, naive joint with the depth
# scale undone in the depth decoder only, in the encoder only, and the scale-invariant log loss.
DEPTH_ALONE_OPTIMISERS = ("sgd", "profile")
AT_FAILING = (SLOW_DEPTH_DECODER, DAMPED_DEPTH_INTO_ENCODER, "log-loss")


@dataclass(frozen=True)
class Point:
    """One point of the map: a depth target (``normalised``, ``png8`` or ``metric``) times
    ``scale``, trained under one of :data:`OPTIMISERS`."""

    optimiser: str
    target: str = "normalised"
    depth_scale: float = 1.0

    @property
    def label(self) -> str:
        unit = self.target if self.depth_scale == 1 else f"{self.target} x{self.depth_scale:g}"
        return f"{unit}, {self.optimiser} optimiser"


SMOKE_POINTS = (Point("paper", "png8"),)  # what the ci profile trains of the suite (tests, notebook 06 under MDSEG_TRAIN=all)


def optimiser_settings(profile: Profile, optimiser: str, lr_sgd: float | None = None) -> dict:
    """The profile fields of an optimiser of :data:`OPTIMISERS`."""
    if optimiser == "profile":
        return {}
    if optimiser == "paper":
        return {"optimizer": "adam", "lr": PAPER_LR, "lr_schedule": "constant"}
    if optimiser == "sgd":
        if lr_sgd is None:
            raise ValueError("SGD points need the learning rate chosen by sgd_lr().")
        return {"optimizer": "sgd", "lr": lr_sgd}
    raise ValueError(f"Unknown optimiser '{optimiser}'; use one of {', '.join(OPTIMISERS)}.")


def describe_optimiser(profile: Profile) -> str:
    """``Adam 1e-3, cosine`` for a profile's optimiser fields."""
    name = "SGD (momentum 0.9)" if profile.optimizer == "sgd" else "Adam"
    return f"{name} {profile.lr:g}, {profile.lr_schedule}"


def point_profile(profile: Profile, point: Point, lr_sgd: float | None = None) -> Profile:
    return replace(profile, depth_target=point.target, depth_scale=float(point.depth_scale),
                   **optimiser_settings(profile, point.optimiser, lr_sgd))


def baseline_profile(profile: Profile, optimiser: str, lr_sgd: float | None = None) -> Profile:
    """The baseline of an optimiser (no depth: its units do not matter; kept normalised)."""
    return point_profile(profile, Point(optimiser), lr_sgd)


def points() -> list[Point]:
    """The suite's naive-joint points, in the order they train: scale by scale (range ends first),
    every optimiser at one scale before the next, so a suite stopped part-way still compares the
    three optimisers where it got to. The order never changes a run's result."""
    out = []
    for k in (255, "png8", 1, 16, 4, 64):
        out += [Point(o, "png8") if k == "png8" else Point(o, depth_scale=k) for o in OPTIMISERS
                if o != "sgd" or k in SGD_DEPTH_SCALES]
    return out + [Point("profile", "metric")]


# ----------------------------------------------------------------------------- what trains


def sgd_lr_jobs(profile: Profile) -> list[Job]:
    return [(replace(profile, **optimiser_settings(profile, "sgd", lr)), BASELINE) for lr in SGD_LR_GRID]


def sgd_lr(profile: Profile, device: str | None = None, progress: bool = True, finished_only: bool = False,
           base: str | Path = "runs") -> tuple[float | None, dict[float, dict], list[RunRecord]]:
    """SGD's learning rate, chosen from the single-decoder baseline alone before any multi-task
    SGD run: the best mean val mIoU over :data:`SGD_LR_SEEDS` among :data:`SGD_LR_GRID` (the
    profile's schedule and epochs). Returns ``(lr or None while unfinished, {lr: mean_std}, the runs)``."""
    results = train_jobs(sgd_lr_jobs(profile), list(SGD_LR_SEEDS), device, progress, not finished_only, "SGD lr sweep",
                         base)
    results = [[r for r in done if r.seed in SGD_LR_SEEDS] for done in results]  # the chosen rate's folder has more
    sweep = {lr: mean_std([r.miou for r in done]) for lr, done in zip(SGD_LR_GRID, results) if done}
    sweep = {lr: stat for lr, stat in sweep.items() if not math.isnan(stat["mean"])}  # a diverged rate is not chosen
    complete = all(len(done) == len(SGD_LR_SEEDS) for done in results)
    return (max(sweep, key=lambda lr: sweep[lr]["mean"]) if complete else None), sweep, [r for d in results for r in d]


@dataclass
class ScaleSuite:
    """What :func:`scale_suite` returns: per optimiser its baseline runs, per :class:`Point` its
    naive-joint runs, the paper optimiser's depth-first runs (``{(target, recipe): runs}``),
    the follow-up results at failing points (with, apart, the follow-up runs a non-finite loss
    stopped: ``{point: {recipe: runs}}``), and the SGD sweep."""

    profile: str
    baselines: dict[str, list[RunRecord]]
    naive: dict[Point, list[RunRecord]]
    depth_first: dict[tuple[str, str], list[RunRecord]]
    follow_up: dict[Point, Results]
    sweep: dict[float, dict]
    lr_sgd: float | None
    optimisers: dict[str, str]  # optimiser -> its description
    sweep_runs: list[RunRecord] = field(default_factory=list)
    follow_up_diverged: dict[Point, dict[str, list[RunRecord]]] = field(default_factory=dict)
    controls: dict[tuple[Point, str], list[RunRecord]] = field(default_factory=dict)  # (point, recipe) -> runs

    def all_runs(self) -> list[RunRecord]:
        """Every finished run the suite read, each run folder once (the follow-up tables repeat the
        baseline and naive joint; the SGD sweep's chosen rate is the SGD baseline)."""
        groups = [*self.baselines.values(), *self.naive.values(), *self.depth_first.values(), self.sweep_runs]
        groups += [r for results in self.follow_up.values() for r in results.runs.values()]
        groups += [r for stopped in self.follow_up_diverged.values() for r in stopped.values()]
        groups += list(self.controls.values())
        return list({str(run.get("run_dir", id(run))): run for group in groups for run in group}.values())  # each folder once

    def comparison(self, point: Point):
        """Naive joint at ``point`` against its optimiser's baseline (:class:`~mdseg.study.compare.Comparison`),
        over the seeds that did not diverge."""
        summary = summarize({NAIVE: trained(self.naive[point]), BASELINE: trained(self.baselines[point.optimiser])})
        return comparison(summary, NAIVE, BASELINE)

    def diverged(self, point: Point) -> list[RunRecord]:
        """The naive runs at ``point`` that a non-finite loss stopped."""
        return [r for r in self.naive.get(point, []) if r.diverged]

    def diagnostics(self, point: Point) -> list[dict]:
        """Each naive run's diagnostics summary at ``point`` (:func:`~mdseg.training.runs.diagnostics_summary`)."""
        return [runs.diagnostics_summary(r.run_dir) for r in self.naive.get(point, [])]

    def grad_ratio(self, point: Point) -> float:
        """Geometric mean over seeds of each run's weighted seg/depth encoder-gradient ratio."""
        ratios = [summary["grad_ratio"] for r, summary in zip(self.naive.get(point, []), self.diagnostics(point))
                  if not r.diverged or (r.run_dir / runs.DIAGNOSTICS).exists()]
        ratios = [g for g in ratios if not math.isnan(g)]
        return math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else math.nan

    def map_points(self) -> list[dict]:
        """The points of :func:`mdseg.viz.failure_map` and of the scale table, one per tested point:
        its optimiser (described), target, scale, gradient ratio, the :class:`~mdseg.study.compare.Comparison`
        (paired by seed), the difference and its 95% interval relative to the baseline's mean
        (``rel``, ``rel_low``, ``rel_high``; NaN where no interval), the raw and the Holm-adjusted p
        over the family of tested points, how many seeds trained and diverged, and how many of the
        trained seeds collapsed (:func:`~mdseg.study.compare.collapsed`)."""
        out = []
        for point in self.tested():
            c = self.comparison(point)
            base = float(np.mean(c.baseline_values))
            low, high = c.interval or (math.nan, math.nan)
            out.append({"point": point, "optimiser": self.optimisers[point.optimiser], "target": point.target,
                        "depth_scale": point.depth_scale, "ratio": self.grad_ratio(point), "comparison": c, "diff": c.diff,
                        "rel": c.diff / base, "rel_low": low / base, "rel_high": high / base, "p": c.p_value,
                        "seeds": len(c.values), "diverged": len(self.diverged(point)),
                        "collapsed": sum(collapsed(v, base) for v in c.values)})
        for row, adjusted in zip(out, holm([row["p"] for row in out])):
            row["p_holm"] = adjusted
        return out

    def tested(self) -> list[Point]:
        """Points with trained (not diverged) naive runs and a trained baseline of their optimiser."""
        return [p for p, done in self.naive.items() if trained(done) and trained(self.baselines.get(p.optimiser, []))]

    def failing(self) -> list[Point]:
        """:func:`failing_points` by the declared rule (naive joint below its baseline, Welch p < 0.05) over
        the pilot seeds 0-2 (:func:`~mdseg.study.pilot.pilot`): where the follow-ups are; extra seeds never move them."""
        return failing_points({p: _declared_verdict(pilot(self.comparison(p))) for p in self.tested()})


def _declared_verdict(c: Comparison) -> str:
    """``worse`` where Welch's unpaired p < 0.05 and the mean is lower: the follow-up rule fixed
    before the suite's first run (the kit now reads comparisons paired, :mod:`mdseg.study.compare`;
    the follow-ups stay where the declared rule put them)."""
    p = c.welch_p
    return "worse" if p is not None and not math.isnan(p) and p < LEVEL and c.diff < 0 else "not worse"


def failing_points(verdicts: dict[Point, str]) -> list[Point]:
    """Up to two points to study further: the smallest normalised scale at which naive joint is
    worse than its baseline (optimisers in :data:`OPTIMISERS` order on a tie), and ``png8`` if it
    is worse (the first such optimiser)."""
    rank = {o: i for i, o in enumerate(OPTIMISERS)}
    worse = [p for p, v in verdicts.items() if v == "worse"]
    scaled = sorted((p for p in worse if p.target == "normalised"), key=lambda p: (p.depth_scale, rank[p.optimiser]))
    png8 = sorted((p for p in worse if p.target == "png8"), key=lambda p: rank[p.optimiser])
    return scaled[:1] + png8[:1]


def scale_suite(profile: Profile, seeds: list[int] | None = None, device: str | None = None, progress: bool = True,
                finished_only: bool = False, only: list[Point] | None = None, base: str | Path = "runs") -> ScaleSuite:
    """Train (or, with ``finished_only``, only read) the scale suite of the module docstring;
    every run goes to its settings' :func:`~mdseg.study.profiles.runs_root`, shared with ``train`` and
    ``reproduce`` (``base``: another folder laid out like ``runs``, e.g. the shipped reference).
    ``only``: just these points and their optimisers' baselines, no depth-first
    runs or follow-ups (the ci profile always trains :data:`SMOKE_POINTS`: a smoke test of the
    pieces). Returns the :class:`ScaleSuite`."""
    if profile.name == "ci" and only is None:
        only = list(SMOKE_POINTS)
    seeds = list(seeds or profile.seeds)
    train = not finished_only
    wanted = list(only) if only is not None else points()
    lr_sgd, sweep, sweep_runs = None, {}, []
    if any(p.optimiser == "sgd" for p in wanted):
        lr_sgd, sweep, sweep_runs = sgd_lr(profile, device, progress, finished_only, base)
        wanted = [p for p in wanted if p.optimiser != "sgd" or lr_sgd is not None]
    used = [o for o in OPTIMISERS if any(p.optimiser == o for p in wanted)]
    jobs: list[Job] = [(baseline_profile(profile, o, lr_sgd), BASELINE) for o in used]
    jobs += [(point_profile(profile, p, lr_sgd), NAIVE) for p in wanted]
    first = [] if only is not None else [(point_profile(profile, Point("paper", t)), r)
                                         for r in DEPTH_FIRST for t in ("normalised", "png8")]
    if progress and train:
        from .planning import plan_line  # timing steps needs torch: reading the suite does not

        tqdm.write(plan_line("Scale suite", jobs + first, seeds, device, base))
    done = train_jobs(jobs + first, seeds, device, progress, train, f"scale suite [{profile.name}]", base)
    baselines = {o: done[i] for i, o in enumerate(used)}
    naive = {p: done[len(used) + i] for i, p in enumerate(wanted)}
    depth_first = {(job[0].depth_target, job[1]): d for job, d in zip(first, done[len(jobs):])}
    suite = ScaleSuite(profile.name, baselines, naive, depth_first, {}, sweep, lr_sgd,
                       {o: describe_optimiser(baseline_profile(profile, o, lr_sgd)) for o in used}, sweep_runs)
    for point in suite.failing() if only is None else []:
        variant = point_profile(profile, point, lr_sgd)
        extra = train_jobs([(variant, r) for r in FOLLOW_UP], seeds, device, progress, train,
                      f"failing point: {point.label}", base)
        kept = {r: trained(d) for r, d in zip(FOLLOW_UP, extra)}
        by_recipe = {BASELINE: trained(baselines[point.optimiser]), NAIVE: trained(naive[point]),
                     **{r: k for r, k in kept.items() if k}}
        stopped = {r: [run for run in d if run.diverged] for r, d in zip(FOLLOW_UP, extra)}
        suite.follow_up_diverged[point] = {r: d for r, d in stopped.items() if d}
        note = ("; diverged (non-finite loss): " + ", ".join(f"{r} ({seeds_text(len(d))})" for r, d in stopped.items() if d)
                if any(stopped.values()) else "")
        suite.follow_up[point] = Results(profile.name, summarize(by_recipe), by_recipe,
                                         f"Tables 2 and 3 where naive joint training fails: {point.label}{note}")
    if only is None:
        wanted_controls = control_jobs(profile, lr_sgd, suite.failing())
        done = train_jobs([job for _, job in wanted_controls], seeds, device, progress, train,
                          "mechanism controls", base)
        suite.controls = {(point, job[1].name): d for (point, job), d in zip(wanted_controls, done)}
    return suite


def control_jobs(profile: Profile, lr_sgd: float | None, failing: list[Point]) -> list[tuple[Point, Job]]:
    """The mechanism controls' runs, each with its point: ``depth-only`` at every SGD scale under SGD
    (once its rate is chosen) and the profile's optimiser, then :data:`AT_FAILING` at each failing point."""
    alone = [Point(o, depth_scale=k) for o in DEPTH_ALONE_OPTIMISERS for k in SGD_DEPTH_SCALES if o != "sgd" or lr_sgd is not None]
    wanted = [(p, DEPTH_ONLY) for p in alone] + [(p, r) for p in failing for r in AT_FAILING]
    out = []
    for point, recipe in wanted:
        variant = point_profile(profile, point, lr_sgd)
        schedule = get_recipe(recipe, variant.stage_epochs, depth_weight=variant.depth_weight,
                              depth_scale=variant.depth_scale)
        out.append((point, (variant, schedule)))
    return out
