"""The shipped reference runs: written from a runs folder as text, read back by every suite, and
never stale (a shipped run's identity must match what the current code trains in its folder)."""
import json
from dataclasses import replace
from pathlib import Path

import pytest

from mdseg.errors import OutputExists
from mdseg.study.profiles import get_profile, identity, runs_root
from mdseg.study.placement import inside_spread, profile_from_identity
from mdseg.study.reference import (
    ReferenceError,
    provenance,
    reference_root,
    shipped_folders,
    suite_runs,
    suite_size,
    write,
)
from mdseg.training import runs
from mdseg.training.schedule import get_recipe


def _fake_run(base: Path, profile, recipe: str, seed: int, miou: float, device: str = "x86_64 CPU",
              depth_epochs: int = 0, **metrics) -> Path:
    """A finished run folder as train.run leaves it (checkpoint and diagnostics included)."""
    schedule = get_recipe(recipe, profile.stage_epochs)
    folder = runs.run_dir(runs_root(profile, base), schedule.name, seed)
    runs.claim(folder, identity(profile, schedule, seed))
    record = {"stage": 0, "epoch": 1, "global_epoch": 1, "train": {"seg": 1.0}, "val": {"mIoU": miou}}
    runs.append_record(folder / runs.LOG, record)
    (folder / runs.CHECKPOINT).write_bytes(b"weights")
    runs.append_record(folder / runs.DIAGNOSTICS, {"loss": {"seg": 1.0, "depth": 0.1}, "grad_ratio_seg_depth": 4.0,
                                                   "grad_cosine": 0.2})
    runs.write_result(folder, {"schedule": schedule.name, "budget": {"epochs": 4, "seg_epochs": 4, "depth_epochs": depth_epochs},
                               "history": [record], "metrics": {"mIoU": miou, **metrics}, "wall_seconds": 10.0,
                               "device": {"type": "cpu", "name": device, "precision": "fp32", "torch": "2.14.1"}})
    return folder


def test_the_reference_is_text_only_and_every_suite_reads_it_back(tmp_path):
    ci = get_profile("ci")
    _fake_run(tmp_path / "runs", ci, "single-decoder", 0, 0.5)
    _fake_run(tmp_path / "runs", ci, "naive-joint", 0, 0.4)
    written = write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref", commit="abc123")
    assert written["tables"]["runs"] == 2 and written["tables"]["commit"] == "abc123"
    assert written["tables"]["device"] == "x86_64 CPU" and written["tables"]["wall_seconds"] == 20
    shipped = tmp_path / "ref" / "ci" / "naive-joint" / "seed0"
    assert sorted(p.name for p in shipped.iterdir()) == ["config.json", "diagnostics.json", "log.jsonl", "result.json"]
    assert "history" not in json.loads((shipped / runs.RESULT).read_text())
    assert runs.read_result(shipped)["history"][0]["val"]["mIoU"] == 0.4  # from log.jsonl
    assert runs.diagnostics_summary(shipped)["grad_ratio"] == pytest.approx(4.0)
    found = suite_runs(ci, "tables", tmp_path / "ref")
    assert sorted(r["metrics"]["mIoU"] for r in found) == [0.4, 0.5]


def test_a_stale_reference_run_is_refused(tmp_path):
    ci = get_profile("ci")
    folder = _fake_run(tmp_path / "ref", ci, "single-decoder", 0, 0.5)
    config = json.loads((folder / runs.CONFIG).read_text())
    config["profile"]["lr"] = 0.5  # as if the profile's learning rate changed after the reference was trained
    (folder / runs.CONFIG).write_text(json.dumps(config))
    with pytest.raises(OutputExists, match="holds a run with other settings"):
        suite_runs(ci, "tables", tmp_path / "ref")


def test_one_suite_comes_from_one_device(tmp_path):
    ci = get_profile("ci")
    _fake_run(tmp_path / "runs", ci, "single-decoder", 0, 0.5, device="NVIDIA H200")
    _fake_run(tmp_path / "runs", ci, "naive-joint", 0, 0.4)
    with pytest.raises(ReferenceError, match="from 2 devices"):
        write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref")


@pytest.mark.parametrize("changes", [{}, {"depth_target": "png8", "lr": 1e-4, "lr_schedule": "constant"},
                                     {"optimizer": "sgd", "lr": 0.03, "depth_scale": 16.0}])
def test_a_runs_profile_is_rebuilt_from_its_identity(changes):
    variant = replace(get_profile("cpu"), **changes)
    schedule = get_recipe("naive-joint", variant.stage_epochs)
    stored = json.loads(json.dumps(identity(variant, schedule, 1)))
    assert identity(profile_from_identity(stored), schedule, 1) == identity(variant, schedule, 1)


def test_inside_is_the_95_percent_prediction_interval_for_one_new_seed():
    # mean 0.52, s 0.02, n 3: 0.52 ± t(0.975, 2) 0.02 sqrt(1 + 1/3) = 0.52 ± 0.0994
    assert inside_spread(0.60, [0.50, 0.52, 0.54]) and inside_spread(0.4207, [0.50, 0.52, 0.54])
    assert not inside_spread(0.62, [0.50, 0.52, 0.54]) and not inside_spread(0.42, [0.50, 0.52, 0.54])
    assert inside_spread(0.53, [0.53]) and not inside_spread(0.5302, [0.53])  # one seed: the same machine only


def test_every_shipped_reference_run_is_what_the_current_code_trains_there():
    """Fails when a profile, a recipe or a suite changes under a shipped run: retrain and rewrite
    the reference (`python -m mdseg reference --from runs`)."""
    shipped = provenance("cpu")
    assert shipped, f"no reference is shipped in {reference_root('cpu')}"
    cpu = get_profile("cpu")
    read = set()
    for suite, about in shipped.items():
        found = suite_runs(cpu, suite, reference_root("cpu"))  # raises on a stale identity
        assert len(found) == about["runs"], f"suite {suite}: {len(found)} runs read, provenance says {about['runs']}"
        planned = about.get("planned", about["runs"])
        assert about["runs"] - about.get("extra_seeds", 0) <= planned == suite_size(cpu, suite, reference_root("cpu"))[0]
        read |= {Path(r["run_dir"]) for r in found}
    orphans = shipped_folders("cpu") - read
    assert not orphans, f"shipped runs no suite trains any more: {sorted(map(str, orphans))[:5]}"


@pytest.mark.parametrize("recipe, w", [("naive-joint", 0.05), ("depth-first/copy/s->b", 0.15), ("uncertainty", 0.15)])
def test_a_runs_schedule_is_rebuilt_from_its_stored_stages(recipe, w):
    from mdseg.study.placement import schedule_from_identity

    schedule = get_recipe(recipe, 2, depth_weight=w)
    stored = json.loads(json.dumps(identity(get_profile("cpu"), schedule, 0)))
    rebuilt = schedule_from_identity(stored)
    assert identity(get_profile("cpu"), rebuilt, 0) == identity(get_profile("cpu"), schedule, 0)


def test_a_suites_size_counts_each_run_folder_once():
    """The plan of the tables (every recipe x seed) and the failure suite (baseline once, then each
    target's runs); the scale suite's SGD sweep shares its chosen rate's seeds with the SGD baseline."""
    from mdseg.study.experiments import schedules
    from mdseg.study.planning import plan
    from mdseg.study.failure_suite import failure_schedules

    cpu = get_profile("cpu")
    tables = plan(cpu, "nowhere", seeds=list(cpu.seeds))
    assert suite_size(cpu, "tables")[0] == len(tables.todo) == len(schedules(cpu)) * len(cpu.seeds)
    assert suite_size(cpu, "failure")[0] == (1 + 2 * len(failure_schedules(cpu))) * len(cpu.seeds) == 75
    size, note = suite_size(cpu, "scale")
    assert size == 75 + 6 * 3 and "follow-ups" in note  # with the depth-only controls (2 optimisers x 3 scales)


def test_a_diverged_run_is_planned_as_an_outcome_where_suites_keep_divergence(tmp_path):
    """A suite keeps a run a non-finite loss stopped (:func:`mdseg.study.jobs.train_jobs`), so its plan
    counts it apart instead of as a run to train; a plain reproduction still lists it to train."""
    from mdseg.study.planning import plan

    ci = get_profile("ci")
    (stopped := runs.run_dir(tmp_path, "naive-joint", 0)).mkdir(parents=True)
    runs.write_divergence(stopped, "loss is nan at epoch 1", {"epoch": 1})
    kept = plan(ci, tmp_path, ["naive-joint"], [0, 1], keep_divergence=True)
    assert (kept.diverged, [r[:2] for r in kept.todo]) == (1, [("naive-joint", 1)])
    assert "1 diverged and kept as such" in str(kept)
    assert [r[:2] for r in plan(ci, tmp_path, ["naive-joint"], [0, 1]).todo] == [("naive-joint", 0), ("naive-joint", 1)]


def test_the_provenance_dates_come_from_the_runs_and_keep_an_earlier_start(tmp_path):
    """A run's recorded finish time is its date (else its folder's last change); rewriting a
    reference from a copy of itself keeps the first date its provenance already had."""
    ci = get_profile("ci")
    first = _fake_run(tmp_path / "runs", ci, "single-decoder", 0, 0.5)
    second = _fake_run(tmp_path / "runs", ci, "naive-joint", 0, 0.4)
    for folder, when in ((first, "2026-01-02 03:04 UTC"), (second, "2026-01-05 00:00 UTC")):
        runs.write_result(folder, {**json.loads((folder / runs.RESULT).read_text()), "finished": when})
    written = write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref")["tables"]
    assert (written["first_finished"], written["last_finished"]) == ("2026-01-02 03:04 UTC", "2026-01-05 00:00 UTC")
    about = tmp_path / "ref" / "provenance" / "tables.json"
    about.write_text(json.dumps({**json.loads(about.read_text()), "first_finished": "2025-12-31 23:00 UTC"}))
    rewritten = write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref", replace=True)["tables"]
    assert rewritten["first_finished"] == "2025-12-31 23:00 UTC" and rewritten["last_finished"] == "2026-01-05 00:00 UTC"


def test_the_provenance_says_which_cpu_models_trained_the_suite(tmp_path):
    """Two hosts with the same device name can round differently: each run records its CPU model,
    and the provenance counts them (runs from before the model was recorded say so)."""
    import torch

    from mdseg.runtime.device import device_info

    here = device_info(torch.device("cpu"))
    assert here["model"] and here["model"] != "unknown" or not Path("/proc/cpuinfo").exists()
    assert here["isa"] in {"DEFAULT", "VSX", "Z VECTOR", "NO AVX", "AVX2", "AVX512", "SVE256"}  # the model name can hide it
    ci = get_profile("ci")
    folder = _fake_run(tmp_path / "runs", ci, "single-decoder", 0, 0.5)
    _fake_run(tmp_path / "runs", ci, "naive-joint", 0, 0.4)
    result = json.loads((folder / runs.RESULT).read_text())
    runs.write_result(folder, {**result, "device": {**result["device"], "model": "AMD EPYC"}})
    written = write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref")["tables"]
    assert written["models"] == "AMD EPYC (1 run); not recorded (1 run)"


def test_the_reference_grows_by_new_runs_and_replaces_shipped_ones_only_when_asked(tmp_path):
    """`mdseg reference --from <a folder with one run>` once replaced that shipped run and rewrote the
    provenance as "1 of 30 runs"; now new runs join the shipped ones, the provenance counts what the
    reference holds, and a shipped run is replaced only with --replace."""
    ci = get_profile("ci")
    _fake_run(tmp_path / "first", ci, "single-decoder", 0, 0.5)
    assert write(tmp_path / "first", "ci", ("tables",), dest=tmp_path / "ref")["tables"]["runs"] == 1
    _fake_run(tmp_path / "more", ci, "naive-joint", 0, 0.4)
    grown = write(tmp_path / "more", "ci", ("tables",), dest=tmp_path / "ref")["tables"]
    assert (grown["runs"], grown["added"], grown["replaced"]) == (2, 1, 0)
    _fake_run(tmp_path / "again", ci, "single-decoder", 0, 0.9)
    shipped = tmp_path / "ref" / "ci" / "single-decoder" / "seed0" / runs.RESULT
    with pytest.raises(ReferenceError, match="already shipped .*pass --replace"):
        write(tmp_path / "again", "ci", ("tables",), dest=tmp_path / "ref")
    assert json.loads(shipped.read_text())["metrics"]["mIoU"] == 0.5
    _fake_run(tmp_path / "again", ci, "naive-joint", 1, 0.3)  # one new run beside the shipped one's twin
    added = write(tmp_path / "again", "ci", ("tables",), dest=tmp_path / "ref", new_only=True)["tables"]
    assert (added["runs"], added["added"], added["replaced"]) == (3, 1, 0)
    assert json.loads(shipped.read_text())["metrics"]["mIoU"] == 0.5  # left as shipped
    with pytest.raises(ReferenceError, match="contradict"):
        write(tmp_path / "again", "ci", ("tables",), dest=tmp_path / "ref", replace=True, new_only=True)
    replaced = write(tmp_path / "again", "ci", ("tables",), dest=tmp_path / "ref", replace=True)["tables"]
    assert (replaced["runs"], replaced["replaced"]) == (3, 2) and json.loads(shipped.read_text())["metrics"]["mIoU"] == 0.9


def test_a_header_counts_the_runs_it_read_not_the_provenance(tmp_path, monkeypatch):
    """A deleted or edited shipped result once left headers saying "3 seeds" and "30 of 30 runs"."""
    from mdseg.study import reference

    monkeypatch.setattr(reference, "provenance", lambda profile="cpu": {"tables": {
        "runs": 30, "planned": 30, "device": "x86_64 CPU", "precision": "fp32", "torch": "2"}})
    from helpers import run_record

    found = [run_record(0), run_record(1)] * 14 + [run_record(0)]
    text = reference.label("cpu", "tables", found)
    assert "seeds 0, 1" in text and "29 runs read of 30 planned (its provenance lists 30" in text


def test_a_torn_provenance_file_is_a_message(tmp_path, monkeypatch):
    from mdseg.errors import BrokenFile
    from mdseg.study import reference

    (tmp_path / "cpu" / "provenance").mkdir(parents=True)
    (tmp_path / "cpu" / "provenance" / "tables.json").write_text('{"suite": "tab')
    monkeypatch.setattr(reference, "REFERENCE", tmp_path)
    with pytest.raises(BrokenFile, match="tables.json is not valid JSON .*git checkout mdseg/reference"):
        reference.provenance("cpu")


def test_a_new_suite_is_one_value_and_everything_derives_from_it(tmp_path, monkeypatch):
    """Declare a toy suite in a few lines: its planned size, reading its runs, the reference's command and
    tools/parallel_runs.py's jobs all come from its arms."""
    import sys

    from mdseg.study import suites

    toy = suites.Suite("toy", "two runs", arms=lambda p: [(p, "single-decoder"), (replace(p, depth_target="metric"),
                                                                                   "naive-joint")])
    monkeypatch.setitem(suites.SUITES, "toy", toy)
    ci = get_profile("ci", seeds=(0, 1))
    assert suite_size(ci, "toy") == (4, "") and toy.command == "python -m mdseg reproduce --profile {p} --suite toy"
    _fake_run(tmp_path / "runs", ci, "single-decoder", 0, 0.5)
    assert [r["seed"] for r in suite_runs(ci, "toy", tmp_path / "runs")] == [0]
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "tools"))
    monkeypatch.chdir(tmp_path)
    import parallel_runs

    todo = parallel_runs.jobs(ci, "toy", [0, 1])
    assert sorted((v.depth_target, s.name, k) for v, s, k in todo) == [
        ("metric", "naive-joint", 0), ("metric", "naive-joint", 1), ("normalised", "single-decoder", 1)]
    assert parallel_runs.settings_flags(todo[0][0], ci) in ([], ["--depth-target", "metric"])
    sys.modules.pop("parallel_runs", None)


def test_provenance_names_every_commit_its_runs_were_trained_at(tmp_path):
    """Runs added later to a suite (`--new-only`) once rewrote its provenance's commit as if every run
    had been trained at the new one; now the earlier commit stays and the new one is appended, a
    source with nothing new leaves the provenance as shipped, and a full replacement names only its own."""
    ci = get_profile("ci")
    _fake_run(tmp_path / "first", ci, "single-decoder", 0, 0.5)
    write(tmp_path / "first", "ci", ("tables",), dest=tmp_path / "ref", commit="aaaaaaa")
    _fake_run(tmp_path / "first", ci, "naive-joint", 0, 0.4)
    grown = write(tmp_path / "first", "ci", ("tables",), dest=tmp_path / "ref", commit="bbbbbbb", new_only=True)
    assert grown["tables"]["commit"] == "aaaaaaa; bbbbbbb" and grown["tables"]["added"] == 1
    provenance = tmp_path / "ref" / "provenance" / "tables.json"
    before = provenance.read_bytes()
    same = write(tmp_path / "first", "ci", ("tables",), dest=tmp_path / "ref", commit="ccccccc", new_only=True)
    assert same["tables"]["added"] == 0 and same["tables"]["commit"] == "aaaaaaa; bbbbbbb"
    assert provenance.read_bytes() == before
    again = write(tmp_path / "first", "ci", ("tables",), dest=tmp_path / "ref", commit="bbbbbbb", new_only=False,
                  replace=True)
    assert again["tables"]["commit"] == "bbbbbbb"  # every shipped run replaced: only the commit they came from


def test_extra_seeds_are_counted_apart_from_the_planned_runs(tmp_path):
    """Seeds beyond the profile's (the seed plan's) once read as "4 of 3 runs"; now they are counted apart."""
    from mdseg.study.reference import counted

    ci = get_profile("ci")
    for seed in (0, 1):  # the ci profile's seeds are (0,): seed 1 is an extra seed
        _fake_run(tmp_path / "runs", ci, "single-decoder", seed, 0.5)
    written = write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref")["tables"]
    assert written["runs"] == 2 and written["extra_seeds"] == 1
    assert counted(written) == f"1 of {written['planned']} runs, plus 1 extra seed"
    assert counted({"runs": 5, "planned": 6}) == "5 of 6 runs"


def test_fill_in_adds_depth_quality_only_from_exact_retrains(tmp_path):
    """Shipped runs from before depth quality was recorded get it from a retrain that reproduces them
    exactly (same mIoU): nothing else changes; a retrain that differs (another host) is listed, not shipped."""
    ci = get_profile("ci")
    for seed, miou in ((0, 0.4), (1, 0.45), (3, 0.47)):
        _fake_run(tmp_path / "old", ci, "naive-joint", seed, miou, depth_epochs=4)
    _fake_run(tmp_path / "again", ci, "naive-joint", 3, 0.47, depth_epochs=4)  # a plain copy of a shipped run: skipped
    _fake_run(tmp_path / "old", ci, "single-decoder", 0, 0.5)
    write(tmp_path / "old", "ci", ("tables",), dest=tmp_path / "ref", commit="aaaaaaa")
    _fake_run(tmp_path / "again", ci, "naive-joint", 0, 0.4, depth_epochs=4, depth_r2=0.7)  # exact
    _fake_run(tmp_path / "again", ci, "naive-joint", 1, 0.46, depth_epochs=4, depth_r2=0.6)  # another host
    _fake_run(tmp_path / "again", ci, "naive-joint", 2, 0.42, depth_epochs=4, depth_r2=0.6)  # not shipped: not added
    _fake_run(tmp_path / "again", ci, "single-decoder", 0, 0.5)  # trains no depth: nothing to fill
    filled = write(tmp_path / "again", "ci", ("tables",), dest=tmp_path / "ref", commit="bbbbbbb", fill_in=True)["tables"]
    assert (filled["runs"], filled["added"], filled["replaced"]) == (4, 0, 1)
    assert filled["not_reproduced"] == ["ci/naive-joint/seed1"] and filled["commit"] == "aaaaaaa; bbbbbbb"
    shipped = {r.seed: r for r in suite_runs(ci, "tables", tmp_path / "ref") if r.name == "naive-joint"}
    assert shipped[0].metrics == {"mIoU": 0.4, "depth_r2": 0.7} and shipped[1].metrics == {"mIoU": 0.45}
    with pytest.raises(ReferenceError, match="contradict"):
        write(tmp_path / "again", "ci", ("tables",), dest=tmp_path / "ref", new_only=True, fill_in=True)
    # a folder holding nothing but retrains (no suite around them, e.g. tools/retrain_unmeasured.py's):
    # read at the shipped runs' places; a retrain a non-finite loss stopped is listed, not shipped
    _fake_run(tmp_path / "only", ci, "naive-joint", 3, 0.47, depth_epochs=4, depth_r2=0.5)
    stopped = runs.run_dir(runs_root(ci, tmp_path / "only"), "naive-joint", 1)
    runs.claim(stopped, identity(ci, get_recipe("naive-joint", ci.stage_epochs), 1))
    runs.write_divergence(stopped, "Non-finite loss")
    filled = write(tmp_path / "only", "ci", ("tables",), dest=tmp_path / "ref", fill_in=True)["tables"]
    assert (filled["replaced"], filled["not_reproduced"]) == (1, ["ci/naive-joint/seed1"])
    assert write(tmp_path / "nothing", "ci", ("tables",), dest=tmp_path / "ref", fill_in=True)["tables"]["replaced"] == 0


def test_a_shipped_run_without_a_finish_time_is_dated_by_the_provenance_not_its_folder(tmp_path):
    """A shipped run from before finish times were recorded was dated by its folder's last change, which a
    checkout or copy sets to 'now': adding one run then moved the suite's last date to the day of the copy."""
    ci = get_profile("ci")
    dated = _fake_run(tmp_path / "runs", ci, "single-decoder", 0, 0.5)
    runs.write_result(dated, {**json.loads((dated / runs.RESULT).read_text()), "finished": "2026-01-02 00:00 UTC"})
    _fake_run(tmp_path / "runs", ci, "naive-joint", 0, 0.4)  # records no finish time
    write(tmp_path / "runs", "ci", ("tables",), dest=tmp_path / "ref")
    about = tmp_path / "ref" / "provenance" / "tables.json"
    about.write_text(json.dumps({**json.loads(about.read_text()), "last_finished": "2026-01-05 00:00 UTC"}))
    later = _fake_run(tmp_path / "more", ci, "single-decoder", 1, 0.5)
    runs.write_result(later, {**json.loads((later / runs.RESULT).read_text()), "finished": "2026-01-03 00:00 UTC"})
    grown = write(tmp_path / "more", "ci", ("tables",), dest=tmp_path / "ref", new_only=True)["tables"]
    assert (grown["first_finished"], grown["last_finished"]) == ("2026-01-02 00:00 UTC", "2026-01-05 00:00 UTC")


def test_retraining_for_depth_quality_lists_the_unmeasured_runs_and_refuses_a_folder_of_copies(tmp_path, monkeypatch, capsys):
    """tools/retrain_unmeasured.py: the shipped runs that train depth without its quality, this host's first;
    a --runs folder holding a finished copy of one (a retrain would reuse it) is refused before training."""
    import shutil
    import sys

    from mdseg.study.reference import unmeasured

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "tools"))
    import retrain_unmeasured

    cpu = get_profile("cpu")
    shipped = [r for s in ("tables", "failure") for r in suite_runs(cpu, s, reference_root("cpu")) if unmeasured(r)]
    if not shipped:
        pytest.skip("every shipped run of these suites records its depth quality")
    monkeypatch.setattr(sys, "argv", ["retrain_unmeasured.py", "--suites", "tables", "failure", "--any-host", "--dry-run"])
    assert retrain_unmeasured.main() == 0
    listed = [line.split(" (mIoU")[0].strip() for line in capsys.readouterr().out.splitlines() if "(mIoU" in line]
    assert sorted(listed) == sorted({str(r.run_dir.relative_to(reference_root("cpu"))) for r in shipped})
    point = listed[0].split("/")[0] + "/"  # e.g. cpu-metric/: only that point's runs
    monkeypatch.setattr(sys, "argv", ["retrain_unmeasured.py", "--suites", "tables", "failure", "--any-host",
                                      "--match", point, "--dry-run"])
    assert retrain_unmeasured.main() == 0
    matched = [line.split(" (mIoU")[0].strip() for line in capsys.readouterr().out.splitlines() if "(mIoU" in line]
    assert matched and sorted(matched) == sorted(x for x in listed if x.startswith(point))
    copy = tmp_path / listed[0]
    shutil.copytree(reference_root("cpu") / listed[0], copy)
    monkeypatch.setattr(sys, "argv", ["retrain_unmeasured.py", "--runs", str(tmp_path), "--suites", "tables", "failure",
                                      "--any-host"])
    assert retrain_unmeasured.main() == 2 and "copies of the reference" in capsys.readouterr().err
    sys.modules.pop("retrain_unmeasured", None)


def test_make_run_says_its_runs_are_the_quick_budget_and_where_verdicts_are_read():
    from mdseg.study.budget_report import reading_budget
    from mdseg.study.budget_suite import budget_suite
    from mdseg.study.placement import quick_budget_note

    cpu = get_profile("cpu")
    epochs = reading_budget(budget_suite(cpu, finished_only=True, progress=False, base=reference_root("cpu")))[0]
    note = quick_budget_note(cpu)
    if epochs <= cpu.stage_epochs:
        assert note == ""
    else:
        assert note.startswith(f"These runs train the quick budget ({cpu.stage_epochs} epochs per stage)")
        assert f"verdicts at {epochs} epochs per stage" in note
    assert quick_budget_note(replace(cpu, stage_epochs=epochs)) == "" and quick_budget_note(get_profile("ci")) == ""


def test_a_run_two_suites_share_is_counted_by_both_when_added(tmp_path):
    """`--new-only` over several suites once let the first suite ship a shared run and the next one skip it
    as already shipped, leaving that suite's provenance short of a run its tables read."""
    ci = get_profile("ci")
    base = tmp_path
    for recipe in ("single-decoder", "naive-joint"):
        _fake_run(base / "first", ci, recipe, 0, 0.5)
    write(base / "first", "ci", ("tables", "failure"), dest=base / "ref")
    _fake_run(base / "more", ci, "naive-joint", 1, 0.4)  # an extra seed of a run tables and failure both read
    assert {r.seed for r in suite_runs(ci, "failure", base / "more")} == {1}
    grown = write(base / "more", "ci", ("tables", "failure"), dest=base / "ref", new_only=True)
    assert grown["tables"]["extra_seeds"] == grown["failure"]["extra_seeds"] == 1
    assert grown["failure"]["replaced"] == 0


def test_a_limited_instruction_set_is_recorded_with_the_run(monkeypatch):
    """The same seed rounds differently under ``ONEDNN_MAX_CPU_ISA=AVX2`` than by default, so a run
    trained under such a limit says so; without one, nothing is added."""
    import torch

    from mdseg.runtime.device import device_info

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert "onednn_max_isa" not in device_info(torch.device("cpu"))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert device_info(torch.device("cpu"))["onednn_max_isa"] == "AVX2"


def test_a_cpu_is_recorded_by_family_model_and_stepping_beside_its_name(tmp_path):
    """Virtual machines name every EPYC generation "AMD EPYC"; the signature from the first processor's
    block of ``/proc/cpuinfo`` tells them apart, and is left out where there is no such file."""
    from mdseg.runtime.device import cpu_model, cpu_signature

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t: AMD EPYC\nstepping\t: 1\n\nprocessor\t: 1\ncpu family\t: 23\nmodel\t\t: 49\n")
    assert cpu_model(str(info)) == "AMD EPYC"
    assert cpu_signature(str(info)) == "family 25, model 17, stepping 1"
    assert cpu_signature(str(tmp_path / "absent")) == ""
