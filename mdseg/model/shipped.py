"""The shipped offline encoder weights (``encoder_weights="synthetic"``): where they live, their
card, and loading them after checking their SHA-256. They are made by :mod:`mdseg.training.pretrain`
(``python -m mdseg pretrain --install``), the offline stand-in for ImageNet pretraining."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from ..errors import MdsegError

WEIGHTS_DIR = Path(__file__).parent / "weights"
SYNTHETIC = "synthetic"  # the encoder_weights name that selects these weights


class PretrainedWeightsError(MdsegError, RuntimeError):
    """Synthetic pretrained weights are missing, damaged or of another encoder."""


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def load_encoder(encoder: nn.Module, name: str, folder: Path = WEIGHTS_DIR) -> dict:
    """Load the installed synthetic weights of encoder ``name`` into ``encoder`` after checking
    their SHA-256 against the card; returns the card."""
    card_file = card_path(name, folder)
    available = sorted(p.name.removesuffix(f"-{SYNTHETIC}.json") for p in folder.glob(f"*-{SYNTHETIC}.json"))
    if not card_file.exists():
        raise PretrainedWeightsError(
            f"No synthetic pretrained weights for encoder '{name}' in {folder} (available: {available or 'none'}). "
            f"Make them with `python -m mdseg pretrain --encoder {name} --install`, or use encoder_weights=None.")
    card = json.loads(card_file.read_text())
    weights = card_file.with_suffix(".safetensors")
    found = sha256(weights) if weights.exists() else "no file"
    if found != card["sha256"]:
        raise PretrainedWeightsError(
            f"{weights} does not match its card {card_file} (SHA-256 {found}, card says {card['sha256']}): the file is "
            f"damaged or was replaced. Restore it (git checkout -- {weights.name}) or remake it: {card['command']}.")
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    encoder.load_state_dict(state)
    return card
