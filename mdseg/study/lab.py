"""The mechanism lab: naive joint training of the kit's model for a few dozen steps on a fixed handful of
batches, live on a CPU, with every step diagnosed (losses, each task's encoder gradient, each part's
update size, dead decoder units), so a student can change the depth loss's scale k, the optimiser and
per-image normalisation and watch what a scaled loss does, step by step, before reading the suites.

:func:`run_lab` is plain Python (tests call it); :func:`lab_figure` draws its records; :func:`lab_widget`
puts the three settings and a Run button in front of them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data.loading import batches
from ..runtime.device import pick_device
from ..runtime.display import show
from ..training.config import TrainConfig, make_optimizer
from ..training.schedule import NAIVE, get_recipe
from ..training.step import NonFiniteLoss, Stepper, trainable_parameters
from .compare import comparison
from .experiments import build_model, prepare_data, train_val_sets
from .jobs import trained
from .profiles import Profile, get_profile
from .report import summarize
from .scale_suite import Point

LAB_SGD_LR = 0.01  # the scale suite's SGD rate on the cpu profile (chosen from the baseline alone)


@dataclass(frozen=True)
class LabSettings:
    """What the lab varies: the depth target's scale ``k``, the optimiser (``sgd``: momentum 0.9 at
    :data:`LAB_SGD_LR`; ``adam``: the profile's rate), and ``normalised`` (the depth loss on per-image
    standardised prediction and target, as ``naive-joint/norm``); ``steps`` of training."""

    k: float = 255.0
    optimizer: str = "sgd"
    normalised: bool = False
    steps: int = 30
    seed: int = 0


def lab_profile() -> Profile:
    """The lab's model and data: the ci profile's (the kit's model at the ci size, its synthetic scenes),
    so a run takes well under a minute on any CPU whatever profile the notebook runs under."""
    return get_profile("ci")


def lab_batches(profile: Profile, count: int = 4, batch_size: int = 16) -> list[dict]:
    """The first ``count`` training batches of the profile's data (seed 0), on the CPU: the same every time."""
    prepare_data(profile, with_depth=True, progress=False)
    train_set, _ = train_val_sets(replace(profile, depth_scale=1.0), with_depth=True)
    out = []
    for batch in batches(train_set, batch_size, True, 0, "cpu"):
        out.append(batch)
        if len(out) == count:
            break
    return out


def run_lab(profile: Profile, settings: LabSettings, fixed: list[dict], device: str | None = "cpu") -> list[dict]:
    """Train naive joint (w = 0.15) from the profile's starting weights for ``settings.steps`` steps,
    cycling through the ``fixed`` batches with the depth target times ``k``, diagnosing every step.
    Returns one record per step (``loss``, ``grad_norm_*``, ``update_*``, ``dead_*``); a non-finite
    loss ends the list with ``{"diverged": step}``."""
    torch.manual_seed(settings.seed)
    model = build_model(profile)
    dev = pick_device(device)
    model.to(dev).train()
    schedule = get_recipe("naive-joint/norm" if settings.normalised else NAIVE, 1, equal=False)
    stage = schedule.stages[0]
    lr = LAB_SGD_LR if settings.optimizer == "sgd" else profile.lr
    config = TrainConfig(lr=lr, optimizer=settings.optimizer, batch_size=len(fixed[0]["image"]), progress=False,
                         device=str(dev), amp=False, channels_last=False)
    optimizer = make_optimizer(trainable_parameters(model, stage), config)
    stepper = Stepper(model, model, stage, optimizer, torch.amp.GradScaler("cuda", enabled=False), config, dev, None)
    records = []
    for step in range(settings.steps):
        batch = dict(fixed[step % len(fixed)])
        batch["depth"] = batch["depth"] * settings.k
        try:
            values, stats = stepper.step(batch, lr, diagnose=True)
        except NonFiniteLoss:
            records.append({"step": step + 1, "diverged": step + 1})
            break
        records.append({"step": step + 1, "loss": values, **stats})
    return records


def lab_figure(records: list[dict], settings: LabSettings, reference: str = "") -> plt.Figure:
    """Three panels over the steps: the two raw losses (log scale), each part's update size
    ``||delta theta|| / ||theta||`` (log scale) and each decoder's share of dead ReLU channels;
    ``reference``: a line about what the shipped suites measured at these settings."""
    done = [r for r in records if "loss" in r]
    steps = [r["step"] for r in done]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    colour = {"encoder": "C0", "seg": "C1", "depth": "C2"}  # one colour per part in every panel
    for key, style in (("seg", "-"), ("depth", "--")):
        axes[0].plot(steps, [r["loss"][key] for r in done], style, color=colour[key], label=f"L_{key}")
    for key in ("encoder", "seg", "depth"):
        axes[1].plot(steps, [r.get(f"update_{key}", np.nan) for r in done], color=colour[key], label=key)
    for key in ("seg", "depth"):
        axes[2].plot(steps, [r.get(f"dead_{key}", np.nan) for r in done], color=colour[key], label=f"{key} decoder")
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[2].set_ylim(-0.02, 1.02)
    for ax, title in zip(axes, ("raw losses", "update size ||Δθ|| / ||θ||", "dead ReLU channels (share)")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    stopped = next((r["diverged"] for r in records if "diverged" in r), None)
    what = (f"k = {settings.k:g}, {settings.optimizer.upper()}, {'normalised' if settings.normalised else 'raw'} "
            f"depth loss" + (f": the loss became non-finite at step {stopped}" if stopped else ""))
    fig.suptitle(what + (f"\n{reference}" if reference else ""), fontsize=10)
    fig.tight_layout()
    return fig


def lab_summary(records: list[dict]) -> str:
    """One line: the last step's losses, the median update sizes, the dead-unit shares at the end."""
    done = [r for r in records if "loss" in r]
    if not done:
        return "The loss was non-finite at the first step."
    last = done[-1]
    med = {k: float(np.median([r[f"update_{k}"] for r in done if f"update_{k}" in r])) for k in ("encoder", "seg", "depth")}
    stopped = next((f"; non-finite loss at step {r['diverged']}" for r in records if "diverged" in r), "")
    return (f"After {last['step']} steps: L_seg {last['loss']['seg']:.3g}, L_depth {last['loss']['depth']:.3g}; median "
            f"update size encoder {med['encoder']:.2g}, seg decoder {med['seg']:.2g}, depth decoder {med['depth']:.2g}; "
            f"dead channels at the end: seg decoder {last.get('dead_seg', float('nan')):.0%}, depth decoder "
            f"{last.get('dead_depth', float('nan')):.0%}{stopped}.")


def lab_widget(profile: Profile, fixed: list[dict], reference: dict[tuple, str] | None = None):
    """Dropdowns for k and the optimiser, a checkbox for normalisation and a Run button in front of
    :func:`run_lab` and :func:`lab_figure` (``reference``: a line per ``(k, optimizer, normalised)``)."""
    import ipywidgets as widgets  # deferred: only a notebook needs the widgets

    def run(k, optimizer, normalised):
        settings = LabSettings(k=float(k), optimizer=optimizer, normalised=normalised)
        records = run_lab(profile, settings, fixed)
        fig = lab_figure(records, settings, (reference or {}).get((float(k), optimizer, normalised), ""))
        show(fig)
        print(lab_summary(records))

    return widgets.interactive(run, {"manual": True, "manual_name": "Run"},
                               k=widgets.Dropdown(options=[1, 16, 255], value=255, description="depth x k"),
                               optimizer=widgets.Dropdown(options=["sgd", "adam"], value="sgd", description="optimiser"),
                               normalised=widgets.Checkbox(False, description="normalise depth per image"))


def lab_reference(suite) -> dict[tuple, str]:
    """For each lab setting the shipped scale suite measured (``(k, optimizer, normalised)``; Adam is
    the profile's), one line: naive joint against its baseline there, paired by seed, and where
    seeds diverged; normalised depth only where the suite ran ``naive-joint/norm`` (its failing points)."""
    out = {}
    for k in (1.0, 16.0, 255.0):
        for optimizer, name in (("sgd", "sgd"), ("adam", "profile")):
            point = Point(name, depth_scale=k)
            runs, base = suite.naive.get(point, []), trained(suite.baselines.get(name, []))
            ok = trained(runs)
            if ok and base:
                summary = summarize({NAIVE: ok, "single-decoder": base})
                c = comparison(summary, NAIVE, "single-decoder")
                stopped = len(runs) - len(ok)
                out[(k, optimizer, False)] = (f"The shipped suite at {point.label}: naive joint {c.diff:+.4f} mIoU against "
                                              f"its baseline over {len(ok)} seeds ({c.verdict})"
                                              + (f"; {stopped} diverged" if stopped else "") + ".")
            results = suite.follow_up.get(point)
            if results is not None and "naive-joint/norm" in results.summary:
                c = comparison(results.summary, "naive-joint/norm", "single-decoder")
                out[(k, optimizer, True)] = (f"The shipped suite at {point.label}: naive-joint/norm {c.diff:+.4f} mIoU "
                                             f"against its baseline ({c.verdict}).")
    return out
