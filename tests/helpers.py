"""Small helpers shared by test modules (fixtures live in conftest.py)."""
import torch
from safetensors.torch import load_file

from mdseg import MultiDecoderUNet
from mdseg.data.dataset import depth_dir
from mdseg.training.config import TrainConfig

CONFIG = TrainConfig(lr=1e-3, batch_size=4, progress=False)


def tiny_model(seed: int = 0) -> MultiDecoderUNet:
    torch.manual_seed(seed)
    return MultiDecoderUNet("resnet18", encoder_weights=None, decoder_channels=(32, 16, 16, 8, 8))


def weights_of(path) -> dict:
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("model.")}


def depth_files(root, teacher: str) -> list[str]:
    """Names of the cached pseudo-depth PNGs of a teacher."""
    return sorted(p.name for p in depth_dir(root, teacher).glob("*.png"))
