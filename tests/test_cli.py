import subprocess
import sys

import pytest

from mdseg.cli import main


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "mdseg", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("data", "depth", "pretrain", "train", "evaluate", "reproduce", "export"):
        assert command in out


def test_every_command_help_renders():
    """argparse formats a help text only when asked (a stray ``%`` breaks ``--help`` alone): format them all."""
    import argparse

    from mdseg.cli import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:  # argparse keeps subparsers nowhere public
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    found = list(parsers(build_parser()))
    assert len(found) > 10
    for parser in found:
        assert parser.format_help()


def test_data_synthetic_writes_tree_summary_and_preview(tmp_path, capsys):
    assert main(["data", "synthetic", "--root", str(tmp_path), "--n-train", "6", "--n-val", "2", "--size", "48"]) == 0
    out = capsys.readouterr().out
    assert "train: 6 images" in out and "val: 2 images" in out and "background" in out
    assert (tmp_path / "VOCdevkit/VOC2012/preview.png").stat().st_size > 1000
    assert main(["data", "check", "--root", str(tmp_path)]) == 0


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["data", "check", "--root", str(tmp_path / "missing")]) == 1
    assert "No PASCAL VOC 2012 tree" in capsys.readouterr().err


def test_mdseg_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path, capsys, monkeypatch):
    from mdseg import commands

    assert main(["train", "--profile", "ci", "--recipe", "no-such-recipe", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mdseg train: error: Unknown recipe 'no-such-recipe'") and err.count("\n") == 1

    def bug(args):
        raise ValueError("a bug, not a user error")

    monkeypatch.setitem(commands.HANDLERS, "train", bug)
    with pytest.raises(ValueError, match="a bug"):
        main(["train", "--profile", "ci", "--recipe", "single-decoder", "--out", str(tmp_path)])


def test_voc_download_fails_fast_offline(tmp_path, capsys, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (simulated)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    assert main(["data", "voc", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Cannot reach" in err and "VOCtrainval_11-May-2012.tar" in err and "data synthetic" in err


def test_reproduce_reuses_runs_when_only_the_seed_list_changes(tmp_path, ci_root):
    from mdseg.study.experiments import reproduce
    from mdseg.study.profiles import get_profile

    profile = get_profile("ci", data_root=str(tmp_path / "data"), stage_epochs=1)
    reproduce(profile, tmp_path / "runs", seeds=[0], recipes=["single-decoder"], progress=False)
    stamp = (tmp_path / "runs/single-decoder/seed0/checkpoint.safetensors").stat().st_mtime_ns
    table = str(reproduce(get_profile("ci", data_root=str(tmp_path / "data"), stage_epochs=1, seeds=(0, 1)),
                          tmp_path / "runs", seeds=[0], recipes=["single-decoder"], progress=False))
    assert (tmp_path / "runs/single-decoder/seed0/checkpoint.safetensors").stat().st_mtime_ns == stamp
    assert "| single-decoder | 2 / 0 / 2 | 1 |" in table


def test_finished_only_reports_what_exists_and_trains_nothing(tmp_path, ci_root, capsys, monkeypatch):
    from mdseg.study.experiments import reproduce
    from mdseg.study.profiles import get_profile

    profile = get_profile("ci", data_root=str(tmp_path / "data"), stage_epochs=1)
    reproduce(profile, tmp_path / "runs", seeds=[0], recipes=["single-decoder"], progress=False)
    monkeypatch.setattr("mdseg.training.loop.run", lambda *a, **k: pytest.fail("--finished-only trained"))
    results = reproduce(profile, tmp_path / "runs", seeds=[0, 1], recipes=["single-decoder", "naive-joint"],
                        progress=False, finished_only=True)
    assert list(results.summary) == ["single-decoder"] and results.summary["single-decoder"]["seeds"] == [0]
    assert not (tmp_path / "runs/naive-joint").exists() and not (tmp_path / "runs/single-decoder/seed1").exists()
    monkeypatch.chdir(tmp_path)  # the failure suite reads runs/<profile>[-<target>]
    assert main(["reproduce", "--profile", "ci", "--suite", "failure", "--finished-only",
                 "--data", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "No finished single-decoder run: nothing to compare with yet." in out and not (tmp_path / "runs/ci").exists()


def test_train_with_diagnostics_logs_gradient_stats(tmp_path, ci_root, capsys):
    from mdseg.training.runs import read_records

    out = tmp_path / "run"
    assert main(["train", "--recipe", "naive-joint", "--profile", "ci", "--data", str(tmp_path / "data"),
                 "--epochs", "1", "--out", str(out), "--diagnose-every", "3"]) == 0
    assert "mIoU" in capsys.readouterr().out
    records = read_records(out / "diagnostics.jsonl")
    assert records and all(r["step"] % 3 == 1 for r in records)  # steps 1, 4, 7, ... of each epoch
    assert all({"grad_norm_seg", "grad_norm_depth", "grad_cosine"} <= set(r) for r in records)


def test_voc_download_names_the_mirror_and_refuses_a_bad_archive(tmp_path, capsys, monkeypatch):
    import socket

    from torchvision.datasets.voc import DATASET_YEAR_DICT

    from mdseg.data.prepare import VOC_MIRROR

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert main(["data", "voc", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    official = DATASET_YEAR_DICT["2012"]["url"].split("/")[2]
    assert official in err and "pjreddie.com" in err and VOC_MIRROR in err
    (tmp_path / "VOCtrainval_11-May-2012.tar").write_bytes(b"not the archive")  # a broken download
    assert main(["data", "voc", "--root", str(tmp_path)]) == 2
    assert "does not have VOC 2012's published MD5" in capsys.readouterr().err


def test_every_flag_the_package_mentions_exists():
    """Error messages and help texts name only flags that the CLI (or torchrun) really has."""
    import argparse
    import re
    from pathlib import Path

    from mdseg.cli import build_parser

    flags = set()

    def collect(parser):
        for action in parser._actions:
            flags.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    collect(sub)

    collect(build_parser())
    source = "\n".join(p.read_text() for p in (Path(__file__).parents[1] / "mdseg").rglob("*.py"))
    other_programs = {"--nproc",  # torchrun's --nproc_per_node
                      "--short", "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout"}  # git's, pytest's
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", source)) - other_programs
    assert mentioned and mentioned <= flags, sorted(mentioned - flags)


def test_depth_weight_zero_is_refused_with_the_reason_not_trained_at_the_default(tmp_path, capsys):
    """--depth-weight 0 once trained the profile's 0.15 silently (``0 or 0.15``)."""
    assert main(["train", "--profile", "ci", "--recipe", "naive-joint", "--depth-weight", "0",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "got 0.0 (a weight of 0 trains no depth: that is the single-decoder recipe)" in err
    assert not (tmp_path / "run").exists()
    from mdseg.commands import _schedule
    from mdseg.study.profiles import get_profile

    assert _schedule(get_profile("ci"), "naive-joint", 0.05).depth_weight == 0.05
    assert _schedule(get_profile("ci"), "naive-joint", None).depth_weight == 0.15


@pytest.mark.parametrize("argv, named", [
    (["--suite", "scale", "--depth-weight", "0.05"], "--depth-weight"),
    (["--suite", "scale", "--lr", "0.1", "--diagnose-every", "2"], "--lr, --diagnose-every"),
    (["--suite", "failure", "--beside-reference"], "--beside-reference"),
    (["--check-reference", "1", "--seeds", "3", "--recipes", "naive-joint"], "--seeds, --recipes"),
    (["--targets", "metric"], "--targets"),
])
def test_reproduce_refuses_every_flag_it_would_ignore(tmp_path, capsys, argv, named):
    assert main(["reproduce", "--profile", "ci", "--data", str(tmp_path / "none"), *argv]) == 2
    err = capsys.readouterr().err
    assert f"does not use {named} (" in err and err.count("\n") == 1
    assert not (tmp_path / "none").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv, says", [
    (["reproduce", "--profile", "ci", "--seeds", "0", "0", "1"], "Seed 0 is given more than once"),
    (["train", "--profile", "ci", "--recipe", "naive-joint", "--batch-size", "1000"], "batch size 1000 is outside 1..128"),
    (["train", "--profile", "ci", "--recipe", "naive-joint", "--batch-size", "0"], "batch size 0 is outside 1..128"),
    (["train", "--profile", "ci", "--recipe", "naive-joint", "--epochs", "0"], "0 epochs per stage trains nothing"),
])
def test_settings_that_would_train_nothing_or_count_twice_are_refused_before_anything_is_written(tmp_path, capsys,
                                                                                                 monkeypatch, argv, says):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert says in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_typo_in_a_setting_claims_no_run_folder(tmp_path, ci_root, capsys):
    """`--teacher bogus` used to write config.json before failing, so the corrected command was refused
    with 'holds a run with other settings'."""
    out = tmp_path / "run"
    assert main(["train", "--profile", "ci", "--data", str(ci_root), "--recipe", "naive-joint", "--teacher", "bogus",
                 "--out", str(out), "--epochs", "1"]) == 2
    assert "Unknown teacher 'bogus'" in capsys.readouterr().err and not (out / "config.json").exists()
    assert main(["train", "--profile", "ci", "--data", str(ci_root), "--recipe", "single-decoder", "--out", str(out),
                 "--epochs", "1", "--diagnose-every", "0"]) == 0


def test_a_read_only_folder_is_one_line_not_a_traceback(tmp_path, capsys):
    import os

    if os.geteuid() == 0:  # root writes anywhere: simulate the fault the way the kernel reports it
        import errno
        from unittest import mock

        from mdseg import commands

        def refuse(args):
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro" / "config.json"))

        with mock.patch.dict(commands.HANDLERS, {"train": refuse}):
            code = main(["train", "--profile", "ci", "--recipe", "single-decoder", "--out", str(tmp_path / "ro")])
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        code = main(["data", "synthetic", "--root", str(tmp_path / "ro" / "data"), "--n-train", "2", "--n-val", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Permission denied. Choose a folder you can write to" in err


def test_export_to_a_file_is_refused(tmp_path, capsys):
    from helpers import tiny_model

    from mdseg.model import checkpoint

    model = tiny_model()
    checkpoint.save(tmp_path / "c.safetensors", model, {"model": model.config()})
    (tmp_path / "afile").write_text("x")
    assert main(["export", "--checkpoint", str(tmp_path / "c.safetensors"), "--out", str(tmp_path / "afile")]) == 2
    assert "is a file: export writes a folder" in capsys.readouterr().err


def test_a_checkpoint_of_another_class_count_is_a_message(tmp_path, capsys):
    from mdseg import MultiDecoderUNet
    from mdseg.model import checkpoint

    model = MultiDecoderUNet("resnet18", encoder_weights=None, num_classes=5, decoder_channels=(32, 16, 16, 8, 8))
    checkpoint.save(tmp_path / "c.safetensors", model, {"model": model.config()})
    assert main(["evaluate", "--checkpoint", str(tmp_path / "c.safetensors"), "--profile", "ci",
                 "--data", str(tmp_path / "none")]) == 2
    assert "predicts 5 classes, not VOC's 21" in capsys.readouterr().err


BAD_INPUTS = [
    (["data", "voc", "--root", "{tmp}/voc", "--url", "http://127.0.0.1:9/none.tar"], "Cannot reach"),
    (["data", "synthetic", "--root", "{tmp}/afile"], "holds a VOC tree that mdseg did not generate"),
    (["data", "stats", "--root", "{tmp}/missing"], "No PASCAL VOC 2012 tree"),
    (["depth", "--root", "{tmp}/missing", "--teacher", "simulated"], "No PASCAL VOC 2012 tree"),
    (["depth", "--root", "{tmp}/missing", "--teacher", "bogus"], "Unknown teacher 'bogus'"),
    (["train", "--profile", "ci", "--recipe", "nope", "--out", "{tmp}/run"], "Unknown recipe 'nope'"),
    (["train", "--profile", "ci", "--recipe", "naive-joint", "--depth-weight", "0", "--out", "{tmp}/run"],
     "a weight of 0 trains no depth"),
    (["train", "--profile", "ci", "--recipe", "naive-joint", "--device", "cuda:7", "--out", "{tmp}/run"],
     "a GPU this machine does not have"),
    (["evaluate", "--checkpoint", "{tmp}/none.safetensors", "--profile", "ci"], "not a readable safetensors checkpoint"),
    (["export", "--checkpoint", "{tmp}/none.safetensors"], "not a readable safetensors checkpoint"),
    (["reproduce", "--profile", "ci", "--seeds", "1", "1"], "given more than once"),
    (["reproduce", "--profile", "ci", "--suite", "budget", "--out", "{tmp}/x"], "does not use --out"),
    (["rehearse", "colab", "--samples", "{tmp}/missing", "--work", "{tmp}/keep"], "No PASCAL VOC 2012 tree"),
    (["reference", "--from", "{tmp}/empty", "--suites", "tables"], "No finished run of suite 'tables'"),
]


@pytest.mark.parametrize("argv, says", BAD_INPUTS, ids=lambda v: v[0] if isinstance(v, list) else None)
def test_every_subcommand_refuses_a_documented_bad_input_in_one_line_and_changes_nothing(tmp_path, capsys, monkeypatch,
                                                                                       argv, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "precious.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    real = tmp_path / "afile" / "VOCdevkit" / "VOC2012"
    (real / "JPEGImages").mkdir(parents=True)
    (real / "JPEGImages" / "a.jpg").write_bytes(b"a photo")
    (tmp_path / "none.safetensors").write_bytes(b"not a checkpoint")
    before = sorted((p.relative_to(tmp_path), p.stat().st_size) for p in tmp_path.rglob("*"))
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count("\n") == 1, err
    assert err.startswith(f"mdseg {argv[0]}: error: ")
    assert sorted((p.relative_to(tmp_path), p.stat().st_size) for p in tmp_path.rglob("*")) == before
