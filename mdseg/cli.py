"""``python -m mdseg ...`` (also the ``mdseg`` console script)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .profiles import ENV_VAR, PROFILES


def _add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=list(PROFILES), default=None,
                        help=f"sizes and hyper-parameters (default: ${ENV_VAR} or 'cpu')")
    parser.add_argument("--data", default=None, help="folder holding VOCdevkit (default: the profile's)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mdseg", description=__doc__ and "Multi-decoder U-Net with pseudo depth.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="get, generate or check a VOC-layout dataset")
    data_cmds = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    voc = data_cmds.add_parser("voc", help="download PASCAL VOC 2012 through torchvision (2 GB)")
    voc.add_argument("--root", required=True, help="folder that will hold VOCdevkit")
    syn = data_cmds.add_parser("synthetic", help="write the procedural VOC-format dataset (offline)")
    syn.add_argument("--root", required=True, help="folder that will hold VOCdevkit")
    syn.add_argument("--n-train", type=int, default=400)
    syn.add_argument("--n-val", type=int, default=100)
    syn.add_argument("--size", type=int, default=128, help="image side in pixels")
    syn.add_argument("--seed", type=int, default=0)
    check = data_cmds.add_parser("check", help="validate every file of a dataset before training")
    check.add_argument("--root", required=True)
    check.add_argument("--split", action="append", help="split(s) to check (default: train and val)")
    check.add_argument("--teacher", default=None, help="also check this teacher's pseudo depth")

    depth = commands.add_parser("depth", help="generate and cache pseudo depth with a teacher")
    depth.add_argument("--root", required=True, help="folder holding VOCdevkit")
    depth.add_argument("--teacher", required=True, help="dpt-dinov2, dpt-dinov2-kitti, depth-anything-v2 or simulated")
    depth.add_argument("--model", default=None, help="hub id or local save_pretrained folder (overrides the teacher's default)")
    depth.add_argument("--split", action="append", help="split(s) to process (default: train and val)")
    depth.add_argument("--batch-size", type=int, default=8)
    depth.add_argument("--device", default=None)

    train = commands.add_parser("train", help="train one recipe")
    train.add_argument("--recipe", required=True, help="e.g. single-decoder, naive-joint, depth-first/copy/s->b")
    _add_profile(train)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="run folder (default: runs/<profile>/<recipe>/seed<seed>)")
    train.add_argument("--epochs", type=int, default=None, help="epochs per stage (default: the profile's)")
    train.add_argument("--lr", type=float, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--device", default=None)
    train.add_argument("--diagnose-every", type=int, default=0, metavar="N",
                       help="every N steps log loss terms, encoder gradient norms and their cosine to "
                            "diagnostics.jsonl (default 0: off; single process only)")

    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a split")
    evaluate.add_argument("--checkpoint", required=True)
    _add_profile(evaluate)
    evaluate.add_argument("--split", default="val")
    evaluate.add_argument("--device", default=None)

    export = commands.add_parser("export", help="export the deployable seg-only smp.Unet (safetensors, ONNX)")
    export.add_argument("--checkpoint", required=True)
    export.add_argument("--out", default=None, help="folder (default: beside the checkpoint, export/)")
    export.add_argument("--size", type=int, default=256, help="input side for the ONNX graph")

    reproduce = commands.add_parser("reproduce", help="run Table 2 and Table 3 recipes and write results.md")
    _add_profile(reproduce)
    reproduce.add_argument("--seeds", type=int, nargs="+", default=None)
    reproduce.add_argument("--recipes", nargs="+", default=None, help="recipe names (default: the profile's)")
    reproduce.add_argument("--out", default=None, help="folder (default: runs/<profile>)")
    reproduce.add_argument("--device", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DatasetError

    try:
        return HANDLERS[args.command](args) or 0
    except KeyboardInterrupt:
        print(f"mdseg {args.command}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except (DatasetError, FileNotFoundError, FileExistsError, KeyError, ValueError, RuntimeError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"mdseg {args.command}: error: {message}", file=sys.stderr)
        return 2


def _data(args) -> int:
    from . import datasets

    if args.data_command == "voc":
        datasets.download_voc(args.root)
    elif args.data_command == "synthetic":
        from .synthetic import SyntheticSpec

        spec = SyntheticSpec(n_train=args.n_train, n_val=args.n_val, size=args.size, seed=args.seed)
        datasets.prepare_synthetic(args.root, spec)
        print(datasets.summary_text(args.root))
    else:
        problems = datasets.check(args.root, args.split or ["train", "val"], args.teacher)
        if problems:
            print(f"{len(problems)} problem(s) in {args.root}:", *problems, sep="\n  ", file=sys.stderr)
            return 1
        print(f"{args.root}: all files readable and consistent.")
    return 0


def _depth(args) -> int:
    from .teachers import generate

    for split in args.split or ["train", "val"]:
        generate(args.root, args.teacher, split=split, model=args.model, batch_size=args.batch_size,
                 device=args.device)
    return 0


def _train(args) -> int:
    """Also runs under ``torchrun --nproc_per_node N -m mdseg train ...`` (DistributedDataParallel)."""
    from . import distributed
    from .experiments import train_recipe
    from .profiles import get_profile

    profile = get_profile(args.profile, data_root=args.data, stage_epochs=args.epochs, lr=args.lr,
                          batch_size=args.batch_size)
    started = distributed.init_from_env()
    rank = distributed.world()[0]
    try:
        result = train_recipe(profile, args.recipe, seed=args.seed, out=args.out,
                              device=distributed.device_for_rank(args.device), diagnose_every=args.diagnose_every)
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({k: v for k, v in result["metrics"].items() if k != "per_class_iou"}, indent=1))
    return 0


def _evaluate(args) -> int:
    from .experiments import evaluate_checkpoint
    from .profiles import get_profile

    metrics = evaluate_checkpoint(args.checkpoint, get_profile(args.profile, data_root=args.data),
                                  split=args.split, device=args.device)
    print(json.dumps({k: v for k, v in metrics.items() if k != "per_class_iou"}, indent=1))
    return 0


def _export(args) -> int:
    from .experiments import export_checkpoint

    for path in export_checkpoint(args.checkpoint, args.out, size=args.size):
        print(f"wrote {path}")
    return 0


def _reproduce(args) -> int:
    from .experiments import reproduce
    from .profiles import get_profile

    profile = get_profile(args.profile, data_root=args.data)
    out = Path(args.out or f"runs/{profile.name}")
    table = reproduce(profile, out, seeds=args.seeds, recipes=args.recipes, device=args.device)
    print(table)
    return 0


HANDLERS = {"data": _data, "depth": _depth, "train": _train, "evaluate": _evaluate,
            "export": _export, "reproduce": _reproduce}
