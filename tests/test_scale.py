"""Depth scale, the png8 target, the optimiser settings and the scale suite's logic (issue: where
does the paper's failure live?)."""
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mdseg.data.arrays import ArraySplit
from mdseg.data.dataset import DatasetError, VOCDepth, depth_dir, eval_transforms, read_split
from mdseg.depth.targets import PNG8, as_png8, generate
from mdseg.study.profiles import get_profile, identity, runs_root
from mdseg.study.scale_report import conclusion, points_markdown
from mdseg.study.scale_suite import Point, ScaleSuite, failing_points, points
from helpers import run_record
from mdseg.study.run_record import RunRecord, Stopped
from mdseg.training import runs
from mdseg.training.config import TrainConfig, make_optimizer
from mdseg.training.lr import learning_rate
from mdseg.training.schedule import get_recipe


def _depth_stack(dataset) -> np.ndarray:
    return np.stack([dataset[i]["depth"][0].numpy() for i in range(len(dataset))])


def test_png8_is_what_the_transformers_pipeline_hands_a_user():
    raw = np.array([[2.0, 3.0], [4.0, 6.0]], np.float32)
    # the pipeline: (d - min) / (max - min), times 255, astype uint8 (truncation)
    np.testing.assert_array_equal(as_png8(raw), [[0, 63], [127, 255]])
    assert as_png8(np.full((2, 2), 5.0)).max() == 0  # a constant map: no division by zero


def test_png8_round_trips_through_the_cache_and_both_data_paths_in_0_255(writable_root):
    manifest = generate(writable_root, "simulated", "val", progress=False, target="png8")
    assert manifest["target"] == "png8" and manifest["normalisation"] == PNG8 and manifest["scale"] == 1.0
    ids = read_split(writable_root, "val")
    from PIL import Image

    with Image.open(depth_dir(writable_root, "simulated", "png8") / f"{ids[0]}.png") as image:
        assert image.mode == "L"  # stored as 8 bits, as the pipeline's image
    loader = VOCDepth(writable_root, "val", "simulated", depth_target="png8")
    values = _depth_stack(loader)
    assert values.min() == 0 and values.max() == 255 and np.all(values == np.round(values))  # whole codes
    for i in range(len(loader)):  # min-max per image: each image spans 0..255
        assert values[i].min() == 0 and values[i].max() == 255
    arrays = _depth_stack(ArraySplit(VOCDepth(writable_root, "val", "simulated", depth_target="png8"), 64,
                                     progress=False))
    letterboxed = _depth_stack(VOCDepth(writable_root, "val", "simulated", depth_target="png8",
                                        transforms=eval_transforms(64)))
    np.testing.assert_allclose(arrays, letterboxed, atol=0.01, equal_nan=True)


def test_a_png8_cache_is_never_read_as_another_unit(writable_root):
    generate(writable_root, "simulated", "val", progress=False, target="png8")
    shutil.copytree(depth_dir(writable_root, "simulated", "png8"), depth_dir(writable_root, "simulated"))
    with pytest.raises(DatasetError, match="holds 'png8' targets, not 'normalised'"):
        VOCDepth(writable_root, "val", "simulated")
    with pytest.raises(FileExistsError, match="target: cache has 'png8', asked for 'normalised'"):
        generate(writable_root, "simulated", "val", progress=False)


@pytest.mark.parametrize("target", ["normalised", "png8"])
def test_the_depth_scale_multiplies_the_target_in_both_data_paths_and_shares_one_cache(writable_root, target):
    generate(writable_root, "simulated", "val", progress=False, target=target)
    plain = VOCDepth(writable_root, "val", "simulated", depth_target=target)
    scaled = VOCDepth(writable_root, "val", "simulated", depth_target=target, depth_scale=16)
    np.testing.assert_allclose(_depth_stack(scaled), 16 * _depth_stack(plain), rtol=1e-6)
    arrays_1 = ArraySplit(VOCDepth(writable_root, "val", "simulated", depth_target=target), 64, progress=False)
    arrays_16 = ArraySplit(scaled, 64, progress=False)
    np.testing.assert_allclose(_depth_stack(arrays_16), 16 * _depth_stack(arrays_1), rtol=1e-5, equal_nan=True)
    caches = list((plain.base / "ArrayCache").iterdir())
    assert len(caches) == 1  # the cache holds the target's own units; the scale is applied on reading
    assert _depth_stack(ArraySplit(plain, 64, progress=False)).max() == _depth_stack(arrays_1).max()  # not scaled


def test_settings_at_their_defaults_leave_a_runs_identity_unchanged():
    cpu = get_profile("cpu")
    schedule = get_recipe("naive-joint", cpu.stage_epochs)
    plain = identity(cpu, schedule, 0)
    assert "depth_scale" not in plain["profile"] and "optimizer" not in plain["profile"]  # as before the settings
    scaled = identity(replace(cpu, depth_scale=16.0), schedule, 0)
    assert scaled["profile"]["depth_scale"] == 16.0 and identity(replace(cpu, optimizer="sgd"), schedule, 0) != plain
    assert runs_root(cpu) == Path("runs/cpu")
    assert runs_root(replace(cpu, depth_scale=16.0)) == Path("runs/cpu-x16")
    assert runs_root(replace(cpu, depth_target="png8")) == Path("runs/cpu-png8")
    assert runs_root(replace(cpu, lr=1e-4, lr_schedule="constant")) == Path("runs/cpu-lr0.0001-constant")
    assert runs_root(replace(cpu, optimizer="sgd", lr=0.03)) == Path("runs/cpu-sgd-lr0.03")


def test_bad_settings_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="optimizer must be one of adam, sgd"):
        get_profile("cpu", optimizer="rmsprop")
    with pytest.raises(ValueError, match="depth_scale must be a positive number"):
        get_profile("cpu", depth_scale=0.0)


def test_the_optimizers_are_adam_and_sgd_with_momentum():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert isinstance(make_optimizer(params, TrainConfig(lr=1e-3)), torch.optim.Adam)
    sgd = make_optimizer(params, TrainConfig(lr=0.03, optimizer="sgd"))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9 and sgd.param_groups[0]["lr"] == 0.03


def test_the_constant_schedule_keeps_the_learning_rate_fixed():
    assert {learning_rate(1e-4, step, 100, "constant") for step in range(100)} == {1e-4}
    cosine = [learning_rate(1e-3, step, 100, "cosine") for step in range(100)]
    assert max(cosine) == pytest.approx(1e-3) and cosine[-1] < 1e-5


def test_a_constant_schedule_run_trains_every_step_at_its_learning_rate(data, tmp_path, monkeypatch):
    """The rate the optimiser actually used at each step, read off the optimiser during a real run."""
    from mdseg.model.unet import MultiDecoderUNet
    from mdseg.training import loop as train

    seen = []
    original = torch.optim.SGD.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    model = MultiDecoderUNet("tu-resnet10t", encoder_weights=None, decoder_channels=(32, 16, 8, 8, 8))
    config = TrainConfig(lr=0.01, optimizer="sgd", lr_schedule="constant", batch_size=4, progress=False,
                         device="cpu")
    train.run(model, get_recipe("naive-joint", 1), data[0], None, tmp_path / "run", config)
    assert len(seen) >= 3 and set(seen) == {0.01}


def _run(value: float, tmp: Path, name: str, ratio: float | None = None, seed: int = 0) -> RunRecord:
    folder = tmp / name
    folder.mkdir(parents=True)
    if ratio is not None:
        record = {"loss": {"seg": 1.0, "depth": 1.0}, "grad_ratio_seg_depth": ratio, "grad_cosine": 0.1}
        (folder / runs.DIAGNOSTICS).write_text(json.dumps(record) + "\n")
    return run_record(seed, value, name, folder, budget={"epochs": 4, "seg_epochs": 4, "depth_epochs": 4})


def _suite(tmp_path, naive: dict[Point, list[float]], baselines: dict[str, list[float]]) -> ScaleSuite:
    return ScaleSuite(
        "cpu", {o: [_run(v, tmp_path, f"b-{o}-{i}", seed=i) for i, v in enumerate(vs)] for o, vs in baselines.items()},
        {p: [_run(v, tmp_path, f"n-{p.optimiser}-{p.target}-{p.depth_scale}-{i}", ratio=0.01 * (i + 1), seed=i)
             for i, v in enumerate(vs)] for p, vs in naive.items()},
        {}, {}, {}, None, {"profile": "Adam 0.001, cosine", "paper": "Adam 0.0001, constant"})


def test_the_suite_is_fixed_and_names_each_point_once():
    chosen = points()
    assert len(chosen) == len(set(chosen)) == 6 + 6 + 3 + 1
    assert Point("profile", "normalised", 1) in chosen and Point("paper", "png8") in chosen


def test_failing_points_are_the_smallest_failing_scale_and_png8():
    verdicts = {Point("paper", depth_scale=255): "worse", Point("profile", depth_scale=64): "worse",
                Point("profile", depth_scale=16): "within seed noise", Point("sgd", depth_scale=64): "worse",
                Point("profile", "png8"): "within seed noise", Point("paper", "png8"): "worse"}
    assert failing_points(verdicts) == [Point("profile", depth_scale=64), Point("paper", "png8")]
    assert failing_points({Point("profile", depth_scale=4): "better"}) == []


def test_the_conclusion_says_where_naive_joint_fails_and_the_range_tested(tmp_path):
    failing = Point("paper", depth_scale=255)
    suite = _suite(tmp_path, {Point("profile", depth_scale=1): [0.52, 0.55, 0.50], failing: [0.20, 0.22, 0.21]},
                   {"profile": [0.51, 0.54, 0.53], "paper": [0.45, 0.47, 0.46]})
    lines = conclusion(suite)
    assert lines[0].startswith("Tested on 2 points (3 paired seeds each, 2 epochs per stage)") and "scales 1, 255" in lines[0]
    assert any(line.startswith("Naive joint training is measurably worse than its baseline at 1 of 2 points")
               and "normalised x255, paper optimiser -54.3%" in line for line in lines)
    assert any(line.startswith("Collapse at normalised x255, paper optimiser: 3 of 3 seeds") for line in lines)
    assert suite.failing() == [failing]
    assert any(line.startswith("Gradients there: naive-joint") for line in lines)  # diagnostics where it collapses
    table = points_markdown(suite)
    assert "| normalised | 255 | Adam 0.0001, constant | 0.0182 |" in table  # geometric mean of 0.01, 0.02, 0.03
    calm = _suite(tmp_path / "calm", {Point("profile", depth_scale=16): [0.52, 0.55, 0.50]}, {"profile": [0.51, 0.54, 0.53]})
    assert "is not measurably worse than its baseline at any of them" in conclusion(calm)[1]


def test_a_failing_point_without_finished_follow_ups_says_nothing_is_known_yet(tmp_path):
    from mdseg.study.experiments import Results
    from mdseg.study.report import summarize

    failing = Point("sgd", depth_scale=255)
    suite = _suite(tmp_path, {failing: [0.03, 0.04, 0.035]}, {"sgd": [0.40, 0.50, 0.47]})
    suite.optimisers["sgd"] = "SGD (momentum 0.9) 0.01, cosine"
    by_recipe = {"single-decoder": suite.baselines["sgd"], "naive-joint": suite.naive[failing]}
    suite.follow_up[failing] = Results("cpu", summarize(by_recipe), by_recipe, "follow-up")
    lines = conclusion(suite)
    assert any("follow-up recipes (Table 3, uncertainty, naive-joint/norm) are not finished" in line for line in lines)
    assert not any("better than naive joint training" in line for line in lines)


def test_the_scale_suite_runs_from_the_command_line_and_reports_what_is_finished(ci_root, tmp_path, monkeypatch,
                                                                                  capsys):
    """The ci profile's smoke point (png8 under the profile's optimiser) from one command, then
    ``--finished-only`` prints the same tables training nothing."""
    from mdseg.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["reproduce", "--profile", "ci", "--suite", "scale", "--data", str(ci_root), "--seeds", "0"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| png8 | 1 | Adam 0.0001, constant |" in printed and "SGD: not part of this run" in printed
    assert (tmp_path / "runs/ci-png8-lr0.0001-constant/naive-joint/seed0" / runs.RESULT).exists()
    assert (tmp_path / "runs/ci-lr0.0001-constant/single-decoder/seed0" / runs.RESULT).exists()
    config = json.loads((tmp_path / "runs/ci-png8-lr0.0001-constant/naive-joint/seed0" / runs.CONFIG).read_text())
    assert config["profile"]["depth_target"] == "png8"
    assert main(args + ["--finished-only"]) == 0
    again = capsys.readouterr().out
    assert "| png8 | 1 | Adam 0.0001, constant |" in again and "one seed" in again


def test_the_map_draws_every_tested_point(tmp_path):
    from mdseg.viz import failure_map

    suite = _suite(tmp_path, {Point("profile", depth_scale=1): [0.52, 0.55, 0.50], Point("paper", "png8"): [0.2, 0.3, 0.25]},
                   {"profile": [0.51, 0.54, 0.53], "paper": [0.45, 0.47, 0.46]})
    points = suite.map_points()
    assert {p["target"] for p in points} == {"normalised", "png8"}
    png8 = next(p for p in points if p["target"] == "png8")
    assert png8["diff"] == pytest.approx(0.25 - 0.46) and png8["rel"] == pytest.approx((0.25 - 0.46) / 0.46)
    differences = [0.2 - 0.45, 0.3 - 0.47, 0.25 - 0.46]  # paired by seed
    half = 4.302653 * np.std(differences, ddof=1) / 3 ** 0.5  # t(0.975, 2 df)
    assert png8["rel_low"] == pytest.approx((np.mean(differences) - half) / 0.46, rel=1e-5)
    assert png8["collapsed"] == 1 and png8["p_holm"] >= png8["p"]  # only 0.2 is below half of 0.46
    figure = failure_map(points)
    assert len(figure.axes[0].lines) >= 2 and figure.axes[0].get_xscale() == "log"
    assert figure.axes[0].get_ylabel().endswith("% of the baseline")


def test_a_diverged_run_is_kept_as_the_outcome_of_a_suite_and_raised_elsewhere(ci_root, tmp_path, monkeypatch):
    """SGD on a 0-255 target at a large rate blows up: a suite records it (and reuses the record),
    a plain run raises the usual error."""
    from mdseg.study.experiments import train_recipe
    from mdseg.training.loop import NonFiniteLoss

    monkeypatch.chdir(tmp_path)
    blowup = get_profile("ci", data_root=str(ci_root), optimizer="sgd", lr=10.0, depth_scale=1e6, stage_epochs=1,
                         diagnose_every=0)
    with pytest.raises(NonFiniteLoss):
        train_recipe(blowup, "naive-joint", 0, progress=False)
    kept = train_recipe(blowup, "naive-joint", 0, progress=False, keep_divergence=True)
    assert kept.diverged and "Non-finite loss" in kept.stopped.message and kept.miou != kept.miou  # NaN
    assert kept["diverged"] == kept.stopped.message  # a record also reads as the result file it came from
    folder = kept.run_dir
    assert (folder / runs.DIVERGED).exists() and not (folder / runs.RESULT).exists()
    again = train_recipe(blowup, "naive-joint", 0, progress=False, train_missing=False)
    assert again.stopped.message == kept.stopped.message  # reused, not retrained
    stopped = again.stopped  # where, in fields (never parsed out of the message)
    assert again.name == "naive-joint" and stopped.stage == 1 and stopped.epoch == 1
    assert stopped.step >= 1 and set(stopped.values) >= {"seg", "depth", "total"}


def test_diverged_seeds_are_said_and_left_out_of_the_mean(tmp_path):
    point = Point("sgd", depth_scale=255)
    suite = _suite(tmp_path, {point: [0.5, 0.5, 0.5]}, {"sgd": [0.45, 0.47, 0.46]})
    suite.optimisers["sgd"] = "SGD (momentum 0.9) 0.01, cosine"
    suite.naive[point] = [replace(run, stopped=Stopped(
        "Non-finite loss in 'naive-joint', stage 1 'both', epoch 1, step 3: seg=nan. Training stopped", 1, "both", 1, 3,
        {"seg": float("nan")})) for run in suite.naive[point]]
    assert suite.tested() == [] and len(suite.diverged(point)) == 3
    assert "| 3 of 3 seeds diverged |" in points_markdown(suite)
    assert conclusion(suite)[0].startswith("Diverges at normalised x255, sgd optimiser: a non-finite loss stopped 3 of 3")
    assert "(the first at stage 1 'both', epoch 1, step 3: seg=nan)" in conclusion(suite)[0]  # from fields, not parsed


def test_each_finished_follow_up_is_tested_against_naive_joint_and_the_baseline(tmp_path):
    from mdseg.study.experiments import Results
    from mdseg.study.report import summarize
    from mdseg.study.scale_report import RESCUE_GROUPS

    failing = Point("sgd", depth_scale=255)
    suite = _suite(tmp_path, {failing: [0.03, 0.04, 0.035]}, {"sgd": [0.45, 0.50, 0.47]})
    suite.optimisers["sgd"] = "SGD (momentum 0.9) 0.01, cosine"
    runs_of = {name: [run_record(s, v, name) for s, v in enumerate(values)]
               for name, values in {"naive-joint/norm": [0.46, 0.49, 0.48], "uncertainty": [0.20, 0.25, 0.22],
                                    "depth-first/copy/b": [0.03, 0.036, 0.04], "semantic-first/copy/b": [0.5]}.items()}
    by_recipe = {"single-decoder": suite.baselines["sgd"], "naive-joint": suite.naive[failing], **runs_of}
    suite.follow_up[failing] = Results("cpu", summarize(by_recipe), by_recipe, "follow-up")
    stopped = run_record(0, float("nan"), stopped="Non-finite loss")
    suite.follow_up_diverged[failing] = {"depth-first/no-copy/b": [stopped], "semantic-first/copy/b": [stopped]}
    line = next(line for line in conclusion(suite) if line.startswith("At normalised x255"))
    assert "5 of the 10 follow-up recipes have outcomes (3 trained to the end on every seed, 2 stopped" in line
    assert f"{RESCUE_GROUPS[0]}: naive-joint/norm (0.4767 ± 0.0153)" in line
    assert f"{RESCUE_GROUPS[2]}: uncertainty" in line
    assert f"{RESCUE_GROUPS[3]}: depth-first/copy/b" in line
    assert f"{RESCUE_GROUPS[4]}: semantic-first/copy/b (0.5000)" in line  # one seed: never called a rescue
    assert f"{RESCUE_GROUPS[5]}: depth-first/no-copy/b (1 of 1 seeds), semantic-first/copy/b (1 of 2 seeds)" in line
    assert "Not finished: semantic-first/copy/d->b" in line and "depth-first/no-copy/b." not in line
    assert stopped in suite.all_runs()  # a diverged follow-up is shipped with the reference


def test_the_budget_report_reads_the_plateau_from_the_baseline_and_pairs_each_budget():
    from mdseg.study.budget_report import budget_conclusion, budget_markdown, curves, plateau, reading_budget
    from mdseg.study.experiments import Results
    from mdseg.study.report import summarize
    from mdseg.viz import budget_curves

    def runs(values, epochs, seg):
        return [run_record(k, v, budget={"epochs": epochs, "seg_epochs": seg, "depth_epochs": 0})
                for k, v in enumerate(values)]

    table = {2: {"single-decoder": runs([0.50, 0.52, 0.51], 4, 4), "depth-first/copy/s->b": runs([0.30, 0.34, 0.31], 6, 4)},
             3: {"single-decoder": runs([0.56, 0.57, 0.55], 6, 6)},
             4: {"single-decoder": runs([0.60, 0.62, 0.61], 8, 8), "depth-first/copy/s->b": runs([0.55, 0.58, 0.57], 12, 8)},
             8: {"single-decoder": runs([0.62, 0.63, 0.625], 16, 16), "depth-first/copy/s->b": runs([0.6, 0.6, 0.6], 24, 16)}}
    suite = {e: Results("cpu", summarize(found), found) for e, found in table.items()}
    base = curves(suite)["single-decoder"]
    assert [p.epochs for p in base] == [4, 6, 8, 16]
    # gains per added epoch: 4->6 0.025, 6->8 0.025, 8->16 0.0019: the plateau at 16 epochs (8 per stage)
    assert plateau([p for p in base if p.stage_epochs != 3]).stage_epochs == 8 and reading_budget(suite) == (8, True)
    table_md = budget_markdown(suite)
    assert "| depth-first/copy/s->b | 2 | 4 / 6 | 3 | 0.3167 ± 0.0208 | - | -0.1933 [" in table_md  # equal seg epochs
    row = next(line for line in table_md.splitlines() if line.startswith("| depth-first/copy/s->b | 2 |"))
    assert row.endswith("(paired) |") and row.count("[") == 2  # the e3 baseline has the same 6 total epochs
    assert "not trained" in next(line for line in table_md.splitlines() if line.startswith("| depth-first/copy/s->b | 8 |"))
    lines = budget_conclusion(suite)
    assert any(line.startswith("The tables are read at 8 epochs per stage: where the baseline meets the plateau rule")
               for line in lines)
    assert budget_curves(curves(suite), 0.005).axes[0].get_xlabel() == "total epochs trained"


def test_the_mechanism_reads_the_controls_and_says_where_seeds_disagree(tmp_path):
    from mdseg.study.mechanism import controls_markdown, mechanism, seeds_disagree, vanished_sentence
    from mdseg.training.schedule import DEPTH_ONLY, SLOW_DEPTH_DECODER

    failing = Point("sgd", depth_scale=255)
    suite = _suite(tmp_path, {failing: [0.03, 0.04, 0.035]}, {"sgd": [0.45, 0.50, 0.47]})
    suite.optimisers["sgd"] = "SGD (momentum 0.9) 0.01, cosine"
    for run, share in zip(suite.naive[failing], (0.74, 0.02, 0.94)):
        (run.run_dir / runs.DIAGNOSTICS_SUMMARY).write_text(json.dumps(
            {"steps": 100, "vanished": share, "loss_seg": 1.5, "loss_depth": 8000.0, "loss_ratio": 1.9e-4,
             "grad_ratio": 7e-4, "cosine": 0.01, "conflict": 0.4}))
        (run.run_dir / runs.DIAGNOSTICS).unlink()  # a shipped run keeps only its summary
    slow = [_run(v, tmp_path, f"slow-{i}", seed=i) for i, v in enumerate([0.44, 0.49, 0.46])]
    alone = [_run(0.0, tmp_path, f"alone-{i}", seed=i) for i in range(3)]
    alone = [replace(run, metrics={**run.metrics, "depth_r2": r2}) for run, r2 in zip(alone, (0.6, 0.7, 0.65))]
    alone[2] = replace(alone[2], stopped=Stopped("Non-finite loss"))
    suite.controls = {(failing, DEPTH_ONLY): alone, (failing, SLOW_DEPTH_DECODER): slow}
    lines = mechanism(suite)
    assert lines[0] == "Depth alone (no segmentation loss): normalised x255, sgd optimiser: 1 of 3 diverged, depth R² 0.60, 0.70."
    assert lines[1].startswith("Depth alone at normalised x255, sgd optimiser: 1 diverged, 0 collapsed, 2 trained, of 3 "
                               "seeds; no run of depth alone at x1")
    at_one = [replace(run, metrics={**run.metrics, "depth_r2": 0.66}) for run in alone[:2]]
    suite.controls = {(Point("sgd", depth_scale=1), DEPTH_ONLY): at_one, **suite.controls}
    assert mechanism(suite)[1].startswith("Depth alone fails at normalised x255, sgd optimiser on some seeds (1 diverged, "
                                          "0 collapsed, 2 trained, of 3 seeds; collapsed: depth R² under half of depth "
                                          "alone's at x1, 0.66)")
    dead = [replace(run, metrics={**run.metrics, "depth_r2": 0.0}) for run in alone]
    suite.controls[(failing, DEPTH_ONLY)] = dead
    assert mechanism(suite)[1].startswith("Depth alone fails at normalised x255, sgd optimiser with no segmentation loss "
                                          "to interfere (1 diverged, 2 collapsed, 0 trained, of 3 seeds;")
    suite.controls[(Point("profile", depth_scale=255), DEPTH_ONLY)] = at_one
    assert "; depth R² at the same scale under the profile optimiser 0.66, 0.66)" in mechanism(suite)[1]
    assert not mechanism(suite, every_point=False)[0].startswith("Depth alone (no segmentation loss)")
    del suite.controls[(Point("profile", depth_scale=255), DEPTH_ONLY)]
    suite.controls[(failing, DEPTH_ONLY)] = at_one
    assert mechanism(suite)[1].endswith("the collapse needs both tasks together.")
    del suite.controls[(Point("sgd", depth_scale=1), DEPTH_ONLY)]
    suite.controls[(failing, DEPTH_ONLY)] = alone
    lines = [line for line in mechanism(suite) if not line.startswith("Depth alone at")]
    said = vanished_sentence("Naive joint", suite.naive[failing])
    assert "74%, 2%, 94%" in said and "the seeds disagree" in said
    assert any("74%, 2%, 94%" in line for line in conclusion(suite))
    assert lines[1] == (f"At normalised x255, sgd optimiser, the mechanism controls (each undoes the depth scale in one "
                        f"place, or ignores it): {SLOW_DEPTH_DECODER} prevents the collapse.")
    table = controls_markdown(suite)
    assert f"| {SLOW_DEPTH_DECODER} | normalised x255, sgd optimiser | 3 (0) | 0.4633 ± 0.0252 |" in table
    assert "| depth-only | normalised x255, sgd optimiser | 3 (1) | - (no segmentation) |" in table
    assert seeds_disagree([0.74, 0.02, 0.94]) and not seeds_disagree([0.5, 0.6, 0.55])
    suite.controls[(failing, SLOW_DEPTH_DECODER)] = [replace(run, metrics={"mIoU": 0.04}) for run in slow]
    assert mechanism(suite)[2].endswith(f"{SLOW_DEPTH_DECODER} does not prevent the collapse (3 collapsed, 0 diverged "
                                        "of 3 seeds).")
    suite.controls[(failing, SLOW_DEPTH_DECODER)] = [replace(run, metrics={"mIoU": 0.04, "depth_r2": 0.68}) for run in slow]
    assert mechanism(suite)[2].endswith("(3 collapsed, 0 diverged of 3 seeds), depth R² 0.68, 0.68, 0.68.")  # depth trained
    from mdseg.study.experiments import Results
    from mdseg.study.mechanism import runs_at

    follow = {"single-decoder": suite.baselines["sgd"], "naive-joint": suite.naive[failing]}
    suite.follow_up = {failing: Results("cpu", {}, follow)}
    gone = [replace(r, stopped=Stopped("Non-finite loss")) for r in slow[:2]]
    suite.follow_up_diverged = {failing: {"naive-joint": gone[:1], "depth-first/copy/b": gone}}
    found = runs_at(suite, failing)  # for the trade-off figure: every recipe there, its diverged seeds too
    assert list(found) == ["single-decoder", "naive-joint", "depth-first/copy/b", DEPTH_ONLY, SLOW_DEPTH_DECODER]
    assert len(found["naive-joint"]) == 4 and found["depth-first/copy/b"] == gone
    assert runs_at(suite, Point("profile", depth_scale=4)) == {}


def test_the_mechanism_lab_trains_live_and_draws_what_each_step_did(ci_root, tmp_path, monkeypatch):
    from mdseg.study.lab import LabSettings, lab_batches, lab_figure, lab_summary, lab_widget, run_lab

    monkeypatch.chdir(tmp_path)
    ci = get_profile("ci", data_root=str(ci_root))
    fixed = lab_batches(ci, count=2, batch_size=4)
    assert len(fixed) == 2 and fixed[0]["image"].shape[0] == 4
    records = run_lab(ci, LabSettings(k=255, optimizer="sgd", steps=3), fixed)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert {"update_encoder", "update_seg", "update_depth", "dead_seg", "dead_depth", "grad_norm_depth"} <= set(records[0])
    again = run_lab(ci, LabSettings(k=255, optimizer="sgd", steps=3), fixed)
    assert [r["loss"] for r in again] == [r["loss"] for r in records]  # the same batches and weights every time
    calm = run_lab(ci, LabSettings(k=1, optimizer="sgd", steps=3), fixed)
    assert records[-1]["update_encoder"] > calm[-1]["update_encoder"]  # a 255x larger depth loss moves the encoder more
    blown = run_lab(ci, LabSettings(k=1e12, optimizer="sgd", steps=3), fixed)
    assert "diverged" in blown[-1] and "non-finite" in lab_figure(blown, LabSettings(k=1e12)).texts[0].get_text()
    assert lab_summary(records).startswith("After 3 steps:")
    widget = lab_widget(ci, fixed, {(255.0, "sgd", False): "shipped line"})
    assert [c.description for c in widget.children[:3]] == ["depth x k", "optimiser", "normalise depth per image"]


def test_the_copy_report_says_which_repair_closes_the_gap(tmp_path):
    from mdseg.study.copy_suite import NO_COPY, copy_conclusion, copy_markdown, first_steps_after_copy
    from mdseg.study.experiments import Results
    from mdseg.study.report import summarize

    def arm(name, values, dead=None):
        out = []
        for k, v in enumerate(values):
            folder = tmp_path / name.replace("/", "_") / f"seed{k}"
            folder.mkdir(parents=True)
            record = {"stage": 1, "loss": {"seg": 1.4 - 0.1 * k}, **({"dead_seg": dead} if dead is not None else {})}
            (folder / runs.DIAGNOSTICS).write_text(json.dumps(record) + "\n")
            out.append(run_record(k, v, name, folder))
        return out

    found = {"depth-first/copy/s->b": arm("copy", [0.30, 0.35, 0.32], 0.4),
             NO_COPY: arm("nocopy", [0.50, 0.52, 0.51], 0.0),
             "depth-first/copy+reestimate-bn/s->b": arm("bn", [0.49, 0.53, 0.50]),
             "depth-first/copy+reinit-last-block/s->b": arm("reinit", [0.31, 0.36, 0.30])}
    results = Results("cpu", summarize(found), found)
    assert first_steps_after_copy(found[NO_COPY][1]) == {"loss_seg": pytest.approx(1.3), "dead_seg": 0.0}
    table = copy_markdown(results)
    assert "| depth-first/copy/s->b | 3 | 0.3233 ± 0.0252 | - |" in table and "| 1.400, 1.300, 1.200 | 40%, 40%, 40% |" in table
    lines = copy_conclusion(results)
    assert lines[0].startswith("The copy against no-copy: depth-first/copy/s->b: mIoU")
    assert "depth-first/copy+reestimate-bn/s->b closes the gap" in lines[1]
    assert "depth-first/copy+reinit-last-block/s->b does not close the gap" in lines[2]


def test_the_findings_read_the_budget_suite_at_its_reading_budget(tmp_path):
    from mdseg.study.experiments import Results
    from mdseg.study.findings import findings
    from mdseg.study.report import summarize

    def runs(values, epochs):
        return [run_record(k, v, budget={"epochs": epochs, "seg_epochs": epochs, "depth_epochs": 0})
                for k, v in enumerate(values)]

    table = {2: {"single-decoder": runs([0.50, 0.52, 0.51], 4), "naive-joint": runs([0.48, 0.51, 0.49], 4)},
             4: {"single-decoder": runs([0.60, 0.62, 0.61], 8), "naive-joint": runs([0.59, 0.60, 0.60], 8)}}
    budget = {e: Results("cpu", summarize(found), found) for e, found in table.items()}
    lines = findings(Results("cpu", {}, {}), budget=budget)
    assert lines[0].startswith("Trained longer (the budget suite), the baseline reaches 0.510 at 4, 0.610 at 8 epochs")
    assert "the baseline has not met the plateau rule" in lines[0] and "read at 4 epochs per stage" in lines[0]
    assert lines[1].startswith("Trained longer, naive-joint goes from -3.3% [-6.1%, -0.5%] of the baseline (worse)") and "at 2 epochs per stage to -2.2% [" in lines[1]
    assert lines[1].endswith("3 paired seeds: not distinguishable from the baseline, and these seeds cannot tell a full "
                             "catch-up from a remaining cost or a gain within that interval; against the margin: inconclusive.")
    scale = _suite(tmp_path, {Point("profile", depth_scale=1): [0.52, 0.55, 0.50]}, {"profile": [0.51, 0.54, 0.53]})
    mapped = findings(Results("cpu", {}, {}), scale=scale, budget=budget)[0]  # the map, read at 2 epochs per stage
    assert mapped.startswith("Across the scale map") and "2 epochs per stage, the quick budget)" in mapped


def test_a_baseline_plateau_beyond_the_other_recipes_budgets_is_said_and_not_read_yet():
    """The baseline's whole curve (its equal-total-epoch budgets too) decides where it stops improving;
    the tables move there only once the other recipes have runs at that budget."""
    from mdseg.study.budget_report import budget_conclusion, reading_budget
    from mdseg.study.experiments import Results
    from mdseg.study.report import summarize

    def runs(values, epochs):
        return [run_record(k, v, budget={"epochs": epochs, "seg_epochs": epochs, "depth_epochs": 0})
                for k, v in enumerate(values)]

    table = {2: {"single-decoder": runs([0.50, 0.52, 0.51], 4), "naive-joint": runs([0.48, 0.51, 0.49], 4)},
             4: {"single-decoder": runs([0.60, 0.62, 0.61], 8), "naive-joint": runs([0.59, 0.60, 0.60], 8)},
             6: {"single-decoder": runs([0.70, 0.71, 0.70], 12)},
             8: {"single-decoder": runs([0.71, 0.72, 0.71], 16)}}  # 12 -> 16 epochs: 0.0025 per epoch
    budget = {e: Results("cpu", summarize(found), found) for e, found in table.items()}
    assert reading_budget(budget) == (4, False)
    said = next(line for line in budget_conclusion(budget) if line.startswith("The tables are read at 4"))
    assert "meets the plateau rule (< 0.005 mIoU per added epoch) only at 16 epochs (8 per stage)" in said
    table[8]["naive-joint"] = runs([0.70, 0.71, 0.70], 16)
    budget = {e: Results("cpu", summarize(found), found) for e, found in table.items()}
    assert reading_budget(budget) == (8, True)


def test_the_copy_is_read_against_no_copy_at_every_budget_that_has_both():
    from mdseg.study.budget_report import copy_by_budget
    from mdseg.study.experiments import Results
    from mdseg.study.report import summarize

    def runs(name, values, epochs):
        return [run_record(k, v, name, budget={"epochs": epochs, "seg_epochs": epochs, "depth_epochs": epochs})
                for k, v in enumerate(values)]

    copy, no_copy = "depth-first/copy/s->b", "depth-first/no-copy/s->b"
    table = {2: {copy: runs(copy, [0.30, 0.34, 0.31], 6), no_copy: runs(no_copy, [0.50, 0.52, 0.51], 6)},
             4: {copy: runs(copy, [0.60, 0.62, 0.61], 12)}}  # no no-copy yet: not read there
    suite = {e: Results("cpu", summarize(found), found) for e, found in table.items()}
    said = copy_by_budget(suite)
    assert said.startswith(f"The copy against no-copy ({copy} minus {no_copy}, paired by seed): at 2 epochs per stage -0.1933 [")
    assert "at 4 epochs" not in said and copy_by_budget({4: suite[4]}) == ""


def test_the_story_gives_the_collapse_its_depth_quality_where_seeds_measured_it(tmp_path):
    from mdseg.study.experiments import Results
    from mdseg.study.findings import findings

    failing = Point("paper", depth_scale=255)
    suite = _suite(tmp_path, {failing: [0.03, 0.04, 0.03]}, {"paper": [0.47, 0.50, 0.45]})
    lines = findings(Results("cpu", {}, {}), scale=suite)
    assert not any("depth R² there" in line for line in lines)
    assert "3 paired seeds each, 2 epochs per stage):" in lines[0]  # the map says the budget it was read at
    measured = [replace(r, metrics={**r.metrics, "depth_r2": r2}) if r2 is not None else r
                for r, r2 in zip(suite.naive[failing], (0.02, None, 0.04))]
    suite = replace(suite, naive={failing: measured})
    line = next(x for x in findings(Results("cpu", {}, {}), scale=suite) if x.startswith("Collapse at"))
    assert line.endswith("; naive joint's depth R² there 0.030 ± 0.014 (2 of 3).")


def test_the_tradeoff_panels_draw_each_suite_where_depth_quality_was_measured(tmp_path):
    from mdseg.study.experiments import Results
    from mdseg.study.tradeoff import measured, tradeoff_panels
    from mdseg.training.schedule import DEPTH_ONLY

    failing = Point("paper", depth_scale=255)
    suite = _suite(tmp_path, {failing: [0.20, 0.22, 0.21]}, {"paper": [0.45, 0.47, 0.46]})
    assert suite.failing() == [failing]
    alone = [replace(r, metrics={**r.metrics, "depth_r2": 0.6}) for r in suite.naive[failing]]
    suite.controls = {(failing, DEPTH_ONLY): alone}
    unmeasured = Results("cpu", {}, {"depth-first/copy/s->b": suite.naive[failing]})
    drawn, left = tradeoff_panels(suite, None, unmeasured)
    assert list(drawn) == ["At the collapse, normalised x255, paper optimiser (2 epochs per stage)"]
    assert left == ["The copy suite (2 epochs per stage)"] and measured(drawn[list(drawn)[0]]) == 3
    assert tradeoff_panels() == ({}, [])


def test_extra_seeds_never_move_the_failing_points(tmp_path):
    """The follow-ups were trained where the declared rule put them on the pilot (seeds 0-2); a point that
    becomes 'worse' only with extra seeds must not take their place (the suite would drop them)."""
    from mdseg.study.scale_suite import _declared_verdict

    pilot_fail, later = Point("sgd", depth_scale=255), Point("profile", depth_scale=255)  # profile ranks first
    suite = _suite(tmp_path, {pilot_fail: [0.03, 0.04, 0.035], later: [0.52, 0.53, 0.51]},
                   {"sgd": [0.45, 0.50, 0.47], "profile": [0.51, 0.54, 0.53]})
    assert suite.failing() == [pilot_fail]
    extra = range(3, 7)
    naive = {p: runs + [_run(v, tmp_path, f"extra-{p.optimiser}-{k}", ratio=0.01, seed=k) for k in extra]
             for p, runs, v in ((later, suite.naive[later], 0.50), (pilot_fail, suite.naive[pilot_fail], 0.04))}
    baselines = {o: runs + [_run(v, tmp_path, f"extra-b-{o}-{k}", seed=k) for k in extra]
                 for o, runs, v in (("profile", suite.baselines["profile"], 0.53), ("sgd", suite.baselines["sgd"], 0.47))}
    suite = replace(suite, naive=naive, baselines=baselines)
    assert _declared_verdict(suite.comparison(later)) == "worse"  # over all 7 seeds the rule would now pick it
    assert suite.failing() == [pilot_fail]


def test_a_seed_that_diverged_at_a_collapse_is_counted_apart_and_named_per_seed(tmp_path):
    """A diverged seed is an outcome: the collapse line counts the finished seeds that collapsed and the
    diverged ones apart, and the per-seed mechanism sentence names the seed that stopped."""
    from mdseg.study.findings import _scale_findings
    from mdseg.study.mechanism import vanished_sentence
    from mdseg.study.scale_report import collapse_count

    failing = Point("sgd", depth_scale=255)
    suite = _suite(tmp_path, {failing: [0.03, 0.04, 0.035, 0.02]}, {"sgd": [0.45, 0.50, 0.47, 0.48]})
    suite.optimisers["sgd"] = "SGD (momentum 0.9) 0.01, cosine"
    suite.naive[failing][3] = replace(suite.naive[failing][3], stopped=Stopped("Non-finite loss"))
    for run, share in zip(suite.naive[failing], (0.74, 0.02, 0.94, 0.0)):
        (run.run_dir / runs.DIAGNOSTICS_SUMMARY).write_text(json.dumps(
            {"steps": 100, "vanished": share, "loss_seg": 1.5, "loss_depth": 8000.0, "loss_ratio": 1.9e-4,
             "grad_ratio": 7e-4, "cosine": 0.01, "conflict": 0.4}))
        (run.run_dir / runs.DIAGNOSTICS).unlink()
    row = next(r for r in suite.map_points() if r["point"] == failing)
    assert collapse_count(row) == ("3 of 3 finished seeds below 50% of the baseline's mean, 1 of 4 diverged "
                                   "(the difference is over the finished seeds)")
    assert collapse_count({**row, "diverged": 0}) == "3 of 3 seeds below 50% of the baseline's mean"
    assert any(line.startswith(f"Collapse at {failing.label}: {collapse_count(row)}. ") for line in conclusion(suite))
    assert any(line.startswith(f"Collapse at {failing.label}: {collapse_count(row)}; ")
               for line in _scale_findings(suite, "2 epochs per stage"))
    assert "(seeds 0, 1, 2, 3 (diverged))" in vanished_sentence("Per seed there", suite.naive[failing])
    table_row = next(line for line in points_markdown(suite).splitlines() if line.startswith("| normalised | 255 |"))
    assert "1 of 4 seeds diverged" in table_row and "3 of 3 finished seeds collapsed" in table_row


def test_the_map_keeps_the_labels_of_crowded_points_apart():
    """Points that sit almost on top of each other (as x255 and png8 do under one optimiser) get labels
    that do not overlap each other, the same on every draw."""
    import matplotlib

    matplotlib.use("Agg")
    from mdseg.viz import failure_map

    crowd = [{"optimiser": f"opt{i % 3}", "target": "normalised", "depth_scale": 4 ** i, "ratio": 0.03 * (1 + 0.02 * i),
              "rel": -0.025 - 0.002 * i, "rel_low": -0.05, "rel_high": 0.0, "collapsed": 0} for i in range(6)]

    def label_boxes():
        figure = failure_map(crowd)
        renderer = figure.canvas.get_renderer()
        texts = [t for t in figure.axes[0].texts if t.get_text().startswith("x")]
        assert len(texts) == len(crowd)
        return [t.get_window_extent(renderer) for t in texts]

    boxes = label_boxes()
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert [tuple(b.extents.round(1)) for b in label_boxes()] == [tuple(b.extents.round(1)) for b in boxes]
