"""Depth teachers: a teacher maps a batch of RGB images to depth maps at the images' own size.

Teachers and the depth convention each produces:

* ``dpt-dinov2`` (paper-faithful): DPT head on a DINOv2 backbone, ``facebook/dpt-dinov2-small-nyu``
  (``dpt-dinov2-kitti``: the KITTI-trained head). Metric depth in metres.
* ``depth-anything-v2``: ``depth-anything/Depth-Anything-V2-Small-hf`` (DINOv2 encoder).
  Relative inverse depth (affine-invariant disparity).
* ``simulated`` (synthetic data only): the scene's true depth degraded the way a monocular
  model's output differs from truth; see :class:`SimulatedTeacher`.

What becomes of a teacher's output (targets, cache, quality check): :mod:`mdseg.depth.targets`.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from ..errors import DatasetError, MdsegError
from ..runtime.device import amp_dtype, pick_device
from ..runtime.hub import offline_unless_reachable
from ..world.synthetic import MAX_DEPTH_M, read_true_depth
from .registry import TEACHERS, teacher_spec  # noqa: F401 (the registry, read without torch)


class TeacherUnavailable(MdsegError, RuntimeError):
    """A teacher's weights cannot be loaded (offline, wrong id or path)."""


# ----------------------------------------------------------------------------- teachers
class HubTeacher:
    """A transformers depth-estimation model (DPT-DINOv2, Depth Anything) and its own image
    processor (patch-14 sizes, normalisation). fp16/bf16 on CUDA, fp32 on CPU."""

    def __init__(self, name: str, model_id: str | None = None, device: str | None = None):
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation  # deferred: heavy, teachers only

        self.name, self.convention = name, TEACHERS[name].convention
        self.model_id = model_id or TEACHERS[name].model_id
        self.device = pick_device(device)
        self.dtype = amp_dtype(self.device) or torch.float32
        local = Path(self.model_id).expanduser().is_dir()
        with offline_unless_reachable() as online:
            try:
                self.processor = AutoImageProcessor.from_pretrained(self.model_id)
                model = AutoModelForDepthEstimation.from_pretrained(self.model_id)
            except (OSError, ValueError) as error:
                raise TeacherUnavailable(self._unavailable(online or local, error)) from error
        self.model = model.to(self.device, self.dtype).eval()
        self.revision = getattr(model.config, "_commit_hash", None)

    def _unavailable(self, online: bool, error: Exception) -> str:
        from huggingface_hub.constants import HF_HUB_CACHE

        reason = f"{type(error).__name__}: {error}" if online else "no network and not in the local cache"
        return (
            f"Cannot load teacher '{self.name}' from '{self.model_id}' ({reason}). Hub cache: {HF_HUB_CACHE}. "
            "Offline options: `--teacher simulated` on the synthetic dataset; or download the weights once "
            "with network (e.g. `huggingface-cli download "
            f"{TEACHERS[self.name].model_id}`) and rerun with HF_HUB_OFFLINE=1, or pass "
            "--model /path/to/a/save_pretrained/folder."
        )

    @torch.inference_mode()
    def __call__(self, images: list[np.ndarray], ids: list[str]) -> list[np.ndarray]:
        """(H, W, 3) uint8 images of one size -> raw depth maps (H, W) float32 at that size."""
        inputs = self.processor(images=images, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        outputs = self.model(pixel_values=pixels)
        outputs.predicted_depth = outputs.predicted_depth.float()
        sizes = [image.shape[:2] for image in images]
        post = self.processor.post_process_depth_estimation(outputs, target_sizes=sizes)
        return [p["predicted_depth"].cpu().numpy().astype(np.float32) for p in post]


class SimulatedTeacher:
    """A stand-in for a monocular teacher on the synthetic dataset, built from the true depth.

    What it does to the true depth ``z`` of each image (seeded by ``(seed, id)``):

    1. inverse depth ``1 / z`` (monocular models predict disparity-like values);
    2. Gaussian smoothing of ``sigma = blur * image size`` (edges blurred across objects,
       as ViT-based teachers do at patch scale);
    3. a smooth low-frequency error: a random tilt (ramp) of up to ``tilt`` of the range;
    4. relative (default): an unknown per-image scale in [0.5, 2] and shift in [0, 0.5] x range,
       returned as relative inverse depth; ``metric``: a per-image scale error of up to 15% and
       no shift, returned as depth in metres (a metric model such as DPT-DINOv2 NYU);
    5. pixel noise of ``noise`` x range.

    It never returns the ground truth: its scale-and-shift-aligned error is small but not zero.
    """

    name, model_id, revision = "simulated", None, None

    def __init__(self, root: str | Path, seed: int = 0, blur: float = 0.012, tilt: float = 0.08,
                 noise: float = 0.02, metric: bool = False):
        self.root, self.seed, self.blur, self.tilt, self.noise = Path(root), seed, blur, tilt, noise
        self.metric = metric
        self.convention = "metric-depth" if metric else "relative-inverse-depth"

    def __call__(self, images: list[np.ndarray], ids: list[str]) -> list[np.ndarray]:
        out = []
        for image, image_id in zip(images, ids):
            inverse = 1.0 / read_true_depth(self.root, image_id)
            if inverse.shape != image.shape[:2]:
                raise DatasetError(f"True depth of {image_id} is {inverse.shape}, its image {image.shape[:2]}.")
            rng = np.random.default_rng([self.seed, zlib.crc32(image_id.encode())])
            h, w = inverse.shape
            smooth = ndimage.gaussian_filter(inverse, sigma=max(self.blur * max(h, w), 0.5))
            span = float(np.ptp(smooth)) or 1.0
            yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
            ramp = self.tilt * span * (rng.normal() * (xx - 0.5) + rng.normal() * (yy - 0.5))
            scale, shift = rng.uniform(0.5, 2.0), rng.uniform(0.0, 0.5) * span
            if self.metric:
                scale, shift = rng.uniform(0.85, 1.15), 0.0
            noisy = scale * (smooth + ramp) + shift + rng.normal(0, self.noise * span, (h, w))
            if self.metric:  # back to metres; the far end (sky) stays far
                noisy = 1.0 / np.maximum(noisy, 1.0 / MAX_DEPTH_M)
            out.append(noisy.astype(np.float32))
        return out


def make_teacher(name: str, root: str | Path | None = None, model: str | None = None,
                 device: str | None = None, metric: bool = False):
    """A teacher by name (see :data:`TEACHERS`); ``metric`` asks the simulated teacher for metres."""
    teacher_spec(name)
    if name == "simulated":
        return SimulatedTeacher(root, metric=metric)
    return HubTeacher(name, model, device)
