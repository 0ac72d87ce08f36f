"""The paper's experiments from a profile: data preparation, one recipe, all recipes, export."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import checkpoint, distributed, train
from .data import VOCDepth, eval_transforms, find_voc, train_transforms
from .datasets import prepare_synthetic
from .device import pick_device
from .model import MultiDecoderUNet
from .profiles import Profile
from .report import results_markdown, summarize
from .schedule import Schedule, get_recipe
from .schedule import recipes as all_recipes
from .teachers import generate


def prepare_data(profile: Profile, with_depth: bool, progress: bool = True) -> Path:
    """Make sure the profile's dataset (and, with ``with_depth``, its pseudo depth) is on disk."""
    root = Path(profile.data_root)
    if profile.synthetic is not None:
        prepare_synthetic(root, profile.synthetic, progress=progress)
    else:
        find_voc(root)
    if with_depth:
        for split in ("train", "val"):
            generate(root, profile.teacher, split=split, progress=progress)
    return root


def datasets(profile: Profile, with_depth: bool) -> tuple[VOCDepth, VOCDepth]:
    """Train and val datasets of a profile with its transforms."""
    teacher = profile.teacher if with_depth else None
    train_set = VOCDepth(profile.data_root, "train", teacher, train_transforms(profile.crop_size, profile.scale))
    val_set = VOCDepth(profile.data_root, "val", teacher, eval_transforms(profile.eval_size))
    return train_set, val_set


def build_model(profile: Profile) -> MultiDecoderUNet:
    return MultiDecoderUNet(profile.encoder, encoder_weights=profile.encoder_weights,
                            decoder_channels=profile.decoder_channels)


def run_dir(out: str | Path, recipe: str, seed: int) -> Path:
    """``out/<recipe with '/' as '__'>/seed<k>``."""
    return Path(out) / recipe.replace("/", "__").replace(">", "") / f"seed{seed}"


def train_recipe(profile: Profile, recipe: str | Schedule, seed: int = 0, out: str | Path | None = None,
                 device: str | None = None, progress: bool = True, diagnose_every: int = 0) -> dict:
    """Train one recipe with one seed (resuming or reusing what ``out`` already holds);
    ``diagnose_every`` > 0 also logs gradient diagnostics (see :mod:`mdseg.multitask`)."""
    schedule = recipe if isinstance(recipe, Schedule) else get_recipe(recipe, profile.stage_epochs)
    folder = Path(out) if out else run_dir(f"runs/{profile.name}", schedule.name, seed)
    # what determines this run's result (the profile's seed and recipe lists do not)
    trained_with = {k: v for k, v in asdict(profile).items() if k not in ("seeds", "recipes")}
    settings = {"profile": trained_with, "schedule": schedule.name, "seed": seed,
                "stages": [asdict(s) for s in schedule.stages], "diagnose_every": diagnose_every}
    config_path = folder / "config.json"
    if config_path.exists():
        stored = json.loads(config_path.read_text())
        if stored != json.loads(json.dumps(settings)):
            raise FileExistsError(
                f"{folder} holds a run with other settings (see {config_path}); "
                "use another --out or delete that folder to retrain."
            )
        if (folder / train.RESULT).exists():
            return {**json.loads((folder / train.RESULT).read_text()), "seed": seed, "run_dir": str(folder)}
    main = distributed.world()[0] == 0
    if main:  # one process prepares data and the run folder; the others wait for it
        prepare_data(profile, schedule.uses_depth, progress)
        folder.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(settings, indent=1))
    distributed.barrier()
    torch.manual_seed(seed)
    model = build_model(profile)
    train_set, val_set = datasets(profile, schedule.uses_depth)
    config = train.TrainConfig(lr=profile.lr, batch_size=profile.batch_size, num_workers=profile.num_workers,
                               seed=seed, device=device, depth_loss=profile.depth_loss,
                               focal_gamma=profile.focal_gamma, progress=progress, diagnose_every=diagnose_every)
    result = train.run(model, schedule, train_set, val_set, folder, config)
    return {**result, "seed": seed, "run_dir": str(folder)}


def load_model(path: str | Path, device: str | None = None) -> tuple[MultiDecoderUNet, dict]:
    """Rebuild a :class:`MultiDecoderUNet` from a checkpoint's own architecture record."""
    meta = checkpoint.read_meta(path)
    arch = meta["model"]
    model = MultiDecoderUNet(arch["encoder_name"], encoder_weights=None, num_classes=arch["num_classes"],
                             decoder_channels=arch["decoder_channels"])
    checkpoint.load(path, model)
    return model.to(pick_device(device)).eval(), meta


def evaluate_checkpoint(path: str | Path, profile: Profile, split: str = "val", device: str | None = None) -> dict:
    """Metrics of a checkpoint on a split of the profile's dataset (eval transforms, no depth)."""
    model, _ = load_model(path, device)
    dataset = VOCDepth(profile.data_root, split, None, eval_transforms(profile.eval_size))
    loader = DataLoader(dataset, batch_size=profile.batch_size, num_workers=profile.num_workers)
    return train.evaluate(model, loader, next(model.parameters()).device, with_depth=False, progress=True)


def export_checkpoint(path: str | Path, out: str | Path | None = None, size: int = 256) -> list[Path]:
    """Write the deployable seg-only ``smp.Unet``: ``unet.safetensors`` + ``unet.json`` (its
    constructor arguments), and ``unet.onnx`` when ``onnx`` is installed."""
    model, meta = load_model(path, "cpu")
    unet = model.to_single_decoder().eval()
    folder = Path(out) if out else Path(path).parent / "export"
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


def reproduce(profile: Profile, out: str | Path, seeds: list[int] | None = None, recipes: list[str] | None = None,
              device: str | None = None, progress: bool = True, report: str = "results", detail: bool = True) -> str:
    """Run recipes x seeds (reusing finished runs under ``out``), write ``<report>.json`` and
    ``<report>.md`` there; returns the Markdown table. A progress bar counts runs; ``detail``
    adds each run's per-epoch bars and lines (notebooks turn it off to keep output small)."""
    names = list(recipes or profile.recipes or all_recipes(profile.stage_epochs))
    seeds = list(seeds or profile.seeds)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    jobs = tqdm([(n, s) for n in names for s in seeds], desc=f"reproduce [{profile.name}]", unit="run",
                disable=not progress)
    for name, seed in jobs:
        jobs.set_postfix_str(f"{name} seed {seed}")
        runs[name].append(train_recipe(profile, name, seed, run_dir(out, name, seed), device, progress and detail))
    summary = summarize(runs)
    out = Path(out)
    (out / f"{report}.json").write_text(json.dumps({"profile": profile.name, "recipes": summary}, indent=1))
    table = results_markdown(summary, f"Results, profile '{profile.name}' (ours beside the paper's)")
    (out / f"{report}.md").write_text(table + "\n")
    return table
