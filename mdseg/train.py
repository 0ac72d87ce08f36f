"""One loop that runs any :class:`~mdseg.schedule.Schedule` on a :class:`~mdseg.MultiDecoderUNet`.

A run folder holds ``checkpoint.safetensors`` (after every epoch, written atomically),
``log.jsonl`` (one record per epoch: every loss term and validation metric) and, when the
schedule is finished, ``result.json``. Rerunning on the same folder resumes after the last
finished epoch and never redoes a finished stage.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm.auto import tqdm

from . import checkpoint
from .arrays import ArraySplit, Batches
from . import distributed as dist
from . import runs
from .device import amp_dtype, pick_device
from .losses import depth_loss, focal_loss
from .metrics import SegMetrics
from .model import MultiDecoderUNet
from .multitask import UncertaintyWeighting, encoder_gradients, gradient_stats, pcgrad
from .schedule import Schedule, Stage, budget, learning_rate

CHECKPOINT = "checkpoint.safetensors"
LOG = "log.jsonl"
DIAGNOSTICS = "diagnostics.jsonl"
RESULT = "result.json"


class NonFiniteLoss(RuntimeError):
    """Training produced NaN or inf; the last good checkpoint is kept."""


class OutOfMemory(RuntimeError):
    """The device ran out of memory, with the settings to change."""


@contextlib.contextmanager
def _oom_advice(config: "TrainConfig", images: torch.Tensor):
    """Turn a CUDA out-of-memory error into :class:`OutOfMemory` naming the settings to change."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as error:
        size = "x".join(str(s) for s in images.shape[-2:])
        raise OutOfMemory(
            f"Out of memory training batches of {config.batch_size} images of {size} px ({error}). Use a smaller "
            f"batch (--batch-size {max(config.batch_size // 2, 1)}) or crop size, or a smaller encoder; "
            "rerun the same command to resume from the last checkpoint."
        ) from error


@dataclass
class TrainConfig:
    """Attributes:
        lr: Adam learning rate (paper: 1e-4); a fresh Adam starts every stage.
        lr_schedule: ``"constant"`` (paper) or ``"cosine"`` (warm-up, then cosine decay to 0
            over each stage; see :func:`mdseg.schedule.learning_rate`).
        batch_size, num_workers: data loading.
        seed: seeds weights init (by the caller), shuffling and augmentation per epoch.
        device: ``None`` picks CUDA when available.
        amp, channels_last: used on CUDA only (bf16 where supported, else fp16 with a scaler).
        compile: ``torch.compile`` the model on CUDA (each stage compiles its own graph).
        focal_gamma, focal_alpha: focal loss (paper: gamma 2; alpha not given, 1 here).
        depth_loss: ``"mse"`` (paper), ``"ssi"`` or ``"norm"``; a stage may override it.
        diagnose_every: every N steps, log per-task loss, encoder gradient norms and their
            cosine to ``diagnostics.jsonl`` (0 = off; costs one extra encoder backward per task).
        progress: tqdm bars.
    """

    lr: float = 1e-4
    lr_schedule: str = "constant"
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


def epoch_seed(seed: int, stage: int, epoch: int) -> int:
    """The seed of one epoch: a pure function, so a resumed run sees the same batches."""
    return seed * 1_000_003 + stage * 1_009 + epoch


def trainable_parameters(model: MultiDecoderUNet, stage: Stage) -> list[torch.nn.Parameter]:
    """Freeze everything, then unfreeze what ``stage`` trains; returns those parameters."""
    model.requires_grad_(False)
    modules = [model.encoder] if stage.train_encoder else []
    for task in stage.tasks:
        modules += [model.decoder(task), model.head(task)]
    params = []
    for module in modules:
        module.requires_grad_(True)
        params += list(module.parameters())
    return params


def compute_losses(outputs: dict, batch: dict, stage: Stage, config: TrainConfig,
                   weighting: UncertaintyWeighting | None = None) -> dict[str, torch.Tensor]:
    """Named loss terms for the stage's tasks plus their combination under ``"total"``:
    the stage's fixed weights, or the learned ``weighting``."""
    terms = {}
    if "seg" in stage.weights:
        terms["seg"] = focal_loss(outputs["seg"], batch["mask"], gamma=config.focal_gamma, alpha=config.focal_alpha)
    if "depth" in stage.weights:
        terms["depth"] = depth_loss(outputs["depth"], batch["depth"], kind=stage.depth_loss or config.depth_loss)
    if weighting is not None:
        terms["total"] = weighting(terms)
    else:
        terms["total"] = sum(stage.weights[k] * terms[k] for k in stage.weights)
    return terms


def backward(model: MultiDecoderUNet, stage: Stage, terms: dict[str, torch.Tensor], scaler: torch.amp.GradScaler,
             weighting: UncertaintyWeighting | None = None, diagnose: bool = False) -> dict | None:
    """Backpropagate ``terms["total"]``; with PCGrad, replace the encoder's gradient by the
    projected sum of the task gradients. With ``diagnose``, return :func:`gradient_stats`."""
    grads = None
    if stage.train_encoder and (stage.weighting == "pcgrad" or diagnose):
        weights = weighting.weights() if weighting is not None else stage.weights
        grads = encoder_gradients(model.encoder, {t: weights[t] * terms[t] for t in stage.tasks})
    scaler.scale(terms["total"]).backward()
    if stage.weighting == "pcgrad" and grads is not None and len(grads) > 1:
        combined = pcgrad(list(grads.values()))
        if scaler.is_enabled():  # scaler.step unscales every gradient, this one too
            combined = combined * scaler.get_scale()
        offset = 0
        for p in (p for p in model.encoder.parameters() if p.requires_grad):
            p.grad.copy_(combined[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
    return gradient_stats(grads) if diagnose and grads is not None else None


@torch.no_grad()
def evaluate(model: MultiDecoderUNet, loader: DataLoader | Batches, device: torch.device, with_depth: bool,
             progress: bool = False) -> dict:
    """Segmentation metrics (:class:`SegMetrics`) and, with ``with_depth``, the depth MSE.
    Under torch.distributed the loader's dataset is split between processes (each item once)
    and the counts are summed, so every process returns the one-process result."""
    rank, size = dist.world()
    if size > 1 and isinstance(loader, Batches):
        loader = loader.split.batches(loader.batch_size, False, 0, device, shard=True)
    elif size > 1:
        loader = DataLoader(Subset(loader.dataset, dist.shard(len(loader.dataset))), batch_size=loader.batch_size,
                            num_workers=loader.num_workers)
    was_training = model.training
    model.eval()
    metrics = SegMetrics(num_classes=model.num_classes)
    depth_sum, depth_n = 0.0, 0
    tasks = ("seg", "depth") if with_depth else ("seg",)
    for batch in tqdm(loader, desc="eval", leave=False, disable=not progress):
        images = batch["image"].to(device)
        out = model(images, tasks=tasks)
        metrics.update(out["seg"].argmax(1), batch["mask"], batch["instances"])
        if with_depth:
            depth_sum += depth_loss(out["depth"].float(), batch["depth"].to(device)).item() * len(images)
            depth_n += len(images)
    model.train(was_training)
    metrics.all_reduce()
    result = metrics.compute()
    if with_depth:
        total = dist.all_sum(torch.tensor([depth_sum, float(depth_n)], dtype=torch.float64, device=device))
        result["depth_mse"] = float(total[0] / total[1].clamp(min=1))
    return result


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


def read_records(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file such as ``log.jsonl`` or ``diagnostics.jsonl``
    (``[]`` when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append_record(path: Path, record: dict) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


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
    cuda = device.type == "cuda"
    sums: dict[str, float] = {}
    steps = 0
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        images = batch["image"]
        if cuda and config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        with _oom_advice(config, images):
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
        with _oom_advice(config, images):
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
        return _run(model, schedule, train_set, val_set, out, config)


def _run(model: MultiDecoderUNet, schedule: Schedule, train_set: Dataset, val_set: Dataset | None,
         out: Path, config: TrainConfig) -> dict:
    device = pick_device(config.device)
    model.to(device)
    for split in (train_set, val_set):
        if isinstance(split, ArraySplit):
            split.to(device)  # the GPU-resident path: every batch is gathered and augmented there
    cuda = device.type == "cuda"
    if cuda and config.channels_last:
        model.to(memory_format=torch.channels_last)
    dtype = amp_dtype(device) if config.amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)

    rank, size = dist.world()
    main = rank == 0  # the process that writes files
    if size > 1 and (config.diagnose_every or any(s.weighting == "pcgrad" for s in schedule.stages)):
        raise ValueError("Gradient diagnostics and PCGrad run in a single process only; drop torchrun for them.")
    ckpt_path, log_path = out / CHECKPOINT, out / LOG
    done_stage, done_epoch = 0, 0  # progress of the checkpoint we resume from
    if ckpt_path.exists():
        meta = checkpoint.read_meta(ckpt_path)
        if meta["schedule"] != schedule.name:
            raise checkpoint.CheckpointError(
                f"{out} holds a run of '{meta['schedule']}', not '{schedule.name}': use another run folder.")
        done_stage, done_epoch = meta["stage"], meta["epoch"]
        checkpoint.load(ckpt_path, model)
    diag_path = out / DIAGNOSTICS
    kept = {path: [r for r in read_records(path) if (r["stage"], r["epoch"]) <= (done_stage, done_epoch)]
            for path in (log_path, diag_path)}  # a resume drops the records past the checkpoint
    history = kept[log_path]
    dist.barrier()  # every process has read the run folder before the main one rewrites it
    if main:
        for path, records in kept.items():
            if records or path.exists():  # no empty diagnostics.jsonl in runs that never diagnose
                path.write_text("".join(json.dumps(r) + "\n" for r in records))
    start_time = time.perf_counter()

    with_depth = val_set is not None and "depth" in val_set[0]
    for stage_index, stage in enumerate(schedule.stages):
        first_epoch = done_epoch if stage_index == done_stage else 0
        if stage_index < done_stage or first_epoch >= stage.epochs:
            continue  # finished before this run started
        if first_epoch == 0 and stage.copy is not None:
            model.copy_decoder(*stage.copy)
        params = trainable_parameters(model, stage)
        weighting = UncertaintyWeighting(stage.tasks).to(device) if stage.weighting == "uncertainty" else None
        optimizer = torch.optim.Adam(params + (list(weighting.parameters()) if weighting else []), lr=config.lr)
        if first_epoch > 0:
            checkpoint.load(ckpt_path, model, optimizer, extra=weighting)
        net = DistributedDataParallel(model, device_ids=[device] if cuda else None) if size > 1 else model
        if config.compile and cuda:
            net = torch.compile(net)
        for epoch in range(first_epoch, stage.epochs):
            seed = epoch_seed(config.seed, stage_index, epoch)
            torch.manual_seed(seed + 7919 * rank)  # each process its own augmentation
            model.train()
            if not stage.train_encoder:
                model.encoder.eval()
            loader = _loader(train_set, config, True, seed, device)
            global_epoch = sum(s.epochs for s in schedule.stages[:stage_index]) + epoch + 1
            bar = tqdm(loader, disable=not (config.progress and main), leave=False,
                       desc=f"{schedule.name} | stage {stage_index + 1}/{len(schedule.stages)} {stage.name} "
                            f"| epoch {epoch + 1}/{stage.epochs}")

            def log_diagnosis(step: int, values: dict, stats: dict) -> None:
                entry = {"stage": stage_index, "epoch": epoch + 1, "step": step,
                         "global_step": (global_epoch - 1) * len(loader) + step, "loss": values, **stats}
                if weighting is not None:
                    entry["weights"] = weighting.weights()
                if main:
                    _append_record(diag_path, entry)

            where = f"'{schedule.name}', stage {stage_index + 1} '{stage.name}', epoch {epoch + 1}"
            last = f"the last good checkpoint {ckpt_path} is kept" if ckpt_path.exists() else "no checkpoint yet"
            sums, steps = train_one_epoch(net, model, stage, bar, optimizer, scaler, config, device, dtype, epoch,
                                          weighting, log_diagnosis, where, last)
            record = {"stage": stage_index, "epoch": epoch + 1, "stage_name": stage.name,
                      "global_epoch": global_epoch,
                      "train": {k: v / max(steps, 1) for k, v in sums.items()}, "steps": steps,
                      **({"weights": weighting.weights()} if weighting is not None else {}),
                      "seconds": time.perf_counter() - start_time}
            if val_set is not None:
                val_loader = _loader(val_set, config, False, 0, device)
                record["val"] = evaluate(model, val_loader, device, with_depth)
            meta = {"schedule": schedule.name, "stage": stage_index, "epoch": epoch + 1, "model": model.config(),
                    "stages": [asdict(s) for s in schedule.stages]}
            if main:
                _append_record(log_path, record)  # before the checkpoint: a resume drops records past it
                checkpoint.save(ckpt_path, model, meta, optimizer, extra=weighting)
            dist.barrier()
            history.append(record)
            if config.progress and main:
                shown = {k: round(v, 4) for k, v in record.get("val", {}).items() if k != "per_class_iou"}
                tqdm.write(f"[{schedule.name}] stage {stage_index + 1} {stage.name} epoch {epoch + 1}: "
                           f"train {({k: round(v, 4) for k, v in record['train'].items()})} val {shown}")
        done_stage, done_epoch = stage_index + 1, 0

    result = {"schedule": schedule.name, "budget": budget(schedule), "history": history,
              "metrics": history[-1].get("val", {}) if history else {},
              "wall_seconds": time.perf_counter() - start_time}
    if main:
        (out / RESULT).write_text(json.dumps(result, indent=1))
    return result
