"""The training loop on a tiny model and the tiny synthetic set (CPU, seconds)."""
import json

import pytest
import torch

from mdseg import MultiDecoderUNet
from mdseg.model import checkpoint
from mdseg.training.loop import run
from mdseg.training.runs import CHECKPOINT, LOG, RESULT, read_records
from mdseg.training.schedule import Schedule, Stage, table3
from mdseg.training.step import trainable_parameters

from helpers import CONFIG
from helpers import tiny_model as _model
from helpers import weights_of as _weights


@pytest.mark.parametrize("name", sorted(table3(1)))
def test_each_stage_trains_exactly_what_it_says(name):
    model = _model()
    for stage in table3(1)[name].stages:
        trainable = {id(p) for p in trainable_parameters(model, stage)}
        for task in ("seg", "depth"):
            for module in (model.decoder(task), model.head(task)):
                for p in module.parameters():
                    assert (id(p) in trainable) == (task in stage.tasks) == p.requires_grad
        assert all(p.requires_grad for p in model.encoder.parameters())


def test_frozen_encoder_stage():
    model = _model()
    stage = Stage("head only", {"seg": 1.0}, 1, train_encoder=False)
    trainable_parameters(model, stage)
    assert not any(p.requires_grad for p in model.encoder.parameters())


def test_idle_decoder_is_untouched_and_gets_no_gradient(data, tmp_path):
    model = _model()
    before = {k: v.clone() for k, v in model.depth_decoder.state_dict().items()}
    run(model, Schedule("seg-only", [Stage("seg", {"seg": 1.0}, 1)]), data[0], None, tmp_path, CONFIG)
    for k, v in model.depth_decoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.depth_decoder.parameters())


def test_copy_happens_once_and_copies_body_not_head(data, tmp_path, monkeypatch):
    schedule = table3(1)["depth-first/copy/s->b"]
    copies = []
    original = MultiDecoderUNet.copy_decoder

    def spy(self, src, dst):
        copies.append((src, dst, {k: v.clone() for k, v in self.depth_decoder.state_dict().items()},
                       {k: v.clone() for k, v in self.seg_head.state_dict().items()}))
        original(self, src, dst)
        for k, v in self.seg_decoder.state_dict().items():
            assert torch.equal(v, copies[-1][2][k])  # body copied
        for k, v in self.seg_head.state_dict().items():
            assert torch.equal(v, copies[-1][3][k])  # head left alone

    monkeypatch.setattr(MultiDecoderUNet, "copy_decoder", spy)
    run(_model(), schedule, data[0], data[1], tmp_path, CONFIG)
    assert [(s, d) for s, d, *_ in copies] == [("depth", "seg")]


def test_outputs_log_checkpoint_and_result(data, tmp_path):
    schedule = table3(1)["semantic-first/no-copy/b"]
    result = run(_model(), schedule, data[0], data[1], tmp_path, CONFIG)
    log = read_records(tmp_path / LOG)
    assert [(r["stage"], r["epoch"]) for r in log] == [(0, 1), (1, 1)]
    assert set(log[0]["train"]) == {"seg", "total"} and set(log[1]["train"]) == {"seg", "depth", "total"}
    assert {"mIoU", "fg_mIoU", "iIoU", "acc", "depth_mse"} <= set(log[1]["val"])
    assert json.loads((tmp_path / RESULT).read_text())["metrics"]["mIoU"] == result["metrics"]["mIoU"]
    assert result["budget"] == {"epochs": 2, "seg_epochs": 2, "depth_epochs": 1}
    meta = checkpoint.read_meta(tmp_path / CHECKPOINT)
    assert (meta["stage"], meta["epoch"], meta["schedule"]) == (1, 1, schedule.name)


def test_checkpoint_round_trip_with_optimizer(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 32, 32))["seg"].mean().backward()
    opt.step()
    checkpoint.save(tmp_path / "c.safetensors", model, {"note": "x"}, opt)
    clone = _model(seed=1)
    opt2 = torch.optim.Adam(clone.parameters(), lr=1e-3)
    meta = checkpoint.load(tmp_path / "c.safetensors", clone, opt2)
    assert meta["note"] == "x"
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)


def test_interrupted_two_stage_run_resumes_to_identical_weights(data, tmp_path):
    schedule = Schedule("two", [Stage("depth", {"depth": 1.0}, 2), Stage("both", {"seg": 0.85, "depth": 0.15}, 2,
                                                                             copy=("depth", "seg"))])
    run(_model(), schedule, data[0], data[1], tmp_path / "straight", CONFIG)

    class Interrupt(Exception):
        pass

    calls = {"n": 0}
    original = checkpoint.save

    def save_then_die(*args, **kwargs):
        original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # stage 2, after its first epoch
            raise Interrupt

    checkpoint.save = save_then_die
    try:
        with pytest.raises(Interrupt):
            run(_model(), schedule, data[0], data[1], tmp_path / "resumed", CONFIG)
    finally:
        checkpoint.save = original
    assert not (tmp_path / "resumed" / RESULT).exists()
    before = read_records(tmp_path / "resumed" / LOG)[:3]  # the epochs the checkpoint keeps
    resumed = run(_model(seed=99), schedule, data[0], data[1], tmp_path / "resumed", CONFIG)
    log = read_records(tmp_path / "resumed" / LOG)
    assert log[:3] == before and log[3]["seconds"] > before[-1]["seconds"]  # the clock continues across the resume
    assert resumed["wall_seconds"] > before[-1]["seconds"]
    assert [(r["stage"], r["epoch"]) for r in log] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    a, b = _weights(tmp_path / "straight" / CHECKPOINT), _weights(tmp_path / "resumed" / CHECKPOINT)
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)
    assert resumed["metrics"]["mIoU"] == pytest.approx(
        json.loads((tmp_path / "straight" / RESULT).read_text())["metrics"]["mIoU"])


def test_run_folder_of_another_schedule_is_refused(data, tmp_path):
    run(_model(), Schedule("a", [Stage("seg", {"seg": 1.0}, 1)]), data[0], None, tmp_path, CONFIG)
    with pytest.raises(checkpoint.CheckpointError, match="holds a run of 'a'"):
        run(_model(), Schedule("b", [Stage("seg", {"seg": 1.0}, 1)]), data[0], None, tmp_path, CONFIG)
