"""The kit's findings in a few sentences, computed from finished runs (the shipped reference, or
yours): naive joint training against its baseline at the paper's setting and across the scale map,
the collapse and what rescues it, and the paper's best recipe. Every sentence carries its interval
and the range it was tested on; the README's story and notebook 00 print these."""
from __future__ import annotations

import math

from ..training.schedule import BASELINE, BEST_RECIPE, NAIVE
from .budget_report import curves, reading_budget, reading_sentence
from .compare import MARGIN, comparison
from .copy_suite import copy_conclusion
from .mechanism import mechanism, vanished_sentence
from .paper import PAPER, PAPER_TEXT
from .reference import label
from .jobs import trained
from .report import depth_text, measured_r2
from .records import Results
from .run_record import RunRecord
from .profiles import PROFILES, Profile
from .scale_report import collapse_count
from .scale_suite import FOLLOW_UP, ScaleSuite, describe_optimiser


def setting(profile: Profile, quick: bool = False) -> str:
    """``cpu profile: Adam 0.001, cosine, normalised depth, 2 epochs per stage``: what a finding was read at
    (``quick``: followed by ``, the quick budget``, for a profile whose verdicts the budget suite reads longer)."""
    return (f"{profile.name} profile: {describe_optimiser(profile)}, {profile.depth_target} depth, "
            f"{profile.stage_epochs} epochs per stage" + (", the quick budget" if quick else ""))


def _relative(c) -> str:
    base = sum(c.baseline_values) / len(c.baseline_values)
    if c.interval is None:
        return f"{c.diff / base:+.1%} of the baseline ({c.verdict})"
    return f"{c.diff / base:+.1%} [{c.interval[0] / base:+.1%}, {c.interval[1] / base:+.1%}] of the baseline"


def _seeds(c) -> str:
    return f"{len(c.common_seeds)} paired seeds" if c.paired else f"{len(c.values)} and {len(c.baseline_values)} seeds"


def findings(tables: Results, scale: ScaleSuite | None = None, setting: str = "",
             budget: dict[int, Results] | None = None, copied: Results | None = None) -> list[str]:
    """Sentences from ``tables`` (Tables 2-3 runs at the profile's setting, described by ``setting``),
    ``scale`` (the scale suite, with its mechanism controls), ``budget`` (the budget suite) and
    ``copied`` (the copy suite), each with its 95% paired interval relative to the baseline; a suite
    with no finished runs says nothing."""
    out = []
    summary = tables.summary
    if NAIVE in summary and BASELINE in summary:
        c = comparison(summary, NAIVE, BASELINE)
        out.append(f"Naive joint training{f' ({setting})' if setting else ''}: {c.diff:+.4f} mIoU, "
                   f"{_relative(c)}, {_seeds(c)}: {c.verdict}; {c.against_margin} (the margin: ± {MARGIN:.1%}, "
                   "about the paper's text gap).")
    if scale is not None:
        stage = PROFILES[scale.profile].stage_epochs
        quick = bool(budget) and reading_budget(budget)[0] != stage
        out += _scale_findings(scale, f"{stage} epochs per stage" + (", the quick budget" if quick else ""))
    if BEST_RECIPE in summary and BASELINE in summary:
        c = comparison(summary, BEST_RECIPE, BASELINE)
        out.append(f"The paper's best recipe, {BEST_RECIPE}{f' ({setting})' if setting else ''}: {c.diff:+.4f} mIoU, "
                   f"{_relative(c)}, {_seeds(c)}: {c.verdict}; {c.against_margin}.")
    if budget:
        out += _budget_findings(budget)
    if copied is not None:
        out += [line for line in copy_conclusion(copied)[1:] if "closes" in line or "does not close" in line]
    return out


def _budget_findings(budget: dict[int, Results]) -> list[str]:
    """Where the baseline stops improving, and the story's comparisons at the budget the tables are read at."""
    base = curves(budget).get(BASELINE, [])
    if len(base) < 2 or len(budget) < 2:
        return []
    epochs, _ = reading_budget(budget)
    steps = ", ".join(f"{p.entry['mIoU']['mean']:.3f} at {p.epochs}" for p in base)
    line = f"Trained longer (the budget suite), the baseline reaches {steps} epochs. {reading_sentence(budget)}"
    return [line] + catch_up(budget)


def catch_up(budget: dict[int, Results]) -> list[str]:
    """The budget question answered per story recipe: its paired difference from the baseline at the
    quick budget (the fewest epochs per stage) and at the budget the tables are read at, and what that
    says: passes, stays below, or not distinguishable."""
    epochs, _ = reading_budget(budget)
    quick = min(budget)
    at, before = budget[epochs].summary, budget[quick].summary
    out = []
    for recipe in (NAIVE, BEST_RECIPE):
        if recipe not in at or BASELINE not in at:
            continue
        c = comparison(at, recipe, BASELINE)
        if not c.tested:
            out.append(f"At {epochs} epochs per stage, {recipe}: {c.diff:+.4f} mIoU, {c.verdict}, no test yet.")
            continue
        first = comparison(before, recipe, BASELINE) if quick != epochs and recipe in before and BASELINE in before else None
        was = f"from {_relative(first)} ({first.verdict}) at {quick} epochs per stage " if first and first.tested else ""
        answer = {"better": "it passes the baseline", "worse": "it stays below the baseline"}.get(
            c.verdict, "not distinguishable from the baseline, and these seeds cannot tell a full catch-up from a "
                       "remaining cost or a gain within that interval")
        out.append(f"Trained longer, {recipe} goes {was}to {_relative(c)} at {epochs} epochs per stage, "
                   f"{_seeds(c)}: {answer}; against the margin: {c.against_margin}.")
    return out


def _scale_findings(scale: ScaleSuite, at: str) -> list[str]:
    """The map's and the collapse's sentences, the map read at ``at`` (e.g. "2 epochs per stage, the quick budget")."""
    rows = [r for r in scale.map_points() if r["comparison"].tested]
    if not rows:
        return []
    worse = [r for r in rows if r["comparison"].verdict == "worse"]
    lower = sum(r["rel"] < 0 for r in rows)
    held = [r for r in rows if r["p_holm"] is not None and r["p_holm"] < 0.05]
    collapse = [r for r in rows if r["collapsed"]]
    mild = [r for r in worse if not r["collapsed"]]
    seeds = "/".join(map(str, sorted({r["seeds"] for r in rows})))
    line = (f"Across the scale map ({len(rows)} points: depth scales "
            f"{', '.join(f'{s:g}' for s in sorted({r['depth_scale'] for r in rows}))} and 8-bit depth images, three optimisers, "
            f"{seeds} paired seeds each, {at}): naive joint training's mean is below its baseline's at {lower} of {len(rows)} "
            f"points and measurably below (95% interval under 0) at {len(worse)}")
    if mild:
        line += (f"; where it is measurable without collapsing it costs {min(-r['rel'] for r in mild):.1%} to "
                 f"{max(-r['rel'] for r in mild):.1%} of the baseline")
    line += (f". {len(held)} of the {len(rows)} points {'holds' if len(held) == 1 else 'hold'} when the map is read as "
             "one family (Holm)"
             + (": " + ", ".join(r["point"].label for r in held) if held else "") + ".")
    out = [line]
    for r in collapse:
        finished = trained(scale.naive.get(r["point"], []))
        r2 = measured_r2(finished)
        depth = f"; naive joint's depth R² there {depth_text(r2, len(finished))}" if r2 else ""
        out.append(f"Collapse at {r['point'].label}: {collapse_count(r)}; {_relative(r['comparison'])}{depth}.")
        out.append(vanished_sentence("Per seed there", scale.naive.get(r["point"], [])))
        results = scale.follow_up.get(r["point"])
        if results is not None and "naive-joint/norm" in results.summary:
            c = comparison(results.summary, "naive-joint/norm", BASELINE)
            out.append(f"There per-image normalised depth (naive-joint/norm) trains {_relative(c)} "
                       f"({_seeds(c)}: {c.verdict}); of the paper's staged recipes "
                       f"{_staged_outcome(results, scale.follow_up_diverged.get(r['point'], {}))}.")
    out += mechanism(scale, every_point=False)  # the controls at the collapse, once it has been stated
    unclear = [r for r in rows if r["comparison"].verdict == "not distinguishable from 0" and not math.isnan(r["rel_low"])]
    if unclear:
        widest = min(unclear, key=lambda r: r["rel_low"])
        out.append(f"Not distinguishable from 0 at {len(unclear)} points, where the runs cannot rule out a cost of up to "
                   f"{-widest['rel_low']:.1%} of the baseline ({widest['point'].label}): more seeds would tell.")
    return out


def _staged_outcome(results: Results, diverged: dict[str, list[RunRecord]]) -> str:
    """How the 8 Table 3 recipes fared at a failing point: how many diverged on some seed, how many
    of the others are still below half the baseline."""
    staged = [r for r in FOLLOW_UP if "/" in r and r.split("/")[0] in ("semantic-first", "depth-first")]
    base = results.summary.get(BASELINE, {}).get("mIoU", {}).get("mean", math.nan)
    stopped = [r for r in staged if r in diverged]
    low = [r for r in staged if r in results.summary and results.summary[r]["mIoU"]["mean"] < 0.5 * base]
    return (f"{len(stopped)} of {len(staged)} diverged on at least one seed and {len(low)} of {len(staged)} end "
            "below half the baseline (means over the seeds that finished)")


def story(ref: Results, recipe: str, baseline: str = BASELINE) -> str:
    """Two lines: what the paper reports for ``recipe`` against ``baseline`` (both of its numbers
    where its text and table disagree), and what the reference shows, paired by seed with its
    interval, also relative to the baseline so the two can be set side by side."""
    base = PAPER[baseline]["mIoU"]
    numbers = {"Table 2": PAPER[recipe]["mIoU"], **({"text": PAPER_TEXT[recipe]["mIoU"]} if recipe in PAPER_TEXT else {})}
    told = " / ".join(f"{v:.4f} ({k})" if len(numbers) > 1 else f"{v:.4f}" for k, v in numbers.items())
    gaps = " / ".join(f"{v - base:+.4f}, {(v - base) / base:+.1%}" for v in numbers.values())
    line = f"The paper: {recipe} mIoU {told} vs {baseline} {base:.4f} ({gaps})."
    if len(numbers) > 1:
        line += " Its text and its Table 2 disagree."
    if recipe not in ref.summary or baseline not in ref.summary:
        return line + f"\nThe {label('cpu', 'tables')}: no finished runs of both."
    c = comparison(ref.summary, recipe, baseline)
    relative = ""
    if c.interval is not None:
        mean = sum(c.baseline_values) / len(c.baseline_values)
        relative = (f" Relative to the baseline: {c.diff / mean:+.1%} "
                    f"[{c.interval[0] / mean:+.1%}, {c.interval[1] / mean:+.1%}].")
    return line + f"\nThe {label('cpu', 'tables')}: " + c.sentence() + relative
