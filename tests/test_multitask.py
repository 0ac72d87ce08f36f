"""Diagnostics and the alternatives to the paper's schedule (issue: why naive joint fails)."""
import math

import pytest
import torch

from mdseg import depth_loss, focal_loss
from mdseg.model.checkpoint import read_meta
from mdseg.training.loop import run
from mdseg.training.multitask import UncertaintyWeighting, encoder_gradients, gradient_stats, pcgrad
from mdseg.training.runs import CHECKPOINT, DIAGNOSTICS, read_records
from mdseg.training.schedule import Stage, beyond, get_recipe
from mdseg.training.step import backward, compute_losses

from helpers import CONFIG, tiny_model, weights_of


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.randn(2, 3, 32, 32, generator=g), "mask": torch.randint(0, 21, (2, 32, 32), generator=g),
            "depth": torch.rand(2, 1, 32, 32, generator=g)}


def test_encoder_gradients_match_autograd_by_hand():
    model = tiny_model()
    batch = _batch()
    out = model(batch["image"])
    seg = 0.85 * focal_loss(out["seg"], batch["mask"])
    dep = 0.15 * depth_loss(out["depth"], batch["depth"])
    grads = encoder_gradients(model.encoder, {"seg": seg, "depth": dep})
    params = list(model.encoder.parameters())
    by_hand = {name: torch.cat([g.flatten() for g in torch.autograd.grad(loss, params, retain_graph=True)])
               for name, loss in (("seg", seg), ("depth", dep))}
    for name in by_hand:
        torch.testing.assert_close(grads[name], by_hand[name])
    stats = gradient_stats(grads)
    a, b = by_hand["seg"].double(), by_hand["depth"].double()
    assert stats["grad_norm_seg"] == pytest.approx(float(a.norm()), rel=1e-5)
    assert stats["grad_ratio_seg_depth"] == pytest.approx(float(a.norm() / b.norm()), rel=1e-5)
    assert stats["grad_cosine"] == pytest.approx(float(a @ b / (a.norm() * b.norm())), abs=1e-5)


def test_uncertainty_weights_move_as_the_formula_says():
    """With fixed losses L, exp(-s) L + s/2 is minimal at s = log 2L (classification) and
    exp(-s) L / 2 + s/2 at s = log L (regression): the small loss gets the large weight."""
    weighting = UncertaintyWeighting()
    terms = {"seg": torch.tensor(4.0), "depth": torch.tensor(0.01)}
    opt = torch.optim.Adam(weighting.parameters(), lr=0.05)
    for _ in range(3000):
        opt.zero_grad()
        weighting(terms).backward()
        opt.step()
    assert float(weighting.log_vars["seg"].detach()) == pytest.approx(math.log(8.0), abs=1e-2)
    assert float(weighting.log_vars["depth"].detach()) == pytest.approx(math.log(0.01), abs=1e-2)
    assert weighting.weights()["seg"] == pytest.approx(1 / 8, rel=2e-2)
    assert weighting.weights()["depth"] == pytest.approx(50.0, rel=2e-2)


def test_pcgrad_projects_only_conflicts():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    combined = pcgrad([a, b])
    a_proj = a - (a @ b) / (b @ b) * b
    b_proj = b - (b @ a) / (a @ a) * a
    torch.testing.assert_close(combined, a_proj + b_proj)
    assert combined @ a >= 0 and combined @ b >= 0
    c = torch.tensor([1.0, 1.0])
    torch.testing.assert_close(pcgrad([a, c]), a + c)  # no conflict: plain sum


def test_pcgrad_backward_sets_encoder_grad_and_leaves_decoders_alone():
    model = tiny_model()
    stage = Stage("both", {"seg": 0.85, "depth": 0.15}, 1, weighting="pcgrad")
    batch = _batch(1)
    terms = compute_losses(model(batch["image"]), batch, stage, CONFIG)
    grads = encoder_gradients(model.encoder, {t: stage.weights[t] * terms[t] for t in stage.tasks})
    expected_decoder = torch.autograd.grad(terms["total"], list(model.seg_decoder.parameters()), retain_graph=True)
    backward(model, stage, terms, torch.amp.GradScaler("cuda", enabled=False))
    got = torch.cat([p.grad.flatten() for p in model.encoder.parameters()])
    torch.testing.assert_close(got, pcgrad(list(grads.values())))
    for p, g in zip(model.seg_decoder.parameters(), expected_decoder):
        torch.testing.assert_close(p.grad, g)


@pytest.mark.parametrize("name", sorted(beyond(1)))
def test_beyond_recipes_train_and_log_diagnostics(data, tmp_path, name):
    from dataclasses import replace

    schedule = get_recipe(name, 1, equal=False)
    assert schedule.stages[0].tasks == ("seg", "depth")
    result = run(tiny_model(), schedule, data[0], None, tmp_path, replace(CONFIG, diagnose_every=1))
    diag = read_records(tmp_path / DIAGNOSTICS)
    assert len(diag) == result["history"][0]["steps"]
    assert all(-1 <= d["grad_cosine"] <= 1 and d["grad_norm_seg"] > 0 for d in diag)
    if name == "uncertainty":
        weights = result["history"][0]["weights"]
        assert weights["seg"] != 1.0 and weights["depth"] != 0.5  # the log-variances were trained
        from safetensors.torch import load_file

        stored = load_file(str(tmp_path / CHECKPOINT))
        assert set(k for k in stored if k.startswith("extra.")) == {"extra.log_vars.seg", "extra.log_vars.depth"}
    assert read_meta(tmp_path / CHECKPOINT)["stages"][0]["weighting"] == schedule.stages[0].weighting


def test_normalised_depth_loss_ignores_the_targets_scale():
    pred, target = torch.randn(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(depth_loss(pred, 5 * target + 2, kind="norm"), depth_loss(pred, target, kind="norm"))


def test_reproduce_accepts_beyond_recipes():
    assert get_recipe("pcgrad", 2).epochs == 4  # the baseline's budget: 2 x stage_epochs
    with pytest.raises(ValueError, match="needs two tasks"):
        Stage("x", {"seg": 1.0}, 1, weighting="uncertainty")


def test_summarize_diagnostics_uses_only_steps_where_both_tasks_train():
    from mdseg.study.report import diagnostics_markdown
    from mdseg.training.diagnostics import summarize_diagnostics

    records = [{"loss": {"seg": 9.0}},  # a seg-only stage: no cosine, ignored
               {"loss": {"seg": 2.0, "depth": 0.1}, "grad_ratio_seg_depth": 4.0, "grad_cosine": -0.2},
               {"loss": {"seg": 1.0, "depth": 0.3}, "grad_ratio_seg_depth": 1.0, "grad_cosine": 0.4}]
    summary = summarize_diagnostics(records)
    assert summary["steps"] == 2
    assert summary["loss_seg"] == pytest.approx(1.5) and summary["loss_depth"] == pytest.approx(0.2)
    assert summary["loss_ratio"] == pytest.approx(7.5)
    assert summary["grad_ratio"] == pytest.approx(2.0)  # geometric mean of 4 and 1
    assert summary["cosine"] == pytest.approx(0.1) and summary["conflict"] == pytest.approx(0.5)
    empty = summarize_diagnostics(records[:1])
    assert empty["steps"] == 0 and math.isnan(empty["cosine"])
    table = diagnostics_markdown({"naive-joint": [summary, {**summary, "cosine": 0.3}], "baseline": [empty]})
    assert ("| naive-joint | 2 | 4 | 1.500 ± 0.000 | 0.2000 ± 0.0000 | 7.50 ± 0.00 | 2.00 ± 0.00 | +0.200 ± 0.141 "
            "| 50% ± 0% | 0% ± 0% |") in table
    assert "| baseline | 1 | 0 | - | - | - | - | - | - | - |" in table


def test_a_vanished_task_gradient_is_counted_not_divided_by():
    """A decoder whose every unit died passes no gradient back (norm exactly 0): the ratio there
    would be seg / 1e-30; those steps are counted as ``vanished`` and left out of ratio and cosine."""
    from mdseg.study.report import read_diagnostics
    from mdseg.training.diagnostics import summarize_diagnostics

    live = {"loss": {"seg": 2.0, "depth": 1e4}, "grad_norm_seg": 0.1, "grad_norm_depth": 100.0,
            "grad_ratio_seg_depth": 1e-3, "grad_cosine": 0.2}
    dead = {"loss": {"seg": 1.5, "depth": 7e3}, "grad_norm_seg": 0.02, "grad_norm_depth": 0.0,
            "grad_ratio_seg_depth": 2e28, "grad_cosine": 0.0}
    summary = summarize_diagnostics([live, dead, dead, dead])
    assert summary["steps"] == 4 and summary["vanished"] == pytest.approx(0.75)
    assert summary["grad_ratio"] == pytest.approx(1e-3) and summary["cosine"] == pytest.approx(0.2)
    assert "in 75% of them one task's gradient on the encoder is exactly zero" in read_diagnostics("n", [summary] * 9)
    assert "depth leads" in read_diagnostics("n", [summary] * 9)
    gone = summarize_diagnostics([dead] * 30)
    assert gone["vanished"] == 1 and math.isnan(gone["grad_ratio"])
    assert "no step with both gradients" in read_diagnostics("n", [gone])


def test_summarize_diagnostics_says_which_gradient_vanished_and_how_far_each_part_moved():
    from mdseg.training.diagnostics import summarize_diagnostics

    def step(stage, seg, depth, enc, dead):
        grads = {"grad_norm_seg": seg, "grad_norm_depth": depth}
        if seg and depth:
            grads.update(grad_ratio_seg_depth=seg / depth, grad_cosine=0.1)
        else:
            grads["grad_cosine"] = 0.0  # logged by gradient_stats with a zero norm too
        return {"stage": stage, "loss": {"seg": 1.0, "depth": 2.0}, **grads, "update_encoder": enc,
                "update_seg": 0.01, "update_depth": 0.02, "dead_seg": 0.0, "dead_depth": dead}

    early = {"stage": 0, "loss": {"depth": 3.0}, "grad_norm_depth": 5.0, "update_encoder": 9.0, "update_depth": 9.0,
             "dead_depth": 0.9}  # a depth-alone stage before the joint one: not in the last stage's numbers
    records = [early, step(1, 1.0, 2.0, 0.001, 0.2), step(1, 1.0, 0.0, 0.003, 0.5), step(1, 1.0, 0.0, 0.002, 1.0),
               step(1, 0.0, 1.0, 0.004, 1.0)]
    summary = summarize_diagnostics(records)
    assert summary["steps"] == 4 and summary["vanished"] == pytest.approx(0.75)
    assert summary["vanished_depth"] == pytest.approx(0.5) and summary["vanished_seg"] == pytest.approx(0.25)
    assert summary["diagnosed"] == 4
    assert summary["update_encoder"] == pytest.approx(0.0025)  # the median over the joint stage's steps
    assert summary["dead_depth"] == pytest.approx(0.675) and summary["dead_depth_last"] == 1.0
    alone = summarize_diagnostics([early])  # a depth-only control: no two-task step, its own stage summarised
    assert alone["steps"] == 0 and alone["update_depth"] == 9.0 and alone["dead_depth"] == 0.9
    assert "update_encoder" not in summarize_diagnostics([{"stage": 0, "loss": {"seg": 1.0}}])


def test_diagnostics_observe_without_changing_training(data, tmp_path):
    from dataclasses import replace

    schedule = get_recipe("naive-joint", 1, equal=False)
    run(tiny_model(), schedule, data[0], None, tmp_path / "plain", CONFIG)
    run(tiny_model(), schedule, data[0], None, tmp_path / "diagnosed", replace(CONFIG, diagnose_every=1))
    assert not (tmp_path / "plain" / DIAGNOSTICS).exists()
    plain, diagnosed = weights_of(tmp_path / "plain" / CHECKPOINT), weights_of(tmp_path / "diagnosed" / CHECKPOINT)
    for key in plain:
        torch.testing.assert_close(plain[key], diagnosed[key], rtol=0, atol=0, msg=key)


def test_read_diagnostics_follows_the_numbers():
    from mdseg.study.report import MIN_DIAGNOSED_STEPS, read_diagnostics

    base = {"steps": 15, "loss_ratio": 15.0, "grad_ratio": 36.0, "cosine": 0.25, "conflict": 0.2}
    text = read_diagnostics("naive-joint", [base, base])
    assert "36.0x the depth one: segmentation leads" in text and "mostly agree" in text
    assert "(2 seeds, 30 diagnosed steps)" in text and "in 20% of steps" in text
    text = read_diagnostics("x", [{**base, "steps": 25, "grad_ratio": 0.25, "cosine": -0.1, "conflict": 0.7}])
    assert "4.0x the segmentation one: depth leads" in text and "mostly conflict" in text and "(1 seed," in text
    text = read_diagnostics("x", [{**base, "steps": 25, "grad_ratio": 1.2}])
    assert "of similar size (seg/depth 1.20)" in text
    few = read_diagnostics("x", [{**base, "steps": MIN_DIAGNOSED_STEPS - 1}])
    assert f"at least {MIN_DIAGNOSED_STEPS} are needed" in few and "leads" not in few and "agree" not in few
    assert "0 diagnosed steps" in read_diagnostics("x", [{**base, "steps": 0}])


def test_diagnostics_compare_gradients_only_where_both_tasks_train_the_encoder(data, tmp_path):
    """Every diagnosed step records its task's encoder gradient, the update sizes and the dead
    units; only where both tasks train the encoder (the steps that pay an extra encoder backward
    per task) does it compare the two gradients."""
    from dataclasses import replace

    from mdseg.training.schedule import table3

    schedule = table3(1)["semantic-first/copy/d->b"]  # seg alone, then depth alone, then both
    assert [s.tasks_share_encoder for s in schedule.stages] == [False, False, True]
    run(tiny_model(), schedule, data[0], None, tmp_path / "staged", replace(CONFIG, diagnose_every=1))
    diag = read_records(tmp_path / "staged" / DIAGNOSTICS)
    assert {d["stage"] for d in diag} == {0, 1, 2}
    assert all(("grad_cosine" in d) == (d["stage"] == 2) for d in diag)
    seg_alone, depth_alone, both = ([d for d in diag if d["stage"] == i][0] for i in range(3))
    assert set(seg_alone) >= {"grad_norm_seg", "update_encoder", "update_seg", "dead_seg"}
    assert "grad_norm_depth" not in seg_alone and "update_depth" not in seg_alone
    assert set(depth_alone) >= {"grad_norm_depth", "update_encoder", "update_depth", "dead_depth"}
    assert set(both) >= {"grad_norm_seg", "grad_norm_depth", "update_seg", "update_depth", "dead_seg", "dead_depth"}
    run(tiny_model(), get_recipe("single-decoder", 1), data[0], None, tmp_path / "single", replace(CONFIG, diagnose_every=1))
    single = read_records(tmp_path / "single" / DIAGNOSTICS)
    assert single and not any("grad_cosine" in d or "update_depth" in d for d in single)


def test_single_task_gradient_norm_is_the_encoders_gradient():
    from dataclasses import replace

    scaler = torch.amp.GradScaler("cuda", enabled=False)
    batch = _batch()
    for stage in (Stage("depth", {"depth": 1.0}, 1), replace(Stage("depth", {"depth": 1.0}, 1), train_encoder=False)):
        model = tiny_model()
        model.unfreeze(stage.tasks, stage.train_encoder)
        terms = compute_losses(model(batch["image"], tasks=stage.tasks), batch, stage, CONFIG)
        stats = backward(model, stage, terms, scaler, diagnose=True)
        if stage.train_encoder:
            by_hand = torch.cat([p.grad.flatten() for p in model.encoder.parameters()]).double().norm()
            assert stats == {"grad_norm_depth": pytest.approx(float(by_hand), rel=1e-9)}
        else:  # a frozen encoder has no gradient to report
            assert stats == {}
        assert backward(model, stage, compute_losses(model(batch["image"], tasks=stage.tasks), batch, stage, CONFIG),
                        scaler) is None


def test_update_probe_measures_the_step_and_the_silent_units():
    from mdseg.training.probe import UpdateProbe

    model = tiny_model()
    stage = Stage("both", {"seg": 0.85, "depth": 0.15}, 1)
    optimizer = torch.optim.SGD(model.unfreeze(stage.tasks), lr=0.1)
    with torch.no_grad():  # silence the depth decoder's last block: its ReLUs see only negative inputs
        last = model.depth_decoder.blocks[-1]
        for module in last.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.bias.fill_(-1e6)
    probe = UpdateProbe(model, stage.tasks)
    batch = _batch()
    with probe.watch():
        terms = compute_losses(model(batch["image"]), batch, stage, CONFIG)
    encoder_before = torch.cat([p.detach().flatten() for p in model.encoder.parameters()]).double()
    terms["total"].backward()
    probe.before_step()
    optimizer.step()
    stats = probe.stats()
    encoder_after = torch.cat([p.detach().flatten() for p in model.encoder.parameters()]).double()
    expected = float((encoder_after - encoder_before).norm() / encoder_before.norm())
    assert stats["update_encoder"] == pytest.approx(expected, rel=1e-9)
    assert stats["update_seg"] > 0 and stats["update_depth"] > 0
    relus = [m for m in model.depth_decoder.modules() if isinstance(m, torch.nn.ReLU)]
    silenced = sum(1 for m in last.modules() if isinstance(m, torch.nn.ReLU))
    assert silenced and 0 < stats["dead_depth"] < 1
    assert stats["dead_seg"] < stats["dead_depth"]
    assert len(relus) > silenced
    # hooks are gone after watch(): another forward changes no count
    before = dict(probe.units)
    model(batch["image"])
    assert probe.units == before


def test_log_loss_is_blind_to_the_depth_loss_scale():
    """sum_t log L_t: a depth loss k times larger (what a k-times larger unit does to a loss near its
    start, or any weight k) adds log k, a constant, so the encoder's gradient does not move (the
    scale-invariant baseline of Nash-MTL and DB-MTL); the fixed-weight sum moves with k."""
    from mdseg.training.step import weighted_terms

    stage = get_recipe("log-loss", 1, equal=False).stages[0]
    assert stage.weighting == "log"
    model = tiny_model()
    batch = _batch()
    terms = compute_losses(model(batch["image"]), batch, stage, CONFIG)
    assert terms["total"].item() == pytest.approx(math.log(terms["seg"].item()) + math.log(terms["depth"].item()))
    naive = get_recipe("naive-joint", 1, equal=False).stages[0]
    grads = {}
    for k in (1.0, 255.0):
        scaled = {**terms, "depth": terms["depth"] * k}
        grads[("log", k)] = encoder_gradients(model.encoder, {"t": sum(weighted_terms(scaled, stage).values())})["t"]
        grads[("fixed", k)] = encoder_gradients(model.encoder, {"t": sum(weighted_terms(scaled, naive).values())})["t"]
    torch.testing.assert_close(grads[("log", 1.0)], grads[("log", 255.0)], rtol=1e-4, atol=1e-9)
    assert not torch.allclose(grads[("fixed", 1.0)], grads[("fixed", 255.0)], rtol=1e-2)


def test_encoder_grad_scale_scales_only_what_that_task_sends_into_the_encoder():
    model = tiny_model()
    batch = _batch()
    plain = model(batch["image"])
    damped = model(batch["image"], encoder_grad_scale={"depth": 0.1})
    torch.testing.assert_close(plain["depth"], damped["depth"], rtol=0, atol=0)  # the forward is untouched
    loss_plain, loss_damped = depth_loss(plain["depth"], batch["depth"]), depth_loss(damped["depth"], batch["depth"])
    enc_plain = encoder_gradients(model.encoder, {"d": loss_plain})["d"]
    enc_damped = encoder_gradients(model.encoder, {"d": loss_damped})["d"]
    torch.testing.assert_close(enc_damped, 0.1 * enc_plain, rtol=1e-4, atol=1e-5 * float(enc_plain.abs().max()))
    head = list(model.depth_head.parameters())[0]
    g_plain, = torch.autograd.grad(loss_plain, head, retain_graph=True)
    g_damped, = torch.autograd.grad(loss_damped, head, retain_graph=True)
    torch.testing.assert_close(g_plain, g_damped)  # the depth decoder still trains on the full gradient
    seg = focal_loss(damped["seg"], batch["mask"])
    torch.testing.assert_close(encoder_gradients(model.encoder, {"s": seg})["s"],
                               encoder_gradients(model.encoder, {"s": focal_loss(plain["seg"], batch["mask"])})["s"])


def test_lr_scale_slows_only_that_tasks_decoder():
    from mdseg.training.config import TrainConfig, make_optimizer
    from mdseg.training.schedule import controls
    from mdseg.training.step import Stepper, trainable_parameters

    stage = controls(1, depth_scale=4.0)["naive-joint/slow-depth-decoder"].stages[0]
    assert stage.lr_scale == {"depth": 0.25}
    model = tiny_model()
    config = TrainConfig(lr=0.1, optimizer="sgd", batch_size=2, progress=False, device="cpu", amp=False)
    groups = trainable_parameters(model, stage)
    assert [g.get("lr_scale") for g in groups] == [None, 0.25]
    optimizer = make_optimizer(groups, config)
    stepper = Stepper(model, model, stage, optimizer, torch.amp.GradScaler("cuda", enabled=False), config,
                      torch.device("cpu"), None)
    depth_param, encoder_param = next(model.depth_head.parameters()), next(model.encoder.parameters())
    before = depth_param.detach().clone(), encoder_param.detach().clone()
    stepper.step(_batch(), lr=0.1)
    # SGD's first step (empty momentum buffer): delta = -lr * lr_scale * grad
    torch.testing.assert_close(depth_param.detach() - before[0], -0.1 * 0.25 * depth_param.grad, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(encoder_param.detach() - before[1], -0.1 * encoder_param.grad, rtol=1e-5, atol=1e-8)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.1 * 0.25]


def test_later_stage_fields_at_their_defaults_leave_a_runs_identity_as_it_was():
    from mdseg.study.profiles import get_profile, identity

    schedule = get_recipe("naive-joint", 2)
    stored = identity(get_profile("cpu"), schedule, 0)["stages"][0]
    assert "lr_scale" not in stored and "encoder_grad_scale" not in stored
    control = get_recipe("naive-joint/damped-depth-into-encoder", 2, depth_scale=255.0)
    assert identity(get_profile("cpu"), control, 0)["stages"][0]["encoder_grad_scale"] == {"depth": 1 / 255}


def test_after_copy_reestimates_only_the_copied_decoders_statistics_or_restarts_its_last_block():
    from mdseg.training.after_copy import reestimate_bn, reinit_last_block

    model = tiny_model()
    model.copy_decoder("depth", "seg")
    encoder_stats = {k: v.clone() for k, v in model.encoder.state_dict().items() if "running" in k}
    images = [_batch(i)["image"] for i in range(3)]
    assert reestimate_bn(model, "seg", images) == 3
    bn = next(m for m in model.seg_decoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert int(bn.num_batches_tracked) == 3 and bn.momentum == 0.1  # cumulative over the batches, momentum restored
    depth_bn = next(m for m in model.depth_decoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.equal(bn.running_mean, depth_bn.running_mean)
    for k, v in model.encoder.state_dict().items():
        if "running" in k:
            torch.testing.assert_close(v, encoder_stats[k], rtol=0, atol=0)  # the encoder is untouched
    last = model.seg_decoder.blocks[-1]
    before = [p.clone() for p in last.parameters()]
    first_block = [p.clone() for p in model.seg_decoder.blocks[0].parameters()]
    state = torch.random.get_rng_state()
    reinit_last_block(model, "seg", seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global random state is left alone
    assert any(not torch.equal(a, b) for a, b in zip(before, last.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(first_block, model.seg_decoder.blocks[0].parameters()))
    again = tiny_model()
    again.copy_decoder("depth", "seg")
    reinit_last_block(again, "seg", seed=5)
    assert all(torch.equal(a, b) for a, b in zip(again.seg_decoder.blocks[-1].parameters(), last.parameters()))


def test_the_copy_explanations_are_the_best_recipe_with_one_step_after_the_copy(data, tmp_path):
    from dataclasses import replace

    schedule = get_recipe("depth-first/copy+reestimate-bn/s->b", 1)
    assert [s.after_copy for s in schedule.stages] == [None, "reestimate-bn", None]
    assert [replace(s, after_copy=None) for s in schedule.stages] == list(get_recipe("depth-first/copy/s->b", 1).stages)
    result = run(tiny_model(), schedule, data[0], None, tmp_path, CONFIG)
    assert len(result["history"]) == 3
    with pytest.raises(ValueError, match="after_copy needs a copy"):
        Stage("x", {"seg": 1.0}, 1, after_copy="reestimate-bn")


def test_the_warm_up_after_the_copy_ramps_the_first_epoch_only(data, tmp_path, monkeypatch):
    """``warm-up``: the stage after the copy starts near 0 and reaches the schedule's rate at the end of
    its first epoch; the stages around it train at the schedule's rate from their first step."""
    from dataclasses import replace

    from mdseg.training import after_copy
    from mdseg.training.step import Stepper

    assert [after_copy.warm_up(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    seen: list[tuple[str, float]] = []
    step = Stepper.step
    monkeypatch.setattr(Stepper, "step", lambda self, batch, lr, diagnose: (seen.append((self.stage.name, lr)),
                                                                            step(self, batch, lr, diagnose))[1])
    schedule = get_recipe("depth-first/copy+warm-up/s->b", 2)
    assert [s.after_copy for s in schedule.stages] == [None, "warm-up", None]
    run(tiny_model(), schedule, data[0], None, tmp_path, replace(CONFIG, lr_schedule="constant"))
    rates = {name: [lr for n, lr in seen if n == name] for name, _ in seen}
    warmed, = [rates[s.name] for s in schedule.stages if s.after_copy]
    per_epoch = len(warmed) // 2
    assert warmed[:per_epoch] == pytest.approx([CONFIG.lr * (i + 1) / per_epoch for i in range(per_epoch)])
    assert warmed[per_epoch:] == pytest.approx([CONFIG.lr] * per_epoch)
    assert all(lr == CONFIG.lr for s in schedule.stages if not s.after_copy for lr in rates[s.name])
