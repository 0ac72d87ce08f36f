"""Why does the paper's weight copy hurt here? The copy suite (``reproduce --suite copy``).

``depth-first/copy/s->b`` against ``depth-first/no-copy/s->b`` at the profile's budget, and the copy
followed by one repair each (:func:`mdseg.training.schedule.copy_explanations`): re-estimating the copied
decoder's BatchNorm statistics on segmentation batches, re-initialising its last block, or ramping the
learning rate up over the first epoch after the copy (the last added after the first two had run). A repair that
closes the gap to no-copy names what the copy hurts with; one that does not rules that explanation out
(within what the seeds can resolve). Fixed before its first run; every run shares its folder with
Tables 2 and 3 (``runs/<profile>``).
"""
from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from ..training import runs as run_files
from ..training.schedule import BEST_RECIPE, copy_explanations
from .compare import comparison, format_stat
from .records import Results
from .run_record import RunRecord
from .jobs import train_jobs, trained
from .profiles import Profile
from .report import summarize

NO_COPY = "depth-first/no-copy/s->b"


def recipes(profile: Profile) -> list[str]:
    return [BEST_RECIPE, NO_COPY, *copy_explanations(profile.stage_epochs)]


def copy_suite(profile: Profile, seeds: list[int] | None = None, device: str | None = None, progress: bool = True,
               finished_only: bool = False, base: str | Path = "runs") -> Results:
    """Train (or, with ``finished_only``, only read) the suite of the module docstring; its runs
    as :class:`~mdseg.study.experiments.Results` (a recipe with no finished seed is left out)."""
    names = recipes(profile)
    if progress and not finished_only:
        from .planning import plan_line  # timing steps needs torch: reading the suite does not

        tqdm.write(plan_line("Copy suite", [(profile, r) for r in names], list(seeds or profile.seeds), device, base))
    done = train_jobs([(profile, r) for r in names], list(seeds or profile.seeds), device, progress,
                      not finished_only, f"copy suite [{profile.name}]", base)
    found = {r: trained(d) for r, d in zip(names, done) if trained(d)}
    return Results(profile.name, summarize(found), found, f"The weight copy and three repairs ({profile.name} profile)")


def first_steps_after_copy(run: RunRecord, steps: int = 1) -> dict[str, float]:
    """The segmentation stage's first diagnosed step of a depth-first/s->b run: its segmentation loss
    and, where recorded, the semantic decoder's dead-unit share (what the decoder starts from)."""
    records = run_files.read_records(run.run_dir / run_files.DIAGNOSTICS)
    first = [r for r in records if r.get("stage") == 1][:steps]
    if not first:
        return {}
    out = {"loss_seg": sum(r["loss"]["seg"] for r in first) / len(first)}
    if all("dead_seg" in r for r in first):
        out["dead_seg"] = sum(r["dead_seg"] for r in first) / len(first)
    return out


def copy_markdown(results: Results) -> str:
    """One row per recipe: mIoU, against the copy and against no-copy (paired), and what the
    segmentation stage starts from (its first diagnosed step's loss and dead semantic-decoder units)."""
    summary = results.summary
    lines = ["| recipe | seeds | mIoU | vs depth-first/copy/s->b | vs depth-first/no-copy/s->b | "
             "L_seg at the first step after the copy | dead semantic-decoder units then |", "|---|---|---|---|---|---|---|"]
    for recipe, entry in summary.items():
        cells = [comparison(summary, recipe, other).cell() if other in summary and other != recipe else "-"
                 for other in (BEST_RECIPE, NO_COPY)]
        starts = [first_steps_after_copy(r) for r in results.runs[recipe]]
        loss = [s["loss_seg"] for s in starts if "loss_seg" in s]
        dead = [s["dead_seg"] for s in starts if "dead_seg" in s]
        lines.append(f"| {recipe} | {len(entry['seeds'])} | {format_stat(entry['mIoU'])} | {cells[0]} | {cells[1]} | "
                     f"{', '.join(f'{v:.3f}' for v in loss) or '-'} | {', '.join(f'{v:.0%}' for v in dead) or '-'} |")
    return "\n".join(lines + ["", "Paired by seed with 95% intervals. The first step after the copy: the semantic "
                                  "stage's first diagnosed training step, per seed (runs trained before the "
                                  "diagnostics recorded it show '-')."])


def copy_conclusion(results: Results) -> list[str]:
    """Which repair, if any, closes the gap between the copy and no-copy."""
    summary = results.summary
    if BEST_RECIPE not in summary or NO_COPY not in summary:
        return ["The copy suite has no finished runs of both the copy and no-copy yet."]
    lines = [f"The copy against no-copy: {comparison(summary, BEST_RECIPE, NO_COPY).sentence()}"]
    for recipe in (r for r in summary if r not in (BEST_RECIPE, NO_COPY)):
        vs_copy, vs_none = comparison(summary, recipe, BEST_RECIPE), comparison(summary, recipe, NO_COPY)
        if vs_copy.verdict == "better" and vs_none.verdict != "worse":
            state = "closes the gap: better than the plain copy and not distinguishable from no-copy"
        elif vs_copy.verdict == "better":
            state = "closes part of the gap: better than the plain copy, still worse than no-copy"
        else:
            state = "does not close the gap by these seeds (not better than the plain copy)"
        lines.append(f"{recipe} {state} ({vs_copy.cell()} against the copy; {vs_none.cell()} against no-copy).")
    return lines
