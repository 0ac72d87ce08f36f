"""Shipped runs that predate depth quality, and which retrains may replace them: a retrain of the same
settings and seed replaces a shipped run only where it reproduces its mIoU exactly (the same kind of
machine), so filling in depth quality never changes a number (``mdseg reference --fill-in``)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from ..training import runs
from .run_record import RunRecord, Stopped


def unmeasured(shipped: RunRecord) -> bool:
    """Whether a shipped finished run trains depth but predates depth quality (no ``depth_r2``)."""
    return not shipped.diverged and bool(shipped.budget.get("depth_epochs")) and "depth_r2" not in shipped.metrics


def retrain_at(shipped: RunRecord, folder: Path) -> RunRecord | None:
    """The run at ``folder`` (a retrain of ``shipped``, same settings and seed) where it finished or a
    non-finite loss stopped it (then never an exact retrain of a finished run), ``None`` where neither."""
    stopped = runs.read_divergence(folder)
    if stopped is not None:
        return dataclasses.replace(shipped, run_dir=folder, stopped=Stopped.from_record(stopped))
    if not (folder / runs.RESULT).exists():
        return None
    result = runs.read_result(folder)
    return dataclasses.replace(shipped, run_dir=folder, metrics=dict(result["metrics"]), history=list(result.get("history", [])),
                               wall_seconds=float(result.get("wall_seconds", math.nan)), device=dict(result.get("device", {})),
                               finished=result.get("finished", ""))


def exact_retrain(retrained: RunRecord, shipped: RunRecord) -> bool:
    """Whether ``retrained`` is ``shipped`` trained again exactly (same seed and settings on a host that
    reproduces it: the same val mIoU to 1e-9) and measured what the shipped copy did not (depth quality)."""
    return (not retrained.diverged and unmeasured(shipped) and "depth_r2" in retrained.metrics
            and abs(retrained.miou - shipped.miou) < 1e-9)
