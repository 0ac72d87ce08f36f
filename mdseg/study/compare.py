"""Results over seeds: mean ± std, and the one comparison behind every "better" or "worse".

The runs are paired by design: seed k gives every recipe the same initialisation and the same
batches. So where two arms have the same seeds, :class:`Comparison` reads the per-seed differences
(mean, 95% t interval, paired p); only where the seeds differ does it fall back to Welch's
unpaired test, and says so. Every verdict states two things:

* the direction: the 95% interval of the difference excludes 0 below (``worse``) or above
  (``better``), or it does not (``not distinguishable from 0``, which is not "no effect": the
  interval says how large an effect the runs could have missed);
* where the interval stands against :data:`MARGIN`, declared once here: a difference smaller than
  about the paper's own text gap is "within the margin".

One seed is never a gain; a family of comparisons is read with :func:`holm`; a collapse is named by
:func:`collapsed`, without a test; how many seeds a comparison needs is :mod:`mdseg.study.power`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .paper import naive_gaps
from .run_record import mixed_hosts

LEVEL = 0.05  # two-sided: 95% intervals, tests at p < 0.05
# The margin, relative to the baseline's mean: the paper's text gap for naive joint training
# (0.7459 vs 0.7703, -3.2%), the smallest difference the paper reports as a failure.
MARGIN = round(abs(naive_gaps()["text"]), 4)
COLLAPSE_FRACTION = 0.5  # a seed below half its baseline's mean mIoU has collapsed (declared before use)


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


def t_interval(values: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The ``1 - level`` t interval of the mean of ``values`` (``None`` under two values)."""
    n = len(values)
    if n < 2:
        return None
    half = stats.t.ppf(1 - level / 2, n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n)
    mean = float(np.mean(values))
    return mean - half, mean + half


def prediction_interval(values: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """Where one new seed should land with probability ``1 - level``: mean ± t s sqrt(1 + 1/n)
    (``None`` under two values). Wider than the mean's interval: it carries one more seed's noise."""
    n = len(values)
    if n < 2:
        return None
    half = stats.t.ppf(1 - level / 2, n - 1) * float(np.std(values, ddof=1)) * math.sqrt(1 + 1 / n)
    mean = float(np.mean(values))
    return mean - half, mean + half


@dataclass(frozen=True)
class Comparison:
    """``recipe`` against ``baseline`` on one metric over seeds.

    With ``seeds`` and ``baseline_seeds`` given and at least two seeds in common, the comparison is
    paired over the common seeds (:attr:`paired`); otherwise Welch's unpaired t-test. With
    ``fixed``, the baseline is one number that does not depend on a seed and the test is a
    one-sample t-test. ``margin``: relative to the baseline's mean (:data:`MARGIN`).
    """

    recipe: str
    baseline: str
    metric: str
    values: tuple[float, ...]
    baseline_values: tuple[float, ...]
    level: float = LEVEL
    fixed: bool = False
    seeds: tuple = ()
    baseline_seeds: tuple = ()
    margin: float = MARGIN
    hosts: str = ""  # where paired seeds came from different (or unrecorded) machines: "AMD EPYC vs not recorded"

    # ------------------------------------------------------------------ the numbers
    @property
    def common_seeds(self) -> tuple:
        """The seeds both arms have, in order (``()`` when seeds are not known)."""
        if self.fixed or len(self.seeds) != len(self.values) or len(self.baseline_seeds) != len(self.baseline_values):
            return ()
        if None in self.seeds or None in self.baseline_seeds:
            return ()
        if len(set(self.seeds)) < len(self.seeds) or len(set(self.baseline_seeds)) < len(self.baseline_seeds):
            return ()  # a seed twice in one arm: the seeds do not name the pairs
        return tuple(sorted(set(self.seeds) & set(self.baseline_seeds)))

    @property
    def paired(self) -> bool:
        return len(self.common_seeds) >= 2

    @property
    def differences(self) -> tuple[float, ...]:
        """Per common seed, recipe minus baseline (``()`` when not paired)."""
        if not self.paired:
            return ()
        mine, theirs = dict(zip(self.seeds, self.values)), dict(zip(self.baseline_seeds, self.baseline_values))
        return tuple(mine[k] - theirs[k] for k in self.common_seeds)

    @property
    def dropped(self) -> int:
        """Seeds of either arm left out of a paired comparison (the other arm lacks them)."""
        return len(self.values) + len(self.baseline_values) - 2 * len(self.common_seeds) if self.paired else 0

    @property
    def diff(self) -> float:
        if self.paired:
            return float(np.mean(self.differences))
        return float(np.mean(self.values) - np.mean(self.baseline_values))

    def _estimate(self) -> tuple[float, float, float] | None:
        """``(difference, standard error, degrees of freedom)``, ``None`` without two seeds a side."""
        if self.paired:
            d = self.differences
            return float(np.mean(d)), float(np.std(d, ddof=1)) / math.sqrt(len(d)), len(d) - 1
        a, b = np.asarray(self.values, float), np.asarray(self.baseline_values, float)
        if len(a) < 2 or (len(b) < 2 and not self.fixed):
            return None
        if self.fixed:
            return self.diff, float(a.std(ddof=1)) / math.sqrt(len(a)), len(a) - 1
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if se > 0 else 1.0
        return self.diff, se, df

    @property
    def p_value(self) -> float | None:
        """Two-sided p of the comparison's test; ``None`` with fewer than two seeds a side, NaN without spread."""
        est = self._estimate()
        if est is None:
            return None
        diff, se, df = est
        if se == 0:
            return math.nan
        return float(2 * stats.t.sf(abs(diff) / se, df))

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% (``1 - level``) t interval of the difference; ``None`` where no test applies."""
        est = self._estimate()
        if est is None or est[1] == 0:
            return None
        diff, se, df = est
        half = stats.t.ppf(1 - self.level / 2, df) * se
        return diff - half, diff + half

    @property
    def margin_abs(self) -> float:
        """The margin in the metric's units: :attr:`margin` times the baseline's mean."""
        return self.margin * abs(float(np.mean(self.baseline_values)))

    @property
    def welch_p(self) -> float | None:
        """Welch's unpaired p over all seeds of both arms, whatever the pairing: the rule the scale
        suite chose its failing points by when it was declared (kept, so its runs stay its runs)."""
        a, b = self.values, self.baseline_values
        if len(a) < 2 or len(b) < 2:
            return None
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            return math.nan
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)

    # ------------------------------------------------------------------ the words
    @property
    def test(self) -> str:
        if self.fixed:
            return "one-sample t-test"
        if self.paired:
            left = f", {self.dropped} unpaired seed{'s' if self.dropped > 1 else ''} left out" if self.dropped else ""
            return f"paired over {len(self.common_seeds)} seeds{left}"
        return "Welch's t-test, unpaired: the seeds differ" if self.seeds else "Welch's t-test"

    @property
    def tested(self) -> bool:
        """Whether a test applies: two or more seeds on each side and some spread."""
        return self.verdict not in ("one seed", "no spread")

    @property
    def verdict(self) -> str:
        """``worse`` / ``better`` when the interval excludes 0, else ``not distinguishable from 0``;
        ``one seed`` or ``no spread`` where no test applies."""
        p = self.p_value
        if p is None:
            return "one seed"
        if math.isnan(p):
            return "no spread"
        low, high = self.interval
        if high < 0:
            return "worse"
        if low > 0:
            return "better"
        return "not distinguishable from 0"

    @property
    def against_margin(self) -> str | None:
        """Where the interval stands against ± the margin: ``worse by more than the margin``,
        ``worse, by less than the margin``, ``within the margin`` (and the same for better), or
        ``inconclusive`` (it reaches across a margin); ``None`` where no test applies."""
        if not self.tested:
            return None
        low, high = self.interval
        m = self.margin_abs
        if high < -m:
            return "worse by more than the margin"
        if low > m:
            return "better by more than the margin"
        if high < 0 and low >= -m:
            return "worse, by less than the margin"
        if low > 0 and high <= m:
            return "better, by less than the margin"
        if low >= -m and high <= m:
            return "within the margin"
        return "inconclusive"

    def _side(self, values: tuple[float, ...], fixed: bool = False) -> str:
        seeds = "fixed" if fixed else f"{len(values)} seed{'s' if len(values) > 1 else ''}"
        return f"{format_stat(mean_std(list(values)))} ({seeds})"

    def interval_text(self) -> str:
        low, high = self.interval
        return f"95% interval [{low:+.4f}, {high:+.4f}]"

    def sentence(self) -> str:
        """Both sides as mean ± std (n seeds), the difference with its interval and test, the
        direction and where it stands against the margin; what the runs could have missed."""
        head = (f"{self.recipe}: {self.metric} {self._side(self.values)} vs {self.baseline} "
                f"{self._side(self.baseline_values, self.fixed)}, a difference of {self.diff:+.4f}")
        verdict = self.verdict
        if verdict == "one seed":
            return f"{head}; one seed cannot separate a difference from seed noise, so it is not called a gain or a loss."
        if verdict == "no spread":
            return f"{head}; every seed gave the same value on both sides, so no test applies."
        low, high = self.interval
        tail = (f"{self.interval_text()} ({self.test}, p = {self.p_value:.2g}): {verdict}; "
                f"{self.against_margin} (± {self.margin_abs:.4f}, {self.margin:.1%} of the baseline)")
        if verdict == "not distinguishable from 0":
            tail += f"; the runs cannot rule out a difference as large as {max(abs(low), abs(high)):.4f}"
        if self.hosts:
            tail += (f"; its paired seeds were trained on different or unrecorded machines ({self.hosts}), and a seed "
                     "reproduces exactly only on the machine that trained it, so part of each difference may be host noise")
        return f"{head}, {tail}."

    def cell(self) -> str:
        """A short table cell: the difference, its interval and the verdict."""
        if not self.tested:
            return f"{self.diff:+.4f} ({self.verdict})"
        low, high = self.interval
        kind = ("paired" + (", mixed hosts" if self.hosts else "")) if self.paired else ("one-sample" if self.fixed else "Welch")
        return f"{self.diff:+.4f} [{low:+.3f}, {high:+.3f}] {self.verdict}; {self.against_margin} ({kind})"


def comparison(summary: dict[str, dict], recipe: str, baseline: str, metric: str = "mIoU",
               level: float = LEVEL) -> Comparison:
    """:class:`Comparison` of two recipes of a :func:`~mdseg.study.report.summarize` result, paired by seed;
    it names the machines where a pair's seeds were trained on different ones (``hosts``)."""
    mine, theirs = summary[recipe], summary[baseline]
    return Comparison(recipe, baseline, metric, tuple(mine[metric]["values"]), tuple(theirs[metric]["values"]), level,
                      seeds=tuple(mine.get("seeds", ())), baseline_seeds=tuple(theirs.get("seeds", ())),
                      hosts=mixed_hosts(mine, theirs))


def compare(summary: dict[str, dict], recipe: str, baseline: str, metric: str = "mIoU",
            level: float = LEVEL) -> str:
    """:meth:`Comparison.sentence` of two recipes of a :func:`summarize` result."""
    return comparison(summary, recipe, baseline, metric, level).sentence()


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of a family of p-values (``None`` stays ``None``): a point of a
    map of 16 is "worse" at family level only where its adjusted p is below the level."""
    known = sorted((p, i) for i, p in enumerate(p_values) if p is not None and not math.isnan(p))
    out: list[float | None] = list(p_values)
    running, m = 0.0, len(known)
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def collapsed(value: float, baseline_mean: float) -> bool:
    """Whether one seed's mIoU has collapsed: below :data:`COLLAPSE_FRACTION` of its baseline's mean."""
    return value < COLLAPSE_FRACTION * baseline_mean
