"""The model layer's files by name, read without torch: a run's checkpoint file, and the cards of the
shipped offline encoder weights (``encoder_weights="synthetic"``; loading them: :mod:`mdseg.model.shipped`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

CHECKPOINT = "checkpoint.safetensors"  # a run folder's checkpoint (mdseg.training.runs)
WEIGHTS_DIR = Path(__file__).parent / "weights"
SYNTHETIC = "synthetic"  # the encoder_weights name that selects these weights


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in blocks (a checkpoint can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(encoder: str, folder: Path = WEIGHTS_DIR) -> Path:
    return folder / f"{encoder}-{SYNTHETIC}.json"


# The synthetic weights every run was trained on before runs recorded their encoder's hash: a run's
# identity names the installed weights' SHA-256 only where it differs from these, so those runs stay valid
# and a run on other weights (installed with `pretrain --install --replace`) is never mistaken for one of them.
FIRST_SHIPPED = {"tu-resnet10t": "eda9ab7827ef6f7bd3a04a27e08bd325faf402c8c99a0fa345c809e9ce1ffef2"}


def installed_sha256(encoder: str, folder: Path = WEIGHTS_DIR) -> str | None:
    """The SHA-256 its card gives for the installed synthetic weights of ``encoder`` (``None`` when none are)."""
    card = card_path(encoder, folder)
    return json.loads(card.read_text())["sha256"] if card.exists() else None
