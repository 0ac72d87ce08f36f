"""The notebooks' set-up: profile and seeds from the environment, the runs folder, the working directory."""
import os
from pathlib import Path

import pytest

from mdseg.notebook import setup
from mdseg.study.profiles import PROFILES, from_environment


def test_profile_and_seeds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MDSEG_PROFILE", "ci")
    monkeypatch.setenv("MDSEG_SEEDS", "0, 2")
    profile = from_environment()
    assert profile.name == "ci" and profile.seeds == (0, 2)
    monkeypatch.delenv("MDSEG_SEEDS")
    assert from_environment().seeds == PROFILES["ci"].seeds
    monkeypatch.delenv("MDSEG_PROFILE")
    assert from_environment().name == "cpu"


def test_bad_seeds_say_what_is_expected(monkeypatch):
    monkeypatch.setenv("MDSEG_SEEDS", "zero")
    with pytest.raises(ValueError, match="MDSEG_SEEDS must be seed numbers"):
        from_environment()


def test_setup_runs_from_the_repository_root(tmp_path, monkeypatch, capsys):
    (tmp_path / "mdseg").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setenv("MDSEG_PROFILE", "ci")
    profile, runs = setup()
    assert profile.name == "ci" and str(runs) == "runs/ci"
    from pathlib import Path

    assert Path.cwd() == tmp_path
    assert "smoke test" in capsys.readouterr().out


def test_every_profile_says_what_it_is_for():
    assert all(len(p.about) > 20 for p in PROFILES.values())


def test_setup_works_in_mdseg_workdir_when_set(tmp_path, monkeypatch, capsys):
    work = tmp_path / "drive" / "mdseg"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MDSEG_WORKDIR", str(work))
    monkeypatch.setenv("MDSEG_PROFILE", "ci")
    profile, runs = setup()
    assert Path.cwd() == work and runs == Path("runs/ci")


def test_profiles_document_their_sizes():
    colab = PROFILES["colab"]
    assert colab.synthetic is None and colab.teacher == "dpt-dinov2" and colab.encoder == "resnet50"
    assert colab.encoder_weights == "imagenet" and colab.data_path == "arrays" and len(colab.seeds) == 1
    assert "depth-first/copy/s->b" in colab.recipes and "Colab" in colab.about
    assert all(p.about for p in PROFILES.values())


def test_every_command_works_under_mdseg_workdir(tmp_path, monkeypatch):
    """The README's Colab step `python -m mdseg data voc --root data/voc` must land on Drive, not in the
    current folder: every command resolves relative paths under $MDSEG_WORKDIR, as the notebooks do."""
    import subprocess
    import sys

    work, elsewhere = tmp_path / "drive" / "mdseg", tmp_path / "content"
    elsewhere.mkdir()
    env = {**os.environ, "MDSEG_WORKDIR": str(work)}
    subprocess.run([sys.executable, "-m", "mdseg", "data", "synthetic", "--root", "data/s", "--n-train", "4",
                    "--n-val", "2", "--size", "32"], cwd=elsewhere, env=env, check=True, capture_output=True)
    assert (work / "data/s/VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt").exists()
    assert not (elsewhere / "data").exists()


def test_a_relative_workdir_is_resolved_once_and_a_file_is_refused(tmp_path, monkeypatch):
    from mdseg.errors import SettingError
    from mdseg.runtime.workdir import enter_workdir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MDSEG_WORKDIR", "mywork")
    assert enter_workdir() == tmp_path / "mywork"
    assert enter_workdir() == tmp_path / "mywork"  # not mywork/mywork
    assert os.environ["MDSEG_WORKDIR"] == str(tmp_path / "mywork")
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("MDSEG_WORKDIR", str(tmp_path / "afile"))
    with pytest.raises(SettingError, match="which is a file, not a folder"):
        enter_workdir()
