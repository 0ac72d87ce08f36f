"""One way to get batches, whichever data path holds the split: the torchvision v2 per-sample
loader (:class:`~mdseg.data.dataset.VOCDepth`) or the array path (:class:`~mdseg.data.arrays.ArraySplit`).
Training and evaluation both call :func:`batches`; nothing else chooses between the paths."""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from ..runtime import distributed as dist
from .arrays import ArraySplit


def batches(dataset: Dataset | ArraySplit, batch_size: int, shuffle: bool, seed: int,
            device: torch.device | str = "cpu", num_workers: int = 0, shard: bool = False) -> Iterable[dict]:
    """One epoch of batches (dicts: ``image`` (B, 3, H, W), ``mask``, ``instances`` (B, H, W),
    ``depth`` (B, 1, H, W) when the split has it, ``id``), seeded by ``seed`` so a resumed run sees
    the same ones; ``shuffle`` drops the last partial batch. Under torch.distributed each process
    takes its part: of every shuffled epoch, or (``shard``, for evaluation) every item once.
    An :class:`~mdseg.data.arrays.ArraySplit` makes its batches on ``device`` itself; the v2 loader
    yields CPU tensors (pinned for CUDA). ``len()`` is the number of batches."""
    device = torch.device(device)
    if isinstance(dataset, ArraySplit):
        return dataset.batches(batch_size, shuffle, seed, device, shard)
    rank, size = dist.world()
    sampler = None
    if shuffle and size > 1:
        sampler = DistributedSampler(dataset, num_replicas=size, rank=rank, shuffle=True, seed=seed, drop_last=True)
    elif shard and size > 1:
        dataset = Subset(dataset, dist.shard(len(dataset)))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      drop_last=shuffle, num_workers=num_workers, generator=torch.Generator().manual_seed(seed),
                      pin_memory=device.type == "cuda")
