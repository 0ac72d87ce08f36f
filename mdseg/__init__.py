"""mdseg: a multi-decoder U-Net (segmentation + pseudo depth) teaching and research kit.

The names below load on first use, so reading results (``mdseg.study``'s reports, the shipped
reference) does not import torch."""
from __future__ import annotations

import importlib

_PUBLIC = {"MultiDecoderUNet": "mdseg.model.unet", "focal_loss": "mdseg.training.losses",
           "depth_loss": "mdseg.training.losses", "SegMetrics": "mdseg.training.metrics",
           "Stage": "mdseg.training.schedule", "Schedule": "mdseg.training.schedule"}
__all__ = list(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'mdseg' has no attribute {name!r}")
