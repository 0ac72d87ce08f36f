"""Pick the device and precision once, so notebooks and the CLI never branch on hardware."""
from __future__ import annotations

import torch


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given ("cpu", "cuda", "cuda:1", "mps"), else CUDA when available, else CPU."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA GPUs that support it, fp16 on older ones, ``None`` (fp32) elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
