"""Resource faults: out of memory and a full disk, simulated."""
import errno

import pytest
import torch

from mdseg import MultiDecoderUNet
from mdseg.model import checkpoint
from mdseg.runtime.device import OutOfMemory
from mdseg.training.loop import run
from mdseg.training.runs import CHECKPOINT
from mdseg.training.schedule import Schedule, Stage

from helpers import CONFIG, tiny_model, weights_of


def test_out_of_memory_suggests_a_smaller_batch(data, tmp_path, monkeypatch):
    def oom(self, x, tasks=("seg", "depth")):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(MultiDecoderUNet, "forward", oom)
    with pytest.raises(OutOfMemory, match=r"batches of 4 images of 32x32 px .*--batch-size 2.*resume"):
        run(tiny_model(), Schedule("s", [Stage("seg", {"seg": 1.0}, 1)]), data[0], None, tmp_path, CONFIG)


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(data, tmp_path, monkeypatch):
    schedule = Schedule("s", [Stage("seg", {"seg": 1.0}, 2)])
    run(tiny_model(), Schedule("s", [Stage("seg", {"seg": 1.0}, 1)]), data[0], None, tmp_path, CONFIG)
    before = weights_of(tmp_path / CHECKPOINT)

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", disk_full)
    with pytest.raises(checkpoint.CheckpointError, match="No space left on device.*previous checkpoint is intact"):
        run(tiny_model(), schedule, data[0], None, tmp_path, CONFIG)
    after = weights_of(tmp_path / CHECKPOINT)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_full_disk_as_safetensors_reports_it_gets_the_same_message(tmp_path, monkeypatch):
    """safetensors raises its own SafetensorError (not an OSError) when the disk fills up: the friendly
    message never fired. The real exception type, raised as the real library raises it."""
    from safetensors import SafetensorError

    from helpers import tiny_model

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\0" * 100)
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                              "message: \"No space left on device\" })")

    monkeypatch.setattr(checkpoint, "save_file", disk_full)
    with pytest.raises(checkpoint.CheckpointError, match="StorageFull.*there was no previous checkpoint.*Free disk space"):
        checkpoint.save(tmp_path / CHECKPOINT, tiny_model(), {"model": {}})
    assert list(tmp_path.iterdir()) == []  # no temporary file, no hash record
