"""Print the README's measured tables from the shipped reference runs (and draw the failure map), so
the README says exactly what ``mdseg/reference/cpu`` holds:

    python tools/reference_tables.py [--map docs/failure-map.png]

Sections: the story (paper vs reference), Tables 2-3, the failure suite, the scale suite; each names
its device and how many seeds each row has. Nothing trains.
"""
from __future__ import annotations

import argparse

from mdseg.notebook import REFERENCE, reference, reference_profile, story
from mdseg.study.failure_suite import failure_suite
from mdseg.study.reference import label, provenance
from mdseg.study.report import failure_conclusion, table3_markdown, weights_markdown
from mdseg.study.scale_report import conclusion, depth_first_markdown, points_markdown, sweep_markdown
from mdseg.study.scale_suite import scale_suite
from mdseg.training.schedule import BEST_RECIPE, NAIVE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map", default=None, help="also save the failure map as this PNG")
    args = parser.parse_args()
    cpu = reference_profile()
    tables = reference()
    print("## Story\n")
    for recipe in (NAIVE, BEST_RECIPE):
        print(story(tables, recipe) + "\n")
    for suite, about in provenance("cpu").items():
        print(f"- {suite}: {about['runs']} runs, {about['device']}, {about['precision']}, torch {about['torch']}, "
              f"finished {about['first_finished']} to {about['last_finished']}, `{about['command']}`")
    print(f"\n## Tables 2 and 3 ({label('cpu', 'tables')})\n\n" + tables.markdown())
    failure = failure_suite(cpu, finished_only=True, progress=False, base=REFERENCE)
    summaries = {target: results.summary for target, results in failure.items()}
    diagnostics = {target: results.diagnostics(NAIVE) for target, results in failure.items()}
    print(f"\n## The failure suite ({label('cpu', 'failure')})\n\n" + weights_markdown(summaries) + "\n\n"
          + table3_markdown(summaries) + "\n")
    print("\n".join(f"- {line}" for line in failure_conclusion(summaries, diagnostics)))
    scale = scale_suite(cpu, finished_only=True, progress=False, base=REFERENCE)
    print(f"\n## The scale suite ({label('cpu', 'scale')})\n\n" + sweep_markdown(scale) + "\n\n" + points_markdown(scale)
          + "\n\n" + depth_first_markdown(scale) + "\n")
    for results in scale.follow_up.values():
        print(results.markdown() + "\n")
    print("\n".join(f"- {line}" for line in conclusion(scale)))
    if args.map:
        import matplotlib

        matplotlib.use("Agg")
        from mdseg.viz import failure_map

        failure_map(scale.map_points()).savefig(args.map, dpi=110)
        print(f"\nsaved {args.map}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
