"""One run as read back: a typed :class:`RunRecord` (its metrics, budget, history, device, and where a
non-finite loss stopped it, :class:`Stopped`), made from a run's ``result.json`` or ``diverged.json``.
Reading them from a run folder: :func:`mdseg.study.records.read_run`. Imports no torch."""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..training import runs
from ..training.schedule import Schedule, budget

METRICS = ("mIoU", "fg_mIoU", "iIoU", "acc")  # the segmentation metrics every finished run has


@dataclass(frozen=True)
class Stopped:
    """Where a non-finite loss stopped a run, in fields (:meth:`mdseg.training.step.NonFiniteLoss.record`,
    kept in the run's ``diverged.json``); ``message`` is the sentence the user saw."""

    message: str
    stage: int | None = None
    stage_name: str = ""
    epoch: int | None = None
    step: int | None = None
    values: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Stopped":
        """From a ``diverged.json`` record (``diverged``: the message, and the fields above)."""
        return cls(record["diverged"], record.get("stage"), record.get("stage_name", ""), record.get("epoch"),
                   record.get("step"), dict(record.get("values", {})))

    def fields(self) -> dict[str, Any]:
        """The fields as written beside the message in ``diverged.json`` (those it had)."""
        out = {"stage": self.stage, "stage_name": self.stage_name, "epoch": self.epoch, "step": self.step,
               "values": dict(self.values)}
        return {k: v for k, v in out.items() if v not in (None, "", {})}


@dataclass(frozen=True, eq=False)
class RunRecord(Mapping):
    """One run of one recipe and seed, as read back: ``name`` (the run's folder name, e.g.
    ``depth-first/copy/s->b``), ``recipe`` (the recipe it is a variant of), ``metrics`` (``mIoU``,
    ``fg_mIoU``, ``iIoU``, ``acc``, ``per_class_iou`` and, in runs trained since depth quality was
    measured, ``depth_r2``, ``depth_abs_rel``, ``depth_delta1``; NaN segmentation metrics where
    ``stopped``), ``budget`` (epochs per stage), ``history`` (one record per epoch), ``wall_seconds``,
    ``device`` (``{}`` where the run stopped), ``finished`` (when, UTC; ``""`` in runs from before it was
    recorded) and ``stopped`` (:class:`Stopped`, or ``None`` for a finished run).

    It also reads as the ``result.json`` it came from (``record["metrics"]["mIoU"]``, ``"diverged" in
    record``), so code written against those files keeps working."""

    name: str
    seed: int
    run_dir: Path
    recipe: str
    depth_weight: float
    metrics: Mapping[str, Any]
    budget: Mapping[str, Any] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    wall_seconds: float = math.nan
    device: Mapping[str, Any] = field(default_factory=dict)
    finished: str = ""
    stopped: Stopped | None = None

    @classmethod
    def from_result(cls, result: Mapping[str, Any], schedule: Schedule, seed: int, folder: str | Path) -> "RunRecord":
        """A finished run from its ``result.json`` (:func:`mdseg.training.runs.read_result`, or what
        :func:`mdseg.training.loop.run` returned)."""
        return cls(schedule.name, seed, Path(folder), schedule.recipe, schedule.depth_weight, dict(result["metrics"]),
                   dict(result.get("budget", budget(schedule))), list(result.get("history", [])),
                   float(result.get("wall_seconds", math.nan)), dict(result.get("device", {})),
                   result.get("finished", ""))

    @classmethod
    def from_divergence(cls, record: Mapping[str, Any], schedule: Schedule, seed: int, folder: str | Path) -> "RunRecord":
        """A run a non-finite loss stopped, from its ``diverged.json`` record: its epochs so far, NaN metrics."""
        return cls(schedule.name, seed, Path(folder), schedule.recipe, schedule.depth_weight,
                   {m: math.nan for m in METRICS}, dict(budget(schedule)),
                   runs.read_records(Path(folder) / runs.LOG), stopped=Stopped.from_record(record))

    @property
    def diverged(self) -> bool:
        """Whether a non-finite loss stopped the run (``stopped`` says where)."""
        return self.stopped is not None

    @property
    def miou(self) -> float:
        return float(self.metrics["mIoU"])

    @property
    def host(self) -> str:
        """The machine that trained the run: its CPU model (or GPU name), ``not recorded`` where the run
        did not say (runs from before the model was recorded, and runs a non-finite loss stopped)."""
        if self.device.get("type") not in (None, "cpu"):
            return self.device.get("model") or self.device.get("name", "not recorded")
        return self.device.get("model") or "not recorded"

    def metric(self, name: str) -> float:
        """One metric, NaN where the run did not measure it (depth quality in older runs)."""
        return float(self.metrics.get(name, math.nan))

    def as_result(self) -> dict[str, Any]:
        """The run as the dictionary it was read from (``diverged``: the message, ``stopped``: the fields,
        where a non-finite loss stopped it), with ``seed``, ``run_dir``, ``recipe`` and ``depth_weight``."""
        out = {"schedule": self.name, "budget": dict(self.budget), "history": self.history,
               "metrics": dict(self.metrics), "wall_seconds": self.wall_seconds,
               **({"device": dict(self.device)} if self.device else {}),
               **({"finished": self.finished} if self.finished else {}), "seed": self.seed, "run_dir": str(self.run_dir), "recipe": self.recipe,
               "depth_weight": self.depth_weight}
        if self.stopped is not None:
            out |= {"diverged": self.stopped.message, "stopped": self.stopped.fields()}
        return out

    def __getitem__(self, key: str) -> Any:
        return self.as_result()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_result())

    def __len__(self) -> int:
        return len(self.as_result())


HOSTS_NOTE = ("'Mixed hosts': a pair's seeds were trained on different machines, or one on a recorded machine and one "
              "on an unrecorded one (two unrecorded runs are taken as one host); a seed reproduces exactly only on the "
              "machine that trained it, so part of such a difference may be host noise.")


def mixed_hosts(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> str:
    """``"AMD EPYC vs not recorded"`` where two :func:`~mdseg.study.report.summarize` entries hold a
    common seed trained on different machines (:attr:`RunRecord.host`; ``""`` where none, or where the
    entries do not say)."""
    a = dict(zip(mine.get("seeds", ()), mine.get("hosts", ())))
    b = dict(zip(theirs.get("seeds", ()), theirs.get("hosts", ())))
    return "; ".join(f"{x} vs {y}" for x, y in sorted({(a[k], b[k]) for k in set(a) & set(b) if a[k] != b[k]}))

