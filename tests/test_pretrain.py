"""The offline pretrained encoder: the command, its card, the hash check, and the shipped weights."""
import json
from dataclasses import asdict

import pytest
import torch

from mdseg import MultiDecoderUNet
from mdseg.model.shipped import PretrainedWeightsError, card_path, load_encoder, sha256
from mdseg.study.profiles import PROFILES
from mdseg.training.pretrain import Classifier, PretrainSpec, install, pretrain
from mdseg.world.synthetic import PRETRAIN_SEEDS

TINY = PretrainSpec(size=32, n_train=48, n_val=16, epochs=1, batch_size=16)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    return out, pretrain(TINY, out, progress=False)


def test_card_records_how_the_weights_were_made(pretrained):
    out, card = pretrained
    assert card["spec"] == json.loads(json.dumps(asdict(TINY))) and card["spec"]["seed"] >= PRETRAIN_SEEDS
    assert card["sha256"] == sha256(out / "encoder.safetensors") and 0 <= card["val_accuracy"] <= 1
    assert card["command"].startswith("python -m mdseg pretrain --encoder tu-resnet10t")
    assert "--n-train 48" in card["command"] and json.loads((out / "encoder.json").read_text()) == card


def test_rerun_reuses_the_finished_run_and_other_settings_are_refused(pretrained):
    out, card = pretrained
    stamp = (out / "checkpoint.safetensors").stat().st_mtime_ns
    assert pretrain(TINY, out, progress=False)["history"] == card["history"]
    assert (out / "checkpoint.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="other settings"):
        pretrain(PretrainSpec(size=32, n_train=48, n_val=16, epochs=2, batch_size=16), out, progress=False)


def test_installed_weights_load_into_the_unet_encoder(pretrained, tmp_path):
    out, card = pretrained
    install(out, tmp_path)
    model = MultiDecoderUNet("tu-resnet10t", encoder_weights=None)
    assert load_encoder(model.encoder, "tu-resnet10t", tmp_path)["sha256"] == card["sha256"]
    trained = Classifier("tu-resnet10t")
    from mdseg.model import checkpoint

    checkpoint.load(out / "checkpoint.safetensors", trained)
    for key, value in trained.encoder.state_dict().items():  # stored in float16
        assert torch.allclose(model.encoder.state_dict()[key].float(), value.float(), atol=1e-2, rtol=1e-3)


def test_damaged_or_missing_weights_are_refused_with_the_fix(pretrained, tmp_path):
    out, _ = pretrained
    card = install(out, tmp_path)
    weights = card.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    model = Classifier("tu-resnet10t")
    with pytest.raises(PretrainedWeightsError, match="does not match its card.*python -m mdseg pretrain"):
        load_encoder(model.encoder, "tu-resnet10t", tmp_path)
    with pytest.raises(PretrainedWeightsError, match=r"available: \['tu-resnet10t'\].*--encoder resnet18 --install"):
        load_encoder(model.encoder, "resnet18", tmp_path)


def test_shipped_weights_match_their_card_and_serve_the_offline_profiles():
    for profile in PROFILES.values():
        if profile.encoder_weights == "synthetic":
            card = json.loads(card_path(profile.encoder).read_text())
            assert card["sha256"] == sha256(card_path(profile.encoder).with_suffix(".safetensors"))
            assert card["spec"]["seed"] >= PRETRAIN_SEEDS > profile.synthetic.seed  # disjoint scenes
            assert card_path(profile.encoder).with_suffix(".safetensors").stat().st_size <= 25 * 2**20
            MultiDecoderUNet(profile.encoder, encoder_weights="synthetic")


def test_installing_other_weights_over_the_shipped_ones_needs_replace(pretrained, tmp_path):
    import json

    from mdseg.errors import OutputExists

    out, _ = pretrained
    target = install(out, tmp_path)
    card = json.loads(target.read_text())
    target.write_text(json.dumps({**card, "sha256": "0" * 64, "command": "an older pretraining"}))
    with pytest.raises(OutputExists, match="already holds .* weights .*made by `an older pretraining`.*--replace"):
        install(out, tmp_path)
    assert json.loads(target.read_text())["sha256"] == "0" * 64  # nothing replaced
    assert json.loads(install(out, tmp_path, replace=True).read_text())["sha256"] == card["sha256"]
    assert install(out, tmp_path) == target  # the same weights again: nothing to replace


def test_a_run_on_other_encoder_weights_has_another_identity(monkeypatch, tmp_path):
    """`pretrain --install` once replaced the shipped encoder while a run's identity recorded only
    `encoder_weights: "synthetic"`: runs trained on the old weights were reused as if on the new."""
    from mdseg.study import profiles
    from mdseg.training.schedule import get_recipe

    cpu = profiles.get_profile("cpu")
    schedule = get_recipe("single-decoder", 2)
    before = profiles.identity(cpu, schedule, 0)
    assert "encoder_sha256" not in before["profile"]  # the first shipped weights: identities as they always were
    monkeypatch.setattr(profiles, "installed_sha256", lambda encoder: "f" * 64)
    other = profiles.identity(cpu, schedule, 0)
    assert other["profile"]["encoder_sha256"] == "f" * 64 and other != before
