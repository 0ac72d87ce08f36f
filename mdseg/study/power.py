"""How many seeds a comparison needs: the power of a paired t-test (the noncentral t), from the spread
of the per-seed differences a pilot measured, for an effect the size of the margin or of the paper's gaps."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .compare import LEVEL, Comparison


def seeds_needed(sd_difference: float, effect: float, level: float = LEVEL, power: float = 0.8,
                 most: int = 200) -> int | None:
    """The fewest paired seeds whose two-sided t-test detects a true mean difference ``effect``
    with probability ``power``, given per-seed differences of standard deviation ``sd_difference``
    (the noncentral t). ``None`` when even ``most`` seeds do not."""
    if sd_difference <= 0:
        return 2
    for n in range(2, most + 1):
        df, shift = n - 1, abs(effect) * math.sqrt(n) / sd_difference
        crit = stats.t.ppf(1 - level / 2, df)
        if stats.nct.sf(crit, df, shift) + stats.nct.cdf(-crit, df, shift) >= power:
            return n
    return None


def seeds_for(c: Comparison, effect: float, power: float = 0.8) -> dict[str, int | None]:
    """Seeds a comparison like ``c`` needs to detect a true difference ``effect`` (in the metric's
    units) with probability ``power``: ``paired`` from the spread of its per-seed differences,
    ``unpaired`` (per arm) from its two arms' spreads as if their seeds were unrelated. Needs two
    paired seeds; ``None`` where more than 200 would be needed."""
    d = c.differences
    if len(d) < 2:
        raise ValueError("seeds_for needs a paired comparison with at least two common seeds.")
    independent = math.sqrt(np.var(c.values, ddof=1) + np.var(c.baseline_values, ddof=1))
    return {"paired": seeds_needed(float(np.std(d, ddof=1)), effect, power=power),
            "unpaired": seeds_needed(independent, effect, power=power)}
