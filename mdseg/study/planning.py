"""What a training cell or command is about to do, and how long that takes here: the runs it will
train or resume (:class:`Plan`), from training steps timed on this machine (:func:`step_seconds`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..model import checkpoint
from ..model.unet import MultiDecoderUNet
from ..runtime.device import pick_device
from ..training import runs
from ..training.multitask import encoder_gradients, gradient_stats
from ..training.runs import run_dir
from ..training.schedule import Stage
from .records import Recipe, schedules
from .profiles import Profile, runs_root


@dataclass
class Plan:
    """What a training cell or command is about to do: the runs it will train (``todo``, with the
    epochs each still needs), how many are already finished, how many a non-finite loss stopped and
    are kept as that outcome (``diverged``: a suite that maps failures does not retrain them), and an
    estimate of the time."""

    profile: str
    todo: list[tuple[str, int, int, int]]  # (recipe, seed, epochs left, epochs in all)
    finished: int
    seconds: float
    diverged: int = 0

    def __str__(self) -> str:
        if not self.todo:
            return (f"All {self.finished} runs are already finished in this profile ('{self.profile}')"
                    f"{kept_diverged(self.diverged)}: nothing to train.")
        resumed = sum(1 for r in self.todo if r[2] < r[3])
        return (f"Training {len(self.todo)} run{'s' if len(self.todo) > 1 else ''} of profile '{self.profile}' "
                f"({self.finished} already finished and reused{kept_diverged(self.diverged)}"
                f"{f', {resumed} resumed' if resumed else ''}): "
                f"about {format_duration(self.seconds)} on this machine (estimated from timed training steps).")


def kept_diverged(n: int) -> str:
    """``", 3 diverged and kept as such"`` where ``n`` runs a non-finite loss stopped are kept as outcomes, else ``""``."""
    return f", {n} diverged and kept as such" if n else ""


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


_STEP_SECONDS: dict[tuple, dict[tuple[str, ...], float]] = {}  # measured once per model, batch shape and kind


def step_seconds(profile: Profile, device: str | None = None, steps: int = 2,
                 diagnosed: bool = False) -> dict[tuple[str, ...], float]:
    """Measured seconds of one training step (forward, backward, Adam) of the profile's model on
    this machine, per set of active decoders, after a warm-up step (once per process and shape).
    With ``diagnosed``, two-task steps that also take each task's gradient on the encoder first, as
    a step with gradient diagnostics does (:func:`~mdseg.training.multitask.encoder_gradients`).
    Random data: a cost, not a result."""
    key = (profile.encoder, profile.decoder_channels, profile.batch_size, profile.crop_size, device, steps, diagnosed)
    if key not in _STEP_SECONDS:
        _STEP_SECONDS[key] = _measure_steps(profile, device, steps, diagnosed)
    return _STEP_SECONDS[key]


def _measure_steps(profile: Profile, device: str | None, steps: int, diagnosed: bool) -> dict[tuple[str, ...], float]:
    dev = pick_device(device)
    model = MultiDecoderUNet(profile.encoder, encoder_weights=None, decoder_channels=profile.decoder_channels).to(dev)
    x = torch.randn(profile.batch_size, 3, profile.crop_size, profile.crop_size, device=dev)
    y = torch.randint(0, model.num_classes, (profile.batch_size, profile.crop_size, profile.crop_size), device=dev)
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)
    out = {}
    for tasks in ((("seg", "depth"),) if diagnosed else (("seg",), ("depth",), ("seg", "depth"))):
        times = []
        for _ in range(steps + 1):
            _sync(dev)
            start = time.perf_counter()
            pred = model(x, tasks=tasks)
            terms = {t: torch.nn.functional.cross_entropy(pred[t], y) if t == "seg" else pred[t].square().mean()
                     for t in tasks}
            optimizer.zero_grad()
            if diagnosed:
                gradient_stats(encoder_gradients(model.encoder, terms))
            sum(terms.values()).backward()
            optimizer.step()
            _sync(dev)
            times.append(time.perf_counter() - start)
        out[tasks] = min(times[1:])
    return out


def plan(profile: Profile, out: str | Path, recipes: list[Recipe] | None = None, seeds: list[int] | None = None,
         device: str | None = None, diagnose_every: int | None = None, keep_divergence: bool = False) -> Plan:
    """The :class:`Plan` of ``reproduce(profile, out, seeds, recipes, diagnose_every=...)``: which runs
    are finished (reused), which will train or resume, and how long that should take here (gradient
    diagnostics included: every ``diagnose_every`` steps where both tasks train the encoder, default
    the profile's). With ``keep_divergence`` (as a suite's :func:`~mdseg.study.jobs.train_jobs` trains)
    a run a non-finite loss stopped is its outcome, counted apart and not trained again."""
    todo, finished, diverged, stages = [], 0, 0, {}
    for schedule, seed in ((s, k) for s in schedules(profile, recipes) for k in (seeds or profile.seeds)):
        folder = run_dir(out, schedule.name, seed)
        if (folder / runs.RESULT).exists():
            finished += 1
            continue
        if keep_divergence and (folder / runs.DIVERGED).exists():
            diverged += 1
            continue
        stages[schedule.name] = schedule.stages
        done = 0
        if (folder / runs.CHECKPOINT).exists():
            meta = checkpoint.read_meta(folder / runs.CHECKPOINT)
            done = sum(s.epochs for s in schedule.stages[:meta["stage"]]) + meta["epoch"]
        todo.append((schedule.name, seed, schedule.epochs - done, schedule.epochs))
    seconds = 0.0
    if todo:
        every = profile.diagnose_every if diagnose_every is None else diagnose_every
        images = profile.synthetic.n_train if profile.synthetic else 1464  # VOC 2012 train
        val_images = profile.synthetic.n_val if profile.synthetic else 1449
        steps = images // profile.batch_size
        cost = step_seconds(profile, device)
        diagnoses = every > 0 and any(s.tasks_share_encoder for name in stages for s in stages[name])
        diagnosed = step_seconds(profile, device, diagnosed=True) if diagnoses else {}
        for name, _, left, _ in todo:
            per_epoch = [epoch_seconds(s, steps, every, cost, diagnosed) for s in stages[name] for _ in range(s.epochs)]
            seconds += sum(per_epoch[len(per_epoch) - left:])
            seconds += left * val_images / profile.batch_size * cost[("seg",)] / 3  # evaluation: forward only
        seconds *= 1.15  # data loading and logging
    return Plan(profile.name, todo, finished, seconds, diverged)


def epoch_seconds(stage: Stage, steps: int, diagnose_every: int, cost: dict[tuple[str, ...], float],
                  diagnosed: dict[tuple[str, ...], float]) -> float:
    """Seconds of one epoch of ``steps`` steps of ``stage`` at the measured step costs (``cost``:
    plain steps, ``diagnosed``: two-task steps with gradient diagnostics, taken every ``diagnose_every``
    steps (0: never) where both tasks train the encoder, as :func:`mdseg.training.loop.train_one_epoch` does)."""
    tasks = tuple(sorted(stage.tasks, reverse=True))
    if diagnose_every <= 0 or not stage.tasks_share_encoder:
        return steps * cost[tasks]
    n_diagnosed = -(-steps // diagnose_every)
    return (steps - n_diagnosed) * cost[tasks] + n_diagnosed * diagnosed[tasks]


def plan_line(what: str, jobs: list, seeds: list[int], device: str | None, base: str | Path) -> str:
    """One line before a suite trains: how many of its runs are finished, how many will train, and
    the estimated time on this machine. ``jobs``: (profile with a run's settings, recipe) pairs."""
    todo, finished, diverged, seconds = 0, 0, 0, 0.0
    for variant, recipe in jobs:
        p = plan(variant, runs_root(variant, base), [recipe], seeds, device, keep_divergence=True)
        todo, finished, diverged, seconds = (todo + len(p.todo), finished + p.finished, diverged + p.diverged,
                                             seconds + p.seconds)
    return (f"{what}: {finished} runs finished and reused{kept_diverged(diverged)}, {todo} to train"
            + (f", about {format_duration(seconds)} on this machine." if todo else "."))
