"""The paper's numbers (Tables 2 and 3) and results tables that put ours beside them."""
from __future__ import annotations

import math

import numpy as np

# Kim, Kim & Lee (2024). "iIoU" is the paper's name; see PAPER.md for why its definition is unclear.
PAPER: dict[str, dict[str, float]] = {
    "single-decoder": {"mIoU": 0.7703, "iIoU": 0.48, "acc": 0.986},
    "naive-joint": {"mIoU": 0.6412, "iIoU": 0.15, "acc": 0.977},
    "semantic-first/copy/d->b": {"mIoU": 0.7297, "iIoU": 0.3759, "acc": 0.9840},
    "semantic-first/copy/b": {"mIoU": 0.7481, "iIoU": 0.4231, "acc": 0.9852},
    "semantic-first/no-copy/d->b": {"mIoU": 0.7380, "iIoU": 0.3945, "acc": 0.9845},
    "semantic-first/no-copy/b": {"mIoU": 0.7475, "iIoU": 0.4221, "acc": 0.9852},
    "depth-first/copy/s->b": {"mIoU": 0.7789, "iIoU": 0.5052, "acc": 0.9974},
    "depth-first/copy/b": {"mIoU": 0.0136, "iIoU": 0.0061, "acc": 0.9103},
    "depth-first/no-copy/s->b": {"mIoU": 0.7737, "iIoU": 0.5012, "acc": 0.9870},
    "depth-first/no-copy/b": {"mIoU": 0.0085, "iIoU": 0.0103, "acc": 0.9094},
}
METRICS = ("mIoU", "fg_mIoU", "iIoU", "acc")


def mean_std(values: list[float]) -> dict:
    """``{"mean", "std" (sample; 0 for one value), "values"}`` of values over seeds."""
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "values": list(values)}


def format_stat(stat: dict, fmt: str = "{:.4f}") -> str:
    """``mean ± std`` (just the mean for one value, ``n/a`` for NaN), each formatted with ``fmt``."""
    if math.isnan(stat["mean"]):
        return "n/a"
    if len(stat["values"]) == 1:
        return fmt.format(stat["mean"])
    return f"{fmt.format(stat['mean'])} ± {fmt.format(stat['std']).lstrip('+')}"


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Per recipe, mean and sample standard deviation over seeds of each metric.

    Args:
        runs: recipe -> list of run results (``train.run``'s return value), one per seed.
    """
    out = {}
    for recipe, results in runs.items():
        entry = {"seeds": [r.get("seed") for r in results], "budget": results[0]["budget"], "paper": PAPER.get(recipe)}
        for metric in METRICS:
            entry[metric] = mean_std([r["metrics"].get(metric, float("nan")) for r in results])
        out[recipe] = entry
    return out


def _paper(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def results_markdown(summary: dict[str, dict], title: str = "") -> str:
    """A Markdown table: our mean ± std over seeds beside the paper's number for each recipe."""
    lines = [f"## {title}", ""] if title else []
    lines += [
        "| recipe | epochs (seg / depth / total) | seeds | mIoU | paper mIoU | fg mIoU | iIoU (inst.) | paper iIoU | acc | paper acc |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for recipe, e in summary.items():
        b, p = e["budget"], e["paper"] or {}
        lines.append(
            f"| {recipe} | {b['seg_epochs']} / {b['depth_epochs']} / {b['epochs']} | {len(e['seeds'])} | "
            f"{format_stat(e['mIoU'])} | {_paper(p.get('mIoU'))} | {format_stat(e['fg_mIoU'])} | {format_stat(e['iIoU'])} | "
            f"{_paper(p.get('iIoU'))} | {format_stat(e['acc'])} | {_paper(p.get('acc'))} |"
        )
    lines += ["", "mIoU over 21 classes; fg mIoU over the 20 object classes (the paper's written 'iIoU' definition); "
              "iIoU (inst.) is Cityscapes' instance-weighted IoU. Mean ± sample std over seeds."]
    return "\n".join(lines)


def compare(summary: dict[str, dict], recipe: str, baseline: str, metric: str = "mIoU") -> str:
    """One sentence comparing two recipes on ``metric``, stating whether the difference is
    larger than the spread over seeds (it is never called significant with one seed)."""
    a, b = summary[recipe][metric], summary[baseline][metric]
    diff = a["mean"] - b["mean"]
    n = min(len(a["values"]), len(b["values"]))
    if n < 2:
        spread = "with one seed, so the spread is unknown"
    else:
        noise = max(a["std"], b["std"])
        spread = (f"{'larger' if abs(diff) > 2 * noise else 'not larger'} than twice the seed spread ({noise:.4f}) "
                  f"over {n} seeds")
    direction = "above" if diff > 0 else "below" if diff < 0 else "equal to"
    return (f"{recipe}: {metric} {a['mean']:.4f} is {direction} {baseline}'s {b['mean']:.4f} "
            f"by {abs(diff):.4f}, {spread}.")
