"""Timing helpers shared by the benchmark scripts (not part of the package)."""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch


def model_parser(doc: str, batch: int, steps: int) -> argparse.ArgumentParser:
    """The options every model benchmark takes: encoder, input size, batch, device, timed and
    warm-up steps; a script adds its own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="resnet50")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--warmup", type=int, default=3)
    return parser


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(fns: dict[str, Callable[[], None]], device: torch.device, steps: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved round-robin so that
    machine noise (turbo, other load) hits every contender alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
