"""Train the extra seeds the statistics ask for (:mod:`mdseg.study.seed_plan`): from the shipped
reference's 3-seed pilot, every arm of the scale map's comparisons, of Tables 2-3's and the follow-ups at
a failing point gets at least 6 seeds (Tables 2-3's at the budget they are read at:
:func:`mdseg.study.seed_plan.tables_at`), and an undecided comparison's arms the paired seeds
its pilot asked for against the margin, at most 10. The targets come from the pilot alone
(:func:`mdseg.study.seed_plan.pilot`), however many seeds have arrived since, so the plan does not change as
it trains; the pilot's seeds 0-2 are never retrained. Every run goes to the folder its
settings name, so the suites then read it like the rest.

    python tools/extra_seeds.py [--runs runs] [--up-to N] [--least 6] [--most 10] [--dry-run]

``--up-to N`` trains each arm only as far as N seeds this call (a round: the cheapest undecided verdicts
first); run it again with a larger N to go on. Interrupted, it resumes where it stopped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mdseg

from mdseg.notebook import REFERENCE, reference_profile
from mdseg.study.jobs import train_jobs
from mdseg.study.budget_suite import budget_suite
from mdseg.study.scale_suite import scale_suite
from mdseg.study.seed_plan import BEYOND, LEAST_SEEDS, MOST_SEEDS, plan, tables_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs", help="folder laid out like runs/ (default: runs)")
    parser.add_argument("--up-to", type=int, default=None, help="train each arm only as far as this many seeds")
    parser.add_argument("--least", type=int, default=LEAST_SEEDS, help=f"seeds per arm at least (default {LEAST_SEEDS})")
    parser.add_argument("--most", type=int, default=MOST_SEEDS, help=f"seeds per arm at most (default {MOST_SEEDS})")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, train nothing")
    args = parser.parse_args()
    cpu = reference_profile()
    scale = scale_suite(cpu, finished_only=True, progress=False, base=REFERENCE)
    at, tables, label = tables_at(budget_suite(cpu, finished_only=True, progress=False, base=REFERENCE), cpu)
    arms = plan(cpu, scale, tables, scale.lr_sgd, args.least, args.most, at, label)
    for arm in arms:
        most = "more than 200" if arm.needed == BEYOND else arm.needed
        why = (("its verdict needs" if arm.first == arm.needed else f"the verdicts it serves need {arm.first} to")
               + f" {most}" if arm.needed else "the floor")
        seeds = arm.seeds(args.up_to)
        print(f"{arm.label}: {arm.wanted} seeds ({why}); this call trains "
              + (f"seeds {seeds[0]}-{seeds[-1]}" if seeds else "nothing"))
    print(f"{sum(len(a.seeds(args.up_to)) for a in arms)} runs beyond the pilot this call "
          f"({sum(len(a.seeds()) for a in arms)} in the whole plan)")
    if args.dry_run:
        return 0
    from mdseg.study.planning import format_duration, kept_diverged, plan as run_plan  # times a step: needs torch
    from mdseg.study.profiles import runs_root

    left = [run_plan(arm.job[0], runs_root(arm.job[0], args.runs), [arm.job[1]], arm.seeds(args.up_to),
                     keep_divergence=True)
            for arm in arms if arm.seeds(args.up_to)]
    todo, seconds = sum(len(p.todo) for p in left), sum(p.seconds for p in left)
    print(f"{todo} of them still to train or resume under {args.runs}{kept_diverged(sum(p.diverged for p in left))}"
          + (f", about {format_duration(seconds)} on this machine." if todo else "."), flush=True)
    for arm in arms:
        if arm.seeds(args.up_to):
            train_jobs([arm.job], arm.seeds(args.up_to), None, True, True, arm.label, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
