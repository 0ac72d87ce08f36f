"""Your runs against the shipped reference: each placed beside the reference's seeds with the 95%
prediction interval for one new seed (:func:`placement_markdown`), and the retraining check
(``reproduce --check-reference N``: :func:`check`), which rebuilds a shipped run from its stored identity."""
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from ..runtime.files import read_json
from ..training import runs
from ..training.schedule import Schedule, Stage
from ..world.synthetic import SyntheticSpec
from .compare import format_stat, mean_std, prediction_interval
from .paper import both_numbers
from .profiles import PROFILES, Profile
from .reference import ReferenceError, label, reference_root, shipped_folders


def profile_from_identity(config: dict) -> Profile:
    """The profile a run's ``config.json`` was trained with: its named profile with every stored
    setting applied (lists back to tuples, the synthetic spec back to its dataclass)."""
    stored = dict(config["profile"])
    named = PROFILES[stored["name"]]
    for key, value in stored.items():
        if isinstance(value, list):
            stored[key] = tuple(value)
    if isinstance(stored.get("synthetic"), dict):
        stored["synthetic"] = SyntheticSpec(**stored["synthetic"])
    return replace(named, **stored)


def schedule_from_identity(config: dict) -> Schedule:
    """The schedule a run's ``config.json`` was trained with, rebuilt from its stored stages."""
    stages = [Stage(**{**s, "copy": tuple(s["copy"]) if s.get("copy") else None}) for s in config["stages"]]
    return Schedule(config["schedule"], tuple(stages))


def seed_spread(folder: Path) -> list[float]:
    """The val mIoU of every seed of the run in ``folder`` (its sibling ``seed<k>`` folders)."""
    return [runs.read_result(f)["metrics"]["mIoU"] for f in sorted(folder.parent.glob("seed*"))
            if (f / runs.RESULT).exists()]  # a diverged seed has no value


def inside_spread(value: float, values: list[float]) -> bool:
    """Whether ``value`` lies inside the 95% prediction interval for one new seed of the
    reference's seeds (:func:`~mdseg.study.compare.prediction_interval`; with one seed: equal to 4 places,
    which only the same machine can promise)."""
    if len(values) < 2:
        return abs(value - values[0]) < 5e-5
    low, high = prediction_interval(values)
    return low <= value <= high


def retrain(folder: Path, out: Path, device: str | None = None, progress: bool = True):
    """Train the shipped run in ``folder`` again from its stored identity (settings, schedule, seed) into
    ``out`` (resumed or reused where ``out`` already holds it); returns its
    :class:`~mdseg.study.run_record.RunRecord`."""
    from .experiments import train_recipe  # retraining needs torch: placing runs does not

    config = read_json(folder / runs.CONFIG, "restore the shipped reference with `git checkout mdseg/reference`")
    return train_recipe(profile_from_identity(config), schedule_from_identity(config), config["seed"], out=out,
                        device=device, progress=progress)


def check(n: int, profile: str = "cpu", out: str | Path = "runs/check-reference", seed: int = 0,
          device: str | None = None, progress: bool = True) -> list[dict]:
    """Retrain ``n`` shipped runs chosen at random (``seed`` seeds the choice) into ``out`` and
    compare: per run the shipped and the retrained val mIoU, and whether the retrained one lies
    inside the 95% prediction interval of the reference's seeds (:func:`inside_spread`). Returns one dict per run."""
    folders = sorted(f for f in shipped_folders(profile) if (f / runs.RESULT).exists())  # not a diverged run
    if not folders:
        raise ReferenceError(f"No reference is shipped for profile '{profile}'.")
    chosen = random.Random(seed).sample(folders, min(n, len(folders)))
    rows = []
    for folder in chosen:
        relative = folder.relative_to(reference_root(profile))
        result = retrain(folder, Path(out) / relative, device, progress)
        spread = seed_spread(folder)
        shipped = runs.read_result(folder)["metrics"]["mIoU"]
        retrained = result.miou
        rows.append({"run": str(relative), "shipped": shipped, "retrained": retrained, "reference_seeds": spread,
                     "inside": inside_spread(retrained, spread), "seconds": result.wall_seconds})
    return rows


def quick_budget_note(profile: Profile) -> str:
    """Where the shipped reference reads the story's verdicts, when ``profile`` trains fewer epochs per stage
    than that (the cpu profile's quick budget): one line for ``make run``; ``""`` otherwise."""
    from .budget_report import reading_budget
    from .budget_suite import budget_suite

    if profile.name != "cpu":
        return ""
    budget = budget_suite(PROFILES["cpu"], finished_only=True, progress=False, base=reference_root("cpu"))
    epochs = reading_budget(budget)[0] if budget else profile.stage_epochs
    if profile.stage_epochs >= epochs:
        return ""
    return (f"These runs train the quick budget ({profile.stage_epochs} epochs per stage). The reference reads the "
            f"story's verdicts at {epochs} epochs per stage, where the baseline stops improving (docs/results.md, "
            "notebook 04); `python -m mdseg reproduce --profile cpu --suite budget` trains that budget.")


def check_markdown(rows: list[dict]) -> str:
    lines = ["| run | shipped mIoU | retrained mIoU | reference seeds (mean ± std) | inside the 95% prediction interval |"
             " wall time |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['shipped']:.4f} | {r['retrained']:.4f} | "
                     f"{format_stat(mean_std(r['reference_seeds']))} ({len(r['reference_seeds'])}) | "
                     f"{'yes' if r['inside'] else 'no'} | {r['seconds']:.0f} s |")
    return "\n".join(lines + ["", PREDICTION_NOTE])


PREDICTION_NOTE = ("The 95% prediction interval for one new seed: mean ± t s sqrt(1 + 1/n) over the reference's n "
                   "seeds (wide with 3 seeds). The same seed reproduces to 4 decimals only on the same machine; "
                   "another machine's run of it is one more draw of the seed noise.")


def placement_markdown(own, ref, profile_name: str = "cpu", suite: str = "tables") -> str:
    """Each of your runs beside the paper and the reference: the reference's mean ± std (n), its 95%
    prediction interval for one new seed, and whether your value lies inside it (a run of another
    profile than the reference's is not expected to agree). ``suite``: the reference suite ``ref``
    comes from (its provenance labels the table)."""
    lines = ["| recipe | paper | reference (mean ± std, seeds) | 95% prediction interval for one new seed | "
             "yours (seed: mIoU) | inside it? |", "|---|---|---|---|---|---|"]
    for recipe, done in own.runs.items():
        values = ref.summary.get(recipe, {}).get("mIoU", {}).get("values", [])
        ref_cell = f"{format_stat(mean_std(values))} ({len(values)})" if values else "not shipped"
        interval = prediction_interval(values) if values else None
        band = f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "-"
        for run in done:
            value = run.miou
            inside = ("yes" if inside_spread(value, values) else "no") if values else "-"
            lines.append(f"| {recipe} | {both_numbers(recipe)} | {ref_cell} | {band} | {run.seed}: {value:.4f} | "
                         f"{inside} |")
    if not own.runs:
        lines.append("| (none of your own: MDSEG_TRAIN=none) | | | | | |")
    note = "" if own.profile == profile_name else (
        f" Your runs use the '{own.profile}' profile, the reference the '{profile_name}' profile: other sizes, "
        "so they are not expected to agree (the ci profile only shows that the pipeline runs).")
    return "\n".join(lines + ["", f"Reference: {label(profile_name, suite)}. {PREDICTION_NOTE}{note}"])
