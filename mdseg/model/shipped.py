"""The shipped offline encoder weights (``encoder_weights="synthetic"``): where they live, their
card, and loading them after checking their SHA-256. They are made by :mod:`mdseg.training.pretrain`
(``python -m mdseg pretrain --install``), the offline stand-in for ImageNet pretraining."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from ..errors import MdsegError
from .files import SYNTHETIC, WEIGHTS_DIR, card_path, sha256  # noqa: F401 (callers import these from here)

class PretrainedWeightsError(MdsegError, RuntimeError):
    """Synthetic pretrained weights are missing, damaged or of another encoder."""


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
