"""The run folder's lock, with two real processes: a second trainer is refused with the holder's
PID, and a lock left by a killed trainer is taken over."""
import os
import signal
import subprocess
import sys
import time

import pytest

from mdseg.cli import main
from mdseg.runs import LOCK, RunLocked, exclusive


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
