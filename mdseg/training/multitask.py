"""Why naive joint training can fail, and fixes beyond the paper's schedule.

* :func:`encoder_gradients` / :func:`gradient_stats`: what each task asks of the shared encoder
  (gradient norms and their cosine similarity), logged by the training loop when asked;
  :mod:`mdseg.training.diagnostics` condenses those logs per run (tables and sentences about them:
  :mod:`mdseg.study.report`).
* :class:`UncertaintyWeighting`: Kendall, Gal & Cipolla (CVPR 2018), learned task weights.
* :func:`pcgrad`: Yu et al. (NeurIPS 2020), project conflicting task gradients on the encoder.

The training step that uses them is :mod:`mdseg.training.step`.
"""
from __future__ import annotations


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
