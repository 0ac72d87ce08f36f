"""Why naive joint training can fail, and fixes beyond the paper's schedule.

* :func:`encoder_gradients` / :func:`gradient_stats`: what each task asks of the shared encoder
  (gradient norms and their cosine similarity), logged by the training loop when asked;
  :func:`summarize_diagnostics` condenses those logs per run (tables and sentences about them:
  :mod:`mdseg.study.report`).
* :class:`UncertaintyWeighting`: Kendall, Gal & Cipolla (CVPR 2018), learned task weights.
* :func:`pcgrad`: Yu et al. (NeurIPS 2020), project conflicting task gradients on the encoder.

The training step that uses them is :mod:`mdseg.training.step`.
"""
from __future__ import annotations

import math
import statistics

import torch
from torch import nn

REGRESSION_TASKS = ("depth",)


def encoder_gradients(encoder: nn.Module, weighted_terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per task, the flat gradient of its weighted loss w.r.t. the encoder's trainable
    parameters (the graph is kept for the real backward pass).

    Returns ``{task: (P,) float tensor}``, P = number of encoder parameters with grad.
    """
    params = [p for p in encoder.parameters() if p.requires_grad]
    out = {}
    for task, loss in weighted_terms.items():
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        out[task] = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                               for g, p in zip(grads, params)])
    return out


def gradient_stats(grads: dict[str, torch.Tensor]) -> dict[str, float]:
    """Norm of each task's encoder gradient; with two tasks also their ratio (seg / depth) and
    cosine similarity (negative = the tasks pull the encoder in conflicting directions)."""
    grads = {t: g.double() for t, g in grads.items()}  # sums over millions of entries: float64
    stats = {f"grad_norm_{t}": float(g.norm()) for t, g in grads.items()}
    if {"seg", "depth"} <= set(grads):
        a, b = grads["seg"], grads["depth"]
        stats["grad_ratio_seg_depth"] = float(a.norm() / b.norm().clamp(min=1e-30))
        stats["grad_cosine"] = float(a @ b / (a.norm() * b.norm()).clamp(min=1e-30))
    return stats


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


def pcgrad(grads: list[torch.Tensor]) -> torch.Tensor:
    """PCGrad: for each task gradient, remove its component along every other task gradient it
    conflicts with (negative dot product), then sum. Deterministic order (the paper shuffles;
    with two tasks the order does not matter).

    Args: a list of (P,) task gradients. Returns the (P,) combined gradient.
    """
    projected = []
    for i, g in enumerate(grads):
        g = g.clone()
        for j, other in enumerate(grads):
            dot = torch.dot(g, other)
            if j != i and dot < 0:
                g = g - dot / other.pow(2).sum().clamp(min=1e-30) * other
        projected.append(g)
    return torch.stack(projected).sum(0)


class UncertaintyWeighting(nn.Module):
    """Learned task weights with ``s_t = log sigma_t^2`` per task (Kendall et al. 2018):

    * classification (seg): ``exp(-s) * L + s / 2``  (the paper's ``L / sigma^2 + log sigma``);
    * regression (depth):   ``exp(-s) * L / 2 + s / 2``  (``L / (2 sigma^2) + log sigma``).

    At the optimum ``s`` tracks the loss's own scale (``log 2L`` and ``log L``), so a task with
    a small loss gets a large weight. ``s`` starts at 0 (weight 1 and 1/2).
    """

    def __init__(self, tasks=("seg", "depth")):
        super().__init__()
        self.log_vars = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in tasks})

    def forward(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0
        for task, s in self.log_vars.items():
            scale = 0.5 if task in REGRESSION_TASKS else 1.0
            total = total + scale * torch.exp(-s) * terms[task] + 0.5 * s
        return total

    def weights(self) -> dict[str, float]:
        """The effective weight on each raw loss: ``exp(-s)`` or ``exp(-s) / 2``."""
        return {t: float((0.5 if t in REGRESSION_TASKS else 1.0) * torch.exp(-s.detach()))
                for t, s in self.log_vars.items()}
