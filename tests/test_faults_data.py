"""Bad data: each fault tried for real; one clear error naming the file and the fix."""
import numpy as np
import pytest
from PIL import Image

from mdseg.data import prepare
from mdseg.data.dataset import DatasetError, VOCDepth, find_voc
from mdseg.voc import save_label_png, voc_dir


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="No PASCAL VOC 2012 tree.*data synthetic"):
        VOCDepth(tmp_path / "nowhere")


def test_root_one_level_too_low_or_high(synthetic_root, tmp_path):
    with pytest.raises(DatasetError, match=f"pass --root {synthetic_root}"):
        find_voc(synthetic_root / "VOCdevkit" / "VOC2012")
    (tmp_path / "data").symlink_to(synthetic_root)
    with pytest.raises(DatasetError, match=f"level down: pass --root {tmp_path / 'data'}"):
        find_voc(tmp_path)


def test_unknown_split_lists_known_ones(synthetic_root):
    with pytest.raises(DatasetError, match=r"Unknown split 'trian'.*\['train', 'val'\]"):
        VOCDepth(synthetic_root, "trian")


def test_empty_split(writable_root):
    (voc_dir(writable_root) / "ImageSets/Segmentation/empty.txt").write_text("\n")
    with pytest.raises(DatasetError, match="lists no image ids"):
        VOCDepth(writable_root, "empty")


def test_listed_image_without_file(writable_root):
    (voc_dir(writable_root) / "JPEGImages/syn_000002.jpg").unlink()
    with pytest.raises(DatasetError, match="lists 'syn_000002' but .*syn_000002.jpg is missing"):
        VOCDepth(writable_root, "train")


def test_mask_with_out_of_range_labels(writable_root):
    path = voc_dir(writable_root) / "SegmentationClass/syn_000001.png"
    labels = np.array(Image.open(path))
    labels[0, 0] = 42
    save_label_png(labels, path)
    with pytest.raises(DatasetError, match=r"syn_000001.png has labels \[42\] outside 0..20"):
        VOCDepth(writable_root, "train")[1]
    assert any("[42]" in p for p in prepare.check(writable_root, ["train"], progress=False))


def test_rgb_mask_is_refused(writable_root):
    path = voc_dir(writable_root) / "SegmentationClass/syn_000001.png"
    Image.open(path).convert("RGB").save(path)
    with pytest.raises(DatasetError, match="is a RGB image; VOC masks are palette"):
        VOCDepth(writable_root, "train")[1]


def test_truncated_jpeg(writable_root):
    path = voc_dir(writable_root) / "JPEGImages/syn_000003.jpg"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DatasetError, match="Cannot decode image .*syn_000003.jpg"):
        VOCDepth(writable_root, "train")[3]


def test_image_and_mask_of_different_sizes(writable_root):
    path = voc_dir(writable_root) / "SegmentationClass/syn_000004.png"
    save_label_png(np.array(Image.open(path))[:50], path)
    with pytest.raises(DatasetError, match="is 64x50 but its image is 64x64"):
        VOCDepth(writable_root, "train")[4]


def test_missing_pseudo_depth_says_which_command_to_run(synthetic_root):
    with pytest.raises(DatasetError, match="mdseg depth --root .* --teacher nobody --split train"):
        VOCDepth(synthetic_root, "train", teacher="nobody")


def test_a_synthetic_profile_never_writes_into_a_tree_it_did_not_make(tmp_path):
    """`train --profile ci --data <a real VOC root>` used to add 192 synthetic scenes to the real tree and
    rewrite its split lists."""
    from mdseg.errors import OutputExists
    from mdseg.world.synthetic import SyntheticSpec, make_voc_tree

    real = tmp_path / "voc" / "VOCdevkit" / "VOC2012"
    (real / "JPEGImages").mkdir(parents=True)
    (real / "JPEGImages" / "2007_000032.jpg").write_bytes(b"a real photo")
    (real / "ImageSets" / "Segmentation").mkdir(parents=True)
    (real / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000032\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(OutputExists, match="holds a VOC tree that mdseg did not generate"):
        make_voc_tree(tmp_path / "voc", SyntheticSpec(n_train=2, n_val=1, size=32))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (real / "ImageSets" / "Segmentation" / "train.txt").read_text() == "2007_000032\n"


def test_an_interrupted_synthetic_tree_resumes(tmp_path, monkeypatch):
    from mdseg.world import synthetic

    spec = synthetic.SyntheticSpec(n_train=3, n_val=1, size=32)
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = synthetic.render_scene
    monkeypatch.setattr(synthetic, "render_scene", flaky)
    with pytest.raises(KeyboardInterrupt):
        synthetic.make_voc_tree(tmp_path, spec, progress=False)
    monkeypatch.setattr(synthetic, "render_scene", original)
    base = synthetic.make_voc_tree(tmp_path, spec, progress=False)  # its own unfinished tree: finished, not refused
    assert (base / "synthetic.json").exists() and not (base / synthetic.STARTED).exists()


def test_two_processes_preparing_a_fresh_root_do_not_trip_over_each_other(tmp_path):
    """Two processes making the pseudo depth of the same fresh tree raced on one fixed temporary name
    (2 of 3 trials crashed); every temporary file is now named for its process."""
    import subprocess
    import sys

    from mdseg.world.synthetic import SyntheticSpec, make_voc_tree

    make_voc_tree(tmp_path, SyntheticSpec(n_train=2, n_val=24, size=32), progress=False)
    code = ("import sys; from mdseg.depth.targets import generate; "
            "generate(sys.argv[1], 'simulated', split='val', progress=False, batch_size=2)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    from mdseg.data.depth_cache import depth_dir, read_manifest

    folder = depth_dir(tmp_path, "simulated")
    assert read_manifest(folder)["count"] == 24 and not list(folder.glob(".*tmp*"))


def test_a_full_disk_in_the_array_cache_leaves_no_temporary_folder(tmp_path, monkeypatch):
    import errno

    import numpy as np

    from mdseg.data import arrays
    from mdseg.data.dataset import VOCDepth
    from mdseg.errors import DatasetError
    from mdseg.world.synthetic import SyntheticSpec, make_voc_tree

    make_voc_tree(tmp_path, SyntheticSpec(n_train=3, n_val=1, size=32), progress=False)

    def full(path, value):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    for _ in range(2):
        with pytest.raises(DatasetError, match="No space left on device.*nothing was left behind"):
            arrays.ArraySplit(VOCDepth(tmp_path, "train"), 32)
    cache = tmp_path / "VOCdevkit" / "VOC2012"
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
