"""Interrupted work: SIGINT and SIGKILL in the middle of a stage, a kill in the middle of writing
a checkpoint. The rerun resumes, finished stages are not redone, and the result equals an
uninterrupted run's for the same seed."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mdseg.model import checkpoint
from mdseg.training.loop import run
from mdseg.training.runs import CHECKPOINT, LOG, RESULT, read_records
from mdseg.training.schedule import table3

from helpers import CONFIG, tiny_model, weights_of

RECIPE = "depth-first/copy/s->b"


def _train(root: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mdseg", "train", "--recipe", RECIPE, "--profile", "ci", "--data", str(root),
           "--out", str(out), "--epochs", "2"]
    # as in a terminal: Ctrl-C reaches the trainer even where this test runs with SIGINT ignored
    # (a background job of a non-interactive shell), which Python would otherwise inherit
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_progress(out: Path, stage: int, epoch: int, proc: subprocess.Popen, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / CHECKPOINT).exists():
            meta = checkpoint.read_meta(out / CHECKPOINT)
            if (meta["stage"], meta["epoch"]) >= (stage, epoch):
                return meta
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError


@pytest.fixture(scope="module")
def straight(tmp_path_factory, ci_tree):
    """An uninterrupted run of the recipe in the ci profile (shared data root)."""
    root = tmp_path_factory.mktemp("ci-data")
    shutil.copytree(ci_tree / "VOCdevkit", root / "VOCdevkit")
    out = root / "straight"
    proc = _train(root, out)
    assert proc.wait(timeout=300) == 0, proc.communicate()
    return root, weights_of(out / CHECKPOINT), json.loads((out / RESULT).read_text())


def _interrupt(root: Path, out: Path, sig: signal.Signals, stage: int, epoch: int) -> None:
    """Train into ``out`` until the checkpoint holds (``stage``, ``epoch``), then send ``sig``:
    the trainer fails, leaves no result and keeps that checkpoint."""
    proc = _train(root, out)
    meta = _wait_for_progress(out, stage, epoch, proc)
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert code != 0 and not (out / RESULT).exists()
    if sig == signal.SIGINT:
        assert "interrupted; rerun the same command to resume" in proc.stderr.read()
    done = checkpoint.read_meta(out / CHECKPOINT)
    assert (done["stage"], done["epoch"]) >= (meta["stage"], meta["epoch"])


def test_killed_mid_stage_resumes_to_the_same_result(straight):
    """SIGINT in stage 1 (1 of its 2 epochs done), resume, SIGKILL in stage 2 (likewise), resume:
    the records and weights are an uninterrupted run's."""
    root, final_weights, final_result = straight
    out = root / "killed"
    _interrupt(root, out, signal.SIGINT, 0, 1)
    _interrupt(root, out, signal.SIGKILL, 1, 1)
    resumed = _train(root, out)
    assert resumed.wait(timeout=300) == 0, resumed.communicate()
    log = read_records(out / LOG)
    assert [(r["stage"], r["epoch"]) for r in log] == [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]
    for key, value in weights_of(out / CHECKPOINT).items():
        torch.testing.assert_close(value, final_weights[key], msg=key)
    assert json.loads((out / RESULT).read_text())["metrics"]["mIoU"] == pytest.approx(final_result["metrics"]["mIoU"])


def test_killed_while_writing_a_checkpoint_keeps_the_previous_one(data, tmp_path, monkeypatch):
    schedule = table3(1)["semantic-first/no-copy/b"]
    run(tiny_model(), schedule, data[0], None, tmp_path / "straight", CONFIG)

    import safetensors.torch as st

    real_save = st.save_file
    calls = {"n": 0}

    def die_half_way(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint: write half a file, then the process "dies"
            real_save(tensors, filename, metadata=metadata)
            Path(filename).write_bytes(Path(filename).read_bytes()[: Path(filename).stat().st_size // 2])
            raise KeyboardInterrupt
        real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", die_half_way)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run(tiny_model(), schedule, data[0], None, out, CONFIG)
    meta = checkpoint.read_meta(out / CHECKPOINT)  # the first checkpoint, whole
    assert (meta["stage"], meta["epoch"]) == (0, 1)
    assert not list(out.glob(".*.tmp"))
    monkeypatch.setattr(checkpoint, "save_file", real_save)
    run(tiny_model(seed=5), schedule, data[0], None, out, CONFIG)
    a, b = weights_of(tmp_path / "straight" / CHECKPOINT), weights_of(out / CHECKPOINT)
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)


def test_a_torn_result_or_config_gets_a_message_that_names_it_and_the_fix(tmp_path):
    """result.json and config.json used to be written in place: a torn one gave a JSONDecodeError traceback
    on every rerun. They are written whole now, and a torn one (a crash of an older version, a disk fault
    or an edit) is named with what to do."""
    from mdseg.errors import BrokenFile
    from mdseg.training import runs

    folder = tmp_path / "run"
    runs.claim(folder, {"a": 1})
    runs.write_result(folder, {"metrics": {"mIoU": 0.5}, "history": []})
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    (folder / runs.RESULT).write_text('{"metrics": {"mIoU": 0.')  # torn mid-write
    with pytest.raises(BrokenFile, match=r"result.json is not valid JSON .*delete it and rerun the same command"):
        runs.claim(folder, {"a": 1})
    (folder / runs.CONFIG).write_text('{"a": ')
    with pytest.raises(BrokenFile, match=rf"config.json is not valid JSON .*delete {folder} to retrain"):
        runs.claim(folder, {"a": 1})


def test_json_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import json
    import os

    from mdseg.runtime.files import write_json

    target = tmp_path / "x.json"
    write_json(target, {"v": 1})

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1} and list(tmp_path.iterdir()) == [target]
