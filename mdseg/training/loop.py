"""One loop that runs any :class:`~mdseg.training.schedule.Schedule` on a :class:`~mdseg.MultiDecoderUNet`,
read top to bottom like torchvision's reference: :func:`train_one_epoch`, :func:`evaluate`, :func:`run`.

It writes into a run folder (:mod:`mdseg.training.runs`): the checkpoint after every epoch (atomically),
one record per epoch (every loss term and validation metric) and, when the schedule is finished,
the result. Rerunning on the same folder resumes after the last finished epoch and never redoes a
finished stage. The step itself (losses, guard, backward, optimiser) is :mod:`mdseg.training.step`.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..data.arrays import ArraySplit
from ..data.loading import batches
from ..errors import SettingError
from ..model import checkpoint
from ..model.unet import MultiDecoderUNet
from ..runtime import distributed as dist
from ..runtime.device import amp_dtype, device_info, pick_device
from . import runs
from .after_copy import BN_BATCHES, reestimate_bn, reinit_last_block, warm_up
from .config import TrainConfig, make_optimizer
from .losses import depth_loss
from .metrics import DepthMetrics, SegMetrics
from .multitask import UncertaintyWeighting
from .lr import learning_rate
from .schedule import Schedule, budget
from .runs import where_text
from .step import NonFiniteLoss, Stepper, trainable_parameters

__all__ = ["NonFiniteLoss", "TrainConfig", "epoch_seed", "evaluate", "run", "train_one_epoch"]


def train_one_epoch(stepper: Stepper, epoch_batches: Iterable[dict], epoch: int,
                    on_diagnosis: Callable[[int, dict, dict], None] | None = None) -> tuple[dict[str, float], int]:
    """One pass over ``epoch_batches`` at the learning rate of each step (epoch ``epoch`` of the
    stage), with diagnostics every ``config.diagnose_every`` steps (gradient statistics, update
    sizes, dead decoder units: :meth:`~mdseg.training.step.Stepper.step`) passed to
    ``on_diagnosis(step, loss values, stats)``. Returns the summed loss terms
    and the number of steps. A non-finite loss raises :class:`NonFiniteLoss` naming its step."""
    config, stage = stepper.config, stepper.stage
    per_epoch = len(epoch_batches)
    sums: dict[str, float] = {}
    steps = 0
    for batch in epoch_batches:
        lr = learning_rate(config.lr, epoch * per_epoch + steps, stage.epochs * per_epoch, config.lr_schedule)
        if stage.after_copy == "warm-up":
            lr *= warm_up(epoch * per_epoch + steps, per_epoch)
        diagnose = config.diagnose_every > 0 and steps % config.diagnose_every == 0
        try:
            values, stats = stepper.step(batch, lr, diagnose)
        except NonFiniteLoss as error:
            raise NonFiniteLoss(where_text({"step": steps + 1, "values": error.values}), error.values,
                                step=steps + 1) from None
        if stats is not None and on_diagnosis is not None:
            on_diagnosis(steps + 1, values, stats)
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        steps += 1
        if hasattr(epoch_batches, "set_postfix"):
            epoch_batches.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
    return sums, steps


@torch.no_grad()
def evaluate(model: torch.nn.Module, eval_batches: Iterable[dict], device: torch.device, with_depth: bool,
             progress: bool = False) -> dict:
    """Segmentation metrics (:class:`~mdseg.training.metrics.SegMetrics`) over ``eval_batches``
    and, with ``with_depth``, the depth MSE in the target's units and the depth quality after
    per-image scale-and-shift alignment (:class:`~mdseg.training.metrics.DepthMetrics`: ``depth_r2``,
    ``depth_abs_rel``, ``depth_delta1``). Under torch.distributed pass each process its shard
    (:func:`~mdseg.data.loading.batches` with ``shard=True``): the counts are summed, so every
    process returns the one-process result."""
    was_training = model.training
    model.eval()
    metrics = SegMetrics(num_classes=model.num_classes)
    depth_metrics = DepthMetrics()
    depth_sum, depth_n = 0.0, 0
    for batch in tqdm(eval_batches, desc="eval", leave=False, disable=not progress):
        images = batch["image"].to(device)
        out = model(images, tasks=("seg", "depth") if with_depth else ("seg",))
        metrics.update(out["seg"].argmax(1), batch["mask"], batch["instances"])
        if with_depth:
            target = batch["depth"].to(device)
            depth_sum += depth_loss(out["depth"].float(), target).item() * len(images)
            depth_n += len(images)
            depth_metrics.update(out["depth"].float(), target)
    model.train(was_training)
    metrics.all_reduce()
    result = metrics.compute()
    if with_depth:
        total = dist.all_sum(torch.tensor([depth_sum, float(depth_n)], dtype=torch.float64, device=device))
        result["depth_mse"] = float(total[0] / total[1].clamp(min=1))
        depth_metrics.all_reduce()
        result.update(depth_metrics.compute())
    return result


def run(model: MultiDecoderUNet, schedule: Schedule, train_set: Dataset | ArraySplit,
        val_set: Dataset | ArraySplit | None, out_dir: str | Path, config: TrainConfig = TrainConfig()) -> dict:
    """Train ``model`` through ``schedule``, resuming from ``out_dir`` when it holds a checkpoint.

    Returns the result (also written to ``result.json``): final validation metrics, the
    schedule's budget, per-epoch history, wall time (of a resumed run: the kept epochs' time as
    recorded plus this call's) and device. The folder is locked while it
    trains (:func:`mdseg.training.runs.exclusive`): a second trainer into it gets a clear error.
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
                  "device": device_info(session.device, session.dtype),
                  "finished": time.strftime(runs.FINISHED_FORMAT, time.gmtime())}
        if session.main:
            runs.write_result(out, result)
        return result


# ----------------------------------------------------------------------------- what run() is made of
def epoch_seed(seed: int, stage: int, epoch: int) -> int:
    """The seed of one epoch: a pure function, so a resumed run sees the same batches."""
    return seed * 1_000_003 + stage * 1_009 + epoch


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
    start_time: float  # perf_counter at the start, moved back by the time a resumed run's kept epochs took

    @property
    def checkpoint(self) -> Path:
        return self.out / runs.CHECKPOINT


def _start(model: MultiDecoderUNet, schedule: Schedule, train_set: Dataset | ArraySplit,
           val_set: Dataset | ArraySplit | None, out: Path, config: TrainConfig) -> _Session:
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
    spent = kept[runs.LOG][-1].get("seconds", 0.0) if kept[runs.LOG] else 0.0  # by the sessions before a resume
    return _Session(model, schedule, train_set, val_set, out, config, device, dtype,
                    torch.amp.GradScaler("cuda", enabled=dtype == torch.float16), main, with_depth, resumed_at,
                    kept[runs.LOG], time.perf_counter() - spent)


def _train_stage(session: _Session, index: int, first_epoch: int) -> None:
    """Train stage ``index`` from ``first_epoch``: a fresh optimizer over what the stage trains
    (restored from the checkpoint when resuming inside the stage)."""
    model, config, stage = session.model, session.config, session.schedule.stages[index]
    if first_epoch == 0 and stage.copy is not None:
        model.copy_decoder(*stage.copy)
        _after_copy(session, index, stage)
    params = trainable_parameters(model, stage)
    weighting = UncertaintyWeighting(stage.tasks).to(session.device) if stage.weighting == "uncertainty" else None
    if weighting is not None:  # a stage with learned weights has no lr_scale: params is a flat list
        params = params + list(weighting.parameters())
    optimizer = make_optimizer(params, config)
    if first_epoch > 0:
        checkpoint.load(session.checkpoint, model, optimizer, extra=weighting)
    cuda = session.device.type == "cuda"
    net = model
    if dist.world()[1] > 1:
        net = DistributedDataParallel(model, device_ids=[session.device] if cuda else None)
    if config.compile and cuda:
        net = torch.compile(net)
    stepper = Stepper(net, model, stage, optimizer, session.scaler, config, session.device, session.dtype, weighting)
    for epoch in range(first_epoch, stage.epochs):
        _train_epoch(session, index, epoch, stepper)


def _after_copy(session: _Session, index: int, stage) -> None:
    """Undo what the stage's ``after_copy`` names in the decoder just copied into (a pure function of
    the seed and the stage, so a run resumed at this stage boundary does the same)."""
    task, seed = stage.copy[1], epoch_seed(session.config.seed, index, 0)
    if stage.after_copy == "reestimate-bn":
        images = (b["image"] for _, b in zip(range(BN_BATCHES), batches(
            session.train_set, session.config.batch_size, True, seed + 1, session.device, session.config.num_workers)))
        reestimate_bn(session.model, task, images)
    elif stage.after_copy == "reinit-last-block":
        reinit_last_block(session.model, task, seed + 2)


def _train_epoch(session: _Session, index: int, epoch: int, stepper: Stepper) -> None:
    """One epoch of stage ``index``, its validation, its record and its checkpoint."""
    model, config, schedule, device, stage = session.model, session.config, session.schedule, session.device, stepper.stage
    seed = epoch_seed(config.seed, index, epoch)
    torch.manual_seed(seed + 7919 * dist.world()[0])  # each process its own augmentation
    model.train()
    if not stage.train_encoder:
        model.encoder.eval()
    epoch_batches = batches(session.train_set, config.batch_size, True, seed, device, config.num_workers)
    global_epoch = sum(s.epochs for s in schedule.stages[:index]) + epoch + 1
    bar = tqdm(epoch_batches, disable=not (config.progress and session.main), leave=False,
               desc=f"{schedule.name} | stage {index + 1}/{len(schedule.stages)} {stage.name} "
                    f"| epoch {epoch + 1}/{stage.epochs}")

    def log_diagnosis(step: int, values: dict, stats: dict) -> None:
        entry = {"stage": index, "epoch": epoch + 1, "step": step,
                 "global_step": (global_epoch - 1) * len(epoch_batches) + step, "loss": values, **stats}
        if stepper.weighting is not None:
            entry["weights"] = stepper.weighting.weights()
        if session.main:
            runs.append_record(session.out / runs.DIAGNOSTICS, entry)

    try:
        sums, steps = train_one_epoch(stepper, bar, epoch, log_diagnosis)
    except NonFiniteLoss as error:
        kept = (f"the checkpoint of its last finished epoch is kept ({session.checkpoint})" if session.checkpoint.exists()
                else "no epoch finished before it")
        where = {"schedule": schedule.name, "stage": index + 1, "stage_name": stage.name, "epoch": epoch + 1,
                 **error.where}
        raise NonFiniteLoss(f"Non-finite loss in '{schedule.name}', {where_text({**where, 'values': error.values})}. "
                            f"Training stopped; {kept}. Lower the learning rate (--lr) or the depth scale: the "
                            "same settings stop at the same step again (a run is deterministic), and other settings "
                            "train a new run in its own folder. Or check the data with `python -m mdseg data check`.",
                            error.values, **where) from None
    record = {"stage": index, "epoch": epoch + 1, "stage_name": stage.name, "global_epoch": global_epoch,
              "train": {k: v / max(steps, 1) for k, v in sums.items()}, "steps": steps,
              **({"weights": stepper.weighting.weights()} if stepper.weighting is not None else {}),
              "seconds": time.perf_counter() - session.start_time}
    if session.val_set is not None:
        eval_batches = batches(session.val_set, config.batch_size, False, 0, device, config.num_workers, shard=True)
        record["val"] = evaluate(model, eval_batches, device, session.with_depth)
    meta = {"schedule": schedule.name, "stage": index, "epoch": epoch + 1, "model": model.config(),
            "stages": [asdict(s) for s in schedule.stages]}
    if session.main:
        runs.append_record(session.out / runs.LOG, record)  # before the checkpoint: a resume drops records past it
        checkpoint.save(session.checkpoint, model, meta, stepper.optimizer, extra=stepper.weighting)
    dist.barrier()
    session.history.append(record)
    if config.progress and session.main:
        shown = {k: round(v, 4) for k, v in record.get("val", {}).items() if k != "per_class_iou"}
        tqdm.write(f"[{schedule.name}] stage {index + 1} {stage.name} epoch {epoch + 1}: "
                   f"train {({k: round(v, 4) for k, v in record['train'].items()})} val {shown}")
