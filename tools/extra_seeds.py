"""Train the extra seeds the statistics ask for (``mdseg.study.power``): from the shipped reference's
3-seed pilot, each naive-joint comparison of the scale map (and of Tables 2 and 3 at the profile's
setting) gets the paired seeds its verdict needs against the margin, capped at ``--most``; both arms
of a comparison train the same seeds (a baseline shared by several points takes the largest). The
target of each comparison is fixed from the pilot before any extra seed trains (no peeking while
training). Every run goes to the folder its settings name, so the suites then read it like the rest.

    python tools/extra_seeds.py [--runs runs] [--most 6] [--up-to 5] [--dry-run]

``--up-to N`` trains only the comparisons that need at most N seeds (the cheapest to decide first).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mdseg

import numpy as np

from mdseg.notebook import REFERENCE, reference, reference_profile
from mdseg.study.compare import comparison
from mdseg.study.jobs import train_jobs
from mdseg.study.power import seeds_needed
from mdseg.study.scale_suite import baseline_profile, point_profile, scale_suite
from mdseg.training.schedule import BASELINE, NAIVE

PILOT_SEEDS = 3  # seeds 0-2, shipped: only the seeds beyond them train (the pilot is never retrained)


def targets(most: int, up_to: int | None = None) -> list[tuple[str, object, str, int]]:
    """``(label, profile with the arm's settings, recipe, seeds wanted)`` per arm, cheapest first, for the
    undecided comparisons that need at most ``up_to`` seeds (all with ``None``)."""
    cpu = reference_profile()
    scale = scale_suite(cpu, finished_only=True, progress=False, base=REFERENCE)
    comparisons = [(row["point"].label, point_profile(cpu, row["point"], scale.lr_sgd),
                    baseline_profile(cpu, row["point"].optimiser, scale.lr_sgd), row["comparison"])
                   for row in scale.map_points()]
    tables = reference()
    comparisons.append(("Tables 2-3", cpu, cpu, comparison(tables.summary, NAIVE, BASELINE)))
    arms: dict[str, tuple[str, object, str, int]] = {}
    for label, naive, base, c in comparisons:
        if not c.paired or not c.tested or c.against_margin != "inconclusive":
            continue  # decided already (or no test yet)
        wanted = min(seeds_needed(float(np.std(c.differences, ddof=1)), c.margin_abs) or most, most)
        if up_to is not None and wanted > up_to:
            continue
        for key, variant, recipe in ((f"naive joint, {label}", naive, NAIVE), (f"baseline of {label}", base, BASELINE)):
            folder = f"{variant}{recipe}"
            if folder not in arms or arms[folder][3] < wanted:
                arms[folder] = (key, variant, recipe, wanted)
    return sorted(arms.values(), key=lambda arm: arm[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs", help="folder laid out like runs/ (default: runs)")
    parser.add_argument("--most", type=int, default=6, help="seeds per arm at most (default 6)")
    parser.add_argument("--up-to", type=int, default=None, help="only comparisons that need at most this many seeds")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, train nothing")
    args = parser.parse_args()
    plan = targets(args.most, args.up_to)
    for label, _, _, wanted in plan:
        print(f"{label}: seeds 0-{wanted - 1} (trains {PILOT_SEEDS}-{wanted - 1})")
    print(f"{sum(max(w - PILOT_SEEDS, 0) for *_, w in plan)} runs beyond the {PILOT_SEEDS}-seed pilot")
    if args.dry_run:
        return 0
    for label, variant, recipe, wanted in plan:
        train_jobs([(variant, recipe)], list(range(PILOT_SEEDS, wanted)), None, True, True, label, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
