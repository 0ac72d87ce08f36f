"""Profiles: every size and hyper-parameter that differs between CI, a laptop CPU and a GPU.

Pick one with ``--profile`` or the ``MDSEG_PROFILE`` environment variable (default ``cpu``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

from .synthetic import SyntheticSpec

ENV_VAR = "MDSEG_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Attributes:
        name: ``ci``, ``cpu`` or ``gpu``.
        data_root: default folder holding ``VOCdevkit``.
        synthetic: how to generate the data, or ``None`` for real VOC.
        teacher: pseudo-depth teacher (see :mod:`mdseg.teachers`).
        encoder, encoder_weights: smp encoder name and its weights (``None`` = random init).
        decoder_channels: widths of the U-Net decoder blocks (smp's default: 256 ... 16).
        crop_size: training crop; eval_size: evaluation letterbox size;
        scale: random-resize range of the shorter side, in crop sizes.
        batch_size, stage_epochs (epochs of every schedule stage), lr (Adam), seeds.
        recipes: recipes ``reproduce`` runs by default.
        num_workers: data-loader worker processes.
    """

    name: str
    data_root: str
    synthetic: SyntheticSpec | None
    teacher: str
    encoder: str
    encoder_weights: str | None
    crop_size: int
    eval_size: int
    batch_size: int
    stage_epochs: int
    lr: float = 1e-4
    seeds: tuple[int, ...] = (0,)
    recipes: tuple[str, ...] | None = None  # None = all of Tables 2 and 3
    num_workers: int = 0
    depth_loss: str = "mse"
    focal_gamma: float = 2.0
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    scale: tuple[float, float] = (0.5, 2.0)


PROFILES: dict[str, Profile] = {
    # tiny: seconds per run on a 2-core CPU; numbers are smoke, not science
    "ci": Profile(
        name="ci", data_root="data/synthetic-ci",
        synthetic=SyntheticSpec(n_train=96, n_val=32, size=64, seed=0),
        teacher="simulated", encoder="resnet18", encoder_weights=None,
        crop_size=64, eval_size=64, batch_size=16, stage_epochs=1, lr=1e-3, seeds=(0,),
        decoder_channels=(64, 32, 16, 16, 8), scale=(0.75, 1.5),
        recipes=("single-decoder", "naive-joint", "depth-first/copy/s->b", "semantic-first/copy/d->b"),
    ),
    # a laptop CPU: learning curves that mean something in minutes per recipe
    "cpu": Profile(
        name="cpu", data_root="data/synthetic",
        synthetic=SyntheticSpec(n_train=1600, n_val=200, size=96, seed=0),
        teacher="simulated", encoder="resnet18", encoder_weights=None,
        crop_size=96, eval_size=96, batch_size=16, stage_epochs=3, lr=1e-3, seeds=(0, 1, 2),
        decoder_channels=(128, 64, 32, 16, 16), scale=(0.75, 1.5),
    ),
    # the paper: VOC 2012, ResNet50 ImageNet encoder, DINOv2 pseudo depth, Adam 1e-4
    "gpu": Profile(
        name="gpu", data_root="data/voc", synthetic=None,
        teacher="dpt-dinov2", encoder="resnet50", encoder_weights="imagenet",
        crop_size=384, eval_size=512, batch_size=16, stage_epochs=30, lr=1e-4, seeds=(0, 1, 2),
        num_workers=8,
    ),
}


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The profile ``name``, else ``$MDSEG_PROFILE``, else ``cpu``; ``overrides`` replace fields."""
    name = name or os.environ.get(ENV_VAR) or "cpu"
    if name not in PROFILES:
        raise KeyError(f"Unknown profile '{name}'; choose one of {', '.join(PROFILES)} (flag --profile or ${ENV_VAR}).")
    return replace(PROFILES[name], **{k: v for k, v in overrides.items() if v is not None})
