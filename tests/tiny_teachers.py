"""Tiny random-weight models of the hub teachers' architectures, saved with ``save_pretrained``,
so tests and benchmarks run the real teacher code path offline (their depth is meaningless)."""
from pathlib import Path

import torch
from PIL import Image

from mdseg.voc import IMAGENET_MEAN, IMAGENET_STD


def tiny_teacher(kind: str, folder: str | Path, seed: int = 0) -> Path:
    """Save a tiny random-weight model of a real teacher's architecture (with its image processor)
    with ``save_pretrained``, for offline tests and benchmarks. ``kind``: ``dpt-dinov2`` (DPT on a
    ``Dinov2Config`` backbone) or ``depth-anything-v2``. Its depth is meaningless."""
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTConfig,
        DPTForDepthEstimation,
        DPTImageProcessor,
    )

    torch.manual_seed(seed)
    backbone = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                    image_size=56, patch_size=14, reshape_hidden_states=False)
    if kind == "dpt-dinov2":
        config = DPTConfig(
            backbone_config=Dinov2Config(out_features=["stage1", "stage2", "stage3", "stage4"], **backbone),
            hidden_size=32, neck_hidden_sizes=[16, 32, 64, 64], fusion_hidden_size=256, head_in_index=-1,
            reassemble_factors=[4, 2, 1, 0.5], is_hybrid=False, use_bias_in_fusion_residual=False,
            add_projection=True, readout_type="project", depth_estimation_type="metric",
        )
        model = DPTForDepthEstimation(config)
    elif kind == "depth-anything-v2":
        config = DepthAnythingConfig(
            backbone_config=Dinov2Config(out_indices=[1, 2, 3, 4], apply_layernorm=True, **backbone),
            neck_hidden_sizes=[16, 32, 64, 64], fusion_hidden_size=16, head_hidden_size=8,
            reassemble_hidden_size=32, patch_size=14,
        )
        model = DepthAnythingForDepthEstimation(config)
    else:
        raise KeyError(f"No tiny model for '{kind}'; use dpt-dinov2 or depth-anything-v2.")
    processor = DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                                  resample=Image.BICUBIC, image_mean=list(IMAGENET_MEAN),
                                  image_std=list(IMAGENET_STD))
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
