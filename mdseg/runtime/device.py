"""Pick the device and precision once, so notebooks and the CLI never branch on hardware; say what
to change when the device runs out of memory."""
from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator

import torch

from ..errors import MdsegError, SettingError


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given ("cpu", "cuda", "cuda:1", "mps"), else CUDA when available, else CPU; a named
    device this machine does not have raises :class:`~mdseg.errors.SettingError` with what it has."""
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise SettingError(f"--device {name!r} is not a device name; use cpu, cuda, cuda:N or mps.") from None
        if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
            have = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA GPU"
            raise SettingError(f"--device {name} asked for a GPU this machine does not have ({have}): drop --device "
                               "(mdseg picks the GPU when there is one) or use --device cpu.")
        if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SettingError("--device mps needs Apple silicon with PyTorch's MPS backend: use --device cpu.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA GPUs that support it, fp16 on older ones, ``None`` (fp32) elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class OutOfMemory(MdsegError, RuntimeError):
    """The device ran out of memory, with the settings to change."""


@contextlib.contextmanager
def oom_advice(batch_size: int, images: torch.Tensor) -> Iterator[None]:
    """Turn a CUDA out-of-memory error while processing ``images`` (B, 3, H, W) into
    :class:`OutOfMemory` naming the settings to change."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as error:
        size = "x".join(str(s) for s in images.shape[-2:])
        raise OutOfMemory(
            f"Out of memory training batches of {batch_size} images of {size} px ({error}). Use a smaller "
            f"batch (--batch-size {max(batch_size // 2, 1)}) or crop size, or a smaller encoder; "
            "rerun the same command to resume from the last checkpoint."
        ) from error


def device_info(device: torch.device, dtype: torch.dtype | None = None) -> dict[str, str | int]:
    """Where a run trained, for its ``result.json`` and the shipped reference's provenance: the
    device (GPU name, or the CPU's architecture and core count), the precision and torch's version;
    on a CPU also its ``model``, its ``cpu_signature`` (family, model and stepping numbers, where Linux
    gives them) and ``isa``, the vector instruction set torch's kernels use (two hosts
    with the same model name can round differently: virtual machines often report only "AMD EPYC", and
    the same seed's first-epoch loss moves at the third decimal with the instruction set), plus
    ``ONEDNN_MAX_CPU_ISA`` where it is set."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.machine() or 'unknown'} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    precision = {torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}.get(dtype, "fp32")
    info = {"type": device.type, "name": name, "precision": precision, "torch": torch.__version__}
    if device.type != "cpu":
        return info
    limit = {"onednn_max_isa": os.environ["ONEDNN_MAX_CPU_ISA"]} if os.environ.get("ONEDNN_MAX_CPU_ISA") else {}
    signature = {"cpu_signature": found} if (found := cpu_signature()) else {}
    return {**info, "model": cpu_model(), **signature, "isa": torch.backends.cpu.get_cpu_capability(), **limit}


CPUINFO = "/proc/cpuinfo"


def _cpuinfo(path: str = CPUINFO) -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` (empty where there is none: not Linux)."""
    fields: dict[str, str] = {}
    try:
        with open(path) as info:
            for line in info:
                if not line.strip():
                    break  # the first processor's block ends at its blank line
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model(path: str = CPUINFO) -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` says)."""
    return _cpuinfo(path).get("model name") or platform.processor() or "unknown"


def cpu_signature(path: str = CPUINFO) -> str:
    """The CPU's family, model and stepping numbers, e.g. ``family 25, model 17, stepping 1``, where
    ``/proc/cpuinfo`` gives them (else ``""``): finer than the model name, which virtual machines often
    cut to "AMD EPYC" across CPU generations."""
    fields = _cpuinfo(path)
    parts = [f"{key} {fields[name]}" for key, name in (("family", "cpu family"), ("model", "model"), ("stepping", "stepping"))
             if name in fields]
    return ", ".join(parts)
