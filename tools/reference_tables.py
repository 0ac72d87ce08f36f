"""Write the measured results from the shipped reference runs, so the README and the results page say
exactly what ``mdseg/reference/cpu`` holds (nothing trains):

    python tools/reference_tables.py [--map docs/failure-map.png] [--budget-figure docs/budget-curves.png]
                                     [--tradeoff-figure docs/tradeoff.png] [--results docs/results.md] [--readme README.md]

Without options it prints both blocks. The story block (the paper's claims, the kit's findings with
their intervals) goes between the README's ``<!-- reference:story -->`` markers; the results page
(the story, each suite's provenance and every table and conclusion) is written whole.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's mdseg and its reference, not an installed one

# Reading the reference needs no torch (a test runs this script with torch blocked); only --map,
# --budget-figure and --tradeoff-figure import the figures.

from mdseg.study.profiles import PROFILES
from mdseg.study.compare import comparison
from mdseg.study.run_record import HOSTS_NOTE
from mdseg.study.seed_plan import TABLE_RECIPES, arms_markdown, plan as seed_plan, seeds_plan_markdown, tables_at
from mdseg.study.budget_report import budget_conclusion, budget_markdown, curves
from mdseg.study.budget_suite import PLATEAU_GAIN, budget_suite
from mdseg.study.records import Results
from mdseg.study.run_record import RunRecord
from mdseg.study.failure_suite import failure_suite
from mdseg.study.copy_suite import copy_conclusion, copy_markdown, copy_suite
from mdseg.study.findings import findings, setting, story
from mdseg.study.mechanism import controls_markdown
from mdseg.study.paper import DISAGREEMENT
from mdseg.study.reference import counted, label, provenance, read, reference_root
from mdseg.study.failure_report import failure_conclusion, table3_markdown, weights_markdown
from mdseg.study.report import results_markdown
from mdseg.study.scale_report import conclusion, depth_first_markdown, points_markdown, sweep_markdown
from mdseg.study.scale_suite import ScaleSuite, scale_suite
from mdseg.study.tradeoff import tradeoff_panels
from mdseg.training.schedule import BASELINE, BEST_RECIPE, NAIVE


FRONT_PAGE = ("Naive joint training (", "Across the scale map", "Collapse at", "Per seed there", "There per-image",
              "Depth alone", "The paper's best recipe", "Trained longer", "At ")  # the findings the README's story keeps; the results page has them all


def story_block(tables: Results, scale: ScaleSuite, budget: dict[int, Results], copied: Results,
                front_page: bool = False) -> str:
    """The paper's two claims (both of its naive numbers), then the kit's findings with intervals
    (``front_page``: the few the README keeps)."""
    lines = [f"- {story(tables, recipe).splitlines()[0]}" for recipe in (NAIVE, BEST_RECIPE)]
    found = findings(tables, scale, setting(PROFILES['cpu'], quick=True), budget, copied)
    lines += [f"- {line}" for line in found if not front_page or line.startswith(FRONT_PAGE)]
    lines += ["", "Every table behind these lines, with each suite's provenance: [docs/results.md](docs/results.md)."]
    return "\n".join(lines)


def provenance_block() -> str:
    return "\n".join(f"- {suite}: {counted(about)}, {about['device']}, "
                     f"{about['precision']}, torch {about['torch']}, finished {about['first_finished']} to "
                     f"{about['last_finished']}{', CPU models: ' + about['models'] if about.get('models') else ''}, "
                     f"`{about['command']}`" for suite, about in provenance("cpu").items())


def results_page(tables: Results, scale: ScaleSuite, budget: dict[int, Results], copied: Results) -> str:
    """The whole results page: the story, provenance, and every suite's tables and conclusions."""
    cpu = PROFILES['cpu']
    at, read_at, where = tables_at(budget, cpu)  # where the story's verdicts are read
    parts = ["# Results, measured", "Written by `python tools/reference_tables.py --results docs/results.md` from the "
             "runs shipped in `mdseg/reference/cpu` (nothing trains); `python -m mdseg reproduce --profile cpu "
             "[--suite failure|scale|budget]` trains any of them on your machine, reusing what is finished. Every "
             "difference is paired by seed (the same seed gives two recipes the same initialisation and batches) "
             f"with its 95% interval. {HOSTS_NOTE} {DISAGREEMENT}",
             "## The story", story_block(tables, scale, budget, copied).rsplit("\n\n", 1)[0],
             "## Provenance of each suite", provenance_block(),
             _subsection(results_markdown(tables.summary, f"Tables 2 and 3 at the quick budget, {cpu.stage_epochs} epochs "
                                                          f"per stage ({label('cpu', 'tables', _runs(tables))})"))
             + (f"\n\nThe quick budget is what `make run` and the notebooks train. The story's verdicts are read at "
                f"{at.stage_epochs} epochs per stage, where the baseline stops improving: the budget suite below.")]
    failure = failure_suite(cpu, finished_only=True, progress=False, base=reference_root('cpu'))
    summaries = {target: results.summary for target, results in failure.items()}
    diagnostics = {target: results.diagnostics(NAIVE) for target, results in failure.items()}
    failure_runs = list({r.run_dir: r for results in failure.values() for r in _runs(results)}.values())
    parts.append(f"## The failure suite ({label('cpu', 'failure', failure_runs)})\n\n" + weights_markdown(summaries) + "\n\n"
                 + table3_markdown(summaries) + "\n\n"
                 + "\n".join(f"- {line}" for line in failure_conclusion(summaries, diagnostics)))
    parts.append(f"## The scale suite ({label('cpu', 'scale', scale.all_runs())})\n\n![the failure map](failure-map.png)\n\n"
                 + sweep_markdown(scale) + "\n\n" + points_markdown(scale) + "\n\n" + depth_first_markdown(scale))
    parts += [_subsection(results.markdown(), "### ") for results in scale.follow_up.values()]
    if any(scale.controls.values()):
        parts.append("### The mechanism controls\n\n" + controls_markdown(scale))
    parts.append("\n".join(f"- {line}" for line in conclusion(scale)))
    plan = {f"naive joint, {row['point'].label}": row["comparison"] for row in scale.map_points()}
    plan.update({f"{recipe}, {where}": comparison(read_at.summary, recipe, BASELINE)
                 for recipe in TABLE_RECIPES if recipe in read_at.summary})
    parts.append("### How many seeds each verdict needs\n\n" + seeds_plan_markdown(plan))
    parts.append("### Seeds per arm\n\n" + arms_markdown(seed_plan(cpu, scale, read_at, scale.lr_sgd, tables_profile=at,
                                                                   tables_label=where), reference_root("cpu")))
    if copied.runs:
        parts.append(f"## The copy suite ({label('cpu', 'copy', _runs(copied))})\n\n" + copy_markdown(copied) + "\n\n"
                     + "\n".join(f"- {line}" for line in copy_conclusion(copied)))
    drawn, left = tradeoff_panels(scale, budget, copied)
    if drawn:
        parts.append("## Both tasks: segmentation against depth quality\n\n![segmentation against depth quality](tradeoff.png)"
                     "\n\nPer recipe and seed, val mIoU against val depth R² (after per-image scale and shift; 1 = perfect, "
                     "0 = no better than a constant), a large black-edged mark at each mean; a recipe without depth is a horizontal band "
                     "(mean ± std), depth alone a vertical one. Panels: " + "; ".join(drawn) + ". Runs trained before "
                     "depth quality was recorded, and runs a non-finite loss stopped, are counted in each title, not drawn"
                     + (f"; not drawn yet, no run there records depth quality: {'; '.join(left)}." if left else "."))
    if budget:
        parts.append(f"## The budget suite ({label('cpu', 'budget', [r for res in budget.values() for r in _runs(res)])})\n\n![the budget curves](budget-curves.png)\n\n"
                     + budget_markdown(budget) + "\n\n" + "\n".join(f"- {line}" for line in budget_conclusion(budget)))
    return "\n\n".join(parts) + "\n"


def _runs(results: Results) -> list[RunRecord]:
    return [r for done in results.runs.values() for r in done]


def _subsection(markdown: str, level: str = "## ") -> str:
    """A table titled ``## ...`` as a section of the given level."""
    return level + markdown[3:] if markdown.startswith("## ") else markdown


def fill(readme: Path, blocks: dict[str, str]) -> None:
    """Write each block between its markers in ``readme``; a missing marker is an error, nothing is written."""
    text = readme.read_text()
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- reference:{name} -->\n).*?(<!-- /reference:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{readme} has no <!-- reference:{name} --> ... <!-- /reference:{name} --> block: "
                             "add the two marker lines where the block belongs.")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    readme.write_text(text)


def read_suites() -> tuple[Results, ScaleSuite, dict[int, Results], Results]:
    """``(Tables 2-3, the scale suite, the budget suite, the copy suite)`` as the shipped reference holds them."""
    cpu, root = PROFILES['cpu'], reference_root('cpu')
    return (read(), scale_suite(cpu, finished_only=True, progress=False, base=root),
            budget_suite(cpu, finished_only=True, progress=False, base=root),
            copy_suite(cpu, finished_only=True, progress=False, base=root))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map", default=None, help="also save the failure map as this PNG")
    parser.add_argument("--budget-figure", default=None, help="also save the budget suite's curves as this PNG")
    parser.add_argument("--tradeoff-figure", default=None, help="also save the trade-off figure (mIoU against depth R²) as this PNG")
    parser.add_argument("--results", type=Path, default=None, help="write the results page here")
    parser.add_argument("--readme", type=Path, default=None, help="write the story block into this README's markers")
    args = parser.parse_args()
    tables, scale, budget, copied = read_suites()
    story_text = story_block(tables, scale, budget, copied, front_page=True)
    page = results_page(tables, scale, budget, copied)
    if args.readme:
        fill(args.readme, {"story": story_text})
        print(f"wrote the story block of {args.readme}")
    if args.results:
        args.results.write_text(page)
        print(f"wrote {args.results}")
    if not (args.readme or args.results):
        print(page)
    if args.map or args.budget_figure or args.tradeoff_figure:
        import matplotlib

        matplotlib.use("Agg")
        from mdseg.viz import budget_curves, failure_map, tradeoffs

        if args.map:
            failure_map(scale.map_points()).savefig(args.map, dpi=110)
            print(f"saved {args.map}")
        if args.budget_figure:
            budget_curves(curves(budget), PLATEAU_GAIN).savefig(args.budget_figure, dpi=110)
            print(f"saved {args.budget_figure}")
        if args.tradeoff_figure:
            tradeoffs(tradeoff_panels(scale, budget, copied)[0]).savefig(args.tradeoff_figure, dpi=100)
            print(f"saved {args.tradeoff_figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
