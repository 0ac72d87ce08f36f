"""The pilot: every suite's first seeds (0-2), shipped before any extra seed. What depends on how a
suite turned out (which points get follow-ups, how many seeds each arm gets) is decided from the pilot
alone, so extra seeds never move it (:func:`pilot`)."""
from __future__ import annotations

from dataclasses import replace

from .compare import Comparison

PILOT_SEEDS = 3  # the shipped pilot (seeds 0-2), never retrained


def pilot(c: Comparison | None) -> Comparison | None:
    """``c`` restricted to the pilot's seeds (below :data:`PILOT_SEEDS`), which every plan is computed from;
    ``c`` itself where its seeds are not known (nothing to restrict)."""
    if c is None or len(c.seeds) != len(c.values) or len(c.baseline_seeds) != len(c.baseline_values):
        return c
    mine = [(s, v) for s, v in zip(c.seeds, c.values) if s is not None and s < PILOT_SEEDS]
    theirs = [(s, v) for s, v in zip(c.baseline_seeds, c.baseline_values) if s is not None and s < PILOT_SEEDS]
    return replace(c, seeds=tuple(s for s, _ in mine), values=tuple(v for _, v in mine),
                   baseline_seeds=tuple(s for s, _ in theirs), baseline_values=tuple(v for _, v in theirs))
