"""Print the README's measured tables from the shipped reference runs (and draw the failure map), so
the README says exactly what ``mdseg/reference/cpu`` holds:

    python tools/reference_tables.py [--map docs/failure-map.png] [--readme README.md]

Two blocks: the story (paper vs reference, each suite's provenance) and the tables (Tables 2-3, the
failure suite, the scale suite with its follow-ups); each names its device and how many seeds each
row has. ``--readme`` writes each block between its markers in the README
(``<!-- reference:story -->`` ... ``<!-- /reference:story -->``, the same for ``tables``) and leaves
everything else, the prose around them included, as it is. Nothing trains.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mdseg and its reference, not an installed one

from mdseg.notebook import REFERENCE, reference, reference_profile, story
from mdseg.study.failure_suite import failure_suite
from mdseg.study.reference import label, provenance
from mdseg.study.report import failure_conclusion, results_markdown, table3_markdown, weights_markdown
from mdseg.study.mechanism import controls_markdown
from mdseg.study.scale_report import conclusion, depth_first_markdown, points_markdown, sweep_markdown
from mdseg.study.experiments import Results
from mdseg.study.scale_suite import ScaleSuite, scale_suite
from mdseg.training.schedule import BEST_RECIPE, NAIVE


def story_block(tables: Results) -> str:
    """The paper against the reference's ``tables`` for naive joint and the paper's best recipe, and each suite's provenance."""
    lines = [f"- {line}" for recipe in (NAIVE, BEST_RECIPE) for line in story(tables, recipe).splitlines()]
    lines += ["", "Provenance of each suite:", ""]
    lines += [f"- {suite}: {about['runs']} of {about.get('planned', about['runs'])} runs, {about['device']}, "
              f"{about['precision']}, torch {about['torch']}, finished {about['first_finished']} to "
              f"{about['last_finished']}{', CPU models: ' + about['models'] if about.get('models') else ''}, "
              f"`{about['command']}`" for suite, about in provenance("cpu").items()]
    return "\n".join(lines)


def tables_block(tables: Results, scale: ScaleSuite) -> str:
    """Tables 2-3, the failure suite and the scale suite as the reference holds them."""
    cpu = reference_profile()
    parts = [_subsection(results_markdown(tables.summary, f"Tables 2 and 3 ({label('cpu', 'tables')})"))]
    failure = failure_suite(cpu, finished_only=True, progress=False, base=REFERENCE)
    summaries = {target: results.summary for target, results in failure.items()}
    diagnostics = {target: results.diagnostics(NAIVE) for target, results in failure.items()}
    parts.append(f"### The failure suite ({label('cpu', 'failure')})\n\n" + weights_markdown(summaries) + "\n\n"
                 + table3_markdown(summaries) + "\n\n"
                 + "\n".join(f"- {line}" for line in failure_conclusion(summaries, diagnostics)))
    parts.append(f"### The scale suite ({label('cpu', 'scale')})\n\n" + sweep_markdown(scale) + "\n\n"
                 + points_markdown(scale) + "\n\n" + depth_first_markdown(scale))
    parts += [_subsection(results.markdown()) for results in scale.follow_up.values()]
    if any(scale.controls.values()):
        parts.append("### The mechanism controls\n\n" + controls_markdown(scale))
    parts.append("\n".join(f"- {line}" for line in conclusion(scale)))
    return "\n\n".join(parts)


def _subsection(markdown: str) -> str:
    """A table titled ``## ...`` as a README subsection (``### ...``)."""
    return "#" + markdown if markdown.startswith("## ") else markdown


def fill(readme: Path, blocks: dict[str, str]) -> None:
    """Write each block between its markers in ``readme``; a missing marker is an error, nothing is written."""
    text = readme.read_text()
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- reference:{name} -->\n).*?(\n<!-- /reference:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{readme} has no <!-- reference:{name} --> ... <!-- /reference:{name} --> block: "
                             "add the two marker lines where the block belongs.")
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    readme.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map", default=None, help="also save the failure map as this PNG")
    parser.add_argument("--readme", type=Path, default=None, help="write the blocks into this README's markers")
    args = parser.parse_args()
    scale = scale_suite(reference_profile(), finished_only=True, progress=False, base=REFERENCE)
    tables = reference()  # read once: the story and the tables both come from it
    blocks = {"story": story_block(tables), "tables": tables_block(tables, scale)}
    if args.readme:
        fill(args.readme, blocks)
        print(f"wrote the story and tables blocks of {args.readme}")
    else:
        print("\n\n".join(blocks.values()))
    if args.map:
        import matplotlib

        matplotlib.use("Agg")
        from mdseg.viz import failure_map

        failure_map(scale.map_points()).savefig(args.map, dpi=110)
        print(f"saved {args.map}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
