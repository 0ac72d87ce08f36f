"""The failure suite's tables and conclusion (``reproduce --suite failure``): naive joint training at
each depth weight, Tables 2 and 3 under each depth unit, and why naive joint training fails, every claim
through :mod:`mdseg.study.compare`."""
from __future__ import annotations

from ..training.schedule import NAIVE, PAPER_DEPTH_WEIGHT
from .compare import comparison, format_stat
from .paper import PAPER, both_numbers
from .report import DEPTH_NOTE, VERSUS_NOTE, depth_cell, read_diagnostics

COLLAPSE = ("depth-first/copy/b", "depth-first/no-copy/b")  # the paper: mIoU 0.0136 and 0.0085


def weights_markdown(suite: dict[str, dict[str, dict]], baseline: str = "single-decoder") -> str:
    """Naive joint training at each depth weight, one column per depth target: mIoU mean ± std and
    the test against ``baseline``; ``-`` where a run is not finished. ``suite``: target ->
    :func:`summarize` result."""
    targets = list(suite)
    weights = sorted({w for s in suite.values() for w in naive_runs(s)})
    lines = ["| depth weight w | " + " | ".join(f"{t}: mIoU | {t}: vs {baseline} | {t}: depth R²" for t in targets) + " |",
             "|---|" + "---|---|---|" * len(targets)]
    for w in weights:
        cells = []
        for t in targets:
            name = naive_runs(suite[t]).get(w)
            versus = comparison(suite[t], name, baseline).cell() if name and baseline in suite[t] else "-"
            cells += [format_stat(suite[t][name]["mIoU"]) if name else "-", versus, depth_cell(suite[t][name]) if name else "-"]
        lines.append(f"| {w:g}{' (paper)' if w == PAPER_DEPTH_WEIGHT else ''} | " + " | ".join(cells) + " |")
    base = next((s[baseline]["mIoU"] for s in suite.values() if baseline in s), None)
    told = f"mIoU {format_stat(base)}" if base else "not finished"
    return "\n".join(lines + ["", f"{baseline} (no depth): {told}. Naive joint training trains "
                                  f"(1 - w) L_seg + w L_depth from the start. {DEPTH_NOTE} Against {baseline}: {VERSUS_NOTE}"])


def table3_markdown(suite: dict[str, dict[str, dict]]) -> str:
    """Tables 2 and 3 under each depth target beside the paper's mIoU (``-``: not finished)."""
    targets = list(suite)
    names = [n for n in PAPER if any(n in s for s in suite.values())]
    lines = ["| recipe | paper mIoU | " + " | ".join(f"{t}: mIoU" for t in targets) + " |",
             "|---|---|" + "---|" * len(targets)]
    for name in names:
        lines.append(f"| {name} | {both_numbers(name)} | "
                     + " | ".join(format_stat(suite[t][name]["mIoU"]) if name in suite[t] else "-" for t in targets)
                     + " |")
    return "\n".join(lines)


def naive_runs(summary: dict) -> dict[float, str]:
    """``{depth weight: run name}`` of the plain naive joint runs in ``summary`` (entries whose
    ``recipe`` is ``naive-joint``, at their ``depth_weight``; variants such as ``naive-joint/ssi``
    are other recipes), by increasing weight."""
    runs = {float(e["depth_weight"]): name for name, e in summary.items() if e.get("recipe") == NAIVE}
    return dict(sorted(runs.items()))


def _units_line(naive_worse: dict[str, bool], failing: list[str]) -> str:
    """The loss-scale hypothesis, judged over the depth targets whose naive runs finished."""
    if failing and len(failing) < len(naive_worse):
        return (f"Loss scale (units): naive joint training falls below the baseline with {', '.join(failing)} "
                f"depth targets and not with {', '.join(t for t in naive_worse if t not in failing)}: the depth "
                "target's units reproduce the paper's naive failure here.")
    if failing:
        return ("Loss scale (units): naive joint training falls below the baseline with every depth target "
                "tried, so the units are not needed for the failure here.")
    return (f"Loss scale (units): naive joint training does not fall below the baseline by the test with "
            f"any depth target tried ({', '.join(naive_worse)}), so the paper's naive failure does not "
            "appear at these units (w = 0.15, the profile's optimiser); larger loss scales and other "
            "optimisers are the scale suite's question.")


def failure_conclusion(suite: dict[str, dict[str, dict]], diagnostics: dict[str, list[dict]] | None = None,
                       baseline: str = "single-decoder") -> list[str]:
    """Which hypothesis reproduces which part of the paper's pattern, from the numbers of
    :func:`mdseg.study.failure_suite.failure_suite` (``target -> summarize() result``) and, optionally, the
    naive runs' diagnostics per target. Parts: naive joint training below the baseline; the
    depth-first/b recipes collapsing; depth-first/copy/s->b best. Hypotheses: depth target units
    (loss scale), an untuned weight, gradient conflict. Every claim rests on a stated test; parts
    whose runs are not finished are said to be so."""
    if not any(baseline in summary for summary in suite.values()):
        return [f"No finished {baseline} run: nothing to compare with yet."]
    suite = {t: summary for t, summary in suite.items() if baseline in summary}
    out = []
    naive_worse = {}
    for target, summary in suite.items():
        if NAIVE not in summary:
            out.append(f"[{target} depth] Naive joint at the paper's weight: not finished.")
            continue
        c = comparison(summary, NAIVE, baseline)
        naive_worse[target] = c.verdict == "worse"
        out.append(f"[{target} depth] Naive joint at the paper's weight: {c.sentence()}")
    failing = [t for t, worse in naive_worse.items() if worse]
    if naive_worse:  # else no naive run finished: nothing to say about units
        out.append(_units_line(naive_worse, failing))
    for target, summary in suite.items():
        tests = {w: comparison(summary, n, baseline) for w, n in naive_runs(summary).items()}
        tried = [w for w, c in tests.items() if c.tested]
        worse_at = [w for w in tried if tests[w].verdict == "worse"]
        untested = [f"; w = {', '.join(f'{w:g}' for w, c in tests.items() if c.verdict == reason)} has {label}, not tested"
                    for reason, label in (("one seed", "one seed"), ("no spread", "no spread over seeds"))
                    if any(c.verdict == reason for c in tests.values())]
        if len(tried) > 1:
            verdict = (f"below the baseline at w = {', '.join(f'{w:g}' for w in worse_at)} and not at the others"
                       if worse_at and len(worse_at) < len(tried) else
                       "below the baseline at every weight tried" if worse_at else "not below the baseline at any weight tried")
            out.append(f"Weight ({target} depth): naive joint training is {verdict} "
                       f"(w = {', '.join(f'{w:g}' for w in tried)}){''.join(untested)}.")
    for target, summary in suite.items():
        present = [r for r in COLLAPSE if r in summary]
        if present:
            collapsed = [r for r in present if comparison(summary, r, baseline).verdict == "worse"
                         and summary[r]["mIoU"]["mean"] < 0.5 * summary[baseline]["mIoU"]["mean"]]
            out.append(f"Collapse ({target} depth): {len(collapsed)} of {len(present)} depth-first/b recipes fall to "
                       "less than half the baseline's mIoU (the paper: both, to about 0.01)"
                       + (f": {', '.join(collapsed)}." if collapsed else "."))
        if "depth-first/copy/s->b" in summary:
            c = comparison(summary, "depth-first/copy/s->b", baseline)
            top = max(summary, key=lambda r: summary[r]["mIoU"]["mean"])
            highest = ("has the highest mean, as in the paper" if top == "depth-first/copy/s->b"
                       else f"does not have the highest mean ({top} does)")
            out.append(f"Best recipe ({target} depth): depth-first/copy/s->b is {c.verdict} against the baseline "
                       f"and {highest}.")
    for target, summaries in (diagnostics or {}).items():
        if NAIVE in suite.get(target, {}):  # an unfinished target was said to be so above
            out.append(f"Gradients ({target} depth): {read_diagnostics(NAIVE, summaries)}")
    return out
