"""Small helpers shared by test modules (fixtures live in conftest.py)."""
from pathlib import Path

import torch
from safetensors.torch import load_file

from mdseg import MultiDecoderUNet
from mdseg.data.dataset import depth_dir
from mdseg.study.run_record import RunRecord, Stopped
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



def run_record(seed: int = 0, miou: float = 0.5, name: str = "single-decoder", run_dir: str | Path = "runs/x",
               stopped: "str | Stopped | None" = None, budget: dict | None = None, recipe: str | None = None,
               depth_weight: float = 0.0, **metrics) -> RunRecord:
    """A :class:`~mdseg.study.records.RunRecord` of the given seed, mIoU and other metrics (a run a
    non-finite loss stopped where ``stopped`` gives its message or fields), for tests of code that reads runs."""
    if isinstance(stopped, str):
        stopped = Stopped(stopped)
    return RunRecord(name, seed, Path(run_dir), recipe or name, depth_weight, {"mIoU": miou, **metrics},
                     budget or {}, stopped=stopped)
