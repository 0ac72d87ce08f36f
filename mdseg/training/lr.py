"""Learning-rate schedules as pure functions of the step (nanoGPT's ``get_lr``), so a resumed run
continues exactly; and the optimisers a run may name (built by :func:`mdseg.training.config.make_optimizer`)."""
from __future__ import annotations

import math

from ..errors import SettingError

LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "sgd")  # see mdseg.training.config.make_optimizer


def learning_rate(base: float, step: int, steps: int, kind: str = "constant", warmup: float = 0.03) -> float:
    """The learning rate at ``step`` of ``steps`` (a pure function, so a resumed run continues
    exactly): ``constant`` (the paper's Adam at :data:`PAPER_LR`), or ``cosine``: a linear warm-up over the
    first ``warmup`` share of the steps, then a half cosine from ``base`` down to 0."""
    if kind == "constant":
        return base
    if kind != "cosine":
        raise SettingError(f"Unknown learning-rate schedule '{kind}'; use one of {', '.join(LR_SCHEDULES)}.")
    ramp = max(int(warmup * steps), 1)
    if step < ramp:
        return base * (step + 1) / ramp
    t = min((step - ramp) / max(steps - ramp, 1), 1.0)
    return base * 0.5 * (1 + math.cos(math.pi * t))
