"""One training step in one place: forward under autocast, the stage's loss terms (fixed weights or
learned ones), the non-finite guard, backward (with PCGrad and diagnostics when asked),
the step's learning rate and the optimiser step. The loop that calls it: :mod:`mdseg.training.loop`."""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from ..errors import MdsegError
from ..model.unet import MultiDecoderUNet
from ..runtime import distributed as dist
from ..runtime.device import oom_advice
from .config import TrainConfig
from .losses import depth_loss, focal_loss
from .multitask import UncertaintyWeighting, encoder_gradients, gradient_stats, pcgrad
from .probe import UpdateProbe
from .runs import where_text
from .schedule import Stage


class NonFiniteLoss(MdsegError, RuntimeError):
    """Training produced NaN or inf; the last finished epoch's checkpoint is kept. Where it happened is
    in fields, never parsed out of the message: ``values`` (the loss terms at that step), ``step`` (of
    its epoch), and, once the loop adds them, ``schedule``, ``stage`` (1-based), ``stage_name`` and ``epoch``."""

    def __init__(self, message: str, values: dict[str, float] | None = None, **where):
        super().__init__(message)
        self.values = dict(values or {})
        self.where = {k: v for k, v in where.items() if v is not None}

    def record(self) -> dict:
        """The structured part, as a run's ``diverged.json`` keeps it beside the message."""
        return {**self.where, "values": self.values}

    def short(self) -> str:
        """``stage 2 'depth', epoch 1, step 7: depth=inf, total=inf`` from the fields."""
        return where_text({**self.where, "values": self.values})


def trainable_parameters(model: MultiDecoderUNet, stage: Stage) -> list[torch.nn.Parameter] | list[dict]:
    """Freeze everything, then unfreeze what ``stage`` trains; returns those parameters, or, where
    the stage scales a task's learning rate (``lr_scale``), optimiser parameter groups: that task's
    decoder and head with their ``lr_scale``, everything else in the first group."""
    params = model.unfreeze(stage.tasks, stage.train_encoder)
    if not stage.lr_scale:
        return params
    scaled = {t: {id(p) for p in [*model.decoder(t).parameters(), *model.head(t).parameters()]} for t in stage.lr_scale}
    taken = set().union(*scaled.values())
    groups = [{"params": [p for p in params if id(p) not in taken]}]
    groups += [{"params": [p for p in params if id(p) in ids], "lr_scale": stage.lr_scale[t]} for t, ids in scaled.items()]
    return groups


def compute_losses(outputs: dict, batch: dict, stage: Stage, config: TrainConfig,
                   weighting: UncertaintyWeighting | None = None) -> dict[str, torch.Tensor]:
    """Named loss terms for the stage's tasks plus their combination under ``"total"``:
    the stage's fixed weights, or the learned ``weighting``."""
    terms = {}
    if "seg" in stage.weights:
        terms["seg"] = focal_loss(outputs["seg"], batch["mask"], gamma=config.focal_gamma, alpha=config.focal_alpha)
    if "depth" in stage.weights:
        terms["depth"] = depth_loss(outputs["depth"], batch["depth"], kind=stage.depth_loss or config.depth_loss)
    terms["total"] = sum(weighted_terms(terms, stage, weighting).values())
    return terms


def weighted_terms(terms: dict[str, torch.Tensor], stage: Stage,
                   weighting: UncertaintyWeighting | None = None) -> dict[str, torch.Tensor]:
    """Each task's term as it enters the total: ``w_t L_t`` (fixed weights), ``log L_t`` (the
    ``log`` weighting) or the learned weighting's (whose task terms are ``exp(-s) L`` with its
    ``s / 2`` regulariser added to the first)."""
    if weighting is not None:
        return {"all": weighting({t: terms[t] for t in stage.tasks})}
    if stage.weighting == "log":
        return {t: torch.log(terms[t]) for t in stage.tasks}
    return {t: stage.weights[t] * terms[t] for t in stage.tasks}


def backward(model: MultiDecoderUNet, stage: Stage, terms: dict[str, torch.Tensor], scaler: torch.amp.GradScaler,
             weighting: UncertaintyWeighting | None = None, diagnose: bool = False) -> dict | None:
    """Backpropagate ``terms["total"]``; with PCGrad, replace the encoder's gradient by the
    projected sum of the task gradients. With ``diagnose``, return the gradient statistics: where
    both tasks train the encoder, :func:`~mdseg.training.multitask.gradient_stats` (one extra
    encoder backward per task); where one task trains it, that task's encoder gradient norm (read
    off the gradient, no extra pass); else ``{}``. Without ``diagnose``: ``None``."""
    grads = None
    if stage.tasks_share_encoder and (stage.weighting == "pcgrad" or diagnose):
        if weighting is not None:
            weights = weighting.weights()
            task_terms = {t: weights[t] * terms[t] for t in stage.tasks}
        else:
            task_terms = weighted_terms(terms, stage)
        grads = encoder_gradients(model.encoder, task_terms)
    scaler.scale(terms["total"]).backward()
    if stage.weighting == "pcgrad" and grads is not None and len(grads) > 1:
        combined = pcgrad(list(grads.values()))
        if scaler.is_enabled():  # scaler.step unscales every gradient, this one too
            combined = combined * scaler.get_scale()
        offset = 0
        for p in (p for p in model.encoder.parameters() if p.requires_grad):
            p.grad.copy_(combined[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
    if not diagnose:
        return None
    if grads is not None:
        return gradient_stats(grads)
    if stage.train_encoder:  # one task: the encoder's whole gradient is that task's
        unscale = scaler.get_scale() if scaler.is_enabled() else 1.0
        norm = torch.stack([p.grad.double().norm() for p in model.encoder.parameters() if p.grad is not None])
        return {f"grad_norm_{stage.tasks[0]}": float(norm.norm()) / unscale}
    return {}


@dataclass
class Stepper:
    """What every step of one stage shares: the network to run (``net``: the model, or its DDP or
    compiled wrapper), the model itself, the stage, optimiser, gradient scaler, settings, device,
    autocast dtype (``None`` = full precision) and learned task weights if any."""

    net: torch.nn.Module
    model: MultiDecoderUNet
    stage: Stage
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    config: TrainConfig
    device: torch.device
    dtype: torch.dtype | None
    weighting: UncertaintyWeighting | None = None

    @property
    def _forward_options(self) -> dict:
        """Keyword arguments of the model's forward pass this stage asks for (none for most stages)."""
        return {"encoder_grad_scale": self.stage.encoder_grad_scale} if self.stage.encoder_grad_scale else {}

    def step(self, batch: dict, lr: float, diagnose: bool = False) -> tuple[dict[str, float], dict | None]:
        """Train on one batch at learning rate ``lr``. Returns the loss terms' values and, with
        ``diagnose``, the gradient statistics (:func:`backward`) and what the step did to the
        weights and the decoders' units (:class:`~mdseg.training.probe.UpdateProbe`). Raises :class:`NonFiniteLoss` (before any update)
        when a loss is NaN or inf on any process."""
        batch = {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        images = batch["image"]
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()
        probe = UpdateProbe(self.model, self.stage.tasks) if diagnose else None
        with oom_advice(self.config.batch_size, images):
            with autocast, probe.watch() if probe else contextlib.nullcontext():
                outputs = self.net(images, tasks=self.stage.tasks, **self._forward_options)
            terms = compute_losses(outputs, batch, self.stage, self.config, self.weighting)
        values = {k: v.item() for k, v in terms.items()}
        if dist.any_rank(not all(math.isfinite(v) for v in values.values()), self.device):
            raise NonFiniteLoss(f"Non-finite loss: {', '.join(f'{k}={v}' for k, v in values.items())}", values)
        self.optimizer.zero_grad(set_to_none=True)
        with oom_advice(self.config.batch_size, images):
            stats = backward(self.model, self.stage, terms, self.scaler, self.weighting, diagnose)
        if self.weighting is not None and dist.world()[1] > 1:  # not inside DDP: average its gradients by hand
            for p in self.weighting.parameters():
                dist.all_sum(p.grad).div_(dist.world()[1])
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        if probe:
            probe.before_step()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if probe:
            stats = {**stats, **probe.stats()}
        return values, stats
