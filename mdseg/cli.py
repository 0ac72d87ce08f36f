"""``python -m mdseg ...`` (also the ``mdseg`` console script): the parser and ``main``; what each
command does is :mod:`mdseg.commands`."""
from __future__ import annotations

import argparse
import errno
import sys

from .data.depth_cache import DEFAULT_UNIT, TARGETS, units_help
from .errors import MdsegError
from .runtime.workdir import enter_workdir
from .study.profiles import ENV_VAR, PROFILES
from .study.suites import SUITES
from .training.lr import LR_SCHEDULES, OPTIMIZERS


def _add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=list(PROFILES), default=None,
                        help=f"sizes and hyper-parameters (default: ${ENV_VAR} or 'cpu')")
    parser.add_argument("--data", default=None, help="folder holding VOCdevkit (default: the profile's)")


def _add_depth_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", default=None, metavar="NAME",
                        help="pseudo-depth teacher: dpt-dinov2, dpt-dinov2-kitti, depth-anything-v2 or simulated "
                             "(default: the profile's)")
    parser.add_argument("--depth-target", choices=list(TARGETS), default=None,
                        help=f"pseudo-depth units: {units_help()}; default: the profile's")
    parser.add_argument("--depth-weight", type=float, default=None, metavar="W",
                        help="joint stages train (1 - W) L_seg + W L_depth (default: the profile's, 0.15 as in the paper)")
    parser.add_argument("--depth-scale", type=float, default=None, metavar="K",
                        help="multiply the depth target by K (its MSE by K^2), in any unit (default 1)")


def _add_optimizer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default=None,
                        help="adam (the paper) or sgd (momentum 0.9); default: the profile's (adam)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the profile's)")
    parser.add_argument("--lr-schedule", choices=list(LR_SCHEDULES), default=None,
                        help="constant (the paper) or cosine (warm-up, then cosine decay per stage); default: the profile's")


def _add_data_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-path", choices=["loader", "arrays"], default=None,
                        help="loader: torchvision v2 transforms per sample on the CPU; arrays: each split decoded once, "
                             "batches augmented on the device (default: the profile's)")


def _add_encoder_weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder-weights", default=None, metavar="W",
                        help="'synthetic' (shipped offline pretrained weights), 'imagenet' (downloads) or 'none' "
                             "(random init); default: the profile's")


def _add_data(commands) -> None:
    data = commands.add_parser("data", help="get, generate or check a VOC-layout dataset")
    data_cmds = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    voc = data_cmds.add_parser("voc", help="download PASCAL VOC 2012 (2 GB; official host, else a mirror; MD5 checked)")
    voc.add_argument("--root", required=True, help="folder that will hold VOCdevkit (may be on Google Drive)")
    voc.add_argument("--url", action="append", default=None,
                     help="download from this URL instead of the official host and its mirror (repeat: tried in order)")
    voc.add_argument("--md5", default=None, help="the archive's MD5 when --url serves another archive than the official one")
    syn = data_cmds.add_parser("synthetic", help="write the procedural VOC-format dataset (offline)")
    syn.add_argument("--root", required=True, help="folder that will hold VOCdevkit")
    syn.add_argument("--n-train", type=int, default=400)
    syn.add_argument("--n-val", type=int, default=100)
    syn.add_argument("--size", type=int, default=128, help="image side in pixels")
    syn.add_argument("--seed", type=int, default=0)
    stats = data_cmds.add_parser("stats", help="framing statistics of a VOC-layout tree (compare synthetic with VOC)")
    stats.add_argument("--root", required=True, action="append",
                       help="folder holding VOCdevkit; repeat to put trees side by side")
    stats.add_argument("--split", default=None, help="split to measure (default: train, else the first split found)")
    stats.add_argument("--limit", type=int, default=None, help="first N images only")
    check = data_cmds.add_parser("check", help="validate every file of a dataset before training")
    check.add_argument("--root", required=True)
    check.add_argument("--split", action="append", help="split(s) to check (default: train and val)")
    check.add_argument("--teacher", default=None, help="also check this teacher's pseudo depth")


def _add_depth(commands) -> None:
    depth = commands.add_parser("depth", help="generate and cache pseudo depth with a teacher")
    depth.add_argument("--root", required=True, help="folder holding VOCdevkit")
    depth.add_argument("--teacher", required=True, help="dpt-dinov2, dpt-dinov2-kitti, depth-anything-v2 or simulated")
    depth.add_argument("--model", default=None, help="hub id or local save_pretrained folder (overrides the teacher's default)")
    depth.add_argument("--split", action="append", help="split(s) to process (default: train and val)")
    depth.add_argument("--batch-size", type=int, default=8)
    depth.add_argument("--depth-target", choices=list(TARGETS), default=DEFAULT_UNIT,
                       help="units of the cached targets (default normalised)")
    depth.add_argument("--device", default=None)


def _add_pretrain(commands) -> None:
    pretrain = commands.add_parser("pretrain", help="pretrain an encoder offline (the stand-in for ImageNet)")
    pretrain.add_argument("--encoder", default="tu-resnet10t", help="smp encoder name (default: tu-resnet10t)")
    pretrain.add_argument("--task", default=None, choices=["main-object", "classes-present"],
                          help="the pretraining task (default: the PretrainSpec default)")
    pretrain.add_argument("--size", type=int, default=None, help="image side in pixels (default 64)")
    pretrain.add_argument("--n-train", type=int, default=None, help="training scenes (default 20000)")
    pretrain.add_argument("--epochs", type=int, default=None, help="epochs (default 8)")
    pretrain.add_argument("--out", default=None, help="run folder (default: runs/pretrain/<encoder>)")
    pretrain.add_argument("--install", action="store_true",
                          help="copy the weights and their card into the package (mdseg/model/weights), where "
                               "--encoder-weights synthetic finds them")
    pretrain.add_argument("--replace", action="store_true",
                          help="with --install: replace weights already installed for that encoder (refused otherwise)")


def _add_train(commands) -> None:
    train = commands.add_parser("train", help="train one recipe")
    train.add_argument("--recipe", required=True, help="e.g. single-decoder, naive-joint, depth-first/copy/s->b")
    _add_profile(train)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="run folder (default: runs/<profile>/<recipe>/seed<seed>)")
    train.add_argument("--epochs", type=int, default=None, help="epochs per stage (default: the profile's)")
    _add_optimizer(train)
    train.add_argument("--batch-size", type=int, default=None)
    _add_encoder_weights(train)
    _add_data_path(train)
    _add_depth_settings(train)
    train.add_argument("--device", default=None)
    train.add_argument("--diagnose-every", type=int, default=None, metavar="N",
                       help="every N steps where both tasks train the encoder, log loss terms, encoder gradient "
                            "norms and their cosine to diagnostics.jsonl (default: the profile's; 0: off; single "
                            "process only)")


def _add_evaluate(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a split")
    evaluate.add_argument("--checkpoint", required=True)
    _add_profile(evaluate)
    evaluate.add_argument("--split", default="val")
    evaluate.add_argument("--device", default=None)


def _add_export(commands) -> None:
    export = commands.add_parser("export", help="export the deployable seg-only smp.Unet (safetensors, ONNX)")
    export.add_argument("--checkpoint", required=True)
    export.add_argument("--out", default=None, help="folder (default: beside the checkpoint, export/)")
    export.add_argument("--size", type=int, default=256, help="input side for the ONNX graph")


def _add_reproduce(commands) -> None:
    reproduce = commands.add_parser("reproduce", help="run Table 2 and Table 3 recipes and write results.md")
    _add_profile(reproduce)
    _add_optimizer(reproduce)
    _add_encoder_weights(reproduce)
    _add_data_path(reproduce)
    _add_depth_settings(reproduce)
    reproduce.add_argument("--seeds", type=int, nargs="+", default=None)
    reproduce.add_argument("--recipes", nargs="+", default=None, help="recipe names (default: the profile's)")
    reproduce.add_argument("--out", default=None, help="folder (default: runs/<profile>)")
    reproduce.add_argument("--device", default=None)
    reproduce.add_argument("--suite", choices=list(SUITES), default="tables",
                           help="tables: Tables 2 and 3 (default); failure: why naive joint training fails, naive joint "
                                "at each of the profile's depth weights and the recipes under each --targets unit; "
                                "scale: naive joint at depth-loss scales real pipelines produce, under three optimisers "
                                "(see mdseg.study.scale_suite); budget: the story's recipes at longer budgets (see "
                                "mdseg.study.budget_suite); copy: why the weight copy hurts, three repairs (see "
                                "mdseg.study.copy_suite)")
    reproduce.add_argument("--finished-only", action="store_true",
                           help="train nothing: the tables of the runs already finished (each row says its seeds), "
                                "e.g. while a long suite is interrupted")
    reproduce.add_argument("--targets", nargs="+", choices=list(TARGETS), default=None,
                           help="depth targets of --suite failure (default: normalised metric)")
    reproduce.add_argument("--diagnose-every", type=int, default=None, metavar="N",
                           help="gradient diagnostics every N steps (default: the profile's; 0: off, faster; they "
                                "never change a result)")
    reproduce.add_argument("--beside-reference", action="store_true",
                           help="also print each run beside the paper and the shipped reference (mean ± std, n) and "
                                "whether it lies inside the 95%% prediction interval of the reference's seeds")
    reproduce.add_argument("--check-reference", type=int, default=None, metavar="N",
                           help="retrain N runs of the shipped reference chosen at random (into runs/check-reference) "
                                "and print shipped vs retrained mIoU, and whether each lies inside the 95%% prediction "
                                "interval of the reference's seeds")


def _add_rehearse(commands) -> None:
    rehearse = commands.add_parser("rehearse", help="rehearse a Colab session offline on real VOC images (maintainers)")
    rehearse.add_argument("session", choices=["colab"])
    rehearse.add_argument("--samples", required=True, help="a folder holding VOCdevkit with a few real VOC images")
    rehearse.add_argument("--work", default="runs/rehearsal", help="working folder, emptied first: only one it made "
                          "earlier, or a new or empty one (default: runs/rehearsal)")
    rehearse.add_argument("--notebooks", default=None,
                          help="also run notebooks 01-06 from this folder under nbval (e.g. notebooks)")


def _add_reference(commands) -> None:
    reference = commands.add_parser("reference", help="write the shipped reference runs from a runs folder (maintainers)")
    reference.add_argument("--from", dest="source", default="runs", help="folder laid out like runs/ (default: runs)")
    reference.add_argument("--profile", choices=list(PROFILES), default="cpu")
    reference.add_argument("--suites", nargs="+", choices=list(SUITES), default=None, metavar="SUITE",
                           help=f"which suites to copy: {', '.join(SUITES)} (default: all of them)")
    reference.add_argument("--commit", default=None, help="the code commit that trained them (default: git HEAD)")
    reference.add_argument("--replace", action="store_true",
                           help="replace shipped runs the source also holds (refused otherwise; new runs are added "
                                "either way)")
    reference.add_argument("--new-only", action="store_true",
                           help="add only the source's runs that are not shipped yet, leaving shipped ones as they are")
    reference.add_argument("--fill-in", action="store_true",
                           help="replace only shipped runs that predate depth quality by the source's exact retrains "
                                "(the same mIoU to 1e-9: no number changes, depth quality is added); "
                                "`python tools/retrain_unmeasured.py` trains them")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mdseg", description=__doc__ and "Multi-decoder U-Net with pseudo depth.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_data(commands)
    _add_depth(commands)
    _add_pretrain(commands)
    _add_train(commands)
    _add_evaluate(commands)
    _add_export(commands)
    _add_reproduce(commands)
    _add_rehearse(commands)
    _add_reference(commands)
    return parser


FULL = "Free space (or point --out, --root or MDSEG_WORKDIR at another disk) and rerun the same command: it resumes."
NOT_WRITABLE = "Choose a folder you can write to (--out, --root or MDSEG_WORKDIR) and rerun the same command."
MACHINE_FAULTS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EACCES: NOT_WRITABLE, errno.EROFS: NOT_WRITABLE,
                  errno.EPERM: NOT_WRITABLE}


def main(argv: list[str] | None = None) -> int:
    from .commands import HANDLERS

    args = build_parser().parse_args(argv)
    try:
        enter_workdir()  # relative paths of every command land under $MDSEG_WORKDIR, as the notebooks' do
        return HANDLERS[args.command](args) or 0
    except KeyboardInterrupt:
        print(f"mdseg {args.command}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except MdsegError as error:  # anything else is a bug: its traceback shows
        print(f"mdseg {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the machine's faults: a full disk, a read-only folder
        if error.errno not in MACHINE_FAULTS:
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"mdseg {args.command}: error: {where}{error.strerror}. {MACHINE_FAULTS[error.errno]}", file=sys.stderr)
        return 2
