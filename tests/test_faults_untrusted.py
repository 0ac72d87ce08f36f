"""Untrusted files: checkpoints are safetensors; pickles are never run; mismatches are named."""
import pickle

import pytest
import torch

from mdseg import MultiDecoderUNet
from mdseg.model import checkpoint
from mdseg.model.checkpoint import export_checkpoint, load_model

from helpers import tiny_model


class RunsCode:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_pickled_checkpoint_is_refused_and_never_run(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    payload = {"state_dict": tiny_model().state_dict(), "extra": RunsCode(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(checkpoint.CheckpointError, match="not a readable safetensors checkpoint.*never unpickles"):
        load_model(path)
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(path, tiny_model())
    assert not marker.exists()


def test_plain_safetensors_without_mdseg_metadata(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(checkpoint.CheckpointError, match="not an mdseg checkpoint"):
        checkpoint.read_meta(tmp_path / "other.safetensors")


def test_other_architecture_or_class_count_is_named(tmp_path):
    model = tiny_model()
    checkpoint.save(tmp_path / "c.safetensors", model, {"model": model.config()})
    other_classes = MultiDecoderUNet("resnet18", encoder_weights=None, num_classes=5,
                                     decoder_channels=(32, 16, 16, 8, 8))
    with pytest.raises(checkpoint.CheckpointError, match="num_classes: checkpoint 21 vs model 5"):
        checkpoint.load(tmp_path / "c.safetensors", other_classes)
    other_encoder = MultiDecoderUNet("resnet34", encoder_weights=None, decoder_channels=(32, 16, 16, 8, 8))
    with pytest.raises(checkpoint.CheckpointError, match="encoder_name: checkpoint 'resnet18' vs model 'resnet34'"):
        checkpoint.load(tmp_path / "c.safetensors", other_encoder)
    checkpoint.save(tmp_path / "bare.safetensors", model, {})  # no architecture record: shapes still checked
    with pytest.raises(checkpoint.CheckpointError, match="does not fit this model"):
        checkpoint.load(tmp_path / "bare.safetensors", other_encoder)


def test_export_round_trip_matches_seg_output(tmp_path):
    import json

    import segmentation_models_pytorch as smp
    from safetensors.torch import load_file

    model = tiny_model().eval()
    checkpoint.save(tmp_path / "c.safetensors", model, {"model": model.config()})
    files = export_checkpoint(tmp_path / "c.safetensors", tmp_path / "export", size=64)
    kwargs = json.loads((tmp_path / "export/unet.json").read_text())
    unet = smp.Unet(**kwargs)
    unet.load_state_dict(load_file(str(tmp_path / "export/unet.safetensors")))
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(unet.eval()(x), model(x, tasks=("seg",))["seg"])
    onnx = [f for f in files if f.suffix == ".onnx"]
    if onnx:
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(onnx[0]))
        (out,) = session.run(None, {"image": x.numpy()})
        assert abs(out - model(x, tasks=("seg",))["seg"].detach().numpy()).max() < 1e-3


def test_a_checkpoint_changed_on_disk_is_refused_on_resume_evaluate_and_export(tmp_path):
    """8 MB of zeroed weights used to resume silently (mIoU 0.083 instead of 0.092): every checkpoint's
    SHA-256 is recorded when it is written and checked whenever it is loaded."""
    model = tiny_model()
    path = tmp_path / "checkpoint.safetensors"
    checkpoint.save(path, model, {"model": model.config(), "schedule": "x", "stage": 0, "epoch": 1})
    assert checkpoint.hash_path(path).exists()
    checkpoint.load(path, tiny_model())  # intact: loads
    data = bytearray(path.read_bytes())
    data[-4096:] = bytes(4096)  # zero the last tensor bytes; the header still parses
    path.write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError, match="does not match the SHA-256 recorded .*delete its run folder"):
        checkpoint.load(path, tiny_model())
    with pytest.raises(checkpoint.CheckpointError, match="SHA-256"):
        load_model(path)
    with pytest.raises(checkpoint.CheckpointError, match="SHA-256"):
        checkpoint.export_checkpoint(path, tmp_path / "export")


def test_a_device_the_machine_lacks_is_a_message(monkeypatch):
    from mdseg.errors import SettingError
    from mdseg.runtime.device import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SettingError, match="asked for a GPU this machine does not have .*--device cpu"):
        pick_device("cuda")
    with pytest.raises(SettingError, match="is not a device name"):
        pick_device("gpu0")
    assert pick_device("cpu").type == "cpu"
