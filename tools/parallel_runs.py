"""Train the runs of ``reproduce`` (or of ``reproduce --suite failure|budget|copy``) in N processes at once.

Small models (the ``ci`` and ``cpu`` profiles) use a fraction of a GPU: several trainers side by
side finish a table many times sooner. Each run is an ordinary ``python -m mdseg train`` into the
folder ``reproduce`` would use, so a later ``python -m mdseg reproduce ...`` reuses them all and
prints the tables. Data and pseudo depth are prepared first, in this process.

    python tools/parallel_runs.py --profile cpu --jobs 8 --device cuda
    python tools/parallel_runs.py --profile cpu --jobs 8 --device cuda --suite failure

The runs come from the suite's definition (:mod:`mdseg.study.suites`); the scale suite, whose runs
depend on finished ones, trains with ``reproduce --suite scale``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from mdseg.study.experiments import prepare_data, train_val_sets
from mdseg.study.profiles import get_profile, runs_root
from mdseg.study.suites import SUITES
from mdseg.training import runs
from mdseg.training.schedule import Schedule


def jobs(profile, suite: str, seeds: list[int]) -> list[tuple[object, Schedule, int]]:
    """``(profile with the run's settings, schedule, seed)`` of every run the suite needs that is not
    finished, in the folders ``reproduce`` uses (from the suite's definition, :mod:`mdseg.study.suites`),
    the longest runs first."""
    definition = SUITES[suite]
    if definition.arms is None:
        raise SystemExit(f"--suite {suite}: its runs depend on finished ones (its SGD rate, its failing points); "
                         f"train it with `python -m mdseg reproduce --profile {profile.name} --suite {suite}`.")
    todo = [(variant, schedule, k) for variant, schedule, folder in definition.folders(profile)
            for k in seeds if not (folder / f"seed{k}" / runs.RESULT).exists()]
    return sorted(todo, key=lambda job: -job[1].epochs)


def settings_flags(variant, named) -> list[str]:
    """The ``mdseg train`` flags that give a run ``variant``'s settings where they differ from ``named``'s."""
    flags = {"--depth-target": "depth_target", "--depth-scale": "depth_scale", "--optimizer": "optimizer", "--lr": "lr",
             "--lr-schedule": "lr_schedule", "--epochs": "stage_epochs"}
    out = []
    for flag, field in flags.items():
        if getattr(variant, field) != getattr(named, field):
            out += [flag, f"{getattr(variant, field):g}" if isinstance(getattr(variant, field), float) else
                    str(getattr(variant, field))]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--jobs", type=int, default=4, help="trainers at once")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per trainer")
    parser.add_argument("--suite", choices=list(SUITES), default="tables")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--logs", default=None, help="folder for each run's output (default: runs/parallel-logs)")
    parser.add_argument("--prepare-only", action="store_true", help="prepare data, pseudo depth and caches, then stop")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    todo = jobs(profile, args.suite, list(args.seeds or profile.seeds))
    for target in sorted({variant.depth_target for variant, _, _ in todo} | {profile.depth_target}):
        units = replace(profile, depth_target=target)  # once, before the trainers start
        prepare_data(units, with_depth=True)
        train_val_sets(units, with_depth=True)
    train_val_sets(profile, with_depth=False)
    if args.prepare_only:
        return 0
    logs = Path(args.logs or "runs/parallel-logs")
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TQDM_DISABLE": "1"}
    print(f"{len(todo)} runs to train, {args.jobs} at a time", flush=True)
    start = time.perf_counter()

    def run(job) -> int:
        variant, schedule, seed = job
        name = schedule.name
        weight = ["--depth-weight", f"{schedule.depth_weight:g}"] if schedule.depth_weight is not None else []
        cmd = [sys.executable, "-m", "mdseg", "train", "--profile", profile.name, "--recipe", schedule.recipe, *weight,
               "--seed", str(seed), *settings_flags(variant, profile)] + (["--device", args.device] if args.device else [])
        log = logs / f"{runs_root(variant).name}-{name.replace('/', '__').replace('>', '')}-seed{seed}.log"
        with open(log, "w") as handle:
            code = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env).returncode
        print(f"[{time.perf_counter() - start:6.0f} s] {'done' if code == 0 else f'FAILED ({code}), see ' + str(log)}: "
              f"{name} seed {seed} ({runs_root(variant).name})", flush=True)
        return code

    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(run, todo))
    print(f"{len(todo)} runs in {time.perf_counter() - start:.0f} s, {sum(c != 0 for c in codes)} failed")
    return int(any(codes))


if __name__ == "__main__":
    raise SystemExit(main())
