"""Notebook hygiene. Executing them is nbval's job (`make test` runs it in the ci profile)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist_in_order():
    assert [p.stem[:3] for p in NOTEBOOKS] == ["00_", "01_", "02_", "03_", "04_", "05_", "06_"]


def test_badges_and_install_cells_follow_the_configured_home():
    result = subprocess.run([sys.executable, str(ROOT / "tools/colab.py"), "--check", *map(str, NOTEBOOKS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_notebooks_name_no_repository_but_the_configured_one():
    sys.path.insert(0, str(ROOT / "tools"))
    from colab import home

    configured = home()
    for path in NOTEBOOKS:
        for url in re.findall(r"github\.com/([\w.-]+/[\w.-]+)", path.read_text()):
            assert configured and url.removesuffix(".git") in configured, f"{path.name} names github.com/{url}"


def test_notebooks_are_committed_clean():
    result = subprocess.run([sys.executable, str(ROOT / "tools/nbclean.py"), "--check", *map(str, NOTEBOOKS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    cells = json.loads(path.read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    assert text[0].startswith("# ") and "What this notebook teaches" in text[0]
    assert 'if "google.colab" in sys.modules' in text[1] and "torch" not in text[1].split("\n", 1)[1].replace(
        "torch stays", "")
    assert "profile, RUNS = setup()" in text[3]  # MDSEG_PROFILE / MDSEG_SEEDS: tests/test_setup.py
    saw = next(i for i, t in enumerate(text) if t.startswith("## What we saw"))
    assert cells[saw + 1]["cell_type"] == "code"  # what we saw is computed beside the words
    if not path.name.startswith("00"):  # 01-06 end with their questions
        assert cells[-1]["cell_type"] == "markdown" and text[-1].startswith("## Questions")
    assert all(c.get("outputs", []) == [] for c in cells)


def test_own_models_is_none_and_says_why_when_a_finished_run_has_no_checkpoint(tmp_path, capsys):
    """A finished run copied from the reference (metrics, no weights) must not crash notebook 05."""
    from mdseg.notebook import own_models
    from mdseg.study.experiments import Results

    folder = tmp_path / "single-decoder" / "seed0"
    folder.mkdir(parents=True)
    from helpers import run_record

    own = Results("cpu", {}, {"single-decoder": [run_record(0, 0.5, run_dir=folder)]}, "")
    assert own_models(own, ["single-decoder", "naive-joint"]) is None
    said = capsys.readouterr().out
    assert "naive-joint" in said and "no checkpoint.safetensors" in said


def test_own_runs_at_the_failing_point_read_the_reference_settings(monkeypatch, capsys):
    """Notebook 06's own runs go to the reference's failing point (its optimiser and learning rate):
    read back from the shipped reference itself, they are the reference's own runs there."""
    from mdseg.notebook import REFERENCE, own_at_failing_point, reference_profile
    from mdseg.study.scale_suite import scale_suite

    monkeypatch.setenv("MDSEG_TRAIN", "none")
    ref_scale = scale_suite(reference_profile(), finished_only=True, progress=False, base=REFERENCE)
    if not ref_scale.failing():
        pytest.skip("the shipped scale suite shows no failing point")
    own, ref_point = own_at_failing_point(reference_profile(), ref_scale, base=REFERENCE)
    point = ref_scale.failing()[0]
    assert point.optimiser == "sgd" and point.depth_scale == 255  # what the README and notebook 06 describe
    for recipe in ("naive-joint", "naive-joint/norm"):
        assert [r["metrics"]["mIoU"] for r in own.runs[recipe]] == ref_point.summary[recipe]["mIoU"]["values"]
        assert {Path(r["run_dir"]).parts[-3] for r in own.runs[recipe]} == {f"cpu-x255-sgd-lr{ref_scale.lr_sgd:g}"}
    # under none nothing trains and no plan is printed; a shipped run that diverged there is said as an outcome
    said = capsys.readouterr().out.splitlines()
    assert all(line.startswith("Stopped by a non-finite loss (an outcome, not a bug): ") for line in said)


def test_no_own_runs_at_a_failing_point_when_the_reference_shows_none(capsys):
    from mdseg.notebook import own_at_failing_point, reference_profile
    from mdseg.study.scale_suite import ScaleSuite

    empty = ScaleSuite("cpu", {}, {}, {}, {}, {}, None, {})
    assert own_at_failing_point(reference_profile(), empty) is None
    assert "no point" in capsys.readouterr().out


def test_the_students_own_runs_plan_and_train_without_gradient_diagnostics(monkeypatch, capsys):
    """The notebooks show diagnostics from the reference only; their own runs skip them, and the
    announced cost is that of runs without them."""
    import mdseg.notebook as nb
    from mdseg.study.experiments import Results
    from mdseg.study.scale_suite import Point, ScaleSuite

    asked = []
    monkeypatch.setenv("MDSEG_TRAIN", "one")
    monkeypatch.setattr(nb, "plan", lambda *a, **k: asked.append(("plan", k.get("diagnose_every"))) or "a plan")
    monkeypatch.setattr(nb, "reproduce", lambda *a, **k: asked.append(("train", k.get("diagnose_every")))
                        or Results("cpu", {}, {}))
    monkeypatch.setattr(nb, "train_jobs", lambda *a, **k: asked.append(("train", k.get("diagnose_every")))
                        or [[] for _ in a[0]])
    nb.train_own(nb.reference_profile(), ["naive-joint"], "nowhere")
    point = Point("sgd", "normalised", 255)
    failing = ScaleSuite("cpu", {}, {}, {}, {}, {}, 0.01, {})
    monkeypatch.setattr(ScaleSuite, "failing", lambda self: [point])
    nb.own_at_failing_point(nb.reference_profile(), failing)
    assert asked == [("plan", 0), ("train", 0)] * 2


def test_a_plan_counts_the_steps_that_take_gradient_diagnostics(monkeypatch):
    """Every ``diagnose_every``-th step of a stage where both tasks train the encoder costs a
    diagnosed step (an extra encoder backward per task); a single-task stage or one with a frozen
    encoder costs plain steps (its diagnostics take no extra pass)."""
    from mdseg.study import experiments
    from mdseg.study import planning
    from mdseg.study.profiles import get_profile
    from mdseg.training.schedule import Stage

    plain = {("seg",): 1.0, ("depth",): 1.0, ("seg", "depth"): 2.0}
    diagnosed_costs = {("seg", "depth"): 20.0}  # measured for two-task steps only
    joint = Stage("b", {"seg": 0.85, "depth": 0.15}, 1)
    frozen = Stage("b", {"seg": 0.85, "depth": 0.15}, 1, train_encoder=False)
    assert planning.epoch_seconds(joint, 10, 0, plain, diagnosed_costs) == 20.0
    assert planning.epoch_seconds(joint, 10, 4, plain, diagnosed_costs) == 7 * 2.0 + 3 * 20.0  # steps 0, 4, 8
    assert planning.epoch_seconds(frozen, 10, 4, plain, diagnosed_costs) == 20.0
    assert planning.epoch_seconds(Stage("s", {"seg": 1.0}, 1), 10, 4, plain, diagnosed_costs) == 10.0

    costs = {False: plain, True: diagnosed_costs}
    monkeypatch.setattr(planning, "step_seconds", lambda profile, device=None, steps=2, diagnosed=False: costs[diagnosed])
    cpu = get_profile("cpu")
    off, on = (planning.plan(cpu, "nowhere", ["naive-joint", "semantic-first/copy/d->b"], [0], diagnose_every=k).seconds
               for k in (0, 4))
    steps = cpu.synthetic.n_train // cpu.batch_size
    joint_epochs = sum(s.epochs for schedule in experiments.schedules(cpu, ["naive-joint", "semantic-first/copy/d->b"])
                       for s in schedule.stages if s.tasks_share_encoder)
    assert on - off == pytest.approx(1.15 * joint_epochs * -(-steps // 4) * (20.0 - 2.0))


def test_every_figure_a_notebook_makes_is_shown_whatever_the_backend():
    """A cell ending in `fig = viz...` shows nothing under Agg (what make test and CI use), so nbval never
    drew it: every figure is shown explicitly with viz.show (display, then close)."""
    import nbformat

    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            assigned = re.findall(r"^\s*(\w+) = (?:viz\.\w+|lab_figure)\(", cell.source, re.M)
            for name in assigned:
                assert f"viz.show({name})" in cell.source, f"{path.name}: a figure assigned to {name} is never shown"
            assert "display(fig" not in cell.source and "display(viz." not in cell.source, path.name


def test_a_stated_direction_must_match_the_runs_and_a_prediction_is_checked():
    from mdseg.notebook import check_prediction, stated
    from mdseg.study.compare import Comparison

    worse = Comparison("n", "b", "mIoU", (0.40, 0.42, 0.38), (0.50, 0.51, 0.49), seeds=(0, 1, 2), baseline_seeds=(0, 1, 2))
    assert stated(worse, "worse") == worse.sentence()
    with pytest.raises(AssertionError, match="The text says 'better' .* the runs now say 'worse'"):
        stated(worse, "better")
    assert check_prediction(None, 0.5, "x", 0.1).startswith("Write your prediction of x")
    assert "(close" in check_prediction(0.45, 0.5, "x", 0.1) and "(not close" in check_prediction(0.2, 0.5, "x", 0.1)


def test_notebooks_01_to_06_end_with_questions_and_the_kit_has_predict_then_run_exercises():
    import nbformat

    exercises = 0
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        exercises += sum("check_prediction(guess" in c.source for c in cells if c.cell_type == "code")
        if path.name.startswith("00"):
            continue
        last = cells[-1]
        assert last.cell_type == "markdown" and last.source.startswith("## Questions"), path.name
        questions = re.findall(r"^\d+\. ", last.source, re.M)
        assert 3 <= len(questions) <= 5 and "docs/answers.md" in last.source, path.name
    assert exercises >= 4
    answers = (ROOT / "docs" / "answers.md").read_text()
    for number in range(1, 7):
        assert f"## 0{number} · " in answers


def test_no_story_line_is_printed_twice_across_notebooks():
    """The paper's claims and the kit's findings are stated once (notebook 00); later notebooks refer back."""
    import nbformat

    calls = {path.name: sum(c.source.count("story(") + c.source.count("findings(") for c in
                            nbformat.read(path, as_version=4).cells if c.cell_type == "code") for path in NOTEBOOKS}
    assert calls.pop("00_overview.ipynb") >= 2 and not any(calls.values()), calls


def test_viz_show_puts_an_image_in_the_notebook_under_agg(tmp_path, monkeypatch):
    """What every figure cell calls: executed by a real kernel under the Agg backend (as nbval runs the
    notebooks in make test), the cell's output holds a PNG image."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfrom mdseg import viz\nfig, ax = plt.subplots()\nax.plot([0, 1])\nviz.show(fig)\n"
        "print(len(plt.get_fignums()))")])
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits this process's environment
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any(o.get("text", "").strip() == "0" for o in outputs if o.get("output_type") == "stream")  # closed


def test_under_train_none_figure3_and_the_explorer_come_from_the_shipped_gallery(capsys):
    """What notebooks 02, 05 and 06 draw when the student has trained nothing: the reference's shipped
    predictions of every run they name, on the same val images, said to be the reference's."""
    from mdseg.notebook import REFERENCE, figure3_at_failing_point, figure3_inputs, reference_profile
    from mdseg.study.scale_suite import scale_suite
    from mdseg.training.schedule import BASELINE, BEST_RECIPE

    profile = reference_profile()
    ref_scale = scale_suite(profile, finished_only=True, progress=False, base=REFERENCE)
    drawn = [figure3_inputs(profile, None, [BASELINE], count=3),  # notebook 02
             figure3_inputs(profile, None, [BASELINE, BEST_RECIPE]),  # notebook 05
             figure3_at_failing_point(profile, ref_scale, None)]  # notebook 06
    assert None not in drawn and "holds no predictions" not in capsys.readouterr().out
    for (items, predictions, whose), names in zip(drawn, ([BASELINE], [BASELINE, BEST_RECIPE],
                                                          ["naive-joint", "naive-joint/norm"])):
        assert list(predictions) == names and whose.startswith("the reference")
        for seg in predictions.values():
            assert seg.shape == (len(items), *items[0]["mask"].shape) and seg.max() < 21
