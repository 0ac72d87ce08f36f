"""Numerical faults: NaN or inf losses stop training with the place named; nothing good is lost."""
from dataclasses import replace

import pytest
import torch

from mdseg.training import step as train_module  # where the training step computes its losses
from mdseg.training.loop import NonFiniteLoss, run
from mdseg.training.runs import CHECKPOINT
from mdseg.training.schedule import Schedule, Stage

from helpers import CONFIG
from helpers import tiny_model as _model
from helpers import weights_of as _weights


def test_nan_loss_stops_with_names_and_keeps_last_checkpoint(data, tmp_path, monkeypatch):
    schedule = Schedule("nan", [Stage("seg", {"seg": 1.0}, 1), Stage("both", {"seg": 0.85, "depth": 0.15}, 1)])
    run(_model(), Schedule("nan", schedule.stages[:1]), data[0], None, tmp_path, CONFIG)
    good = _weights(tmp_path / CHECKPOINT)

    def nan_depth_loss(pred, target, valid=None, kind="mse"):
        return pred.sum() * float("nan")

    monkeypatch.setattr(train_module, "depth_loss", nan_depth_loss)
    with pytest.raises(NonFiniteLoss, match=r"stage 2 'both', epoch 1, step 1: seg=.*depth=nan.*checkpoint.*kept"):
        run(_model(), schedule, data[0], None, tmp_path, CONFIG)
    after = _weights(tmp_path / CHECKPOINT)
    assert all(torch.equal(good[k], after[k]) for k in good)


def test_exploding_learning_rate_is_reported(data, tmp_path):
    with pytest.raises(NonFiniteLoss, match="Lower the learning rate"):
        run(_model(), Schedule("boom", [Stage("depth", {"depth": 1.0}, 3)]), data[0], None, tmp_path,
            replace(CONFIG, lr=1e12))
