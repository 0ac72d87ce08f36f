"""A student's first Colab session, rehearsed offline on real VOC images: ``python -m mdseg rehearse colab``.

The ``colab`` profile's code paths meet for the first time in a student's session: the VOC download,
its checksum and extraction, ``data check`` on real photos (500 x 375, not square), DINOv2 pseudo
depth at VOC sizes, the array cache's letterbox, a ResNet50 U-Net at 256 / 320 px, four recipes,
evaluation, export and notebooks 01-06. Offline there is no VOC archive and no hub weights, so the
rehearsal makes both from what is at hand, then runs the real commands on them:

* a VOC 2012 trainval archive in the official layout from a folder of real VOC samples (each image
  replicated under new unique ids), served over a local HTTP server; ``mdseg data voc`` downloads it
  with its MD5 (a corrupted copy must be refused), extracts it, and reuses it on a rerun;
* a local Hugging Face cache holding the real architectures with random weights under their hub
  names: DPT on a DINOv2-small backbone (``facebook/dpt-dinov2-small-nyu``) and smp's ImageNet
  ResNet50 (``smp-hub/resnet50.imagenet``), so the profile's own loading code runs, offline;
* every command of the session (``data check``, ``depth`` in both units, ``train`` of every colab
  recipe on the array path and one on the v2 loader, ``evaluate``, ``export``) as a subprocess,
  and notebooks 01-06 under nbval with ``MDSEG_PROFILE=colab`` and :data:`REHEARSAL_VAR` set
  (one epoch per stage, batches of 4: the rehearsal tree has a dozen training images).

Each step's command, wall time and outcome are returned; a failing step stops the rehearsal.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .data.dataset import find_voc, read_split
from .errors import MdsegError, OutputExists
from .study.profiles import REHEARSAL_VAR, get_profile

ARCHIVE = "VOCtrainval_11-May-2012.tar"
SMP_RESNET50 = ("smp-hub/resnet50.imagenet", "00cb74e366966d59cd9a35af57e618af9f88efe9")  # smp's record
FAKE_REVISION = "0" * 40  # the commit our local cache says the DPT model is at
NOTEBOOKS = ("01_pseudo_depth", "02_baseline", "03_naive_joint", "04_staged_schedule", "05_results", "06_why_naive_fails")


class RehearsalFailed(MdsegError, RuntimeError):
    """A step of the rehearsal did not do what a student's session needs."""


# ----------------------------------------------------------------------------- the archive
def build_archive(samples: str | Path, out: str | Path, copies: int = 2) -> tuple[Path, str]:
    """A VOC 2012 trainval tar in the official layout made from the real samples under
    ``samples`` (a folder holding ``VOCdevkit``): every sample ``copies`` times under new unique
    ids (``<id>_r<k>``), split alternately into ``train`` and ``val`` (``trainval`` = both).
    Returns the archive's path and MD5."""
    source = find_voc(samples)
    ids = sorted({i for split in (source / "ImageSets" / "Segmentation").glob("*.txt")
                  for i in read_split(samples, split.stem)})
    staging = Path(out) / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    base = staging / "VOCdevkit" / "VOC2012"
    new_ids = []
    for k in range(copies):
        for image_id in ids:
            new = f"{image_id}_r{k}"
            new_ids.append(new)
            for folder, ext in (("JPEGImages", "jpg"), ("SegmentationClass", "png"), ("SegmentationObject", "png")):
                if (source / folder / f"{image_id}.{ext}").exists():
                    (base / folder).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / folder / f"{image_id}.{ext}", base / folder / f"{new}.{ext}")
    splits = {"train": new_ids[0::2], "val": new_ids[1::2], "trainval": new_ids}
    (base / "ImageSets" / "Segmentation").mkdir(parents=True)
    for name, members in splits.items():
        (base / "ImageSets" / "Segmentation" / f"{name}.txt").write_text("\n".join(members) + "\n")
    archive = Path(out) / ARCHIVE
    with tarfile.open(archive, "w") as tar:
        tar.add(staging / "VOCdevkit", arcname="VOCdevkit")
    shutil.rmtree(staging)
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


@contextlib.contextmanager
def serve(folder: str | Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``folder`` over HTTP on localhost; yields the base URL and the list of requested paths."""
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet; record instead
            requests.append(self.path)

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:  # a client that hangs up mid-file (refused MD5)
            pass

    server = Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------- the hub, offline
def _cache_folder(cache: Path, repo_id: str, revision: str) -> Path:
    """Hugging Face's cache layout: ``models--<org>--<name>/snapshots/<revision>/`` and ``refs/main``."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def dpt_dinov2_small(seed: int = 0, side: int = 518):
    """DPT on a DINOv2-small backbone (ViT-S/14, 12 layers, 384 wide; DPT neck 48-384, fusion 256:
    the sizes of facebook/dpt-dinov2-small-nyu) with random weights, and its image processor,
    which resizes to ``side`` (the hub model's 518; a multiple of the 14 px patch)."""
    import torch
    from PIL import Image
    from transformers import Dinov2Config, DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    from .voc import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(seed)
    backbone = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                            image_size=518, patch_size=14, out_features=["stage3", "stage6", "stage9", "stage12"],
                            reshape_hidden_states=False, apply_layernorm=True)
    config = DPTConfig(backbone_config=backbone, hidden_size=384, neck_hidden_sizes=[48, 96, 192, 384],
                       fusion_hidden_size=256, head_in_index=-1, reassemble_factors=[4, 2, 1, 0.5], is_hybrid=False,
                       use_bias_in_fusion_residual=False, add_projection=True, readout_type="project")
    processor = DPTImageProcessor(size={"height": side, "width": side}, keep_aspect_ratio=True, ensure_multiple_of=14,
                                  resample=Image.BICUBIC, image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))
    return DPTForDepthEstimation(config).eval(), processor


def offline_hub(cache: str | Path, teacher_side: int = 518) -> Path:
    """Write a local Hugging Face cache with random-weight stand-ins of the colab profile's hub
    models under their real names (see the module docstring; ``teacher_side``: the depth
    teacher's input side, :func:`dpt_dinov2_small`); returns ``cache``."""
    import torch
    from safetensors.torch import save_file
    from segmentation_models_pytorch.encoders import get_encoder

    from .depth.teachers import TEACHERS

    cache = Path(cache)
    model, processor = dpt_dinov2_small(side=teacher_side)
    snapshot = _cache_folder(cache, TEACHERS["dpt-dinov2"].model_id, FAKE_REVISION)
    model.save_pretrained(snapshot)
    processor.save_pretrained(snapshot)
    repo_id, revision = SMP_RESNET50
    snapshot = _cache_folder(cache, repo_id, revision)
    torch.manual_seed(1)
    encoder = get_encoder("resnet50", weights=None)
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, snapshot / "model.safetensors")
    (snapshot / "config.json").write_text(json.dumps({"note": "random weights for an offline rehearsal"}))
    return cache


# ----------------------------------------------------------------------------- the session
@dataclass
class Step:
    name: str
    command: str
    seconds: float
    detail: str = ""


@dataclass
class Rehearsal:
    """Runs commands in ``work`` with the offline hub and the rehearsal setting; records each step."""

    work: Path
    env: dict[str, str]
    steps: list[Step] = field(default_factory=list)

    def run(self, name: str, args: list[str], expect_fail: str | None = None, check: bool = True) -> str:
        """``python -m mdseg <args>`` (or another command when ``args[0]`` is not an mdseg command);
        with ``expect_fail``, the command must fail and say that."""
        command = args if args[0].startswith("-") or args[0] == sys.executable else [sys.executable, "-m", "mdseg", *args]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=self.work, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        output = done.stdout + done.stderr
        shown = " ".join(command[2:] if command[0] == sys.executable else command)
        if expect_fail is not None:
            if done.returncode == 0 or expect_fail not in output:
                raise RehearsalFailed(f"{name}: expected a failure saying {expect_fail!r}; got rc {done.returncode}:\n"
                                      f"{output[-3000:]}")
            self.steps.append(Step(name, shown, seconds, f"refused: {output.strip().splitlines()[-1][:200]}"))
            return output
        if check and done.returncode != 0:
            raise RehearsalFailed(f"{name} failed (rc {done.returncode}): {shown}\n{output[-4000:]}")
        self.steps.append(Step(name, shown, seconds, output.strip().splitlines()[-1][:200] if output.strip() else ""))
        return output


def rehearsal_env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
           "MDSEG_PROFILE": "colab", REHEARSAL_VAR: "1", "MPLBACKEND": "Agg"}
    env.pop("MDSEG_WORKDIR", None)
    return env


WORK_MARK = ".mdseg-rehearsal"  # in a working folder the rehearsal made: the only kind it empties


def claim_work(work: str | Path) -> Path:
    """The rehearsal's working folder, absolute (every path handed to a subprocess is), emptied and
    marked as the rehearsal's own: only a folder that is missing, empty or already marked is
    emptied; any other is refused with the reason (it could be a checkout or someone's data)."""
    work = Path(work).resolve()
    if work.exists() and (not work.is_dir() or (any(work.iterdir()) and not (work / WORK_MARK).exists())):
        raise OutputExists(f"--work {work} is not a folder the rehearsal made (no {WORK_MARK} in it): it empties its "
                           "working folder first, so it only uses a new, empty or earlier rehearsal folder. Choose "
                           "another --work (e.g. runs/rehearsal).")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / WORK_MARK).write_text("made by mdseg rehearse colab; emptied by the next rehearsal\n")
    return work


def rehearse_colab(samples: str | Path, work: str | Path, notebooks: Path | None = None,
                   copies: int = 2, quick: bool = False) -> list[Step]:
    """The whole rehearsal (module docstring) in ``work`` (emptied first); ``notebooks``: the
    folder of notebooks 01-06 to run under nbval (skipped when ``None``). ``quick`` (the test
    suite's): normalised depth only, from a teacher whose processor resizes to 266 px instead of
    518 (the same code, a quarter of its compute: DPT's full-resolution head dominates), one recipe
    on the array path, then export; no metric depth, no v2-loader run, no separate evaluation.
    Returns the steps."""
    find_voc(samples)  # the samples first: a wrong path must not cost the working folder
    work = claim_work(work)
    (work / "served").mkdir(parents=True)
    archive, md5 = build_archive(samples, work / "served", copies)
    bad = work / "served" / "corrupted" / ARCHIVE
    bad.parent.mkdir()
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    session = Rehearsal(work, rehearsal_env(offline_hub(work / "hf-cache", 266 if quick else 518)))
    root = "data/voc"
    with serve(work / "served") as (url, requests):
        session.run("a corrupted archive is refused", ["data", "voc", "--root", "data/bad", "--url",
                                                       f"{url}/corrupted/{ARCHIVE}", "--md5", md5],
                    expect_fail="does not have the expected MD5")
        session.run("download, checksum, extraction", ["data", "voc", "--root", root, "--url", f"{url}/{ARCHIVE}",
                                                       "--md5", md5])
        fetched = len(requests)
        os.remove(work / root / ARCHIVE)  # as if a disconnect lost the archive but kept the extracted tree
        session.run("a rerun reuses the extracted tree", ["data", "voc", "--root", root, "--url", f"{url}/{ARCHIVE}",
                                                         "--md5", md5])
        if len(requests) != fetched:
            raise RehearsalFailed("the rerun of `mdseg data voc` downloaded the archive again")
    session.run("data check on real photos", ["data", "check", "--root", root])
    for target in ("normalised",) if quick else ("normalised", "metric"):
        session.run(f"DPT-DINOv2 pseudo depth ({target})", ["depth", "--root", root, "--teacher", "dpt-dinov2",
                                                           "--depth-target", target])
    recipes = ["naive-joint"] if quick else list(get_profile("colab").recipes)
    for recipe in recipes:
        session.run(f"train {recipe} (arrays)", ["train", "--profile", "colab", "--data", root, "--recipe", recipe,
                                                 "--data-path", "arrays", "--out", f"runs/arrays/{recipe.replace('/', '_')}"])
    checkpoint = f"runs/arrays/{recipes[-1].replace('/', '_')}/checkpoint.safetensors"
    if not quick:
        session.run("train naive-joint (v2 loader)", ["train", "--profile", "colab", "--data", root, "--recipe",
                                                      "naive-joint", "--data-path", "loader", "--out", "runs/loader/naive"])
        session.run("evaluate", ["evaluate", "--checkpoint", checkpoint, "--profile", "colab", "--data", root])
    session.run("export (safetensors, ONNX)", ["export", "--checkpoint", checkpoint, "--size", "256"])
    if notebooks is not None:
        nb_env = {**session.env, "MDSEG_WORKDIR": str(work)}
        paths = [str(Path(notebooks) / f"{name}.ipynb") for name in NOTEBOOKS]
        nb_session = Rehearsal(work, nb_env, session.steps)
        nb_session.run("notebooks 01-06 under nbval (colab profile)",
                       [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                        "--nbval-current-env", "--nbval-cell-timeout=600", *paths])
    return session.steps


def steps_markdown(steps: list[Step]) -> str:
    lines = ["| step | command | wall time | outcome |", "|---|---|---|---|"]
    lines += [f"| {s.name} | `{s.command}` | {s.seconds:.1f} s | {s.detail.replace('|', '/')} |" for s in steps]
    return "\n".join(lines + ["", f"{len(steps)} steps in {sum(s.seconds for s in steps):.0f} s."])
