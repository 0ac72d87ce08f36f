"""What a stage may do right after it copies one decoder body into another (``Stage.after_copy``): three
tested explanations of why the paper's weight copy can hurt, each a way to undo or soften one thing the copy
brings.

* ``reestimate-bn``: the copied decoder's BatchNorm statistics describe the *source* task's features;
  recompute them on the destination's own forward passes (the encoder untouched) before training.
* ``reinit-last-block``: the copied body's last block is the most task-specific; start it afresh.
* ``warm-up``: the first steps after the copy, through a decoder made for another task, are the large
  ones; ramp the stage's learning rate up from near 0 over its first epoch (:func:`warm_up`).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..model.unet import MultiDecoderUNet
BN_BATCHES = 20  # forward passes that re-estimate the statistics (a cumulative average over them)


@torch.no_grad()
def reestimate_bn(model: MultiDecoderUNet, task: str, images: Iterable[torch.Tensor]) -> int:
    """Reset the BatchNorm running statistics of ``task``'s decoder and re-estimate them as the
    cumulative average over the batches of ``images`` ((B, 3, H, W) each), with every other module in
    eval mode so nothing else changes. Returns the number of batches used."""
    decoder = model.decoder(task)
    norms = [m for m in decoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = model.training
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
        m.train()
    used = 0
    for batch in images:
        model(batch, tasks=(task,))
        used += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)
    return used


def warm_up(step: int, steps_per_epoch: int) -> float:
    """The factor on the learning rate at ``step`` of a ``warm-up`` stage (counted from the stage's
    start): ``(step + 1) / steps_per_epoch`` over the first epoch, then 1 (a pure function of the step,
    so a resumed run continues exactly)."""
    return min((step + 1) / max(steps_per_epoch, 1), 1.0)


@torch.no_grad()
def reinit_last_block(model: MultiDecoderUNet, task: str, seed: int) -> None:
    """Re-initialise every layer of the last block of ``task``'s decoder body (their default
    initialisation), from ``seed`` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.decoder(task).blocks[-1].modules():
            if hasattr(module, "reset_parameters") and module is not model.decoder(task).blocks[-1]:
                module.reset_parameters()
