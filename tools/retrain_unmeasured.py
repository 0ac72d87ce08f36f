"""Retrain the shipped runs that train depth but predate depth quality, so that the reference gains it
without changing a number: each run is trained again from its stored identity (settings, schedule, seed)
into ``--runs``, then

    python -m mdseg reference --from <runs> --suites <suite> --fill-in

ships only the retrains that reproduce the shipped mIoU exactly (:func:`mdseg.study.reference.exact_retrain`)
and lists the others. A seed reproduces exactly only on the kind of machine that trained it, so by default
the runs recorded on this machine's CPU model are retrained first, then those that record no model (some
were trained on one like it); ``--any-host`` adds runs recorded on other models (their retrains differ:
shipping them means replacing a whole suite with ``--replace``, a decision of its own).

    python tools/retrain_unmeasured.py [--runs runs] [--suites failure scale ...] [--match TEXT] [--any-host] [--limit N] [--dry-run]

``--match x255-sgd`` retrains only the runs whose folder names it (e.g. the collapse's point first).

Interrupted, it resumes where it stopped (finished retrains are reused).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mdseg

from tqdm.auto import tqdm

from mdseg.study.placement import retrain
from mdseg.study.profiles import PROFILES
from mdseg.study.reference import exact_retrain, reference_root, suite_runs, unmeasured
from mdseg.study.suites import SUITES
from mdseg.training import runs


def this_host() -> str:
    """This machine's CPU model as runs record it (:attr:`mdseg.study.run_record.RunRecord.host`)."""
    import torch

    from mdseg.runtime.device import device_info

    return device_info(torch.device("cpu")).get("model") or "not recorded"


def unmeasured_copy(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run without depth quality (a copy of a shipped run, not a retrain)."""
    return (folder / runs.RESULT).exists() and "depth_r2" not in runs.read_result(folder)["metrics"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs", help="where the retrains go, laid out like runs/ (default: runs)")
    parser.add_argument("--profile", choices=list(PROFILES), default="cpu")
    parser.add_argument("--suites", nargs="+", choices=list(SUITES), default=list(SUITES), metavar="SUITE")
    parser.add_argument("--any-host", action="store_true", help="also runs recorded on another CPU model, or on none")
    parser.add_argument("--match", default="", metavar="TEXT",
                        help="only runs whose folder, e.g. cpu-x255-sgd-lr0.01/naive-joint/seed0, contains TEXT")
    parser.add_argument("--limit", type=int, default=None, help="retrain at most this many runs this call")
    parser.add_argument("--dry-run", action="store_true", help="list the runs, train nothing")
    args = parser.parse_args()
    root, host = reference_root(args.profile), this_host()
    found = {r.run_dir: r for suite in args.suites for r in suite_runs(PROFILES[args.profile], suite, root)
             if unmeasured(r) and args.match in str(r.run_dir.relative_to(root))}
    order = {host: 0, "not recorded": 1}
    chosen = sorted((r for r in found.values() if args.any_host or r.host in order),
                    key=lambda r: (order.get(r.host, 2), str(r.run_dir)))[:args.limit]
    print(f"{len(found)} shipped runs{f' matching {args.match!r}' if args.match else ''} train depth without recording its quality; {len(chosen)} to retrain here "
          f"(recorded on this CPU model, {host}, first; then {'every other' if args.any_host else 'no recorded'} model).")
    for r in chosen:
        print(f"  {r.run_dir.relative_to(root)} (mIoU {r.miou:.4f}, {r.host})")
    if args.dry_run:
        return 0
    copies = [r for r in chosen if unmeasured_copy(Path(args.runs) / r.run_dir.relative_to(root))]
    if copies:
        print(f"{args.runs} already holds {len(copies)} of these runs finished without depth quality (e.g. "
              f"{copies[0].run_dir.relative_to(root)}), copies of the reference that a retrain would reuse: "
              "give an empty or separate --runs folder.", file=sys.stderr)
        return 2
    for r in tqdm(chosen, desc="retraining", unit="run"):
        retrained = retrain(r.run_dir, Path(args.runs) / r.run_dir.relative_to(root), progress=False)
        same = "reproduced" if exact_retrain(retrained, r) else f"differs ({retrained.miou:.4f})"
        tqdm.write(f"{r.run_dir.relative_to(root)}: shipped {r.miou:.4f}, {same}")
    print(f"Next: python -m mdseg reference --from {args.runs} --suites {' '.join(args.suites)} --fill-in")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
