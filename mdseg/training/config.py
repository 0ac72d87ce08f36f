"""The settings of one training run (:class:`TrainConfig`, built from a profile by
:func:`mdseg.study.experiments.train_config`) and the optimiser they name."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import SettingError
from .losses import FOCAL_ALPHA, FOCAL_GAMMA
from .lr import OPTIMIZERS
from .schedule import PAPER_LR


@dataclass
class TrainConfig:
    """Attributes:
        lr: learning rate (paper: Adam at 1e-4); a fresh optimizer starts every stage.
        optimizer: ``"adam"`` (paper) or ``"sgd"`` (momentum 0.9, no weight decay, as the Adam runs).
        lr_schedule: ``"constant"`` (paper) or ``"cosine"`` (warm-up, then cosine decay to 0
            over each stage; see :func:`mdseg.training.lr.learning_rate`).
        batch_size, num_workers: data loading.
        seed: seeds weights init (by the caller), shuffling and augmentation per epoch.
        device: ``None`` picks CUDA when available.
        amp: autocast on CUDA only (bf16 where supported, else fp16 with a scaler).
        channels_last: NHWC model and batches, on every device (about 15% faster steps on a 2-core
            CPU too, measured by ``benchmarks/bench_train.py``).
        compile: ``torch.compile`` the model on CUDA (each stage compiles its own graph).
        focal_gamma, focal_alpha: focal loss (paper: gamma 2; alpha not given, 1 here).
        depth_loss: ``"mse"`` (paper), ``"ssi"`` or ``"norm"``; a stage may override it.
        diagnose_every: every N steps, log to ``diagnostics.jsonl`` the loss terms, each task's encoder
            gradient norm, each part's update size and each decoder's dead units; where both tasks
            train the encoder also the gradients' ratio and cosine (0 = off; those two-task steps cost
            one extra encoder backward per task, the others about a plain step).
        progress: tqdm bars.
    """

    lr: float = PAPER_LR
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    batch_size: int = 16
    num_workers: int = 0
    seed: int = 0
    device: str | None = None
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    focal_gamma: float = FOCAL_GAMMA
    focal_alpha: float = FOCAL_ALPHA
    depth_loss: str = "mse"
    diagnose_every: int = 0
    progress: bool = True


def make_optimizer(params: list[torch.nn.Parameter] | list[dict], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam (the paper), or SGD with momentum 0.9 (torchvision's segmentation reference), at ``config.lr``
    (``params``: parameters, or parameter groups whose ``lr_scale`` the step applies)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    raise SettingError(f"Unknown optimizer '{config.optimizer}'; use one of {', '.join(OPTIMIZERS)}.")
