"""The Colab session rehearsed offline on real VOC images (mdseg.study.rehearsal): the real download,
checksum, extraction, teacher, array cache, training and export code, through the command line."""
import tarfile

import pytest

from mdseg.study.rehearsal import ARCHIVE, build_archive, rehearse_colab


def test_the_archive_is_voc_s_official_layout_with_unique_ids(voc_samples, tmp_path):
    archive, md5 = build_archive(voc_samples, tmp_path, copies=2)
    assert archive.name == ARCHIVE and len(md5) == 32
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    images = [n for n in names if n.startswith("VOCdevkit/VOC2012/JPEGImages/")]
    assert len(images) == len(set(images)) == 24  # the 12 samples twice, under new ids
    assert "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt" in names


@pytest.mark.slow
def test_a_colab_session_rehearsed_on_real_voc_images(voc_samples, tmp_path):
    steps = rehearse_colab(voc_samples, tmp_path / "work", copies=1, quick=True)
    done = {s.name: s for s in steps}
    assert "refused" in done["a corrupted archive is refused"].detail
    assert (tmp_path / "work/data/voc/VOCdevkit/VOC2012/JPEGImages").is_dir()
    manifest = tmp_path / "work/data/voc/VOCdevkit/VOC2012/PseudoDepth/dpt-dinov2/manifest.json"
    assert '"model": "facebook/dpt-dinov2-small-nyu"' in manifest.read_text()  # the hub name, from the local cache
    assert list((tmp_path / "work/data/voc/VOCdevkit/VOC2012/ArrayCache").glob("train-dpt-dinov2-normalised-320"))
    assert (tmp_path / "work/runs/arrays/naive-joint/export/unet.onnx").exists()
