"""Getting datasets onto disk and checking them: VOC download, synthetic generation, validation."""
from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from tqdm.auto import tqdm

from ..errors import DatasetError, DownloadError
from ..voc import CLASSES, NUM_CLASSES
from ..world.synthetic import SyntheticSpec, make_voc_tree
from .dataset import VOCDepth, find_voc, read_labels, read_split

PREVIEW_NAME = "preview.png"


# A mirror of the same archive for when the official host does not answer (it is often down); the
# archive is verified against the official MD5 whichever host served it.
VOC_MIRROR = "https://pjreddie.com/media/files/VOCtrainval_11-May-2012.tar"


def download_voc(root: str | Path, timeout: float = 5.0, urls: list[str] | None = None, md5: str | None = None) -> Path:
    """Download PASCAL VOC 2012 trainval (2 GB) into ``root`` and extract ``root/VOCdevkit``.

    Tries the official host, then :data:`VOC_MIRROR` (or ``urls``, e.g. a mirror you trust, in
    order); the archive must have the published MD5 (torchvision's record of it; ``md5`` replaces
    it for another archive), else it is refused. An archive already at ``root`` is verified and
    reused, so a rerun after a disconnect does not download again. ``root`` may be on Google
    Drive (e.g. ``/content/drive/MyDrive/mdseg/data/voc``) so that it survives the runtime.
    """
    from torchvision.datasets.utils import check_integrity, download_url, extract_archive  # deferred: downloads only
    from torchvision.datasets.voc import DATASET_YEAR_DICT

    info = DATASET_YEAR_DICT["2012"]
    expected = md5 or info["md5"]
    what = "VOC 2012's published MD5" if md5 is None else "the expected MD5"
    root = Path(root)
    archive = root / info["filename"]
    if (root / "VOCdevkit" / "VOC2012" / "JPEGImages").is_dir():
        return find_voc(root)
    if not archive.exists():
        hosts = urls or [info["url"], VOC_MIRROR]
        tried = []
        for url in hosts:
            where = urlparse(url)
            try:
                port = where.port or (443 if where.scheme == "https" else 80)
                socket.create_connection((where.hostname, port), timeout=timeout).close()
            except OSError as error:
                tried.append(f"{where.hostname} ({error})")
                continue
            root.mkdir(parents=True, exist_ok=True)  # only once a host answers: a failed call leaves nothing
            try:
                download_url(url, str(root), info["filename"], expected)
            except RuntimeError as error:  # torchvision's own "File not found or corrupted."
                raise DownloadError(f"{archive} from {url} does not have {what} {expected}: the download is "
                                    "incomplete or not the official archive. Delete it and rerun this command.") \
                    from error
            break
        else:
            raise DownloadError(
                f"Cannot reach any host of VOC 2012: {'; '.join(tried)}. Download {hosts[0]} "
                f"{f'(or {hosts[1]}) ' if len(hosts) > 1 else ''}by other means, put it at {archive} and rerun this "
                f"command (it checks the MD5 {expected} and extracts it), or work offline with "
                f"`python -m mdseg data synthetic --root {root}`.")
    if not check_integrity(str(archive), expected):
        raise DownloadError(f"{archive} does not have {what} {expected}: the download is "
                            "incomplete or not the official archive. Delete it and rerun this command.")
    extract_archive(str(archive), str(root))
    return find_voc(root)


def prepare_synthetic(root: str | Path, spec: SyntheticSpec, progress: bool = True) -> Path:
    """Write the synthetic tree (once); returns the ``VOC2012`` folder. (``mdseg data synthetic``
    also saves a preview image there, :func:`mdseg.viz.save_preview`.)"""
    return make_voc_tree(root, spec, progress=progress)


def default_split(root: str | Path) -> str:
    """``train`` when the tree has it, else its first split (e.g. ``val`` for the VOC samples)."""
    splits = sorted(p.stem for p in (find_voc(root) / "ImageSets" / "Segmentation").glob("*.txt"))
    return "train" if "train" in splits or not splits else splits[0]


def class_histogram(root: str | Path, split: str) -> np.ndarray:
    """Labelled pixels per class over a split: int64 (num_classes,)."""
    base = find_voc(root)
    counts = np.zeros(256, np.int64)
    for image_id in read_split(root, split):
        counts += np.bincount(read_labels(base / "SegmentationClass" / f"{image_id}.png").ravel(), minlength=256)
    return counts[:NUM_CLASSES]


def summary_text(root: str | Path) -> str:
    """Image counts per split, the class histogram of ``train`` and where the preview is."""
    base = find_voc(root)
    lines = [f"Dataset at {base}"]
    for split_file in sorted((base / "ImageSets" / "Segmentation").glob("*.txt")):
        lines.append(f"  {split_file.stem:>8}: {len(read_split(root, split_file.stem))} images")
    hist = class_histogram(root, "train")
    share = hist / max(hist.sum(), 1)
    lines.append("  train pixels per class:")
    lines += [f"    {name:<12} {100 * s:5.1f}%  {'#' * int(round(60 * s))}" for name, s in zip(CLASSES, share)]
    if (base / PREVIEW_NAME).exists():
        lines.append(f"  preview: {base / PREVIEW_NAME}")
    return "\n".join(lines)


def check(root: str | Path, splits: list[str], teacher: str | None = None, progress: bool = True) -> list[str]:
    """Read every file of ``splits`` the way training will; returns one message per problem."""
    try:
        find_voc(root)
    except DatasetError as error:
        return [str(error)]
    problems: list[str] = []
    for split in splits:
        try:
            dataset = VOCDepth(root, split, teacher=teacher)
        except DatasetError as error:
            problems.append(str(error))
            continue
        for index in tqdm(range(len(dataset)), desc=f"check {split}", disable=not progress, unit="img"):
            try:
                dataset.load(index)
            except DatasetError as error:
                problems.append(str(error))
    return problems
