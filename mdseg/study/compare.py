"""Results over seeds: mean ± std, and the one test behind every "better" or "worse".

Every comparison the notebooks, the README and ``results.md`` state goes through
:class:`Comparison`: a difference is called better or worse only when a stated test rejects equal
means; otherwise it is "within seed noise", and one seed is never called a gain.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


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


SIGNIFICANCE = 0.05  # level of the two-sided Welch t-test behind every "better" or "worse"


@dataclass(frozen=True)
class Comparison:
    """``recipe`` against ``baseline`` on one metric, with the test behind the verdict.

    ``verdict`` is ``"better"`` / ``"worse"`` only when a two-sided Welch t-test (unequal
    variances, :func:`scipy.stats.ttest_ind`) rejects equal means at ``level``; otherwise
    ``"within seed noise"``. With fewer than two seeds on either side there is no test:
    ``"one seed"``, never a gain. Identical values on every seed of both sides: ``"no spread"``.
    With ``fixed``, the baseline is one number that does not depend on a seed (e.g. a
    deterministic reference) and the test is a one-sample t-test of ``values`` against it.
    """

    recipe: str
    baseline: str
    metric: str
    values: tuple[float, ...]
    baseline_values: tuple[float, ...]
    level: float = SIGNIFICANCE
    fixed: bool = False

    @property
    def diff(self) -> float:
        return float(np.mean(self.values) - np.mean(self.baseline_values))

    @property
    def p_value(self) -> float | None:
        """Two-sided Welch p-value; ``None`` with fewer than two seeds on a side, NaN without spread."""
        if len(self.values) < 2 or (len(self.baseline_values) < 2 and not self.fixed):
            return None
        if np.ptp(self.values) == 0 and np.ptp(self.baseline_values) == 0:
            return math.nan
        if self.fixed:
            return float(stats.ttest_1samp(self.values, float(np.mean(self.baseline_values))).pvalue)
        return float(stats.ttest_ind(self.values, self.baseline_values, equal_var=False).pvalue)

    @property
    def tested(self) -> bool:
        """Whether a test applies: two or more seeds on each side and some spread."""
        return self.verdict not in ("one seed", "no spread")

    @property
    def verdict(self) -> str:
        p = self.p_value
        if p is None:
            return "one seed"
        if math.isnan(p):
            return "no spread"
        if p < self.level:
            return "better" if self.diff > 0 else "worse"
        return "within seed noise"

    def _side(self, values: tuple[float, ...], fixed: bool = False) -> str:
        seeds = "fixed" if fixed else f"{len(values)} seed{'s' if len(values) > 1 else ''}"
        return f"{format_stat(mean_std(list(values)))} ({seeds})"

    @property
    def test(self) -> str:
        return "one-sample t-test" if self.fixed else "Welch's t-test"

    def sentence(self) -> str:
        """One sentence: both sides as mean ± std (n seeds), the difference, and the verdict with its test."""
        head = (f"{self.recipe}: {self.metric} {self._side(self.values)} vs {self.baseline} "
                f"{self._side(self.baseline_values, self.fixed)}, a difference of {self.diff:+.4f}")
        p, verdict = self.p_value, self.verdict
        if verdict == "one seed":
            return f"{head}; one seed cannot separate a difference from seed noise, so it is not called a gain or a loss."
        if verdict == "no spread":
            return f"{head}; every seed gave the same value on both sides, so no test applies."
        if verdict == "within seed noise":
            return f"{head}: within seed noise ({self.test}, p = {p:.2f} >= {self.level})."
        return f"{head}: {verdict} ({self.test}, p = {p:.2g} < {self.level})."

    def cell(self) -> str:
        """A short table cell: the difference and the verdict (with p when tested)."""
        tested = f", p={self.p_value:.2g}" if self.tested else ""
        return f"{self.diff:+.4f} ({self.verdict}{tested})"


def comparison(summary: dict[str, dict], recipe: str, baseline: str, metric: str = "mIoU",
               level: float = SIGNIFICANCE) -> Comparison:
    """:class:`Comparison` of two recipes of a :func:`summarize` result."""
    return Comparison(recipe, baseline, metric, tuple(summary[recipe][metric]["values"]),
                      tuple(summary[baseline][metric]["values"]), level)


def compare(summary: dict[str, dict], recipe: str, baseline: str, metric: str = "mIoU",
            level: float = SIGNIFICANCE) -> str:
    """:meth:`Comparison.sentence` of two recipes of a :func:`summarize` result."""
    return comparison(summary, recipe, baseline, metric, level).sentence()


def summary_sentence(summary: dict[str, dict], recipe: str, metric: str = "mIoU") -> str:
    """One recipe's ``metric`` as mean ± std over its seeds, with each seed's value; one seed is
    labelled as one seed."""
    stat = summary[recipe][metric]
    seeds = summary[recipe]["seeds"]
    if len(stat["values"]) == 1:
        return f"{recipe}: {metric} {stat['mean']:.4f} (one seed, {seeds[0]}: no spread is known)."
    per_seed = ", ".join(f"{v:.4f}" for v in stat["values"])
    return f"{recipe}: {metric} {format_stat(stat)} over {len(seeds)} seeds ({per_seed})."


def ranking(summary: dict[str, dict], metric: str = "mIoU") -> str:
    """The recipes ordered by mean ``metric``, saying that an order of means is not a result."""
    ordered = sorted(summary, key=lambda r: -summary[r][metric]["mean"])
    seeds = sorted({len(e[metric]["values"]) for e in summary.values()})
    return (f"Ordered by mean {metric} ({'/'.join(map(str, seeds))} seed{'s' if seeds != [1] else ''} each): "
            + ", ".join(f"{r} {summary[r][metric]['mean']:.4f}" for r in ordered)
            + ". An order of means is not a result: only the tested comparisons say which differences hold.")
