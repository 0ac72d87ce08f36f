"""One loop that runs any :class:`~mdseg.schedule.Schedule` on a :class:`~mdseg.MultiDecoderUNet`.

It writes into a run folder (:mod:`mdseg.runs`): the checkpoint after every epoch (atomically),
one record per epoch (every loss term and validation metric) and, when the schedule is
finished, the result. Rerunning on the same folder resumes after the last finished epoch and
never redoes a finished stage.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from . import checkpoint
from .arrays import ArraySplit, Batches
from . import distributed as dist
from . import runs
from .device import amp_dtype, oom_advice, pick_device
from .device import device_info
from .errors import MdsegError, SettingError
from .model import MultiDecoderUNet, trainable_parameters
from .metrics import evaluate
from .multitask import UncertaintyWeighting, backward, compute_losses
from .schedule import OPTIMIZERS, Schedule, Stage, budget, learning_rate


class NonFiniteLoss(MdsegError, RuntimeError):
    """Training produced NaN or inf; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Attributes:
        lr: learning rate (paper: Adam at 1e-4); a fresh optimizer starts every stage.
        optimizer: ``"adam"`` (paper) or ``"sgd"`` (momentum 0.9, no weight decay, as the Adam runs).
        lr_schedule: ``"constant"`` (paper) or ``"cosine"`` (warm-up, then cosine decay to 0
            over each stage; see :func:`mdseg.schedule.learning_rate`).
        batch_size, num_workers: data loading.
        seed: seeds weights init (by the caller), shuffling and augmentation per epoch.
        device: ``None`` picks CUDA when available.
        amp: autocast on CUDA only (bf16 where supported, else fp16 with a scaler).
        channels_last: NHWC model and batches, on every device (about 15% faster steps on a 2-core
            CPU too, measured by ``benchmarks/bench_train.py``).
        compile: ``torch.compile`` the model on CUDA (each stage compiles its own graph).
        focal_gamma, focal_alpha: focal loss (paper: gamma 2; alpha not given, 1 here).
        depth_loss: ``"mse"`` (paper), ``"ssi"`` or ``"norm"``; a stage may override it.
        diagnose_every: every N steps, log per-task loss, encoder gradient norms and their
            cosine to ``diagnostics.jsonl`` (0 = off; costs one extra encoder backward per task).
        progress: tqdm bars.
    """

    lr: float = 1e-4
    lr_schedule: str = "constant"
    optimizer: str = "adam"
    batch_size: int = 16
    num_workers: int = 0
    seed: int = 0
    device: str | None = None
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    focal_gamma: float = 2.0
    focal_alpha: float = 1.0
    depth_loss: str = "mse"
    diagnose_every: int = 0
    progress: bool = True


def make_optimizer(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam (the paper), or SGD with momentum 0.9 (torchvision's segmentation reference), at ``config.lr``."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    raise SettingError(f"Unknown optimizer '{config.optimizer}'; use one of {', '.join(OPTIMIZERS)}.")


def epoch_seed(seed: int, stage: int, epoch: int) -> int:
    """The seed of one epoch: a pure function, so a resumed run sees the same batches."""
    return seed * 1_000_003 + stage * 1_009 + epoch


def _loader(dataset: Dataset | ArraySplit, config: TrainConfig, shuffle: bool, seed: int,
            device: torch.device) -> DataLoader | Batches:
    """Seeded per epoch (a resumed run sees the same batches); under torch.distributed each
    process gets its own shard of every training epoch (batch_size is per process). An
    :class:`~mdseg.arrays.ArraySplit` makes its batches on the device itself."""
    if isinstance(dataset, ArraySplit):
        return dataset.batches(config.batch_size, shuffle, seed, device)
    generator = torch.Generator().manual_seed(seed)
    rank, size = dist.world()
    sampler = None
    if shuffle and size > 1:
        sampler = DistributedSampler(dataset, num_replicas=size, rank=rank, shuffle=True, seed=seed, drop_last=True)
    return DataLoader(dataset, batch_size=config.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      drop_last=shuffle, num_workers=config.num_workers, generator=generator,
                      pin_memory=device.type == "cuda")


def train_one_epoch(net: torch.nn.Module, model: MultiDecoderUNet, stage: Stage, loader, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, config: TrainConfig, device: torch.device, dtype: torch.dtype | None,
                    epoch: int, weighting: UncertaintyWeighting | None = None,
                    on_diagnosis: Callable[[int, dict, dict], None] | None = None, where: str = "",
                    last: str = "") -> tuple[dict[str, float], int]:
    """One pass over ``loader`` (batches of the training dict): forward under autocast, the
    stage's losses, the non-finite guard (``where`` and ``last`` name the place and the kept
    checkpoint in its message), backward (every ``config.diagnose_every`` steps with gradient
    diagnostics, passed to ``on_diagnosis(step, loss values, stats)``), the learning rate of
    the step, the optimizer step. Returns the summed loss terms and the number of steps."""
    size = dist.world()[1]
    sums: dict[str, float] = {}
    steps = 0
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        images = batch["image"]
        if config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with oom_advice(config.batch_size, images):
            with autocast:
                outputs = net(images, tasks=stage.tasks)
            terms = compute_losses(outputs, batch, stage, config, weighting)
        values = {k: v.item() for k, v in terms.items()}
        if dist.any_rank(not all(math.isfinite(v) for v in values.values()), device):
            bad = ", ".join(f"{k}={v}" for k, v in values.items())
            raise NonFiniteLoss(
                f"Non-finite loss in {where}, step {steps + 1}: {bad}. Training stopped; {last}. "
                "Lower the learning rate (--lr), or check the data with `python -m mdseg data check`."
            )
        optimizer.zero_grad(set_to_none=True)
        diagnose = config.diagnose_every > 0 and steps % config.diagnose_every == 0
        with oom_advice(config.batch_size, images):
            stats = backward(model, stage, terms, scaler, weighting, diagnose)
        if stats is not None and on_diagnosis is not None:
            on_diagnosis(steps + 1, values, stats)
        if weighting is not None and size > 1:  # not inside DDP: average its gradients by hand
            for p in weighting.parameters():
                dist.all_sum(p.grad).div_(size)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config.lr, epoch * len(loader) + steps, stage.epochs * len(loader),
                                        config.lr_schedule)
        scaler.step(optimizer)
        scaler.update()
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        steps += 1
        if hasattr(loader, "set_postfix"):
            loader.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
    return sums, steps


def run(model: MultiDecoderUNet, schedule: Schedule, train_set: Dataset, val_set: Dataset | None,
        out_dir: str | Path, config: TrainConfig = TrainConfig()) -> dict:
    """Train ``model`` through ``schedule``, resuming from ``out_dir`` when it holds a checkpoint.

    Returns the result (also written to ``result.json``): final validation metrics, the
    schedule's budget, per-epoch history and wall time. The folder is locked while it trains
    (:func:`mdseg.runs.exclusive`): a second trainer into it gets a clear error.
    """
    out = Path(out_dir)
    with runs.exclusive(out) if dist.world()[0] == 0 else contextlib.nullcontext():
        session = _start(model, schedule, train_set, val_set, out, config)
        done_stage, done_epoch = session.resumed_at
        for index, stage in enumerate(schedule.stages):
            first_epoch = done_epoch if index == done_stage else 0
            if index >= done_stage and first_epoch < stage.epochs:  # else finished before this call
                _train_stage(session, index, first_epoch)
        result = {"schedule": schedule.name, "budget": budget(schedule), "history": session.history,
                  "metrics": session.history[-1].get("val", {}) if session.history else {},
                  "wall_seconds": time.perf_counter() - session.start_time,
                  "device": device_info(session.device, session.dtype)}
        if session.main:
            runs.write_result(out, result)
        return result


@dataclass
class _Session:
    """What every stage and epoch of one :func:`run` call shares."""

    model: MultiDecoderUNet
    schedule: Schedule
    train_set: Dataset | ArraySplit
    val_set: Dataset | ArraySplit | None
    out: Path
    config: TrainConfig
    device: torch.device
    dtype: torch.dtype | None  # autocast dtype, None = full precision
    scaler: torch.amp.GradScaler
    main: bool  # the process that writes files
    with_depth: bool  # validation measures depth too (its items carry pseudo depth)
    resumed_at: tuple[int, int]  # (stage, epoch) of the checkpoint resumed from; (0, 0) = fresh
    history: list[dict]
    start_time: float

    @property
    def checkpoint(self) -> Path:
        return self.out / runs.CHECKPOINT


def _start(model: MultiDecoderUNet, schedule: Schedule, train_set: Dataset, val_set: Dataset | None, out: Path,
           config: TrainConfig) -> _Session:
    """Put model and data on the device, load the checkpoint to resume from and drop the
    records past it."""
    device = pick_device(config.device)
    model.to(device)
    for split in (train_set, val_set):
        if isinstance(split, ArraySplit):
            split.to(device)  # the GPU-resident path: every batch is gathered and augmented there
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    dtype = amp_dtype(device) if config.amp else None
    if dist.world()[1] > 1 and (config.diagnose_every or any(s.weighting == "pcgrad" for s in schedule.stages)):
        raise SettingError("Gradient diagnostics and PCGrad run in a single process only; drop torchrun for them.")
    resumed_at = (0, 0)
    if (out / runs.CHECKPOINT).exists():
        meta = checkpoint.read_meta(out / runs.CHECKPOINT)
        if meta["schedule"] != schedule.name:
            raise checkpoint.CheckpointError(
                f"{out} holds a run of '{meta['schedule']}', not '{schedule.name}': use another run folder.")
        resumed_at = (meta["stage"], meta["epoch"])
        checkpoint.load(out / runs.CHECKPOINT, model)
    kept = {name: runs.keep_records(out / name, resumed_at) for name in (runs.LOG, runs.DIAGNOSTICS)}
    main = dist.world()[0] == 0
    dist.barrier()  # every process has read the run folder before the main one rewrites it
    if main:
        for name, records in kept.items():
            runs.rewrite_records(out / name, records)
    with_depth = val_set is not None and "depth" in val_set[0]
    return _Session(model, schedule, train_set, val_set, out, config, device, dtype,
                    torch.amp.GradScaler("cuda", enabled=dtype == torch.float16), main, with_depth, resumed_at,
                    kept[runs.LOG], time.perf_counter())


def _train_stage(session: _Session, index: int, first_epoch: int) -> None:
    """Train stage ``index`` from ``first_epoch``: a fresh optimizer over what the stage trains
    (restored from the checkpoint when resuming inside the stage)."""
    model, config, stage = session.model, session.config, session.schedule.stages[index]
    if first_epoch == 0 and stage.copy is not None:
        model.copy_decoder(*stage.copy)
    params = trainable_parameters(model, stage)
    weighting = UncertaintyWeighting(stage.tasks).to(session.device) if stage.weighting == "uncertainty" else None
    optimizer = make_optimizer(params + (list(weighting.parameters()) if weighting else []), config)
    if first_epoch > 0:
        checkpoint.load(session.checkpoint, model, optimizer, extra=weighting)
    cuda = session.device.type == "cuda"
    net = model
    if dist.world()[1] > 1:
        net = DistributedDataParallel(model, device_ids=[session.device] if cuda else None)
    if config.compile and cuda:
        net = torch.compile(net)
    for epoch in range(first_epoch, stage.epochs):
        _train_epoch(session, index, epoch, net, optimizer, weighting)


def _train_epoch(session: _Session, index: int, epoch: int, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 weighting: UncertaintyWeighting | None) -> None:
    """One epoch of stage ``index``, its validation, its record and its checkpoint."""
    model, config, schedule, device = session.model, session.config, session.schedule, session.device
    stage = schedule.stages[index]
    seed = epoch_seed(config.seed, index, epoch)
    torch.manual_seed(seed + 7919 * dist.world()[0])  # each process its own augmentation
    model.train()
    if not stage.train_encoder:
        model.encoder.eval()
    loader = _loader(session.train_set, config, True, seed, device)
    global_epoch = sum(s.epochs for s in schedule.stages[:index]) + epoch + 1
    bar = tqdm(loader, disable=not (config.progress and session.main), leave=False,
               desc=f"{schedule.name} | stage {index + 1}/{len(schedule.stages)} {stage.name} "
                    f"| epoch {epoch + 1}/{stage.epochs}")

    def log_diagnosis(step: int, values: dict, stats: dict) -> None:
        entry = {"stage": index, "epoch": epoch + 1, "step": step,
                 "global_step": (global_epoch - 1) * len(loader) + step, "loss": values, **stats}
        if weighting is not None:
            entry["weights"] = weighting.weights()
        if session.main:
            runs.append_record(session.out / runs.DIAGNOSTICS, entry)

    where = f"'{schedule.name}', stage {index + 1} '{stage.name}', epoch {epoch + 1}"
    last = (f"the last good checkpoint {session.checkpoint} is kept" if session.checkpoint.exists()
            else "no checkpoint yet")
    sums, steps = train_one_epoch(net, model, stage, bar, optimizer, session.scaler, config, device, session.dtype,
                                  epoch, weighting, log_diagnosis, where, last)
    record = {"stage": index, "epoch": epoch + 1, "stage_name": stage.name, "global_epoch": global_epoch,
              "train": {k: v / max(steps, 1) for k, v in sums.items()}, "steps": steps,
              **({"weights": weighting.weights()} if weighting is not None else {}),
              "seconds": time.perf_counter() - session.start_time}
    if session.val_set is not None:
        record["val"] = evaluate(model, _loader(session.val_set, config, False, 0, device), device,
                                 session.with_depth)
    meta = {"schedule": schedule.name, "stage": index, "epoch": epoch + 1, "model": model.config(),
            "stages": [asdict(s) for s in schedule.stages]}
    if session.main:
        runs.append_record(session.out / runs.LOG, record)  # before the checkpoint: a resume drops records past it
        checkpoint.save(session.checkpoint, model, meta, optimizer, extra=weighting)
    dist.barrier()
    session.history.append(record)
    if config.progress and session.main:
        shown = {k: round(v, 4) for k, v in record.get("val", {}).items() if k != "per_class_iou"}
        tqdm.write(f"[{schedule.name}] stage {index + 1} {stage.name} epoch {epoch + 1}: "
                   f"train {({k: round(v, 4) for k, v in record['train'].items()})} val {shown}")
