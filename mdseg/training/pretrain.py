"""The offline stand-in for ImageNet: an encoder pretrained on a different task, on scenes that
no segmentation tree contains.

The paper's encoder starts from ImageNet classification weights. Offline there are none, so
``python -m mdseg pretrain`` trains the same kind of start: the encoder classifies the main
object of single-object scenes (20 classes, one label per image, like ImageNet's object-centric
photos) drawn from seeds >= :data:`~mdseg.world.synthetic.PRETRAIN_SEEDS`, a range no segmentation
tree may use. The weights ship in ``mdseg/model/weights/`` with a card (recipe, seed, data spec,
accuracy, the command that made them and their SHA-256), and are checked against that hash
whenever ``encoder_weights="synthetic"`` loads them.
"""
from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import segmentation_models_pytorch as smp
import torch
from safetensors.torch import save_file
from torch import nn
from torchvision.transforms import v2
from tqdm.auto import tqdm

from ..errors import OutputExists, SettingError
from ..model import checkpoint
from ..model.shipped import SYNTHETIC, WEIGHTS_DIR, card_path, sha256
from ..voc import CLASSES, IMAGENET_MEAN, IMAGENET_STD
from ..world.synthetic import PRETRAIN_SEEDS, render_scene
from .lr import learning_rate

TASKS = {"main-object": "classify the main object of single-object scenes (20 classes, one label per image, "
                        "like ImageNet's object-centric photos)",
         "classes-present": "say which of the 20 classes appear in scenes of several objects (image-level "
                            "labels only, multi-label)"}


@dataclass(frozen=True)
class PretrainSpec:
    """Everything the pretrained weights depend on (stored in their card)."""

    encoder: str = "tu-resnet10t"
    task: str = "main-object"  # or "classes-present" (multi-label, scenes with several objects)
    size: int = 64
    n_train: int = 30_000
    n_val: int = 1_000
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    crop_scale: tuple[float, float] = (0.25, 1.0)  # random resized crop: share of the image kept
    seed: int = PRETRAIN_SEEDS

    def __post_init__(self):
        if self.task not in TASKS:
            raise SettingError(f"Unknown pretraining task '{self.task}'; use one of {', '.join(TASKS)}.")
        if self.seed < PRETRAIN_SEEDS:
            raise SettingError(f"Pretraining seeds start at {PRETRAIN_SEEDS} (below are segmentation trees'); got {self.seed}.")


class Classifier(nn.Module):
    """An smp encoder (built exactly as :class:`~mdseg.MultiDecoderUNet` builds it) with global
    average pooling and a linear layer over the 20 object classes. (N, 3, H, W) -> (N, 20)."""

    def __init__(self, encoder: str):
        super().__init__()
        self.encoder = smp.Unet(encoder, encoder_weights=None, classes=1).encoder
        self.head = nn.Linear(self.encoder.out_channels[-1], len(CLASSES) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[-1].mean((2, 3)))


def scenes(spec: PretrainSpec, split: str, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The scenes of ``split`` ("train" or "val"): uint8 (N, H, W, 3) images and their labels:
    int64 (N,) main-object class - 1 (``main-object``) or float32 (N, 20) presence of each class
    (``classes-present``). Scene ``i`` of a split is drawn from ``(seed, split, i)``."""
    n, key = (spec.n_train, 0) if split == "train" else (spec.n_val, 1)
    single = spec.task == "main-object"
    images = np.empty((n, spec.size, spec.size, 3), np.uint8)
    labels = np.zeros(n, np.int64) if single else np.zeros((n, len(CLASSES) - 1), np.float32)
    for i in tqdm(range(n), desc=f"pretraining scenes ({split})", disable=not progress, unit="img"):
        scene = render_scene(np.random.default_rng([spec.seed, key, i]), spec.size, single=single)
        images[i] = (scene.rgb * 255).round().astype(np.uint8)
        if single:
            labels[i] = CLASSES.index(scene.main) - 1
        else:
            present = np.bincount(scene.labels.ravel(), minlength=len(CLASSES))[1:]
            labels[i] = present >= 0.005 * scene.labels.size  # visible, not a sliver
    return images, labels


def _cached_scenes(spec: PretrainSpec, split: str, out: Path, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`scenes`, cached in ``out`` (regenerated when the spec changed)."""
    path = out / f"scenes-{split}.npz"
    stamp = json.dumps({k: getattr(spec, k) for k in ("task", "size", "n_train", "n_val", "seed")}, sort_keys=True)
    if path.exists():
        cached = np.load(path)
        if str(cached["spec"]) == stamp:
            return torch.from_numpy(cached["images"]), torch.from_numpy(cached["labels"])
    images, labels = scenes(spec, split, progress)
    tmp = out / f".scenes-{split}.tmp.npz"
    np.savez(tmp, images=images, labels=labels, spec=stamp)
    tmp.replace(path)
    return torch.from_numpy(images), torch.from_numpy(labels)


def _batches(images: torch.Tensor, labels: torch.Tensor, batch: int, seed: int | None, size: int,
             crop_scale: tuple[float, float] = (0.25, 1.0)):
    """Normalised (B, 3, H, W) float batches; with a ``seed``, shuffled and augmented (random
    resized crop, flip), as ImageNet training does."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed)) if seed is not None \
        else torch.arange(len(images))
    augment = v2.Compose([v2.RandomResizedCrop(size, scale=crop_scale, antialias=True), v2.RandomHorizontalFlip()])
    for start in range(0, len(order) - (batch - 1 if seed is not None else 0), batch):
        index = order[start:start + batch]
        x = images[index].permute(0, 3, 1, 2)
        if seed is not None:
            x = torch.stack([augment(img) for img in x])
        x = v2.functional.normalize(x.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
        yield x, labels[index]


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, size: int) -> float:
    """On unaugmented images: top-1 accuracy (one label per image), or with presence labels the
    share of images whose top-scored class is present."""
    model.eval()
    hits = 0
    for x, y in _batches(images, labels, 256, None, size):
        top = model(x).argmax(1)
        hits += int((top == y).sum()) if y.dim() == 1 else int(y[torch.arange(len(y)), top].sum())
    model.train()
    return hits / len(labels)


def pretrain(spec: PretrainSpec, out: str | Path, progress: bool = True) -> dict:
    """Train the encoder on the classification task, resuming from ``out/checkpoint.safetensors``
    after the last finished epoch; writes ``out/encoder.safetensors`` (fp16 encoder weights) and
    ``out/encoder.json`` (the card) and returns the card."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train_x, train_y = _cached_scenes(spec, "train", out, progress)
    val_x, val_y = _cached_scenes(spec, "val", out, progress)
    torch.manual_seed(spec.seed)
    model = Classifier(spec.encoder)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    ckpt, history, done = out / "checkpoint.safetensors", [], 0
    if ckpt.exists():
        meta = checkpoint.read_meta(ckpt)
        if meta.get("spec") != json.loads(json.dumps(asdict(spec))):
            raise OutputExists(f"{out} holds pretraining with other settings ({meta.get('spec')}); "
                                  "use another --out or delete that folder.")
        checkpoint.load(ckpt, model, optimizer)
        done, history = meta["epoch"], meta["history"]
    steps = len(train_x) // spec.batch_size
    loss_fn = nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing) if spec.task == "main-object" \
        else nn.BCEWithLogitsLoss()
    for epoch in range(done, spec.epochs):
        bar = tqdm(_batches(train_x, train_y, spec.batch_size, spec.seed + epoch, spec.size, spec.crop_scale), total=steps,
                   desc=f"pretrain {spec.encoder} epoch {epoch + 1}/{spec.epochs}", disable=not progress, leave=False)
        total = 0.0
        for step, (x, y) in enumerate(bar):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(spec.lr, epoch * steps + step, spec.epochs * steps, "cosine")
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        history.append({"epoch": epoch + 1, "train_loss": total / steps,
                        "val_accuracy": accuracy(model, val_x, val_y, spec.size),
                        "seconds": time.perf_counter() - start})
        checkpoint.save(ckpt, model, {"spec": asdict(spec), "epoch": epoch + 1, "history": history}, optimizer)
        if progress:
            tqdm.write(f"pretrain epoch {epoch + 1}: loss {history[-1]['train_loss']:.3f}, "
                       f"val accuracy {history[-1]['val_accuracy']:.3f}")
    weights = out / "encoder.safetensors"
    save_file({k: v.detach().half().contiguous() for k, v in model.encoder.state_dict().items()
               if v.is_floating_point()} | {k: v for k, v in model.encoder.state_dict().items()
                                             if not v.is_floating_point()}, str(weights))
    card = {"encoder": spec.encoder, "weights": SYNTHETIC,
            "task": f"{TASKS[spec.task]}; synthetic scenes from seeds no segmentation tree uses",
            "spec": asdict(spec), "val_accuracy": history[-1]["val_accuracy"], "history": history,
            "command": _command(spec), "sha256": sha256(weights), "dtype": "float16",
            "torch": torch.__version__, "machine": f"{platform.machine()}, {torch.get_num_threads()} threads"}
    (out / "encoder.json").write_text(json.dumps(card, indent=1))
    return json.loads((out / "encoder.json").read_text())  # what the file holds (lists, not tuples)


def _command(spec: PretrainSpec) -> str:
    defaults = PretrainSpec(encoder=spec.encoder)
    flags = "".join(f" --{k.replace('_', '-')} {v}" for k, v in asdict(spec).items()
                    if k in ("encoder", "task", "epochs", "n_train", "size") and (k == "encoder" or v != getattr(defaults, k)))
    return f"python -m mdseg pretrain{flags} --install"


def install(out: str | Path, folder: Path = WEIGHTS_DIR, replace: bool = False) -> Path:
    """Copy ``out``'s encoder weights and card into ``folder`` (the package's by default), where
    ``encoder_weights="synthetic"`` finds them. Weights already installed for that encoder are
    replaced only with ``replace`` (every run trained on them would then start from others). Returns
    the installed card's path."""
    out = Path(out)
    card = json.loads((out / "encoder.json").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    target = card_path(card["encoder"], folder)
    if target.exists() and not replace:
        installed = json.loads(target.read_text())
        if installed.get("sha256") != card.get("sha256"):
            raise OutputExists(
                f"{target.with_suffix('.safetensors')} already holds {card['encoder']} weights (SHA-256 "
                f"{installed.get('sha256', '?')[:12]}, made by `{installed.get('command', '?')}`); installing others "
                "changes the start of every run that uses encoder_weights='synthetic', and runs trained on the old "
                "weights could no longer be compared with new ones. Pass --replace to install them anyway.")
    shutil.copyfile(out / "encoder.safetensors", target.with_suffix(".safetensors"))
    target.write_text(json.dumps(card, indent=1) + "\n")
    return target
