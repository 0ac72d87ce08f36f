"""Pseudo-depth cache faults: detected, reported, and repaired by redoing only what is wrong."""
import json

import pytest

from mdseg.cli import main
from mdseg.data.dataset import depth_dir, read_depth
from mdseg.data.depth_cache import MANIFEST
from mdseg.depth.targets import generate
from mdseg.depth.teachers import make_teacher

from helpers import depth_files


def test_rerun_skips_done_and_redoes_damaged_files(writable_root, tiny_models):
    model = str(tiny_models["dpt-dinov2"])
    generate(writable_root, "dpt-dinov2", "train", model=model, progress=False)
    folder = depth_dir(writable_root, "dpt-dinov2")
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    again = generate(writable_root, "dpt-dinov2", "train", model=model, progress=False)
    assert again["last_run"]["images"] == 0  # nothing to do: the model was not even loaded
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")} == stamps

    truncated, zero, missing = (folder / f"syn_00000{i}.png" for i in (1, 2, 3))
    truncated.write_bytes(truncated.read_bytes()[:40])
    zero.write_bytes(b"")
    missing.unlink()
    redo = generate(writable_root, "dpt-dinov2", "train", model=model, progress=False)
    assert redo["last_run"]["images"] == 3
    for path in (truncated, zero, missing):
        assert read_depth(path).shape == (64, 64)
        assert redo["images"][path.stem]["bytes"] == path.stat().st_size
    untouched = [n for n in stamps if n not in {truncated.name, zero.name, missing.name}]
    assert all((folder / n).stat().st_mtime_ns == stamps[n] for n in untouched)


def test_interrupted_run_resumes(writable_root, tiny_models):
    teacher = make_teacher("simulated", writable_root)
    calls = []

    class Interrupting:
        name, convention, model_id, revision = teacher.name, teacher.convention, None, None

        def __call__(self, images, ids):
            calls.append(len(ids))
            if len(calls) == 3:
                raise KeyboardInterrupt
            return teacher(images, ids)

    with pytest.raises(KeyboardInterrupt):
        generate(writable_root, Interrupting(), "train", batch_size=2, progress=False)
    assert len(depth_files(writable_root, "simulated")) == 4
    resumed = generate(writable_root, "simulated", "train", batch_size=2, progress=False)
    assert resumed["last_run"]["images"] == 8 and len(depth_files(writable_root, "simulated")) == 12


def test_cache_from_another_model_or_normalisation_is_refused(writable_root, tiny_models):
    generate(writable_root, "dpt-dinov2", "val", model=str(tiny_models["dpt-dinov2"]), progress=False)
    with pytest.raises(FileExistsError, match="made differently.*model: cache has"):
        generate(writable_root, "dpt-dinov2", "val", model="facebook/dpt-dinov2-small-kitti", progress=False)
    manifest_path = depth_dir(writable_root, "dpt-dinov2") / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["normalisation"] = "depth/minmax/v0"
    manifest_path.write_text(json.dumps(manifest))
    assert main(["depth", "--root", str(writable_root), "--teacher", "dpt-dinov2", "--model",
                 str(tiny_models["dpt-dinov2"])]) == 2


def test_manifest_that_does_not_match_the_files_is_repaired(writable_root):
    generate(writable_root, "simulated", "train", progress=False)
    folder = depth_dir(writable_root, "simulated")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["images"]["syn_000004"]["bytes"] += 7  # the manifest disagrees with the file
    del manifest["images"]["syn_000005"]  # a file the manifest does not know
    (folder / MANIFEST).write_text(json.dumps(manifest))
    redo = generate(writable_root, "simulated", "train", progress=False)
    assert redo["last_run"]["images"] == 2
    assert redo["last_run"]["reasons"] == {"not in manifest": 1, "truncated or changed": 1}
    assert generate(writable_root, "simulated", "train", progress=False)["last_run"]["images"] == 0


def test_torn_manifest_is_rebuilt_from_the_files(writable_root):
    generate(writable_root, "simulated", "val", progress=False)
    folder = depth_dir(writable_root, "simulated")
    (folder / MANIFEST).write_text('{"teacher": "simu')
    redo = generate(writable_root, "simulated", "val", progress=False)
    assert redo["last_run"]["reasons"] == {"not in manifest": 4}
