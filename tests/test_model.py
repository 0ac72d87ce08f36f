import time

import pytest
import segmentation_models_pytorch as smp
import torch

from mdseg import MultiDecoderUNet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MultiDecoderUNet("resnet18", encoder_weights=None).eval()


def test_outputs_by_task(model):
    x = torch.randn(2, 3, 64, 96)
    out = model(x)
    assert out["seg"].shape == (2, 21, 64, 96) and out["depth"].shape == (2, 1, 64, 96)
    assert set(model(x, tasks=("seg",))) == {"seg"}


def test_only_requested_decoders_run(model):
    calls = []
    hook = model.depth_decoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        model(torch.randn(1, 3, 64, 64), tasks=("seg",))
        assert calls == []
        model(torch.randn(1, 3, 64, 64), tasks=("depth",))
        assert calls == [1]
    finally:
        hook.remove()


def test_unknown_task(model):
    with pytest.raises(ValueError, match="Unknown task 'normals'"):
        model(torch.randn(1, 3, 32, 32), tasks=("normals",))


def test_copy_decoder_copies_body_not_head():
    torch.manual_seed(1)
    m = MultiDecoderUNet("resnet18", encoder_weights=None)
    head_before = {k: v.clone() for k, v in m.seg_head.state_dict().items()}
    m.copy_decoder("depth", "seg")
    for (k, a), b in zip(m.depth_decoder.state_dict().items(), m.seg_decoder.state_dict().values()):
        assert torch.equal(a, b), k
    for k, v in m.seg_head.state_dict().items():
        assert torch.equal(v, head_before[k])
    # a copy, not shared storage
    next(m.seg_decoder.parameters()).data.add_(1.0)
    assert not torch.equal(next(m.seg_decoder.parameters()), next(m.depth_decoder.parameters()))


def test_to_single_decoder_equals_seg_output_and_plain_unet_size(model):
    x = torch.randn(2, 3, 64, 64)
    unet = model.to_single_decoder()
    assert isinstance(unet, smp.Unet) and not unet.training
    torch.testing.assert_close(unet(x), model(x, tasks=("seg",))["seg"])
    fresh = smp.Unet("resnet18", encoder_weights=None, classes=21)
    assert sum(p.numel() for p in unet.parameters()) == sum(p.numel() for p in fresh.parameters())
    assert sum(p.numel() for p in model.parameters()) > sum(p.numel() for p in fresh.parameters())


def test_unfetchable_weights_fail_fast_with_a_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    try:
        MultiDecoderUNet("resnet18", encoder_weights="imagenet")
    except RuntimeError as error:
        assert "encoder_weights=None" in str(error) and "HF_HUB_OFFLINE" in str(error)
    else:
        pytest.skip("imagenet weights are in this machine's cache")
    assert time.monotonic() - start < 10
