"""What every notebook does first, and what it shows: choose the profile (``MDSEG_PROFILE``,
``MDSEG_SEEDS``) and what trains (``MDSEG_TRAIN``), work from the repository root (or from
``MDSEG_WORKDIR``), read the shipped reference runs, and place the student's own runs beside them."""
from __future__ import annotations

import os
from pathlib import Path
from statistics import fmean

import torch

from .errors import SettingError
from .model.checkpoint import load_model
from .runtime.workdir import WORKDIR_VAR, enter_workdir  # noqa: F401 (WORKDIR_VAR: notebook.WORKDIR_VAR for callers)
from .study.compare import Comparison, comparison
from .study.experiments import reproduce, train_val_sets
from .study.findings import story  # noqa: F401 (notebooks import it from here)
from .study.gallery import FAILURE_AND_RESCUE, label_at, reference_gallery
from .study.jobs import train_jobs, trained
from .study.paper import naive_gaps
from .study.placement import placement_markdown  # noqa: F401 (notebooks import it from here)
from .study.planning import plan
from .study.power import seeds_for
from .study.profiles import PROFILES, Profile, from_environment, runs_root
from .study.records import Results
from .study.reference import label, reference_root  # noqa: F401 (label: notebooks import it from here)
from .study.reference import read as read_reference
from .study.report import summarize
from .study.scale_suite import point_profile
from .training import runs
from .training.schedule import BASELINE
from .viz import predict

TRAIN_VAR = "MDSEG_TRAIN"
TRAIN_MODES = {"none": "nothing trains: the shipped reference alone",
               "one": "seed 0 of the recipes this notebook is about (default)",
               "all": "every seed and recipe this notebook shows"}
OWN_DIAGNOSE_EVERY = 0  # the student's runs skip gradient diagnostics (an extra encoder backward per task per diagnosed step)
REFERENCE_PROFILE = "cpu"
REFERENCE = reference_root(REFERENCE_PROFILE)  # the shipped runs, laid out like runs/ (base= of every suite)


def setup(default: str = "cpu") -> tuple[Profile, Path]:
    """Returns ``(profile, runs)``: the profile from the environment and its runs folder
    (``runs/<profile>``, shared by the notebooks so later ones reuse earlier training). A notebook
    started from ``notebooks/`` moves to the repository root, where ``make run`` works too. With
    ``$MDSEG_WORKDIR`` set (e.g. a Google Drive folder on Colab), it works there instead: data,
    caches and runs then survive a disconnected runtime, and a rerun resumes."""
    here = Path.cwd()
    if enter_workdir() is None and here.name == "notebooks" and (here.parent / "mdseg").is_dir():
        os.chdir(here.parent)
    profile = from_environment(default)
    runs = Path("runs") / profile.name
    mode = train_mode()
    print(f"Profile '{profile.name}': {profile.about}. Seeds {', '.join(map(str, profile.seeds))}; "
          f"runs in {runs}/ (MDSEG_PROFILE and MDSEG_SEEDS change these).\n"
          f"MDSEG_TRAIN={mode}: {TRAIN_MODES[mode]} (none / one / all).")
    return profile, runs


def train_mode() -> str:
    """``$MDSEG_TRAIN``: ``none``, ``one`` (default) or ``all``."""
    mode = os.environ.get(TRAIN_VAR, "one").strip().lower() or "one"
    if mode not in TRAIN_MODES:
        raise SettingError(f"${TRAIN_VAR} must be one of {', '.join(TRAIN_MODES)}, not {mode!r}.")
    return mode


def training_seeds(profile: Profile) -> list[int]:
    """The seeds :data:`TRAIN_VAR` asks this notebook to train: none, the first, or all of the profile's."""
    return {"none": [], "one": list(profile.seeds[:1]), "all": list(profile.seeds)}[train_mode()]


def train_own(profile: Profile, recipes: list[str], out: str | Path | None = None, all_recipes: list[str] | None = None,
              report: str = "results") -> Results:
    """The student's own runs of ``recipes`` (``all_recipes`` under ``MDSEG_TRAIN=all``): first the
    plan with its measured cost, then training (reusing finished runs). Under ``none`` nothing
    trains and the runs already finished are returned (maybe none). Like ``make run``, these runs log
    no gradient diagnostics (:data:`OWN_DIAGNOSE_EVERY`): the notebooks read them from the reference."""
    out = Path(out) if out else runs_root(profile)
    seeds = training_seeds(profile)
    names = (all_recipes or recipes) if train_mode() == "all" else recipes
    if not seeds:
        print(f"{TRAIN_VAR}=none: nothing trains; runs you finished earlier in {out}/ are shown where there are any.")
        return reproduce(profile, out, recipes=names, finished_only=True, progress=False)
    print(plan(profile, out, names, seeds, diagnose_every=OWN_DIAGNOSE_EVERY))
    return reproduce(profile, out, seeds=seeds, recipes=names, report=report, detail=False,
                     diagnose_every=OWN_DIAGNOSE_EVERY)


def own_at_failing_point(profile: Profile, ref_scale, recipes: tuple[str, ...] = ("naive-joint", "naive-joint/norm"),
                         base: str | Path = "runs") -> tuple[Results, Results] | None:
    """Your own runs of ``recipes`` at the reference's first failing point of the scale suite
    (:class:`~mdseg.study.scale_suite.ScaleSuite` ``ref_scale``): its depth units, loss scale,
    optimiser and the learning rate the reference's SGD sweep chose, with ``profile``'s sizes. Seeds
    as :data:`TRAIN_VAR` asks (the plan and its cost first; under ``none`` the runs already finished).
    A run a non-finite loss stops is an outcome here, said and left out of the table. No gradient
    diagnostics, as in :func:`train_own`. Returns
    ``(yours, the reference's runs at that point)``, or ``None`` (with why) when the reference
    shows no failing point."""
    failing = ref_scale.failing()
    if not failing:
        print("The shipped scale suite shows no point where naive joint training is worse than its baseline.")
        return None
    point = failing[0]
    variant = point_profile(profile, point, ref_scale.lr_sgd)
    out = runs_root(variant, base)
    seeds = training_seeds(profile)
    if seeds:
        print(f"At the reference's failing point ({point.label}, lr {variant.lr:g}):")
        print(plan(variant, out, list(recipes), seeds, diagnose_every=OWN_DIAGNOSE_EVERY))
    results = train_jobs([(variant, r) for r in recipes], seeds or list(profile.seeds), None, True, bool(seeds),
                         f"failing point: {point.label}", base, diagnose_every=OWN_DIAGNOSE_EVERY)
    done = {r: trained(d) for r, d in zip(recipes, results) if trained(d)}
    stopped = [f"{r} seed {run.seed}" for r, d in zip(recipes, results) for run in d if run.diverged]
    if stopped:
        print("Stopped by a non-finite loss (an outcome, not a bug): " + ", ".join(stopped) + ".")
    own = Results(profile.name, summarize(done), done, f"Your runs at {point.label}")
    return own, ref_scale.follow_up.get(point, Results(REFERENCE_PROFILE, {}, {}, ""))


def own_models(own: Results, names: list[str]) -> dict | None:
    """``{name: model}`` from the first finished run of each of ``names`` in ``own``, or ``None``
    (with the reason printed) when a run or its checkpoint is missing: a finished run keeps its
    metrics without its weights when the checkpoint was deleted or the folder copied from the reference."""
    folders = {name: own.runs[name][0].run_dir for name in names if own.runs.get(name)}
    missing = [n for n in names if n not in folders] + [
        f"{n} (no {runs.CHECKPOINT} in {f})" for n, f in folders.items() if not (f / runs.CHECKPOINT).exists()]
    if missing:
        print("No model of your own to show for: " + ", ".join(missing) + ". Train them with MDSEG_TRAIN=one.")
        return None
    return {name: load_model(folder)[0] for name, folder in folders.items()}


def figure3_inputs(profile: Profile, models: dict | None, names: list[str], labels: dict[str, str] | None = None,
                   count: int = 4) -> tuple[list[dict], dict, str] | None:
    """What Figure 3 and the explorer draw: ``(items, {name: (N, H, W) class ids}, whose)`` from your
    own ``models`` of ``names`` (:func:`own_models`, seed 0) when there are any, else from the
    reference's shipped gallery (:mod:`mdseg.study.gallery`; ``labels`` maps a name to its gallery
    label where they differ), else ``None`` with the reason printed."""
    if models is not None:
        _, val_set = train_val_sets(profile, with_depth=True)
        items = [val_set[i] for i in range(min(count, len(val_set)))]
        images = torch.stack([item["image"] for item in items])
        return items, {name: predict(models[name], images) for name in names}, f"your runs (profile '{profile.name}', seed 0)"
    shipped = reference_gallery(REFERENCE_PROFILE)
    if shipped is None:
        print("The reference ships no gallery of predictions either: nothing to draw.")
        return None
    items, seg, _, _ = shipped
    wanted = [(name, (labels or {}).get(name, name)) for name in names]
    found = {name: seg[shown][:count] for name, shown in wanted if shown in seg}
    lacking = [shown for name, shown in wanted if name not in found]
    if lacking:
        print("The reference's gallery holds no predictions of: " + ", ".join(lacking) + ".")
    if not found:
        return None
    print(f"Drawing the reference's predictions instead (the {REFERENCE_PROFILE} profile, seed 0, shipped with "
          "their checkpoints' hashes in mdseg/reference/cpu/gallery/gallery.json).")
    return items[:count], found, f"the reference ({REFERENCE_PROFILE} profile, seed 0)"


def figure3_at_failing_point(profile: Profile, ref_scale, at_point: tuple[Results, Results] | None,
                             count: int = 4) -> tuple[list[dict], dict, str] | None:
    """Figure 3's inputs (as :func:`figure3_inputs`) for naive joint and ``naive-joint/norm`` at the
    reference's first failing point of the scale suite: your seed-0 models from
    :func:`own_at_failing_point`'s ``at_point`` when they exist, else the reference's gallery."""
    failing = ref_scale.failing()
    if not failing:
        print("The shipped scale suite shows no failing point: nothing to draw there.")
        return None
    names = list(FAILURE_AND_RESCUE)
    models = own_models(at_point[0], names) if at_point and at_point[0].runs else None
    return figure3_inputs(profile, models, names, {name: label_at(name, failing[0]) for name in names}, count)


# ----------------------------------------------------------------------------- the shipped reference
def reference_profile() -> Profile:
    """The profile the shipped reference was trained with (the cpu profile as defined, whatever
    the environment says)."""
    return PROFILES[REFERENCE_PROFILE]


def reference(recipes: list[str] | None = None, profile: Profile | None = None) -> Results:
    """The shipped reference's runs of ``recipes`` (default: Tables 2 and 3) under ``profile``'s
    settings (default: the cpu profile; e.g. its metric-depth variant), read in seconds."""
    return read_reference(recipes, profile or reference_profile())


def read_twice(summary: dict[str, dict], recipe: str, baseline: str = BASELINE) -> str:
    """The same runs read unpaired (each arm's seeds as unrelated draws) and paired (seed k against
    seed k), and how many seeds each reading needs to see the paper's two naive gaps (80% power)."""
    c = comparison(summary, recipe, baseline)
    unpaired = Comparison(c.recipe, c.baseline, c.metric, c.values, c.baseline_values)  # the seeds forgotten
    lines = ["Per seed, " + recipe + " minus " + baseline + ": "
             + ", ".join(f"seed {k}: {d:+.4f}" for k, d in zip(c.common_seeds, c.differences)) + ".",
             "Read unpaired: " + unpaired.sentence(), "Read paired:   " + c.sentence()]
    base = fmean(c.baseline_values)
    for source, gap in naive_gaps().items():
        need = seeds_for(c, gap * base)
        told = {k: "more than 200" if v is None else str(v) for k, v in need.items()}
        lines.append(f"To see the paper's {source} gap ({gap:+.1%}, {gap * base:+.4f} here) 4 times in 5: "
                     f"{told['paired']} paired seeds, or {told['unpaired']} seeds per recipe read unpaired.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- exercises and stated readings
def check_prediction(guess: float | None, actual: float, what: str, close: float) -> str:
    """The check cell of a predict-then-run exercise: ``actual`` (computed by the cell before) beside
    the student's ``guess``, and whether it was within ``close``; with no guess yet, the answer is
    withheld for a moment: write the guess first."""
    if guess is None:
        return (f"Write your prediction of {what} in the cell above (e.g. `guess = 0.1`) and run both cells again; "
                f"the computed value is then shown beside it.")
    verdict = "close" if abs(guess - actual) <= close else "not close"
    return f"{what}: you predicted {guess:g}, the runs say {actual:.4g} ({verdict}: within ± {close:g} counts as close)."


def stated(c, direction: str) -> str:
    """A "what we saw" sentence whose direction the text states: returns the comparison's sentence when
    its verdict is ``direction`` (``worse``, ``better`` or ``not distinguishable from 0``), and raises
    when the runs say otherwise, so a notebook's prose cannot outlive the numbers behind it (nbval fails)."""
    if c.verdict != direction:
        raise AssertionError(f"The text says '{direction}' for {c.recipe} against {c.baseline}, but the runs now say "
                             f"'{c.verdict}': {c.sentence()} Rewrite the interpretation above this cell.")
    return c.sentence()
