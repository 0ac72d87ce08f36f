"""Does data loading keep up with training? Throughput (images/s) of the v2 loader (0..N
workers) and of the array path (each split decoded once, batches augmented on the device;
:mod:`mdseg.data.arrays`) against the training step's consumption, measured in one run; and
pseudo-depth generation, first run against the cached rerun.

    python benchmarks/bench_data.py --profile cpu
    python benchmarks/bench_data.py --profile gpu --data /tmp/voc-like --device cuda --workers 0 4 8
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mdseg.data.arrays import ArraySplit
from mdseg.data.dataset import VOCDepth, train_transforms
from mdseg.data.prepare import prepare_synthetic
from mdseg.depth.targets import generate
from mdseg.model.unet import MultiDecoderUNet
from mdseg.runtime.device import amp_dtype, pick_device
from mdseg.study.profiles import get_profile
from mdseg.training.config import TrainConfig
from mdseg.training.schedule import JOINT_WEIGHTS, Stage
from mdseg.training.step import compute_losses
from mdseg.world.synthetic import SyntheticSpec

from common import machine, sync, time_interleaved

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiny_teachers import tiny_teacher  # noqa: E402


def loader_rate(dataset, batch: int, workers: int, batches: int) -> float:
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += len(next(it)["image"])
    return n / (time.perf_counter() - start)


def array_rate(split: ArraySplit, batch: int, device: torch.device, batches: int) -> float:
    """Images/s of the array path: gather, scale / crop / flip and normalise on ``device``."""
    it = iter(split.batches(batch, shuffle=True, seed=0, device=device))
    next(it)
    sync(device)
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += len(next(it)["image"])
    sync(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--device", default=None)
    parser.add_argument("--data", default=None, help="a prepared VOC-layout tree (default: the profile's)")
    parser.add_argument("--teacher", default=None, help="pseudo-depth teacher (default: the profile's)")
    parser.add_argument("--skip-teachers", action="store_true", help="leave out the pseudo-depth timing")
    args = parser.parse_args()
    profile = get_profile(args.profile, data_root=args.data, teacher=args.teacher)
    device = pick_device(args.device)
    root = Path(profile.data_root)
    if profile.synthetic is not None and args.data is None:
        prepare_synthetic(root, profile.synthetic, progress=False)
    generate(root, profile.teacher, "train", progress=False)
    dataset = VOCDepth(root, "train", profile.teacher, train_transforms(profile.crop_size, profile.scale))
    print(f"# bench_data: profile {profile.name} ({profile.crop_size} px crops, batch {profile.batch_size}), "
          f"{len(dataset)} training images, {machine(device)}")
    for workers in args.workers:
        print(f"v2 loader, {workers} workers: {loader_rate(dataset, profile.batch_size, workers, args.batches):8.1f} img/s")
    split = ArraySplit(VOCDepth(root, "train", profile.teacher), profile.eval_size, profile.crop_size, profile.scale,
                       progress=False).to(device)
    print(f"array path on {device.type}: {array_rate(split, profile.batch_size, device, args.batches):8.1f} img/s")

    config = TrainConfig()  # the training loop's defaults: bf16/fp16 autocast and channels_last on CUDA
    cuda = device.type == "cuda"
    fmt = torch.channels_last if cuda and config.channels_last else torch.contiguous_format
    model = MultiDecoderUNet(profile.encoder, None, decoder_channels=profile.decoder_channels)
    model = model.to(device, memory_format=fmt).train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    batch = next(iter(split.batches(profile.batch_size, shuffle=True, seed=1, device=device)))
    batch["image"] = batch["image"].contiguous(memory_format=fmt)
    both = Stage("both", dict(JOINT_WEIGHTS), 1)
    dtype = amp_dtype(device) if config.amp else None

    def train_step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = model(batch["image"])
        compute_losses(out, batch, both, config)["total"].backward()
        opt.step()

    step = time_interleaved({"step": train_step}, device, 10, 3)["step"]
    print(f"training step (both decoders, amp={dtype}) consumes {profile.batch_size / step:8.1f} img/s")
    if args.skip_teachers:
        return

    with tempfile.TemporaryDirectory() as tmp:
        spec = SyntheticSpec(n_train=200, n_val=1, size=profile.crop_size)
        prepare_synthetic(tmp, spec, progress=False)
        teachers = {"simulated": None, "dpt-dinov2 (tiny, random weights)": str(tiny_teacher("dpt-dinov2", Path(tmp) / "tiny"))}
        for label, model_path in teachers.items():
            name = "simulated" if model_path is None else "dpt-dinov2"
            start = time.perf_counter()
            generate(tmp, name, "train", model=model_path, progress=False)
            first = time.perf_counter() - start
            start = time.perf_counter()
            generate(tmp, name, "train", model=model_path, progress=False)
            again = time.perf_counter() - start
            print(f"pseudo depth [{label}]: first run {spec.n_train / first:7.1f} img/s ({first:.2f} s), cached rerun "
                  f"{again:.3f} s = {100 * again / first:.1f}% of the first")
            shutil.rmtree(Path(tmp) / "VOCdevkit/VOC2012/PseudoDepth", ignore_errors=True)


if __name__ == "__main__":
    main()
