"""Procedural scenes written in PASCAL VOC 2012's exact format, with their true depth.

The world imitates VOC photos in what a segmentation model learns from; each property and its
real-world reason (``python -m mdseg data stats`` measures the result against real VOC):

* **Framing.** VOC photos are composed around a subject: the median image is about 40-45%
  foreground, and holds 1-3 objects (6,929 objects in 2,913 segmentation images, 2.4 per
  image, PASCAL VOC 2012 statistics) of one or two classes. Here every scene has a main subject
  whose box covers :data:`MAIN_AREA` of the frame, near the centre, often cut by the frame
  as in photos, plus :data:`EXTRA_OBJECTS` more objects, half of them of the same class (herds,
  groups of people), placed on the ground behind it at their perspective size. Nothing is
  smaller than :data:`MIN_HEIGHT` of the frame: VOC has few tiny objects.
* **The photographer frames the subject.** The camera stands at about the subject's height
  (crouching for a cat, standing for a horse), so the horizon falls near the subject and the
  ground plane behind it recedes (see :mod:`mdseg.world.scenes`).
* **Class appearance** (typical, overlapping colours, parts and textures): :mod:`mdseg.world.objects`.
* **Scene context** (indoor, pasture, street, water, sky, rail; each class in two or more,
  with documented probabilities) and background clutter: :mod:`mdseg.world.scenes`.
* **Depth geometry.** Metric depth from a pinhole camera: apparent size is
  ``focal * real_height / distance``, ground contact at ``horizon + focal * camera_height /
  distance``; a ground plane with texture in metres (texture gradient), a backdrop where the
  ground meets it (a room's wall, buildings, trees), sky at :data:`MAX_DEPTH_M`; objects and
  clutter are painted far to near, so nearer ones occlude farther ones and every outline is a
  depth discontinuity; objects are rounded (nearest at their centre); outdoor haze rises with
  distance.
* **Photographs.** Exposure and white balance vary per image, objects are shaded by one light,
  and sensor noise and JPEG compression are added.

Files (``root/VOCdevkit/VOC2012/``): ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png``
and ``SegmentationObject/<id>.png`` (palette PNGs, 255 on a thin band along object
boundaries), ``ImageSets/Segmentation/{train,val}.txt`` and ``TrueDepth/<id>.png``
(16-bit, depth in millimetres, sky at :data:`MAX_DEPTH_M`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..errors import MissingInput, OutputExists, SettingError
from ..voc import CLASSES, IGNORE_INDEX, read_depth_png, save_label_png, voc_dir, write_depth_png
from .objects import CLASS_LOOKS, ObjectClass, paint
from .scenes import CAMERA_HEIGHT, MAX_DEPTH_M, Camera, background, class_in, clutter_look, context_of, main_class

TRUE_DEPTH_DIR = "TrueDepth"
DEPTH_SCALE_MM = 1000.0
WORLD = "voc-like/2"  # bump when the generator draws other scenes from the same spec
PRETRAIN_SEEDS = 1_000_000  # seeds >= this are the pretraining world's, never a segmentation tree's

MAIN_AREA = (0.25, 1.4)  # main subject's box area / frame area (uniform; above 1 the frame cuts it)
EXTRA_OBJECTS = (0.3, 0.22, 0.16, 0.12, 0.08, 0.06, 0.04, 0.02)  # P(0, 1, 2, ... more objects than the main one)
SAME_CLASS = 0.5  # share of the other objects that repeat the main subject's class
MIN_HEIGHT = 0.1  # smallest box height, as a share of the frame
MAX_SIDE = 1.3  # largest box side, as a share of the frame
CLUTTER_ITEMS = (0.3, 0.35, 0.25, 0.1)  # P(0, 1, 2, 3 background things)


@dataclass(frozen=True)
class SyntheticSpec:
    """What :func:`make_voc_tree` writes; stored as ``synthetic.json`` beside the tree.
    ``seed`` must be below :data:`PRETRAIN_SEEDS` (those scenes are kept for pretraining)."""

    n_train: int = 400
    n_val: int = 100
    size: int = 128
    seed: int = 0
    boundary_px: int | None = None  # VOC's band: about 1% of the image side (5 px at 500 px); None = that
    jpeg_quality: int = 90
    world: str = WORLD

    def __post_init__(self):
        if not 0 <= self.seed < PRETRAIN_SEEDS:
            raise SettingError(f"Synthetic seed {self.seed} is outside 0..{PRETRAIN_SEEDS - 1}; seeds from "
                             f"{PRETRAIN_SEEDS} on are the pretraining world's (python -m mdseg pretrain).")


class Scene(NamedTuple):
    """One rendered scene: ``rgb`` (H, W, 3) float in [0, 1]; ``labels`` (H, W) uint8 class ids;
    ``instances`` (H, W) uint8 (0 = background); ``depth`` (H, W) float32 metres (before the
    boundary band is marked); the ``context`` and the ``main`` subject's class."""

    rgb: np.ndarray
    labels: np.ndarray
    instances: np.ndarray
    depth: np.ndarray
    context: str
    main: str


@dataclass
class _Item:
    """Something to paint: an object (``label`` > 0) or background clutter (``label`` 0)."""

    look: ObjectClass
    label: int
    dist: float
    bottom: float  # row of its box's lower edge
    box_h: float
    box_w: float
    centre: float  # column of its box's centre


def _box(look: ObjectClass, dist: float, focal: float, rng: np.random.Generator) -> tuple[float, float]:
    box_h = focal * look.height_m / dist
    return box_h, box_h * look.aspect * rng.uniform(0.85, 1.15)


def _frame_main(rng: np.random.Generator, name: str, context: str, size: int) -> tuple[_Item, Camera]:
    """Place the main subject the way a photographer frames it, and the camera with it."""
    look = CLASS_LOOKS[name]
    focal = size * rng.uniform(0.9, 1.4)
    box_h = size * min(np.sqrt(rng.uniform(*MAIN_AREA) / look.aspect), MAX_SIDE, MAX_SIDE / look.aspect)
    dist = focal * look.height_m / box_h
    box_h, box_w = _box(look, dist, focal, rng)
    centre = size * np.clip(rng.normal(0.5, 0.12), 0.2, 0.8)
    low, high = CAMERA_HEIGHT[context]
    if look.flies and context == "sky":  # in the air, seen from the ground: low horizon
        camera = Camera(focal, rng.uniform(low, high), size * rng.uniform(0.8, 1.3))
        bottom = size * rng.normal(0.5, 0.1) + box_h / 2
    else:  # on the ground, camera at about the subject's height; the top stays in the frame (faces,
        # heads, roofs), the frame cuts the bottom when the subject is large
        bottom = max(size * rng.uniform(0.02, 0.25) + box_h, size * rng.uniform(0.6, 0.95))
        height = float(np.clip(look.height_m * rng.uniform(0.5, 1.4), low, high))
        camera = Camera(focal, height, bottom - focal * height / dist)
    return _Item(look, CLASSES.index(name), dist, bottom, box_h, box_w, centre), camera


def _place(rng: np.random.Generator, look: ObjectClass, label: int, main: _Item, camera: Camera, size: int,
           flying: bool, nearer: float, farther: float) -> _Item | None:
    """Another thing standing (or flying) between ``nearer`` and ``farther`` times the main
    subject's distance, no farther than where it would look smaller than :data:`MIN_HEIGHT`;
    ``None`` when no such distance exists."""
    low = max(main.dist * nearer, camera.focal * look.height_m / (MAX_SIDE * size))
    high = min(main.dist * farther, camera.focal * look.height_m / (MIN_HEIGHT * size), 0.9 * MAX_DEPTH_M)
    if high <= low:
        return None
    dist = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    box_h, box_w = _box(look, dist, camera.focal, rng)
    bottom = rng.uniform(box_h, max(min(camera.horizon, size), box_h + 1)) if flying else camera.contact_row(dist)
    for _ in range(3):  # side by side rather than hidden behind the main subject, as people frame groups
        centre = rng.uniform(0, size)
        if abs(centre - main.centre) > (main.box_w + box_w) / 4 or dist < main.dist:
            break
    return _Item(look, label, dist, bottom, box_h, box_w, centre)


def render_scene(rng: np.random.Generator, size: int, single: bool = False) -> Scene:
    """Render one ``size`` x ``size`` scene (see the module docstring); ``single``: the main
    subject alone (with background clutter), as the pretraining task uses."""
    h = w = size
    name = main_class(rng)
    context = context_of(rng, name)
    main, camera = _frame_main(rng, name, context, size)
    items = [main]
    extra = 0 if single else rng.choice(len(EXTRA_OBJECTS), p=EXTRA_OBJECTS)
    for _ in range(extra):
        other = name if rng.uniform() < SAME_CLASS else class_in(rng, context)
        look = CLASS_LOOKS[other]
        item = _place(rng, look, CLASSES.index(other), main, camera, size, look.flies and context == "sky", 1.0, 4.0)
        items += [item] if item else []
    for _ in range(rng.choice(len(CLUTTER_ITEMS), p=CLUTTER_ITEMS)):
        item = _place(rng, clutter_look(rng, context)[1], 0, main, camera, size, False, 1.1, 6.0)
        items += [item] if item else []

    rgb, depth, backdrop_m = background(rng, context, camera, h, w, max(i.dist for i in items))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    labels = np.zeros((h, w), np.uint8)
    instances = np.zeros((h, w), np.uint8)
    light = rng.uniform(-1, 1)  # where the light comes from, left to right
    items.sort(key=lambda i: -i.dist)  # painter's algorithm: far to near
    for index, item in enumerate(items, start=1):
        y0, y1 = int(max(np.floor(item.bottom - item.box_h), 0)), int(min(np.ceil(item.bottom), h))
        x0, x1 = int(max(np.floor(item.centre - item.box_w / 2), 0)), int(min(np.ceil(item.centre + item.box_w / 2), w))
        if y1 <= y0 or x1 <= x0 or item.dist >= backdrop_m:
            continue
        flip = -1 if rng.uniform() < 0.5 else 1
        u = (xx[y0:y1, x0:x1] - item.centre) / item.box_w * flip
        v = (item.bottom - yy[y0:y1, x0:x1]) / item.box_h
        colours, silhouette = paint(rng, item.look, u, v, item.box_h)
        if not silhouette.any():
            continue
        bulge = np.sqrt(np.clip(1 - (2 * u) ** 2, 0, 1) * np.clip(1 - (2 * v - 1) ** 2, 0, 1))
        thickness = 0.3 * item.box_w * item.dist / camera.focal
        shade = 0.55 + 0.35 * bulge + 0.12 * light * u * flip
        region = (slice(y0, y1), slice(x0, x1))
        rgb[region] = np.where(silhouette[..., None], colours * shade[..., None], rgb[region])
        depth[region] = np.where(silhouette, item.dist + thickness * (1 - bulge), depth[region])
        labels[region] = np.where(silhouette, item.label, labels[region])
        instances[region] = np.where(silhouette, index if item.label else 0, instances[region])

    if context != "indoor":  # haze: far things fade towards the sky's colour
        keep = np.exp(-depth / rng.uniform(40.0, 150.0))[..., None]
        rgb = rgb * keep + np.array([0.78, 0.8, 0.84]) * (1 - keep)
    exposure = rng.uniform(0.75, 1.15) * rng.normal(1.0, 0.04, 3)  # brightness and white balance
    rgb = rgb * exposure + rng.normal(0, 0.015, rgb.shape)
    return Scene(np.clip(rgb, 0, 1), labels, _renumber(instances), np.minimum(depth, MAX_DEPTH_M).astype(np.float32),
                 context, name)


def _renumber(instances: np.ndarray) -> np.ndarray:
    """Consecutive instance ids 1..K over the objects that stayed visible."""
    visible = np.unique(instances)
    lookup = np.zeros(256, np.uint8)
    lookup[visible[visible > 0]] = np.arange(1, int((visible > 0).sum()) + 1)
    return lookup[instances]


def boundary_band(instances: np.ndarray, width: int = 1) -> np.ndarray:
    """VOC's 255 band along object outlines, ``width`` pixels wide in all: with 1, the pixel on the
    far side of every change of instance id (the background's, or the farther object's: ids grow
    from far to near); with 2, both sides; every 2 more, one more pixel on each side (an odd
    width above 1 is rounded down).

    Args:
        instances: (H, W) integer instance ids, 0 = background, larger = nearer.
    Returns:
        (H, W) bool.
    """
    band = np.zeros(instances.shape, bool)
    for axis in (0, 1):
        a = instances.take(range(0, instances.shape[axis] - 1), axis)
        b = instances.take(range(1, instances.shape[axis]), axis)
        near_first, near_second = (a > b), (b > a)
        lead = [slice(None)] * 2
        lead[axis] = slice(0, -1)
        trail = [slice(None)] * 2
        trail[axis] = slice(1, None)
        band[tuple(lead)] |= near_second | (near_first if width >= 2 else False)
        band[tuple(trail)] |= near_first | (near_second if width >= 2 else False)
    for _ in range(max(width - 2, 0) // 2):
        grown = band.copy()
        grown[1:, :] |= band[:-1, :]
        grown[:-1, :] |= band[1:, :]
        grown[:, 1:] |= band[:, :-1]
        grown[:, :-1] |= band[:, 1:]
        band = grown
    return band


STARTED = "synthetic.started"  # written before the first scene: the tree being generated is mdseg's own


def make_voc_tree(root: str | Path, spec: SyntheticSpec = SyntheticSpec(), progress: bool = True) -> Path:
    """Write a synthetic VOC-format tree under ``root`` (the folder that will hold ``VOCdevkit``); returns
    its ``VOC2012`` folder. Deterministic from ``spec.seed``: scene ``i`` depends only on ``(seed, i)``. A
    tree that already exists with the same spec is left as it is; another spec, or a tree mdseg did not make, is refused."""
    base = voc_dir(root)
    stamp = base / "synthetic.json"
    started = base / STARTED
    if not stamp.exists() and not started.exists() and base.is_dir() and any(base.iterdir()):
        raise OutputExists(f"{base} holds a VOC tree that mdseg did not generate (no synthetic.json): a synthetic profile "
                           "never writes into it (it would add scenes to real data and rewrite its split lists). Pass "
                           "--data (or --root) another folder, or use a profile that reads real VOC 2012 (colab, gpu).")
    if stamp.exists():
        existing = json.loads(stamp.read_text())
        if existing == asdict(spec):
            return base
        raise OutputExists(f"{base} already holds a synthetic dataset made with {existing}, not {asdict(spec)}. "
                           f"Choose another --root or delete {base.parent} to regenerate.")
    folders = {name: base / name for name in ("JPEGImages", "SegmentationClass", "SegmentationObject", TRUE_DEPTH_DIR)}
    for folder in (*folders.values(), base / "ImageSets" / "Segmentation"):
        folder.mkdir(parents=True, exist_ok=True)
    started.write_text(json.dumps(asdict(spec)))  # this tree is mdseg's own: an interrupted run may resume it

    total = spec.n_train + spec.n_val
    ids = [f"syn_{i:06d}" for i in range(total)]
    for i, image_id in enumerate(tqdm(ids, desc="synthetic scenes", disable=not progress, unit="img")):
        rng = np.random.default_rng([spec.seed, i])
        rgb, labels, instances, depth, *_ = render_scene(rng, spec.size)
        band = boundary_band(instances, spec.boundary_px or max(1, round(spec.size / 100)))
        labels[band], instances[band] = IGNORE_INDEX, IGNORE_INDEX
        Image.fromarray((rgb * 255).round().astype(np.uint8)).save(
            folders["JPEGImages"] / f"{image_id}.jpg", quality=spec.jpeg_quality
        )
        save_label_png(labels, folders["SegmentationClass"] / f"{image_id}.png")
        save_label_png(instances, folders["SegmentationObject"] / f"{image_id}.png")
        write_depth_png(np.round(depth * DEPTH_SCALE_MM), folders[TRUE_DEPTH_DIR] / f"{image_id}.png")

    splits = base / "ImageSets" / "Segmentation"
    (splits / "train.txt").write_text("\n".join(ids[: spec.n_train]) + "\n")
    (splits / "val.txt").write_text("\n".join(ids[spec.n_train :]) + "\n")
    stamp.write_text(json.dumps(asdict(spec)))  # written last: its presence means the tree is complete
    started.unlink(missing_ok=True)
    return base


def read_true_depth(root: str | Path, image_id: str) -> np.ndarray:
    """True depth of a synthetic scene: (H, W) float32 in metres."""
    path = voc_dir(root) / TRUE_DEPTH_DIR / f"{image_id}.png"
    if not path.exists():
        raise MissingInput(
            f"No true depth at {path}: only synthetic trees (python -m mdseg data synthetic) have {TRUE_DEPTH_DIR}/."
        )
    return read_depth_png(path).astype(np.float32) / DEPTH_SCALE_MM
