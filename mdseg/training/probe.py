"""What one diagnosed step did to the network, beside the gradients of :mod:`mdseg.training.multitask`:
how far the optimiser actually moved each part (``||delta theta|| / ||theta||``) and how many ReLU
units of each running decoder were silent on the whole batch (dead units pass no gradient back).

Under SGD a loss multiplied by k multiplies its gradient and so the step it causes; Adam divides by
the gradient's running size, so the scale nearly cancels. The update sizes say which happened.
"""
from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

import torch
from torch import nn

from ..model.unet import MultiDecoderUNet


def parts(model: MultiDecoderUNet, tasks: tuple[str, ...]) -> dict[str, list[nn.Parameter]]:
    """The trainable parameters of each part a step can move: ``encoder`` and each task's decoder
    with its head (named by the task). Parts with nothing trainable are left out."""
    groups = {"encoder": list(model.encoder.parameters())}
    for task in tasks:
        groups[task] = [*model.decoder(task).parameters(), *model.head(task).parameters()]
    return {name: [p for p in params if p.requires_grad] for name, params in groups.items()
            if any(p.requires_grad for p in params)}


class UpdateProbe:
    """Snapshot the trainable weights before the optimiser's step (:meth:`before_step`) and count
    dead decoder units during the forward pass (:meth:`watch`); :meth:`stats` then gives, per part,
    ``update_<part>`` = ``||delta theta|| / ||theta||`` and, per running decoder,
    ``dead_<task>`` = share of its ReLU channels that were zero on every pixel of every image of
    the batch. Reads only: training is the same with or without it."""

    def __init__(self, model: MultiDecoderUNet, tasks: tuple[str, ...]):
        self.model, self.tasks = model, tasks
        self.before: dict[str, torch.Tensor] = {}
        self.units: dict[str, list[int]] = {t: [0, 0] for t in tasks}  # (dead, all) channels per decoder

    @contextmanager
    def watch(self) -> Iterator[None]:
        """Count dead ReLU channels of the decoders of ``tasks`` in the forward pass run inside."""
        def counter(task: str):
            def hook(_module, _inputs, output):
                alive = (output.detach() > 0).flatten(2).any(2).any(0)  # (C,) channels that fired somewhere
                self.units[task][0] += int((~alive).sum())
                self.units[task][1] += alive.numel()
            return hook

        handles = [m.register_forward_hook(counter(task)) for task in self.tasks
                   for m in self.model.decoder(task).modules() if isinstance(m, nn.ReLU)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @torch.no_grad()
    def before_step(self) -> None:
        self.before = {name: _flat(params) for name, params in parts(self.model, self.tasks).items()}

    @torch.no_grad()
    def stats(self) -> dict[str, float]:
        out = {}
        for name, params in parts(self.model, self.tasks).items():
            old = self.before[name]
            out[f"update_{name}"] = float((_flat(params) - old).norm() / old.norm().clamp(min=1e-30))
        for task, (dead, total) in self.units.items():
            if total:
                out[f"dead_{task}"] = dead / total
        return out


def _flat(params: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([p.detach().flatten().double() for p in params])
