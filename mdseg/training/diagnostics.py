"""A run's diagnostics condensed, read without torch: :func:`summarize_diagnostics` turns the records of
``diagnostics.jsonl`` (written by the training step: :mod:`mdseg.training.step`) into one summary per run."""
from __future__ import annotations

import math
import statistics


def summarize_diagnostics(records: list[dict]) -> dict[str, float]:
    """Condense one run's ``diagnostics.jsonl`` records. Over the steps where both tasks trained
    the encoder (the records that have ``grad_cosine``):

    * ``loss_seg`` / ``loss_depth``: mean raw loss terms; ``loss_ratio``: their ratio;
    * ``vanished``: share of those steps where one task's encoder gradient is exactly zero (its
      decoder stopped passing a gradient back, e.g. every unit of it dead), and which task's:
      ``vanished_seg``, ``vanished_depth``; ratio and cosine are undefined there and leave those steps out;
    * ``grad_ratio``: geometric mean of the seg / depth encoder-gradient norm ratio (weighted terms);
    * ``cosine``: mean cosine between the two encoder gradients; ``conflict``: share of steps with
      a negative cosine; ``steps``: how many diagnosed steps this covers (0: all these values NaN).

    Over every diagnosed step of the run's last diagnosed stage (``diagnosed`` steps; the only stage of
    a one-stage recipe, the joint stage of a staged one), where the records have them (runs from
    before these were logged do not): ``update_<part>`` (``encoder``, ``seg``, ``depth``), the
    median of ``||delta theta|| / ||theta||`` per step; ``dead_<task>``, the mean share of the
    decoder's ReLU channels silent on a whole batch, and ``dead_<task>_last`` at its last diagnosed step.
    """
    both = [r for r in records if "grad_cosine" in r]
    nan = {k: math.nan for k in ("grad_ratio", "cosine", "conflict")}
    if not both:
        out = {"steps": 0, "vanished": math.nan, "loss_seg": math.nan, "loss_depth": math.nan,
               "loss_ratio": math.nan, **nan}
    else:
        loss_seg = statistics.fmean(r["loss"]["seg"] for r in both)
        loss_depth = statistics.fmean(r["loss"]["depth"] for r in both)
        live = [r for r in both if r.get("grad_norm_seg", 1.0) > 0 and r.get("grad_norm_depth", 1.0) > 0]
        out = {"steps": len(both), "vanished": 1 - len(live) / len(both), "loss_seg": loss_seg,
               "loss_depth": loss_depth, "loss_ratio": loss_seg / loss_depth, **nan}
        for task in ("seg", "depth"):
            out[f"vanished_{task}"] = statistics.fmean(float(r.get(f"grad_norm_{task}", 1.0) == 0) for r in both)
        if live:
            out.update(grad_ratio=math.exp(statistics.fmean(math.log(r["grad_ratio_seg_depth"]) for r in live)),
                       cosine=statistics.fmean(r["grad_cosine"] for r in live),
                       conflict=statistics.fmean(float(r["grad_cosine"] < 0) for r in live))
    return {**out, **_updates(records)}


def _updates(records: list[dict]) -> dict[str, float]:
    """The update-size and dead-unit part of :func:`summarize_diagnostics` (``{}`` for runs without them)."""
    probed = [r for r in records if any(k.startswith("update_") for k in r)]
    if not probed:
        return {}
    last = [r for r in probed if r["stage"] == probed[-1]["stage"]]
    out: dict[str, float] = {"diagnosed": len(last)}
    for part in ("encoder", "seg", "depth"):
        values = [r[f"update_{part}"] for r in last if f"update_{part}" in r]
        if values:
            out[f"update_{part}"] = statistics.median(values)
    for task in ("seg", "depth"):
        values = [r[f"dead_{task}"] for r in last if f"dead_{task}" in r]
        if values:
            out[f"dead_{task}"] = statistics.fmean(values)
            out[f"dead_{task}_last"] = values[-1]
    return out
