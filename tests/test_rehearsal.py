"""The Colab session rehearsed offline on real VOC images (mdseg.rehearsal): the real download,
checksum, extraction, teacher, array cache, training and export code, through the command line."""
import tarfile

import pytest

from mdseg.rehearsal import ARCHIVE, build_archive, rehearse_colab


def test_the_archive_is_voc_s_official_layout_with_unique_ids(voc_samples, tmp_path):
    archive, md5 = build_archive(voc_samples, tmp_path, copies=2)
    assert archive.name == ARCHIVE and len(md5) == 32
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    images = [n for n in names if n.startswith("VOCdevkit/VOC2012/JPEGImages/")]
    assert len(images) == len(set(images)) == 24  # the 12 samples twice, under new ids
    assert "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt" in names


@pytest.mark.slow
def test_a_colab_session_rehearsed_on_real_voc_images(voc_samples, tmp_path, monkeypatch):
    """With a relative --work, as `make rehearse` passes its default from the repository root (the hub
    cache handed to each step was once relative to a step's own working folder, and not found)."""
    monkeypatch.chdir(tmp_path)
    steps = rehearse_colab(voc_samples, "work", copies=1, quick=True)
    done = {s.name: s for s in steps}
    assert "refused" in done["a corrupted archive is refused"].detail
    assert (tmp_path / "work/data/voc/VOCdevkit/VOC2012/JPEGImages").is_dir()
    manifest = tmp_path / "work/data/voc/VOCdevkit/VOC2012/PseudoDepth/dpt-dinov2/manifest.json"
    assert '"model": "facebook/dpt-dinov2-small-nyu"' in manifest.read_text()  # the hub name, from the local cache
    assert list((tmp_path / "work/data/voc/VOCdevkit/VOC2012/ArrayCache").glob("train-dpt-dinov2-normalised-320"))
    assert (tmp_path / "work/runs/arrays/naive-joint/export/unet.onnx").exists()


def test_the_rehearsal_empties_only_a_folder_it_made(tmp_path):
    """`rehearse colab --samples /nonexistent --work DIR` used to empty DIR before checking anything."""
    from mdseg.errors import DatasetError, OutputExists
    from mdseg.rehearsal import WORK_MARK, claim_work, rehearse_colab

    mine = tmp_path / "checkout"
    mine.mkdir()
    (mine / "precious.py").write_text("keep me")
    with pytest.raises(DatasetError):
        rehearse_colab(tmp_path / "nonexistent", mine)
    with pytest.raises(OutputExists, match="is not a folder the rehearsal made"):
        claim_work(mine)
    assert (mine / "precious.py").read_text() == "keep me"
    work = claim_work(tmp_path / "new")
    assert work.is_absolute() and (work / WORK_MARK).exists()
    (work / "leftover").write_text("x")
    assert list(claim_work(work).iterdir()) == [work / WORK_MARK]  # its own folder: emptied again
