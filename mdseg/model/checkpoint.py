"""Checkpoints as one safetensors file: weights and optimizer tensors, plus JSON state in the
header's metadata. Written to a temporary file and renamed, so a checkpoint on disk is always
whole; read without unpickling anything. :func:`load_model` rebuilds a model from one and
:func:`export_checkpoint` writes its deployable single-decoder U-Net."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from ..errors import MdsegError
from ..runtime.device import pick_device
from ..runtime.files import read_json, write_json
from .files import CHECKPOINT, sha256

if TYPE_CHECKING:  # annotations only
    from .unet import MultiDecoderUNet

META_KEY = "mdseg"




class CheckpointError(MdsegError, RuntimeError):
    """A checkpoint that cannot be used here, with the reason and the fix."""


def save(path: str | Path, model: torch.nn.Module, meta: dict, optimizer: torch.optim.Optimizer | None = None,
         extra: torch.nn.Module | None = None) -> None:
    """Atomically write ``model`` weights, ``optimizer`` state, an ``extra`` module's weights
    (e.g. learned loss weights) and ``meta`` (JSON-able) to ``path``."""
    path = Path(path)
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if extra is not None:
        tensors.update({f"extra.{k}": v.detach().contiguous().cpu() for k, v in extra.state_dict().items()})
    meta = dict(meta)
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars = {}
        for index, values in state["state"].items():
            for name, value in values.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{index}.{name}"] = value.detach().contiguous().cpu()
                else:
                    scalars[f"{index}.{name}"] = value
        meta["optimizer"] = {"param_groups": state["param_groups"], "scalars": scalars}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
        digest = sha256(tmp)
        os.replace(tmp, path)
        write_json(hash_path(path), {"sha256": digest, **{k: meta[k] for k in ("stage", "epoch") if k in meta}})
    except (OSError, SafetensorError) as error:  # safetensors reports a full disk as its own error type
        previous = "the previous checkpoint is intact" if path.exists() else "there was no previous checkpoint"
        raise CheckpointError(
            f"Could not write checkpoint {path} ({error}); {previous}. Free disk space (or pick another --out) "
            "and rerun the same command to resume."
        ) from error
    finally:
        tmp.unlink(missing_ok=True)


def hash_path(path: str | Path) -> Path:
    """Where a checkpoint's SHA-256 is recorded when it is written: ``<checkpoint>.sha256.json``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256.json")


def verify(path: str | Path) -> None:
    """Check a checkpoint against the SHA-256 recorded when it was written (checkpoints from before
    the hash was recorded, or whose record is of the epoch before, are not checked); a damaged or
    edited one raises :class:`CheckpointError`."""
    path = Path(path)
    record = hash_path(path)
    if not record.exists():
        return
    recorded = read_json(record, f"delete it (the checkpoint {path} is then no longer checked)")
    meta = read_meta(path)
    if any(k in recorded and recorded[k] != meta.get(k) for k in ("stage", "epoch")):
        return  # the record is of the checkpoint before (a crash between writing the two): nothing to compare
    if sha256(path) != recorded["sha256"]:
        raise CheckpointError(
            f"{path} does not match the SHA-256 recorded when it was written: it was damaged or changed on disk "
            "(a truncated copy, zeroed weights). Its weights cannot be trusted: delete its run folder and train it again.")


def read_meta(path: str | Path) -> dict:
    """The JSON state stored in a checkpoint's header (no tensors are read)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as error:
        hint = ("load a .pt file with torch.load(weights_only=True) and save it with mdseg" if path.suffix in (".pt", ".pth")
                else "if mdseg wrote it, it is torn or damaged (a crash while copying it, a full disk): delete its run "
                     "folder and train it again")
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({error}). mdseg never unpickles "
                              f"checkpoints; {hint}.") from error
    if META_KEY not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not an mdseg checkpoint (no '{META_KEY}' metadata).")
    return json.loads(metadata[META_KEY])


def load(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
         extra: torch.nn.Module | None = None) -> dict:
    """Load weights (and optimizer state) into ``model`` (and ``optimizer``); returns the metadata.

    A checkpoint of another architecture or class count raises :class:`CheckpointError` naming
    the mismatch, not a list of missing keys.
    """
    meta = read_meta(path)
    verify(path)
    tensors = load_file(str(path))
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = getattr(model, "config", lambda: None)()
    stored = meta.get("model")
    if expected is not None and stored is not None and stored != expected:
        diff = {k: (stored.get(k), expected.get(k)) for k in set(stored) | set(expected) if stored.get(k) != expected.get(k)}
        detail = ", ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(f"{path} holds another architecture ({detail}); build the model with the checkpoint's settings.")
    own = model.state_dict()
    shapes = [k for k, v in weights.items() if k in own and own[k].shape != v.shape]
    if shapes or set(weights) != set(own):
        raise CheckpointError(
            f"{path} does not fit this model: {len(set(own) - set(weights))} missing and "
            f"{len(set(weights) - set(own))} unexpected tensors, {len(shapes)} of other shape "
            f"(first: {(shapes or sorted(set(own) ^ set(weights)) or ['-'])[0]})."
        )
    model.load_state_dict(weights)
    if extra is not None:
        extra.load_state_dict({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")})
    if optimizer is not None and "optimizer" in meta:
        per_param: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                per_param.setdefault(int(index), {})[name] = value
        for key, value in meta["optimizer"]["scalars"].items():
            index, name = key.split(".", 1)
            per_param.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": per_param, "param_groups": meta["optimizer"]["param_groups"]})
    return meta


def load_model(path: str | Path, device: str | None = None) -> tuple["MultiDecoderUNet", dict]:
    """Rebuild a :class:`~mdseg.MultiDecoderUNet` from a checkpoint's own architecture record;
    ``path`` is a checkpoint file or a run folder. Returns the model in eval mode and the meta."""
    if Path(path).is_dir():
        path = Path(path) / CHECKPOINT
    meta = read_meta(path)
    from .unet import MultiDecoderUNet  # deferred: reading a checkpoint's metadata needs no smp

    arch = meta["model"]
    model = MultiDecoderUNet(arch["encoder_name"], encoder_weights=None, num_classes=arch["num_classes"],
                             decoder_channels=arch["decoder_channels"])
    load(path, model)
    return model.to(pick_device(device)).eval(), meta


def export_checkpoint(path: str | Path, out: str | Path | None = None, size: int = 256) -> list[Path]:
    """Write the deployable seg-only ``smp.Unet``: ``unet.safetensors`` + ``unet.json`` (its
    constructor arguments), and ``unet.onnx`` when ``onnx`` is installed."""
    model, meta = load_model(path, "cpu")
    unet = model.to_single_decoder().eval()
    folder = Path(out) if out else Path(path).parent / "export"
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"--out {folder} is a file: export writes a folder (unet.safetensors, unet.json, "
                              "unet.onnx); give a folder's path.")
    folder.mkdir(parents=True, exist_ok=True)
    arch = meta["model"]
    written = [folder / "unet.safetensors", folder / "unet.json"]
    save_file({k: v.contiguous() for k, v in unet.state_dict().items()}, str(written[0]))
    written[1].write_text(json.dumps({"encoder_name": arch["encoder_name"], "encoder_weights": None,
                                      "classes": arch["num_classes"],
                                      "decoder_channels": arch["decoder_channels"]}, indent=1))
    try:
        import onnx  # noqa: F401
    except ImportError:
        return written
    onnx_path = folder / "unet.onnx"
    torch.onnx.export(unet, torch.randn(1, 3, size, size), str(onnx_path), input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      dynamo=False)
    return written + [onnx_path]
