"""Training schedules as data: a :class:`Stage` says what trains, a :class:`Schedule` orders them.

The paper (Table 3) trains the two decoders one after the other, optionally copying the
first decoder's body into the second, then fine-tunes both with ``0.85 L_seg + 0.15 L_depth``.
What the paper leaves open is explicit here: ``epochs`` per stage, ``train_encoder``
(default: the encoder trains in every stage), and idle decoders are frozen and not run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import product

from ..errors import SettingError, UnknownName

PAPER_DEPTH_WEIGHT = 0.15  # joint stages: 0.85 L_seg + 0.15 L_depth
PAPER_LR = 1e-4  # Adam, constant (the paper's Table 1)
WEIGHT_MARK = "@w="  # shown in the name of a recipe at another weight: naive-joint@w=0.05 (never parsed)
BEST_RECIPE = "depth-first/copy/s->b"
BASELINE = "single-decoder"
NAIVE = "naive-joint"
DEPTH_ONLY = "depth-only"
SLOW_DEPTH_DECODER = "naive-joint/slow-depth-decoder"
DAMPED_DEPTH_INTO_ENCODER = "naive-joint/damped-depth-into-encoder"


WEIGHTINGS = ("fixed", "uncertainty", "pcgrad", "log")
AFTER_COPY = ("reestimate-bn", "reinit-last-block", "warm-up")  # mdseg.training.after_copy
# Stage fields added after runs existed: left out of a stage's identity at their default (None), so
# every run trained before them keeps its identity (mdseg.study.profiles.identity).
LATER_STAGE_FIELDS = ("lr_scale", "encoder_grad_scale", "after_copy")


@dataclass(frozen=True)
class Stage:
    """One stage of training.

    Attributes:
        name: short label shown in logs and plots.
        weights: loss weight per active task; the tasks named here are the decoders that
            run and train (e.g. ``{"seg": 1.0}`` or ``{"seg": 0.85, "depth": 0.15}``).
        epochs: passes over the training set.
        train_encoder: whether the shared encoder is updated (otherwise frozen, BN in eval).
        copy: ``(src, dst)``: copy decoder body ``src`` into ``dst`` once, before the stage.
        weighting: ``"fixed"`` (the ``weights``), ``"uncertainty"`` (learned, Kendall et al.
            2018; ``weights`` only name the tasks), ``"pcgrad"`` (fixed weights, conflicting
            encoder gradients projected, Yu et al. 2020) or ``"log"`` (``sum_t log L_t``, whose
            gradient ``sum_t grad L_t / L_t`` no loss scale can tip; ``weights`` only name the tasks).
        depth_loss: ``"mse"``, ``"ssi"`` or ``"norm"`` for this stage; ``None`` = the run's default.
        lr_scale: per task, a factor on the learning rate of that task's decoder and head (e.g.
            ``{"depth": 1 / 255}``); ``None`` = every part at the run's rate.
        encoder_grad_scale: per task, a factor on the gradient that task's loss sends into the
            shared encoder (its decoder still trains on the full gradient); ``None`` = unscaled.
        after_copy: with ``copy``, what to undo in the copied decoder before training
            (:mod:`mdseg.training.after_copy`: ``reestimate-bn``, ``reinit-last-block`` or ``warm-up``); ``None`` = nothing.
    """

    name: str
    weights: dict[str, float]
    epochs: int
    train_encoder: bool = True
    copy: tuple[str, str] | None = None
    weighting: str = "fixed"
    depth_loss: str | None = None
    lr_scale: dict[str, float] | None = None
    encoder_grad_scale: dict[str, float] | None = None
    after_copy: str | None = None

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.weights)

    @property
    def tasks_share_encoder(self) -> bool:
        """Whether both tasks train the shared encoder here: the steps PCGrad and gradient diagnostics act on."""
        return self.train_encoder and len(self.weights) > 1

    def __post_init__(self):
        unknown = set(self.weights) - {"seg", "depth"}
        if unknown or not self.weights:
            raise SettingError(f"Stage '{self.name}': weights must name 'seg' and/or 'depth', got {self.weights}.")
        if self.epochs < 0:
            raise SettingError(f"Stage '{self.name}': epochs must be >= 0, got {self.epochs}.")
        if self.weighting not in WEIGHTINGS:
            raise SettingError(f"Stage '{self.name}': weighting must be one of {', '.join(WEIGHTINGS)}.")
        if self.after_copy is not None and (self.copy is None or self.after_copy not in AFTER_COPY):
            raise SettingError(f"Stage '{self.name}': after_copy needs a copy and is one of {', '.join(AFTER_COPY)}, "
                               f"got {self.after_copy!r}.")
        for field_name in ("lr_scale", "encoder_grad_scale"):
            scales = getattr(self, field_name) or {}
            if set(scales) - set(self.weights) or not all(v > 0 for v in scales.values()):
                raise SettingError(f"Stage '{self.name}': {field_name} must give positive factors for the stage's "
                                   f"tasks ({', '.join(self.weights)}), got {scales}.")
        if self.weighting != "fixed" and len(self.weights) < 2:
            raise SettingError(f"Stage '{self.name}': {self.weighting} needs two tasks.")


@dataclass(frozen=True)
class Schedule:
    """A named, ordered list of stages. ``recipe``: the recipe it was built from (default: the
    name), e.g. ``naive-joint`` for the schedule named ``naive-joint@w=0.05``; the depth weight is
    in the stages' ``weights`` (:attr:`depth_weight`), never read back from the name."""

    name: str
    stages: tuple[Stage, ...]
    description: str = ""
    recipe: str = ""
    uses_depth: bool = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "recipe", self.recipe or self.name)
        object.__setattr__(self, "uses_depth", any("depth" in s.tasks for s in self.stages))

    @property
    def depth_weight(self) -> float | None:
        """``w`` of the joint stages' ``(1 - w) L_seg + w L_depth`` (fixed weights), else ``None``."""
        joint = [s.weights["depth"] for s in self.stages if len(s.tasks) == 2 and s.weighting not in ("uncertainty", "log")]
        return joint[0] if joint else None

    @property
    def epochs(self) -> int:
        return sum(s.epochs for s in self.stages)

    def boundaries(self) -> list[int]:
        """Cumulative epoch at the end of each stage (for marking stage changes on curves)."""
        out, total = [], 0
        for stage in self.stages:
            total += stage.epochs
            out.append(total)
        return out


def seg_epochs(schedule: Schedule) -> int:
    """Epochs that update the semantic decoder: the budget a fair baseline should match."""
    return sum(s.epochs for s in schedule.stages if "seg" in s.tasks)


def budget(schedule: Schedule) -> dict[str, int]:
    """``{"epochs": total, "seg_epochs": ..., "depth_epochs": ...}`` of a schedule."""
    return {"epochs": schedule.epochs, "seg_epochs": seg_epochs(schedule),
            "depth_epochs": sum(s.epochs for s in schedule.stages if "depth" in s.tasks)}


def single_decoder(epochs: int) -> Schedule:
    """The baseline: a plain U-Net trained on segmentation only."""
    return Schedule(BASELINE, (Stage("seg", {"seg": 1.0}, epochs),), "segmentation only (no depth)")


def joint_weights(depth_weight: float = PAPER_DEPTH_WEIGHT) -> dict[str, float]:
    """``{"seg": 1 - w, "depth": w}``: the loss weights of a joint stage (paper: w = 0.15)."""
    if not 0 < depth_weight < 1:
        hint = " (a weight of 0 trains no depth: that is the single-decoder recipe)" if depth_weight == 0 else ""
        raise SettingError(f"The depth weight must be between 0 and 1 (exclusive), got {depth_weight}{hint}.")
    return {"seg": 1 - depth_weight, "depth": depth_weight}


def naive_joint(epochs: int, depth_weight: float = PAPER_DEPTH_WEIGHT) -> Schedule:
    """Both decoders from the start with ``(1 - w) L_seg + w L_depth`` (paper's 'conventional', w = 0.15)."""
    return Schedule(NAIVE, (Stage("both", joint_weights(depth_weight), epochs),),
                    "weighted joint training from the start")


def staged(first: str, copy: bool, other_alone: bool, stage_epochs: int,
           depth_weight: float = PAPER_DEPTH_WEIGHT) -> Schedule:
    """One Table 3 recipe.

    Args:
        first: ``"seg"`` (semantic first) or ``"depth"`` (depth first).
        copy: copy the first decoder's body into the other before the other trains.
        other_alone: train the other decoder alone before both ("d->b" / "s->b"),
            otherwise go straight to both ("b").
        stage_epochs: epochs of every stage.
        depth_weight: ``w`` of the joint stage ``(1 - w) L_seg + w L_depth``.
    """
    other = "depth" if first == "seg" else "seg"
    copy_pair = (first, other) if copy else None
    stages = [Stage(first, {first: 1.0}, stage_epochs)]
    if other_alone:
        stages.append(Stage(other, {other: 1.0}, stage_epochs, copy=copy_pair))
        stages.append(Stage("both", joint_weights(depth_weight), stage_epochs))
    else:
        stages.append(Stage("both", joint_weights(depth_weight), stage_epochs, copy=copy_pair))
    order = f"{other[0]}->b" if other_alone else "b"
    name = f"{'semantic' if first == 'seg' else 'depth'}-first/{'copy' if copy else 'no-copy'}/{order}"
    return Schedule(name, tuple(stages), f"{first} first, {'copy' if copy else 'no copy'}, then {order}")


def table3(stage_epochs: int, depth_weight: float = PAPER_DEPTH_WEIGHT) -> dict[str, Schedule]:
    """The paper's 8 staged recipes, keyed by name (e.g. ``"depth-first/copy/s->b"``)."""
    recipes = [staged(first, copy, alone, stage_epochs, depth_weight)
               for first, copy, alone in product(("seg", "depth"), (True, False), (True, False))]
    return {r.name: r for r in recipes}


def equal_budget(baseline: Schedule, reference: Schedule) -> Schedule:
    """``baseline`` (one stage) stretched to as many segmentation-updating epochs as ``reference``."""
    if len(baseline.stages) != 1:
        raise SettingError("equal_budget stretches single-stage schedules only.")
    return replace(baseline, stages=(replace(baseline.stages[0], epochs=seg_epochs(reference)),))


def recipes(stage_epochs: int, equal: bool = True, depth_weight: float = PAPER_DEPTH_WEIGHT) -> dict[str, Schedule]:
    """Every recipe of Tables 2 and 3. With ``equal``, the baseline and naive joint training
    get as many segmentation epochs as the paper's best recipe (2 x ``stage_epochs``)."""
    table = table3(stage_epochs, depth_weight)
    single, naive = single_decoder(stage_epochs), naive_joint(stage_epochs, depth_weight)
    if equal:
        single, naive = equal_budget(single, table[BEST_RECIPE]), equal_budget(naive, table[BEST_RECIPE])
    return {single.name: single, naive.name: naive, **table}


def beyond(epochs: int, depth_weight: float = PAPER_DEPTH_WEIGHT) -> dict[str, Schedule]:
    """Fixes for naive joint training that the paper does not try, each a one-stage recipe
    with both decoders from the start for ``epochs`` epochs:

    * ``uncertainty``: learned task weights (Kendall et al. 2018, the paper's reference [2]);
    * ``naive-joint/ssi``: 0.85 / 0.15 with the scale-and-shift-invariant depth loss;
    * ``naive-joint/norm``: 0.85 / 0.15 with per-image standardised depth prediction and target;
    * ``pcgrad``: 0.85 / 0.15 with conflicting encoder gradients projected (PCGrad).
    """
    both = joint_weights(depth_weight)
    out = [
        Schedule("uncertainty", (Stage("both", both, epochs, weighting="uncertainty"),), "learned task weights"),
        Schedule("naive-joint/ssi", (Stage("both", both, epochs, depth_loss="ssi"),), "scale-shift-invariant depth loss"),
        Schedule("naive-joint/norm", (Stage("both", both, epochs, depth_loss="norm"),), "per-image normalised depth"),
        Schedule("pcgrad", (Stage("both", both, epochs, weighting="pcgrad"),), "projected conflicting gradients"),
        Schedule("log-loss", (Stage("both", both, epochs, weighting="log"),), "sum of log losses (scale-invariant)"),
    ]
    return {r.name: r for r in out}


def copy_explanations(stage_epochs: int, depth_weight: float = PAPER_DEPTH_WEIGHT) -> dict[str, Schedule]:
    """The paper's best recipe with one thing the weight copy brings undone right after it
    (``depth-first/copy+reestimate-bn/s->b``, ``depth-first/copy+reinit-last-block/s->b``,
    ``depth-first/copy+warm-up/s->b``): if one
    of them closes the gap to ``depth-first/no-copy/s->b``, that is what the copy hurts with."""
    best = staged("depth", True, True, stage_epochs, depth_weight)
    out = {}
    for how in AFTER_COPY:
        stages = tuple(replace(s, after_copy=how) if s.copy else s for s in best.stages)
        name = f"depth-first/copy+{how}/s->b"
        out[name] = Schedule(name, stages, f"{best.description}, then {how} in the copied decoder")
    return out


def controls(epochs: int, depth_scale: float, depth_weight: float = PAPER_DEPTH_WEIGHT) -> dict[str, Schedule]:
    """The mechanism controls: does a depth loss scaled by ``k`` (``depth_scale``) do its damage
    alone, in the depth decoder, or in the shared encoder?

    * ``depth-only``: the encoder and the depth decoder trained on depth alone (no segmentation);
    * ``naive-joint/slow-depth-decoder``: the depth decoder and head learn at the rate / k, while
      the encoder still receives the full, k-times larger depth gradient;
    * ``naive-joint/damped-depth-into-encoder``: the depth gradient entering the encoder is divided
      by k, while the depth decoder trains on the full gradient.
    """
    both = joint_weights(depth_weight)
    out = [Schedule(DEPTH_ONLY, (Stage("depth", {"depth": 1.0}, epochs),), "depth alone: encoder and depth decoder"),
           Schedule(SLOW_DEPTH_DECODER, (Stage("both", both, epochs, lr_scale={"depth": 1 / depth_scale}),),
                    "naive joint, depth decoder at the learning rate / k"),
           Schedule(DAMPED_DEPTH_INTO_ENCODER, (Stage("both", both, epochs, encoder_grad_scale={"depth": 1 / depth_scale}),),
                    "naive joint, depth gradient into the encoder / k")]
    return {r.name: r for r in out}


def get_recipe(name: str, stage_epochs: int, equal: bool = True,
               depth_weight: float = PAPER_DEPTH_WEIGHT, depth_scale: float = 1.0) -> Schedule:
    """The recipe ``name`` (Tables 2 and 3, or :func:`beyond` and :func:`controls` at the depth
    target's ``depth_scale`` with the baseline's budget) with its joint stages at ``depth_weight``,
    with a clear error listing the names. The schedule's name shows a weight other than the paper's
    (``naive-joint@w=0.05``) so runs and tables tell them apart; the weight itself is data
    (:attr:`Schedule.depth_weight`)."""
    known = recipes(stage_epochs, equal, depth_weight)
    known.update(beyond(known[BASELINE].epochs, depth_weight))
    known.update(controls(known[BASELINE].epochs, depth_scale, depth_weight))
    known.update(copy_explanations(stage_epochs, depth_weight))
    if name not in known:
        hint = f" (a depth weight is a setting: --depth-weight W, not {WEIGHT_MARK}W)" if WEIGHT_MARK in name else ""
        raise UnknownName(f"Unknown recipe '{name}'{hint}. Recipes: {', '.join(known)}.")
    schedule = replace(known[name], recipe=name)
    if schedule.uses_depth and any(len(s.tasks) == 2 for s in schedule.stages) and depth_weight != PAPER_DEPTH_WEIGHT:
        schedule = replace(schedule, name=f"{name}{WEIGHT_MARK}{depth_weight:g}")
    return schedule
