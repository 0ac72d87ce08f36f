"""Train the runs of ``reproduce`` (or of ``reproduce --suite failure``) in N processes at once.

Small models (the ``ci`` and ``cpu`` profiles) use a fraction of a GPU: several trainers side by
side finish a table many times sooner. Each run is an ordinary ``python -m mdseg train`` into the
folder ``reproduce`` would use, so a later ``python -m mdseg reproduce ...`` reuses them all and
prints the tables. Data and pseudo depth are prepared first, in this process.

    python tools/parallel_runs.py --profile cpu --jobs 8 --device cuda
    python tools/parallel_runs.py --profile cpu --jobs 8 --device cuda --suite failure
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

from mdseg.study.experiments import prepare_data, schedules, train_val_sets
from mdseg.study.failure_suite import failure_schedules
from mdseg.study.profiles import get_profile, runs_root
from mdseg.training import runs
from mdseg.training.runs import run_dir
from mdseg.training.schedule import BASELINE, Schedule, get_recipe


def jobs(profile, suite: str, targets: list[str], seeds: list[int]) -> list[tuple[str, Schedule, int]]:
    """``(depth target, schedule, seed)`` of every run the suite needs that is not finished, in the
    folders ``reproduce`` and ``failure_suite`` use (the baseline, without depth, under the first target)."""
    wanted = [(targets[0], s) for s in schedules(profile)]
    if suite == "failure":
        wanted = [(targets[0], get_recipe(BASELINE, profile.stage_epochs))] + [
            (t, s) for t in targets for s in failure_schedules(profile)]
    todo = [(target, schedule, k) for target, schedule in wanted for k in seeds
            if not (run_dir(runs_root(replace(profile, depth_target=target)), schedule.name, k) / runs.RESULT).exists()]
    # the first target's runs (the main tables) first, each target's longest runs first
    return sorted(todo, key=lambda job: (job[0] != targets[0], -job[1].epochs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--jobs", type=int, default=4, help="trainers at once")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per trainer")
    parser.add_argument("--suite", choices=["tables", "failure"], default="tables")
    parser.add_argument("--targets", nargs="+", default=["normalised", "metric"])
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--logs", default=None, help="folder for each run's output (default: runs/parallel-logs)")
    parser.add_argument("--prepare-only", action="store_true", help="prepare data, pseudo depth and caches, then stop")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    targets = args.targets if args.suite == "failure" else [profile.depth_target]
    for target in targets:  # once, before the trainers start
        units = replace(profile, depth_target=target)
        prepare_data(units, with_depth=True)
        train_val_sets(units, with_depth=True)
    train_val_sets(profile, with_depth=False)
    if args.prepare_only:
        return 0
    todo = jobs(profile, args.suite, targets, list(args.seeds or profile.seeds))
    logs = Path(args.logs or "runs/parallel-logs")
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TQDM_DISABLE": "1"}
    print(f"{len(todo)} runs to train, {args.jobs} at a time", flush=True)
    start = time.perf_counter()

    def run(job: tuple[str, str, int]) -> int:
        target, schedule, seed = job
        name = schedule.name
        weight = ["--depth-weight", f"{schedule.depth_weight:g}"] if schedule.depth_weight is not None else []
        cmd = [sys.executable, "-m", "mdseg", "train", "--profile", profile.name, "--recipe", schedule.recipe, *weight,
               "--seed", str(seed), "--depth-target", target] + (["--device", args.device] if args.device else [])
        log = logs / f"{target}-{name.replace('/', '__').replace('>', '')}-seed{seed}.log"
        with open(log, "w") as handle:
            code = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env).returncode
        print(f"[{time.perf_counter() - start:6.0f} s] {'done' if code == 0 else f'FAILED ({code}), see ' + str(log)}: "
              f"{name} seed {seed} ({target})", flush=True)
        return code

    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(run, todo))
    print(f"{len(todo)} runs in {time.perf_counter() - start:.0f} s, {sum(c != 0 for c in codes)} failed")
    return int(any(codes))


if __name__ == "__main__":
    raise SystemExit(main())
