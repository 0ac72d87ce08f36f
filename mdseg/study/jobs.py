"""Training a suite's runs: a job is a profile with a run's settings and a recipe; :func:`train_jobs`
trains (or only reads) each job over the seeds, each run in the folder its settings name, keeping a
run a non-finite loss stopped as an outcome."""
from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from ..training import runs
from ..training.schedule import Schedule
from .profiles import Profile, check_seeds, runs_root
from .records import read_run, to_schedule
from .run_record import RunRecord

Job = tuple[Profile, str | Schedule]  # (profile with the point's settings, recipe name or schedule)


def train_jobs(jobs: list[Job], seeds: list[int], device: str | None, progress: bool, train_missing: bool,
               desc: str, base: str | Path, diagnose_every: int | None = None) -> list[list[RunRecord]]:
    """Each job's finished results over ``seeds`` (training what is missing unless not ``train_missing``,
    with gradient diagnostics every ``diagnose_every`` steps, default the profile's); a run a
    non-finite loss stopped is kept as such (its ``stopped`` set)."""
    check_seeds(seeds)
    out = [[] for _ in jobs]
    work = [(i, s) for i in range(len(jobs)) for s in (seeds if train_missing else _with_seeds_on_disk(jobs[i], seeds, base))]
    bar = tqdm(work, desc=desc, unit="run", disable=not (progress and train_missing))
    if train_missing:
        from .experiments import train_recipe  # training needs torch: reading a suite does not
    for i, seed in bar:
        name = jobs[i][1] if isinstance(jobs[i][1], str) else jobs[i][1].name
        bar.set_postfix_str(f"{name} {runs_root(jobs[i][0], base).name} seed {seed}")
        variant, recipe = jobs[i]
        if train_missing:
            result = train_recipe(variant, recipe, seed, device=device, progress=False, base=base,
                                  keep_divergence=True, diagnose_every=diagnose_every)
        else:
            result = read_run(variant, recipe, seed, base=base)
        if result is not None:
            out[i].append(result)
    return out


def _with_seeds_on_disk(job: Job, seeds: list[int], base: str | Path) -> list[int]:
    """``seeds`` and every other seed trained in the job's folder (extra seeds trained for power)."""
    variant, recipe = job
    name = to_schedule(variant, recipe).name
    return sorted(set(seeds) | set(runs.seeds_in(runs_root(variant, base), name)))


def trained(results: list[RunRecord]) -> list[RunRecord]:
    """The runs that trained to the end (not stopped by a non-finite loss)."""
    return [r for r in results if not r.diverged]
