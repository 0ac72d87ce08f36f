"""Several processes (torch.distributed, gloo on CPU): metrics gathered across ranks equal one
process's on the same data, and ``torchrun -m mdseg train`` trains and writes one run."""
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from mdseg.data.loading import batches
from mdseg.training.loop import evaluate

from conftest import CI_SPLITS
from helpers import tiny_model


def _evaluate_on_rank(rank, world, port, val_set, out_path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = tiny_model(seed=3)
        result = evaluate(model, batches(val_set, 2, False, 0, shard=True), torch.device("cpu"), with_depth=True)
        if rank == 0:
            out_path.write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_gathered_across_ranks_equal_one_process(data, tmp_path):
    val_set = data[1]
    single = evaluate(tiny_model(seed=3), DataLoader(val_set, batch_size=2), torch.device("cpu"), with_depth=True)
    out = tmp_path / "rank0.json"
    mp.spawn(_evaluate_on_rank, args=(2, _free_port(), val_set, out), nprocs=2, join=True)
    gathered = json.loads(out.read_text())
    for key in ("mIoU", "fg_mIoU", "acc", "depth_mse"):
        assert gathered[key] == pytest.approx(single[key], rel=1e-6), key
    if single["iIoU"] == single["iIoU"]:  # not NaN
        assert gathered["iIoU"] == pytest.approx(single["iIoU"], rel=1e-6)


def test_torchrun_trains_with_two_processes(tmp_path, ci_root):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "mdseg", "train", "--recipe", "depth-first/copy/s->b", "--profile", "ci", "--data", str(ci_root),
           "--out", str(out), "--epochs", "1", "--batch-size", "8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert [r["stage"] for r in result["history"]] == [0, 1, 2]
    n_train = CI_SPLITS["train"]
    assert result["history"][0]["steps"] == n_train // 2 // 8  # each process sees half of every epoch
    assert 0 <= result["metrics"]["mIoU"] <= 1
