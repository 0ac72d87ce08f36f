"""Time to accuracy: wall seconds until the single-decoder baseline first reaches val mIoU
0.3 / 0.4 / 0.5, starting from the shipped synthetic-pretrained encoder vs from random weights.

Each start trains the profile's baseline recipe (validation after every epoch); ``--budgets``
also runs longer budgets (multiples of the profile's epochs), so a start that never reaches a
threshold in the profile's budget shows what more time buys.

    python benchmarks/bench_learning.py --profile cpu --budgets 1 3
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from mdseg.runtime.device import pick_device
from mdseg.study.experiments import train_recipe
from mdseg.study.profiles import get_profile

from common import machine

THRESHOLDS = (0.3, 0.4, 0.5)


def time_to(history: list[dict], threshold: float) -> str:
    """Training seconds at the end of the first epoch whose val mIoU reaches ``threshold``."""
    for record in history:
        if record["val"]["mIoU"] >= threshold:
            return f"{record['seconds']:7.0f} s (epoch {record['global_epoch']})"
    return "not reached"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1], help="multiples of the profile's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    args = parser.parse_args()
    base = get_profile(args.profile)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-learning-"))
    print(f"# bench_learning: profile {base.name}, seed {args.seed}, {machine(pick_device(None))}")
    print(f"{'start':<24}{'epochs':>7}  " + "".join(f"{'mIoU ' + str(t):>26}" for t in THRESHOLDS)
          + f"{'final mIoU':>12}{'wall':>8}")
    for budget in args.budgets:
        for weights in ("synthetic", None):
            profile = replace(base, encoder_weights=weights, stage_epochs=base.stage_epochs * budget)
            name = f"{'pretrained' if weights else 'random init'} ({profile.encoder})"
            result = train_recipe(profile, "single-decoder", args.seed, out / f"{weights}-x{budget}", progress=False)
            history = result["history"]
            print(f"{name:<24}{len(history):>7}  " + "".join(f"{time_to(history, t):>26}" for t in THRESHOLDS)
                  + f"{result['metrics']['mIoU']:>12.4f}{history[-1]['seconds']:>7.0f}s", flush=True)


if __name__ == "__main__":
    main()
