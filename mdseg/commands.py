"""What each ``python -m mdseg`` command does (the parser is :mod:`mdseg.cli`): each handler takes
the parsed arguments, calls the package and prints; errors are :class:`~mdseg.errors.MdsegError`.
Each handler imports what it needs when it runs, so ``--help``, a refused flag and the commands that
only read results answer in a second, without loading torch."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from .errors import SettingError


def _data(args) -> int:
    from .data import prepare

    if args.data_command == "voc":
        prepare.download_voc(args.root, urls=args.url, md5=args.md5)
    elif args.data_command == "stats":
        from .study.stats import stats_markdown, tree_stats

        columns = {}
        for root in args.root:
            split = args.split or prepare.default_split(root)
            columns[f"{root} ({split})"] = tree_stats(root, split, args.limit, progress=True)
        print(stats_markdown(columns))
    elif args.data_command == "synthetic":
        from .world.synthetic import SyntheticSpec

        spec = SyntheticSpec(n_train=args.n_train, n_val=args.n_val, size=args.size, seed=args.seed)
        base = prepare.prepare_synthetic(args.root, spec)
        from .viz import save_preview

        save_preview(args.root, base / prepare.PREVIEW_NAME)
        print(prepare.summary_text(args.root))
    else:
        problems = prepare.check(args.root, args.split or ["train", "val"], args.teacher)
        if problems:
            print(f"{len(problems)} problem(s) in {args.root}:", *problems, sep="\n  ", file=sys.stderr)
            return 1
        print(f"{args.root}: all files readable and consistent.")
    return 0


def _depth(args) -> int:
    from .depth.targets import generate

    for split in args.split or ["train", "val"]:
        generate(args.root, args.teacher, split=split, model=args.model, batch_size=args.batch_size,
                 device=args.device, target=args.depth_target)
    return 0


def _pretrain(args) -> int:
    from .training.pretrain import PretrainSpec, install, pretrain

    sizes = {k: v for k, v in (("task", args.task), ("size", args.size), ("n_train", args.n_train),
                               ("epochs", args.epochs)) if v}
    spec = PretrainSpec(encoder=args.encoder, **sizes)
    out = args.out or f"runs/pretrain/{args.encoder}"
    card = pretrain(spec, out)
    print(f"{out}: val accuracy {card['val_accuracy']:.3f}, SHA-256 {card['sha256']}")
    if args.install:
        print(f"installed {install(out, replace=args.replace)}")
    return 0


def _with_weights(profile, value: str | None):
    """The profile with ``--encoder-weights`` applied (``none`` = random init)."""
    if value is None:
        return profile
    return replace(profile, encoder_weights=None if value.lower() == "none" else value)


def _profile_from(args, **extra):
    """The profile ``--profile`` names with every setting flag of ``args`` applied (the depth
    weight is the schedule's: :func:`_schedule`)."""
    from .study.profiles import get_profile

    flags = {name: getattr(args, name, None) for name in
             ("depth_target", "depth_scale", "data_path", "teacher", "lr", "lr_schedule", "optimizer")}
    return _with_weights(get_profile(args.profile, data_root=args.data, **flags, **extra), args.encoder_weights)


def _schedule(profile, recipe: str, depth_weight: float | None):
    """The schedule of ``recipe`` with its joint stages at ``--depth-weight`` (default: the profile's;
    0 is refused by the schedule with the reason: a weight of 0 is the single-decoder recipe) and
    the profile's depth scale (the mechanism controls undo it)."""
    from .training.schedule import get_recipe

    weight = profile.depth_weight if depth_weight is None else depth_weight
    return get_recipe(recipe, profile.stage_epochs, depth_weight=weight, depth_scale=profile.depth_scale)


def _train(args) -> int:
    """Also runs under ``torchrun --nproc_per_node N -m mdseg train ...`` (DistributedDataParallel)."""
    from .runtime import distributed
    from .study.experiments import train_recipe

    profile = _profile_from(args, stage_epochs=args.epochs, batch_size=args.batch_size)
    started = distributed.init_from_env()
    rank = distributed.world()[0]
    try:
        result = train_recipe(profile, _schedule(profile, args.recipe, args.depth_weight), seed=args.seed, out=args.out,
                              device=distributed.device_for_rank(args.device), diagnose_every=args.diagnose_every)
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({k: v for k, v in result.metrics.items() if k != "per_class_iou"}, indent=1))
    return 0


def _evaluate(args) -> int:
    from .study.experiments import evaluate_checkpoint
    from .study.profiles import get_profile

    metrics = evaluate_checkpoint(args.checkpoint, get_profile(args.profile, data_root=args.data),
                                  split=args.split, device=args.device)
    print(json.dumps({k: v for k, v in metrics.items() if k != "per_class_iou"}, indent=1))
    return 0


def _export(args) -> int:
    from .model.checkpoint import export_checkpoint

    for path in export_checkpoint(args.checkpoint, args.out, size=args.size):
        print(f"wrote {path}")
    return 0


def _reproduce(args) -> int:
    from .study.experiments import reproduce
    from .study.profiles import runs_root

    _refuse_ignored(args)
    if args.check_reference is not None:
        from .study.placement import check, check_markdown

        print(check_markdown(check(args.check_reference, args.profile or "cpu", device=args.device)))
        return 0
    profile = _profile_from(args)
    if args.suite == "failure":
        return _failure_suite(profile, args)
    if args.suite == "scale":
        return _scale_suite(profile, args)
    if args.suite == "budget":
        return _budget_suite(profile, args)
    if args.suite == "copy":
        return _copy_suite(profile, args)
    out = Path(args.out) if args.out else runs_root(profile)
    recipes = [_schedule(profile, r, args.depth_weight) for r in args.recipes] if args.recipes else None
    if args.depth_weight is not None and not recipes:
        from .study.experiments import recipe_names

        recipes = [_schedule(profile, r, args.depth_weight) for r in recipe_names(profile)]
    results = reproduce(profile, out, seeds=args.seeds, recipes=recipes, device=args.device,
                        finished_only=args.finished_only, diagnose_every=args.diagnose_every)
    print(results)
    if args.beside_reference:
        from .study.placement import placement_markdown, quick_budget_note
        from .study.reference import read

        print("\n## Beside the paper and the shipped reference\n\n" + placement_markdown(results, read(list(results.runs))))
        if note := quick_budget_note(profile):
            print("\n" + note)
    return 0


SETTING_FLAGS = ("data", "teacher", "depth_target", "depth_weight", "depth_scale", "optimizer", "lr", "lr_schedule",
                 "encoder_weights", "data_path", "seeds", "recipes", "out", "targets", "diagnose_every",
                 "beside_reference", "finished_only")
# What each way of running `reproduce` does not use: a flag it would silently ignore is refused instead.
IGNORED = {
    "check-reference": tuple(f for f in SETTING_FLAGS if f != "data"),
    "tables": ("targets",),
    "failure": ("depth_target", "depth_weight", "diagnose_every", "beside_reference", "out"),
    "scale": ("depth_target", "depth_weight", "depth_scale", "optimizer", "lr", "lr_schedule", "diagnose_every",
              "beside_reference", "out", "recipes", "targets"),
    "budget": ("depth_weight", "diagnose_every", "beside_reference", "out", "recipes", "targets"),
    "copy": ("depth_weight", "diagnose_every", "beside_reference", "out", "recipes", "targets"),
}
WHY = {"check-reference": "it retrains shipped runs exactly as they were trained",
       "failure": "its depth weights, targets (--targets) and folders are the suite's own",
       "scale": "its scales, optimisers, weight and folders are the suite's own",
       "budget": "its recipes, weight and folders are the suite's own",
       "copy": "its recipes, weight and folders are the suite's own",
       "tables": "--targets belongs to --suite failure"}


def _refuse_ignored(args) -> None:
    """Refuse the flags this ``reproduce`` call would ignore, naming each (so no result claims a setting it did not use)."""
    mode = "check-reference" if args.check_reference is not None else args.suite
    given = [f for f in IGNORED[mode] if getattr(args, f, None) not in (None, False)]
    if given:
        flags = ", ".join("--" + f.replace("_", "-") for f in given)
        raise SettingError(f"reproduce {'--check-reference' if mode == 'check-reference' else '--suite ' + mode} does not "
                           f"use {flags} ({WHY[mode]}): drop {'it' if len(given) == 1 else 'them'}.")


def _failure_suite(profile, args) -> int:
    from .study.failure_suite import failure_suite
    from .study.failure_report import failure_conclusion, table3_markdown, weights_markdown

    targets = tuple(args.targets or ("normalised", "metric"))
    suite = failure_suite(profile, targets, recipes=args.recipes, seeds=args.seeds, device=args.device,
                          finished_only=args.finished_only)
    summaries = {t: r.summary for t, r in suite.items()}
    print("\n## Naive joint training against the depth weight\n\n" + weights_markdown(summaries))
    print("\n## Tables 2 and 3 under each depth target\n\n" + table3_markdown(summaries))
    print("\n## What the numbers say\n\n" + "\n".join(f"- {line}" for line in failure_conclusion(summaries)))
    return 0


def _scale_suite(profile, args) -> int:
    from .study import scale_report as report
    from .study.scale_suite import scale_suite

    suite = scale_suite(profile, seeds=args.seeds, device=args.device, finished_only=args.finished_only)
    print("\n## " + report.sweep_markdown(suite))
    print("\n## Naive joint training against its baseline, per scale and optimiser\n\n" + report.points_markdown(suite))
    print("\n## The paper's depth-first recipes with the paper's optimiser\n\n" + report.depth_first_markdown(suite))
    for results in suite.follow_up.values():
        print("\n" + results.markdown())
    if suite.controls:
        from .study.mechanism import controls_markdown

        print("\n## The mechanism controls\n\n" + controls_markdown(suite))
    print("\n## What the numbers say\n\n" + "\n".join(f"- {line}" for line in report.conclusion(suite)))
    return 0


def _budget_suite(profile, args) -> int:
    from .study.budget_suite import budget_suite

    for results in budget_suite(profile, seeds=args.seeds, device=args.device,
                                finished_only=args.finished_only).values():
        print("\n" + results.markdown())
    return 0


def _copy_suite(profile, args) -> int:
    from .study.copy_suite import copy_conclusion, copy_markdown, copy_suite

    results = copy_suite(profile, seeds=args.seeds, device=args.device, finished_only=args.finished_only)
    print("\n## " + results.title + "\n\n" + copy_markdown(results))
    print("\n" + "\n".join(f"- {line}" for line in copy_conclusion(results)))
    return 0


def _reference(args) -> int:
    from .study.reference import SUITES, counted, write

    for suite, provenance in write(args.source, args.profile, tuple(args.suites or SUITES), commit=args.commit,
                                   replace=args.replace, new_only=args.new_only, fill_in=args.fill_in).items():
        print(f"{suite}: {counted(provenance)} shipped, from {provenance['device']} "
              f"({provenance['precision']}); {provenance['added']} added, {provenance['replaced']} replaced")
        if provenance["not_reproduced"]:
            print(f"  left as shipped, their retrain under {args.source} does not reproduce the shipped mIoU "
                  f"(another host?): " + ", ".join(provenance["not_reproduced"]))
    return 0


def _rehearse(args) -> int:
    from .rehearsal import rehearse_colab, steps_markdown

    steps = rehearse_colab(args.samples, args.work, Path(args.notebooks).resolve() if args.notebooks else None)
    print(steps_markdown(steps))
    return 0


HANDLERS = {"data": _data, "depth": _depth, "pretrain": _pretrain, "train": _train, "evaluate": _evaluate,
            "reference": _reference, "rehearse": _rehearse,
            "export": _export, "reproduce": _reproduce}
