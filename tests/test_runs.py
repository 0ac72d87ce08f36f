"""The run folder: its lock, with two real processes (a second trainer is refused with the
holder's PID, and a lock left by a killed trainer is taken over), its records, identity and names."""
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mdseg.cli import main
from mdseg.errors import OutputExists
from mdseg.training.runs import (
    CONFIG,
    LOCK,
    LOG,
    BrokenRecords,
    RunLocked,
    append_record,
    claim,
    exclusive,
    keep_records,
    read_records,
    rewrite_records,
    run_dir,
    write_result,
)


def _holder(out, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (out / LOCK).read_text().strip() if (out / LOCK).exists() else ""
        if text:
            return int(text)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError


def test_a_second_trainer_is_refused_and_a_killed_one_leaves_no_lock(ci_root, tmp_path, capsys):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mdseg", "train", "--recipe", "single-decoder", "--profile", "ci",
           "--data", str(ci_root), "--out", str(out), "--epochs", "20"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "MPLBACKEND": "Agg"})
    try:
        assert _holder(out, proc) == proc.pid
        with pytest.raises(RunLocked, match=f"PID {proc.pid}"):
            with exclusive(out):
                pass
        # the CLI says so in one line, exit code 2
        assert main(["train", "--recipe", "single-decoder", "--profile", "ci", "--data", str(ci_root),
                     "--out", str(out), "--epochs", "20"]) == 2
        assert f"PID {proc.pid}" in capsys.readouterr().err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    with exclusive(out):  # the kernel released the dead process's lock: taken over
        assert (out / LOCK).read_text().strip() == str(os.getpid())
    assert (out / LOCK).read_text() == ""


def test_the_lock_is_released_after_the_block(tmp_path):
    with exclusive(tmp_path / "a"):
        pass
    with exclusive(tmp_path / "a"):
        pass


def test_records_survive_a_torn_last_line_but_not_a_broken_middle_one(tmp_path):
    path = tmp_path / LOG
    for epoch in (1, 2):
        append_record(path, {"stage": 0, "epoch": epoch})
    with path.open("a") as handle:
        handle.write('{"stage": 0, "ep')  # a crash while writing the third record
    assert [r["epoch"] for r in read_records(path)] == [1, 2]
    path.write_text('{"stage": 0, "epoch": 1}\nnot json\n{"stage": 0, "epoch": 3}\n')
    with pytest.raises(BrokenRecords, match="line 2"):
        read_records(path)


def test_resume_keeps_only_the_records_up_to_the_checkpoint(tmp_path):
    path = tmp_path / LOG
    for stage, epoch in ((0, 1), (0, 2), (1, 1)):
        append_record(path, {"stage": stage, "epoch": epoch})
    kept = keep_records(path, (0, 2))
    rewrite_records(path, kept)
    assert [(r["stage"], r["epoch"]) for r in read_records(path)] == [(0, 1), (0, 2)]
    rewrite_records(tmp_path / "none.jsonl", [])
    assert not (tmp_path / "none.jsonl").exists()


def test_a_folder_is_claimed_by_one_identity_and_returns_its_result(tmp_path):
    folder = tmp_path / "run"
    identity = {"schedule": "single-decoder", "seed": 0, "sizes": (64, 32)}
    assert claim(folder, identity) is None and (folder / CONFIG).exists()
    assert claim(folder, identity) is None  # same identity, not finished: train (resume)
    write_result(folder, {"metrics": {"mIoU": 0.5}})
    assert claim(folder, identity)["metrics"]["mIoU"] == 0.5
    with pytest.raises(OutputExists, match="other settings"):
        claim(folder, {**identity, "seed": 1})
    assert claim(tmp_path / "other", identity, write=False) is None
    assert not (tmp_path / "other").exists()


def test_run_folders_are_named_by_profile_target_recipe_and_seed():
    from mdseg.study.profiles import get_profile, runs_root

    cpu = get_profile("cpu")
    assert runs_root(cpu) == Path("runs/cpu")
    assert runs_root(replace(cpu, depth_target="metric")) == Path("runs/cpu-metric")
    assert run_dir("runs/cpu", "depth-first/copy/s->b", 2) == Path("runs/cpu/depth-first__copy__s-b/seed2")


def test_deleting_the_lock_file_does_not_let_a_second_trainer_in(tmp_path):
    """The lock was held on `.lock`: deleting that file let two trainers append to one log (6 records for
    4 epochs). It is held on the folder itself now; `.lock` only names the holder."""
    out = tmp_path / "run"
    probe = ("import sys; from mdseg.training.runs import exclusive, RunLocked\n"
             "try:\n    with exclusive(sys.argv[1]): print('entered')\nexcept RunLocked as e: print('refused:', e)")
    with exclusive(out):
        (out / LOCK).unlink()
        second = subprocess.run([sys.executable, "-c", probe, str(out)], capture_output=True, text=True, check=True)
        assert second.stdout.startswith("refused:") and "PID unknown" in second.stdout
    again = subprocess.run([sys.executable, "-c", probe, str(out)], capture_output=True, text=True, check=True)
    assert again.stdout.strip() == "entered"


def test_a_suite_read_without_training_reads_every_seed_trained_there(tmp_path):
    """Extra seeds trained for power (tools/extra_seeds.py) are read with the profile's own."""
    from mdseg.study.jobs import train_jobs
    from mdseg.study.profiles import get_profile, identity, runs_root
    from mdseg.training import runs
    from mdseg.training.schedule import get_recipe

    ci = get_profile("ci")
    schedule = get_recipe("single-decoder", ci.stage_epochs)
    for seed in (0, 1, 4):
        folder = runs.run_dir(runs_root(ci, tmp_path), schedule.name, seed)
        runs.claim(folder, identity(ci, schedule, seed))
        runs.write_result(folder, {"metrics": {"mIoU": 0.5}, "budget": {}, "history": []})
    (runs.run_dir(runs_root(ci, tmp_path), schedule.name, 7)).mkdir()  # a folder without an identity: not a run
    assert runs.seeds_in(runs_root(ci, tmp_path), schedule.name) == [0, 1, 4]
    [found] = train_jobs([(ci, "single-decoder")], [0, 1, 2], None, False, False, "read", tmp_path)
    assert sorted(r.seed for r in found) == [0, 1, 4]


def test_a_run_is_read_back_as_a_typed_record_and_still_reads_as_its_file(tmp_path):
    """read_run returns a RunRecord (fields, not probed keys); a run a non-finite loss stopped carries
    where, in fields; both still read as the result file they came from."""
    import math

    from mdseg.study.profiles import get_profile, identity
    from mdseg.study.records import read_run
    from mdseg.study.run_record import RunRecord
    from mdseg.training import runs
    from mdseg.training.schedule import get_recipe

    ci = get_profile("ci")
    naive = get_recipe("naive-joint", ci.stage_epochs)
    finished, stopped = tmp_path / "a", tmp_path / "b"
    runs.claim(finished, identity(ci, naive, 3))
    result = {"schedule": naive.name, "metrics": {"mIoU": 0.42, "depth_r2": 0.8}, "budget": {"epochs": 2},
              "history": [{"epoch": 1}], "wall_seconds": 12.5, "device": {"type": "cpu"}, "finished": "2026-12-07 04:52 UTC"}
    runs.write_result(finished, result)
    record = read_run(ci, naive, 3, finished)
    assert isinstance(record, RunRecord) and not record.diverged and record.stopped is None
    assert (record.name, record.seed, record.run_dir, record.recipe) == ("naive-joint", 3, finished, "naive-joint")
    assert record.miou == 0.42 and record.metric("depth_r2") == 0.8 and math.isnan(record.metric("depth_abs_rel"))
    assert record.finished == result["finished"] and record.wall_seconds == 12.5
    assert record["metrics"]["mIoU"] == 0.42 and record["seed"] == 3 and "diverged" not in record

    runs.claim(stopped, identity(ci, naive, 1))
    runs.write_divergence(stopped, "Non-finite loss in 'naive-joint'", {"schedule": naive.name, "stage": 1,
                                                                        "stage_name": "both", "epoch": 1, "step": 7,
                                                                        "values": {"depth": 1e40}})
    assert read_run(ci, naive, 1, stopped, keep_divergence=False) is None
    record = read_run(ci, naive, 1, stopped)
    assert record.diverged and math.isnan(record.miou) and not record.device
    assert (record.stopped.stage, record.stopped.stage_name, record.stopped.epoch, record.stopped.step) == (1, "both", 1, 7)
    assert record["diverged"] == "Non-finite loss in 'naive-joint'" and record["stopped"]["step"] == 7
    assert runs.where_text(record.stopped.fields()) == runs.where_text(runs.read_divergence(stopped))
