"""The paper's experiments from a profile: data preparation, one recipe, all recipes, plans and costs.
The suites built on them: :mod:`mdseg.study.failure_suite`, :mod:`mdseg.study.scale_suite`."""
from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..data.arrays import ArraySplit
from ..data.dataset import VOCDepth, eval_transforms, find_voc, train_transforms
from ..data.loading import batches
from ..data.prepare import prepare_synthetic
from ..depth.targets import generate
from ..errors import SettingError
from ..model import checkpoint
from ..model.checkpoint import load_model
from ..model.unet import MultiDecoderUNet
from ..runtime import distributed
from ..runtime.device import pick_device
from ..runtime.files import write_json
from ..training import loop, runs
from ..training.config import TrainConfig
from ..training.runs import run_dir
from ..training.schedule import Schedule
from ..voc import NUM_CLASSES
from .profiles import Profile, check_seeds, identity, runs_root
from .records import RESULTS_TITLE, Recipe, Results, read_recipes, read_run, schedules, to_schedule
from .run_record import RunRecord
from .report import summarize


def prepare_data(profile: Profile, with_depth: bool, progress: bool = True) -> Path:
    """Make sure the profile's dataset (and, with ``with_depth``, its pseudo depth) is on disk."""
    root = Path(profile.data_root)
    if profile.synthetic is not None:
        prepare_synthetic(root, profile.synthetic, progress=progress)
    else:
        find_voc(root)
    if with_depth:
        for split in ("train", "val"):
            generate(root, profile.teacher, split=split, progress=progress, target=profile.depth_target)
    return root


def train_val_sets(profile: Profile, with_depth: bool) -> tuple[VOCDepth | ArraySplit, VOCDepth | ArraySplit]:
    """Train and val datasets of a profile with its transforms (or its array path)."""
    teacher = profile.teacher if with_depth else None
    units = {"depth_target": profile.depth_target, "depth_scale": profile.depth_scale}
    if profile.data_path == "arrays":
        return (ArraySplit(VOCDepth(profile.data_root, "train", teacher, **units), profile.eval_size,
                           profile.crop_size, profile.scale),
                ArraySplit(VOCDepth(profile.data_root, "val", teacher, **units), profile.eval_size))
    if profile.data_path != "loader":
        raise SettingError(f"Unknown data_path '{profile.data_path}' in profile '{profile.name}': use loader or arrays.")
    train_set = VOCDepth(profile.data_root, "train", teacher, train_transforms(profile.crop_size, profile.scale),
                         **units)
    val_set = VOCDepth(profile.data_root, "val", teacher, eval_transforms(profile.eval_size), **units)
    return train_set, val_set


def build_model(profile: Profile) -> MultiDecoderUNet:
    return MultiDecoderUNet(profile.encoder, encoder_weights=profile.encoder_weights,
                            decoder_channels=profile.decoder_channels)


def train_recipe(profile: Profile, recipe: str | Schedule, seed: int = 0, out: str | Path | None = None,
                 device: str | None = None, progress: bool = True, diagnose_every: int | None = None,
                 train_missing: bool = True, base: str | Path = "runs", keep_divergence: bool = False) -> RunRecord | None:
    """Train one recipe with one seed (resuming or reusing what ``out`` already holds; default:
    its folder under :func:`~mdseg.study.profiles.runs_root` of ``base``).
    Gradient diagnostics (see :mod:`mdseg.training.multitask`) are logged every ``diagnose_every`` steps
    (default: the profile's; off under torch.distributed); they never change the result. With
    ``train_missing=False`` nothing trains: the finished result, or ``None``. With
    ``keep_divergence`` (a suite that maps where training fails) a non-finite loss ends the run as
    its outcome, recorded and returned (``stopped`` set; metrics NaN) instead of raised."""
    schedule = to_schedule(profile, recipe)
    folder = Path(out) if out else run_dir(runs_root(profile, base), schedule.name, seed)
    pick_device(device)  # a device this machine lacks is refused before any data is prepared
    if distributed.world()[1] > 1:
        diagnose_every = 0  # diagnostics need a single process
    main = distributed.world()[0] == 0
    found = read_run(profile, schedule, seed, folder, keep_divergence=keep_divergence or not train_missing)
    if found is not None or not train_missing:
        return found
    wanted = identity(profile, schedule, seed)
    if main:  # one process prepares the data; the others wait for it
        prepare_data(profile, schedule.uses_depth, progress)
    distributed.barrier()
    torch.manual_seed(seed)
    model = build_model(profile)
    train_set, val_set = train_val_sets(profile, schedule.uses_depth)
    if main:  # the settings proved usable (data, teacher, encoder): only now is the folder this run's
        runs.claim(folder, wanted)
    distributed.barrier()
    try:
        result = loop.run(model, schedule, train_set, val_set, folder, train_config(profile, seed, device, progress,
                                                                                     diagnose_every))
    except loop.NonFiniteLoss as error:
        if not keep_divergence:
            raise
        if main:
            runs.write_divergence(folder, str(error), error.record())
        return RunRecord.from_divergence({"diverged": str(error), **error.record()}, schedule, seed, folder)
    return RunRecord.from_result(result, schedule, seed, folder)


def train_config(profile: Profile, seed: int = 0, device: str | None = None, progress: bool = True,
                 diagnose_every: int | None = None) -> TrainConfig:
    """The :class:`~mdseg.training.config.TrainConfig` of a profile: the one place profile fields
    become training settings (``diagnose_every`` default: the profile's)."""
    return TrainConfig(lr=profile.lr, lr_schedule=profile.lr_schedule, optimizer=profile.optimizer,
                       batch_size=profile.batch_size, num_workers=profile.num_workers, seed=seed, device=device,
                       focal_gamma=profile.focal_gamma, depth_loss=profile.depth_loss, progress=progress,
                       diagnose_every=profile.diagnose_every if diagnose_every is None else diagnose_every)


def evaluate_checkpoint(path: str | Path, profile: Profile, split: str = "val", device: str | None = None) -> dict:
    """Metrics of a checkpoint on a split of the profile's dataset (eval transforms, no depth). A
    checkpoint that predicts another number of classes than VOC's is refused with the reason."""
    model, _ = load_model(path, device)
    if model.num_classes != NUM_CLASSES:
        raise checkpoint.CheckpointError(
            f"{path} predicts {model.num_classes} classes, not VOC's {NUM_CLASSES}: it cannot be scored on "
            f"{profile.data_root}. Evaluate it on data labelled with its own classes.")
    dataset = VOCDepth(profile.data_root, split, None, eval_transforms(profile.eval_size))
    device = next(model.parameters()).device
    eval_batches = batches(dataset, profile.batch_size, False, 0, device, profile.num_workers, shard=True)
    return loop.evaluate(model, eval_batches, device, with_depth=False, progress=True)


def reproduce(profile: Profile, out: str | Path, seeds: list[int] | None = None, recipes: list[Recipe] | None = None,
              device: str | None = None, progress: bool = True, report: str = "results",
              detail: bool = True, finished_only: bool = False, diagnose_every: int | None = None) -> Results:
    """Run recipes x seeds (reusing finished runs under ``out``), write ``<report>.json`` and
    ``<report>.md`` there and return the :class:`Results`. A progress bar counts runs; ``detail``
    adds each run's per-epoch bars and lines (notebooks turn it off to keep output small).
    ``finished_only`` trains nothing and returns the runs already finished, of ``seeds`` and of any other
    seed trained under ``out`` (a recipe with none is left out; each row says its number of seeds; no
    report is written), e.g. while a long suite is interrupted. ``diagnose_every``: as in :func:`train_recipe` (diagnostics never change a result)."""
    if finished_only:
        return read_recipes(profile, out, seeds, recipes)  # a partial report: shown, not written over a complete one
    wanted = schedules(profile, recipes)
    seeds = list(seeds or profile.seeds)
    check_seeds(seeds)
    by_recipe: dict[str, list[RunRecord]] = {s.name: [] for s in wanted}
    jobs = tqdm([(s, k) for s in wanted for k in seeds], desc=f"reproduce [{profile.name}]", unit="run",
                disable=not progress)
    for schedule, seed in jobs:
        jobs.set_postfix_str(f"{schedule.name} seed {seed}")
        result = train_recipe(profile, schedule, seed, run_dir(out, schedule.name, seed), device, progress and detail,
                              diagnose_every=diagnose_every)
        by_recipe[schedule.name].append(result)
    results = Results(profile.name, summarize(by_recipe), by_recipe, RESULTS_TITLE.format(profile.name))
    out = Path(out)
    write_json(out / f"{report}.json", {"profile": profile.name, "recipes": results.summary})
    (out / f"{report}.md").write_text(results.markdown() + "\n")
    return results
