"""Write the reference's Figure 3 gallery (``mdseg.study.gallery``): train (or reuse) seed 0 of the
baseline, naive joint, the paper's best recipe and, at the shipped scale suite's failing point, naive
joint and ``naive-joint/norm`` under ``<runs>/gallery-runs``, then save their predictions on the first 16
val images into ``<runs>/gallery`` (copy that folder to ``mdseg/reference/cpu/gallery``):

    python tools/reference_gallery.py [--runs runs]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mdseg

from mdseg.study.gallery import main_gallery


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs", help="folder laid out like runs/ (default: runs)")
    args = parser.parse_args()
    provenance = main_gallery(args.runs)
    for label, about in provenance["runs"].items():
        print(f"{label}: val mIoU {about['metrics']['mIoU']:.4f}, checkpoint {about['checkpoint_sha256'][:12]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
