"""Does data loading keep up with training? Loader throughput (images/s, with 0..N workers)
against the training step's consumption, measured in one run; and pseudo-depth generation,
first run against the cached rerun.

    python benchmarks/bench_data.py --profile cpu
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from common import machine, time_interleaved
from mdseg.data import VOCDepth, train_transforms
from mdseg.datasets import prepare_synthetic
from mdseg.device import pick_device
from mdseg.model import MultiDecoderUNet
from mdseg.profiles import get_profile
from mdseg.synthetic import SyntheticSpec
from mdseg.teachers import generate, tiny_teacher


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    profile = get_profile(args.profile)
    device = pick_device(args.device)
    root = Path(profile.data_root)
    if profile.synthetic is not None:
        prepare_synthetic(root, profile.synthetic, progress=False)
    generate(root, profile.teacher, "train", progress=False)
    dataset = VOCDepth(root, "train", profile.teacher, train_transforms(profile.crop_size, profile.scale))
    print(f"# bench_data: profile {profile.name}, {machine(device)}")
    for workers in args.workers:
        print(f"loader, {workers} workers: {loader_rate(dataset, profile.batch_size, workers, args.batches):8.1f} img/s")
    model = MultiDecoderUNet(profile.encoder, None, decoder_channels=profile.decoder_channels).to(device).train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    batch = next(iter(DataLoader(dataset, batch_size=profile.batch_size)))
    x, y, d = batch["image"].to(device), batch["mask"].to(device), batch["depth"].to(device)

    def train_step():
        opt.zero_grad()
        out = model(x)
        (torch.nn.functional.cross_entropy(out["seg"], y, ignore_index=255) + (out["depth"] - d.nan_to_num()).pow(2).mean()).backward()
        opt.step()

    step = time_interleaved({"step": train_step}, device, 5, 1)["step"]
    print(f"training step (both decoders) consumes {profile.batch_size / step:8.1f} img/s")

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
