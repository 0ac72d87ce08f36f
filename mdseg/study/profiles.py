"""Profiles: every size and hyper-parameter that differs between CI, a laptop CPU and a GPU.

Pick one with ``--profile`` or the ``MDSEG_PROFILE`` environment variable (default ``cpu``);
``MDSEG_SEEDS`` (e.g. ``0`` or ``0,1,2``) overrides its seeds in notebooks.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..data.depth_cache import DEFAULT_UNIT, TARGETS
from ..depth.registry import teacher_spec
from ..model.files import FIRST_SHIPPED, SYNTHETIC, installed_sha256
from ..errors import SettingError, UnknownName
from ..training.lr import LR_SCHEDULES, OPTIMIZERS
from ..training.schedule import LATER_STAGE_FIELDS, Schedule, Stage
from ..world.synthetic import SyntheticSpec

ENV_VAR = "MDSEG_PROFILE"
SEEDS_VAR = "MDSEG_SEEDS"


VOC_TRAIN_IMAGES = 1464  # PASCAL VOC 2012 segmentation train split


def check_seeds(seeds) -> None:
    """Refuse a seed given twice: the same seed trains the same run, so it would be counted twice."""
    seen = [s for i, s in enumerate(seeds) if s in list(seeds)[:i]]
    if seen:
        raise SettingError(f"Seed {', '.join(map(str, sorted(set(seen))))} is given more than once in {list(seeds)}: the "
                           "same seed trains the same run, so a repeat would count one run twice. List each seed once.")


@dataclass(frozen=True)
class Profile:
    """Attributes:
        name: ``ci``, ``cpu``, ``colab`` or ``gpu``; about: what it is for, in one line.
        data_root: default folder holding ``VOCdevkit``.
        synthetic: how to generate the data, or ``None`` for real VOC.
        teacher: pseudo-depth teacher (see :mod:`mdseg.depth.teachers`).
        encoder, encoder_weights: smp encoder name and its weights (``None`` = random init).
        decoder_channels: widths of the U-Net decoder blocks (smp's default: 256 ... 16).
        crop_size: training crop; eval_size: evaluation letterbox size;
        scale: random-resize range of the shorter side, in crop sizes (an identity field: its name stays so
            finished runs keep their identity; "depth_scale" is the target multiplier).
        batch_size, stage_epochs (epochs of every schedule stage), lr, seeds.
        optimizer: ``adam`` (the paper) or ``sgd`` (momentum 0.9, as torchvision's segmentation reference).
        lr_schedule: ``constant`` (the paper) or ``cosine`` per stage (:func:`mdseg.training.lr.learning_rate`).
        depth_target: pseudo-depth units, ``normalised``, ``metric``, ``disparity`` or ``png8`` (:mod:`mdseg.depth.targets`).
        depth_scale: the depth target is multiplied by this (its MSE by the square) in every data path.
        depth_weight: ``w`` of the joint stages' ``(1 - w) L_seg + w L_depth`` (paper: 0.15).
        depth_weights: the weights notebook 06 and ``reproduce --suite failure`` try for naive joint training.
        diagnose_every: log gradient diagnostics every N steps of stages where both tasks train the encoder (0 = off;
            single process only; they observe without changing training).
        recipes: recipes ``reproduce`` runs by default.
        num_workers: data-loader worker processes (v2 path).
        data_path: ``loader`` (torchvision v2 transforms per sample on the CPU) or ``arrays`` (each
            split decoded once, batches augmented on the device; see :mod:`mdseg.data.arrays`).
    """

    name: str
    about: str
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
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    seeds: tuple[int, ...] = (0,)
    recipes: tuple[str, ...] | None = None  # None = all of Tables 2 and 3
    num_workers: int = 0
    data_path: str = "loader"
    depth_loss: str = "mse"
    depth_target: str = DEFAULT_UNIT
    depth_scale: float = 1.0
    depth_weight: float = 0.15
    depth_weights: tuple[float, ...] = (0.01, 0.05, 0.15, 0.5)
    diagnose_every: int = 0
    focal_gamma: float = 2.0
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    scale: tuple[float, float] = (0.5, 2.0)

    def __post_init__(self):
        choices = {"optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES, "depth_target": TARGETS,
                   "data_path": ("loader", "arrays")}
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise SettingError(f"Profile '{self.name}': {field} must be one of {', '.join(allowed)}, "
                                   f"not {getattr(self, field)!r}.")
        for field in ("lr", "depth_scale"):
            if not getattr(self, field) > 0:
                raise SettingError(f"Profile '{self.name}': {field} must be a positive number, not {getattr(self, field)}.")
        teacher_spec(self.teacher)  # an unknown teacher is refused here, before any run folder is claimed
        if self.stage_epochs < 1:
            raise SettingError(f"Profile '{self.name}': {self.stage_epochs} epochs per stage trains nothing; give at least 1 "
                               "(--epochs).")
        train_images = self.synthetic.n_train if self.synthetic is not None else VOC_TRAIN_IMAGES
        if not 1 <= self.batch_size <= train_images:
            raise SettingError(f"Profile '{self.name}': batch size {self.batch_size} is outside 1..{train_images}, the "
                               "number of training images (a larger batch trains no step at all); pass a smaller "
                               "--batch-size.")
        check_seeds(self.seeds)


PROFILES: dict[str, Profile] = {
    # every notebook in minutes on a 2-core CPU: a smoke test of the whole pipeline
    "ci": Profile(
        name="ci", about="smoke test, minutes for all notebooks on a CPU; its numbers only show that the "
                         "pipeline runs", data_root="data/synthetic-ci",
        synthetic=SyntheticSpec(n_train=128, n_val=64, size=64, seed=0),
        teacher="simulated", encoder="tu-resnet10t", encoder_weights="synthetic",
        crop_size=64, eval_size=64, batch_size=16, stage_epochs=2, lr=1e-3, lr_schedule="cosine", seeds=(0,),
        scale=(0.75, 1.5), data_path="arrays", depth_weights=(),
        # a diagnosed step costs about two more backward passes: every 8 steps keeps the smoke test quick
        diagnose_every=8,
        recipes=("single-decoder", "naive-joint", "depth-first/copy/s->b"),
    ),
    # a laptop CPU: the story offline, on VOC-like synthetic scenes, from an encoder pretrained offline
    "cpu": Profile(
        name="cpu", about="the story offline on a laptop CPU: synthetic VOC-like scenes, simulated depth teacher, "
                          "encoder pretrained on other synthetic scenes", data_root="data/synthetic",
        synthetic=SyntheticSpec(n_train=1600, n_val=300, size=64, seed=0),
        teacher="simulated", encoder="tu-resnet10t", encoder_weights="synthetic",
        crop_size=64, eval_size=64, batch_size=16, stage_epochs=2, lr=1e-3, lr_schedule="cosine", seeds=(0, 1, 2),
        scale=(0.75, 1.5), data_path="arrays", diagnose_every=4,
    ),
    # the paper's setting sized for one free Colab session (a T4): one seed, the recipes the story needs
    "colab": Profile(
        name="colab", about="the paper's setting in one Colab session (T4, 16 GB): VOC 2012, DINOv2 pseudo depth, "
                            "ImageNet ResNet50, 256 px crops, 4 epochs per stage, one seed, 4 recipes",
        data_root="data/voc", synthetic=None, teacher="dpt-dinov2", encoder="resnet50", encoder_weights="imagenet",
        crop_size=256, eval_size=320, batch_size=16, stage_epochs=4, lr=1e-4, seeds=(0,), num_workers=2,
        data_path="arrays",
        recipes=("single-decoder", "naive-joint", "depth-first/copy/s->b", "semantic-first/copy/d->b"),
    ),
    # the paper: VOC 2012, ResNet50 ImageNet encoder, DINOv2 pseudo depth, Adam 1e-4
    "gpu": Profile(
        name="gpu", about="the paper on a GPU: PASCAL VOC 2012, DINOv2 pseudo depth, ImageNet ResNet50, "
                          "30 epochs per stage", data_root="data/voc", synthetic=None,
        teacher="dpt-dinov2", encoder="resnet50", encoder_weights="imagenet",
        crop_size=384, eval_size=512, batch_size=16, stage_epochs=30, lr=1e-4, seeds=(0, 1, 2),
        num_workers=8, data_path="arrays",
    ),
}


def from_environment(default: str = "cpu") -> Profile:
    """The profile named by ``$MDSEG_PROFILE`` (else ``default``) with the seeds of ``$MDSEG_SEEDS``
    when set (numbers separated by commas or spaces)."""
    text = os.environ.get(SEEDS_VAR, "").strip()
    seeds = None
    if text:
        try:
            seeds = tuple(int(s) for s in re.split(r"[,\s]+", text))
        except ValueError:
            raise SettingError(f"${SEEDS_VAR} must be seed numbers such as '0' or '0,1,2', not {text!r}.") from None
    return get_profile(os.environ.get(ENV_VAR) or default, seeds=seeds)


REHEARSAL_VAR = "MDSEG_REHEARSAL"  # see mdseg.rehearsal: set, every profile trains one epoch per stage, batches of 4


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The profile ``name``, else ``$MDSEG_PROFILE``, else ``cpu``; ``overrides`` replace fields.
    Under ``$MDSEG_REHEARSAL`` (the offline rehearsal of a Colab session, :mod:`mdseg.rehearsal`)
    the profile shrinks to one epoch per stage and batches of at most 4 images first."""
    name = name or os.environ.get(ENV_VAR) or "cpu"
    if name not in PROFILES:
        raise UnknownName(f"Unknown profile '{name}'; choose one of {', '.join(PROFILES)} (flag --profile or ${ENV_VAR}).")
    profile = PROFILES[name]
    if os.environ.get(REHEARSAL_VAR):
        profile = replace(profile, stage_epochs=1, batch_size=min(profile.batch_size, 4))
    return replace(profile, **{k: v for k, v in overrides.items() if v is not None})


# ----------------------------------------------------------------------------- runs of a profile
NOT_IDENTITY = ("about", "seeds", "recipes", "depth_weights", "diagnose_every")  # they do not change a result
# Settings added after runs existed: at these values they are left out of a run's identity, so
# runs trained before the setting existed (the same training) stay valid and are reused.
NEUTRAL = {"depth_scale": 1.0, "optimizer": "adam"}


def identity(profile: Profile, schedule: Schedule, seed: int) -> dict:
    """What determines a run's result: the profile's fields (not its seed and recipe lists, for
    example, nor a :data:`NEUTRAL` setting at its neutral value), the SHA-256 of synthetic encoder
    weights other than the first shipped ones, the schedule's stages and the seed. Stored as ``config.json``."""
    trained_with = {k: v for k, v in asdict(profile).items()
                    if k not in NOT_IDENTITY and not (k in NEUTRAL and v == NEUTRAL[k])}
    if profile.encoder_weights == SYNTHETIC:
        digest = installed_sha256(profile.encoder)
        if digest is not None and digest != FIRST_SHIPPED.get(profile.encoder):
            trained_with["encoder_sha256"] = digest
    return {"profile": trained_with, "schedule": schedule.name, "seed": seed,
            "stages": [stage_identity(s) for s in schedule.stages]}


def stage_identity(stage: Stage) -> dict:
    """A stage's fields as stored in a run's identity; a field added later (:data:`LATER_STAGE_FIELDS`)
    is left out at its default, so runs trained before it existed keep their identity."""
    return {k: v for k, v in asdict(stage).items() if not (k in LATER_STAGE_FIELDS and v is None)}


def runs_root(profile: Profile, base: str | Path = "runs") -> Path:
    """Default folder of a profile's runs: ``<base>/<profile>``, plus one suffix per setting that
    differs from the named profile's (so runs of other units or optimisers never meet), e.g.
    ``runs/cpu-metric``, ``runs/cpu-png8``, ``runs/cpu-x16`` (depth scale 16),
    ``runs/cpu-lr0.0001-constant`` (the paper's optimiser on the cpu profile), ``runs/cpu-sgd-lr0.03``,
    ``runs/cpu-e8`` (8 epochs per stage).
    ``base``: another folder laid out the same way (e.g. the shipped reference runs)."""
    named = PROFILES.get(profile.name, profile)
    parts = [profile.name]
    if profile.depth_target != DEFAULT_UNIT:
        parts.append(profile.depth_target)
    if profile.depth_scale != 1.0:
        parts.append(f"x{profile.depth_scale:g}")
    if profile.optimizer != named.optimizer:
        parts.append(profile.optimizer)
    if profile.lr != named.lr:
        parts.append(f"lr{profile.lr:g}")
    if profile.lr_schedule != named.lr_schedule:
        parts.append(profile.lr_schedule)
    if profile.stage_epochs != named.stage_epochs:
        parts.append(f"e{profile.stage_epochs}")
    return Path(base) / "-".join(parts)
