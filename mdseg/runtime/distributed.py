"""torch.distributed helpers: ``torchrun --nproc_per_node N -m mdseg train ...`` runs one
process per device; these are no-ops in a single process."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env() -> bool:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1): NCCL on CUDA, gloo on
    CPU. Returns whether a group was started."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


def device_for_rank(name: str | None) -> str | None:
    """On CUDA under torchrun each process takes ``cuda:LOCAL_RANK``."""
    if world()[1] > 1 and torch.cuda.is_available() and name in (None, "cuda"):
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return name


def all_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over processes, in place (no-op alone)."""
    if world()[1] > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on any process (so that all stop together)."""
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(all_sum(value).item() > 0)


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def shard(n: int) -> list[int]:
    """This process's share of ``range(n)`` for evaluation: every item exactly once overall
    (no padding, unlike DistributedSampler), so merged metrics equal one process's."""
    rank, size = world()
    return list(range(rank, n, size))
