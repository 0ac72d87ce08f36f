"""Procedural scenes written in PASCAL VOC 2012's exact format, with their true depth.

Each scene is a pinhole view of a textured ground plane under a sky, with 1 to 4 objects
of the 20 VOC classes standing on the ground (aeroplanes and birds fly). Depth relates to
the picture the way it does in photos:

* apparent size is ``focal * real_height / distance`` and the ground-contact row is
  ``horizon + focal * camera_height / distance``, so depth can be read from one image;
* the ground texture shrinks with distance (texture gradient), haze rises with distance;
* objects are painted far to near, so nearer objects occlude farther ones, and every
  object outline is a depth discontinuity;
* colours and textures are drawn from one distribution for all classes and for the
  background, so only shape tells the classes apart.

Files (``root/VOCdevkit/VOC2012/``): ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png``
and ``SegmentationObject/<id>.png`` (palette PNGs, 255 on a thin band along object
boundaries), ``ImageSets/Segmentation/{train,val}.txt`` and ``TrueDepth/<id>.png``
(16-bit, depth in millimetres, sky at :data:`MAX_DEPTH_M`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .voc import CLASSES, IGNORE_INDEX, read_depth_png, save_label_png, voc_dir, write_depth_png

MAX_DEPTH_M = 50.0
TRUE_DEPTH_DIR = "TrueDepth"
DEPTH_SCALE_MM = 1000.0

Shape = Callable[[np.ndarray, np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------- shapes
# Each shape maps box coordinates (u in [-0.5, 0.5] left to right, v in [0, 1] bottom to
# top) to a boolean silhouette. They are deliberately built from the same few primitives.

def _ellipse(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _rect(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _ring(u, v, cu, cv, r_out, r_in, aspect):
    d = ((u - cu) * aspect) ** 2 + (v - cv) ** 2
    return (d <= r_out**2) & (d >= r_in**2)


def _triangle(u, v, a, b, c):
    def side(p, q):
        return (u - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (v - q[1])

    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    neg = (d1 < 0) | (d2 < 0) | (d3 < 0)
    pos = (d1 > 0) | (d2 > 0) | (d3 > 0)
    return ~(neg & pos)


def _legs(u, v, xs, width, top):
    out = np.zeros_like(u, dtype=bool)
    for x in xs:
        out |= _rect(u, v, x - width / 2, x + width / 2, 0.0, top)
    return out


SHAPES: dict[str, Shape] = {
    "aeroplane": lambda u, v: _ellipse(u, v, 0, 0.45, 0.5, 0.14)
    | _triangle(u, v, (-0.1, 0.45), (0.15, 0.45), (-0.05, 0.0))
    | _triangle(u, v, (0.3, 0.5), (0.48, 0.5), (0.45, 1.0)),
    "bicycle": lambda u, v: _ring(u, v, -0.28, 0.3, 0.3, 0.22, 1.6) | _ring(u, v, 0.28, 0.3, 0.3, 0.22, 1.6)
    | _triangle(u, v, (-0.28, 0.3), (0.0, 0.75), (0.05, 0.3)) & ~_triangle(u, v, (-0.2, 0.34), (0.0, 0.65), (0.0, 0.34))
    | _rect(u, v, -0.05, 0.12, 0.7, 0.8),
    "bird": lambda u, v: _ellipse(u, v, 0, 0.4, 0.32, 0.25) | _ellipse(u, v, 0.3, 0.68, 0.13, 0.16)
    | _triangle(u, v, (0.4, 0.72), (0.5, 0.66), (0.4, 0.62)) | _triangle(u, v, (-0.3, 0.4), (-0.5, 0.55), (-0.5, 0.3)),
    "boat": lambda u, v: _triangle(u, v, (-0.5, 0.3), (0.5, 0.3), (0.35, 0.0)) & (v >= 0)
    | _rect(u, v, -0.35, 0.35, 0.0, 0.3) & (np.abs(u) <= 0.5 - 0.5 * (0.3 - v))
    | _rect(u, v, -0.02, 0.02, 0.3, 1.0) | _triangle(u, v, (0.03, 0.95), (0.03, 0.35), (0.35, 0.35)),
    "bottle": lambda u, v: _rect(u, v, -0.5, 0.5, 0.0, 0.6) | _ellipse(u, v, 0, 0.6, 0.5, 0.15)
    | _rect(u, v, -0.18, 0.18, 0.6, 1.0),
    "bus": lambda u, v: _rect(u, v, -0.5, 0.5, 0.12, 1.0) & ~(_rect(u, v, 0.45, 0.5, 0.9, 1.0))
    | _ellipse(u, v, -0.3, 0.12, 0.08, 0.12) | _ellipse(u, v, 0.3, 0.12, 0.08, 0.12),
    "car": lambda u, v: _rect(u, v, -0.5, 0.5, 0.15, 0.55)
    | _triangle(u, v, (-0.3, 0.55), (0.3, 0.55), (0.15, 0.95)) & (v <= 0.95) & (u >= -0.2)
    | _ellipse(u, v, -0.3, 0.15, 0.1, 0.15) | _ellipse(u, v, 0.3, 0.15, 0.1, 0.15),
    "cat": lambda u, v: _ellipse(u, v, -0.05, 0.3, 0.35, 0.3) | _ellipse(u, v, 0.3, 0.7, 0.17, 0.2)
    | _triangle(u, v, (0.16, 0.8), (0.24, 0.8), (0.18, 1.0)) | _triangle(u, v, (0.34, 0.8), (0.44, 0.8), (0.42, 1.0))
    | _rect(u, v, -0.5, -0.4, 0.2, 0.75),
    "chair": lambda u, v: _rect(u, v, -0.4, 0.4, 0.45, 0.55) | _rect(u, v, 0.3, 0.4, 0.45, 1.0)
    | _legs(u, v, (-0.35, 0.35), 0.08, 0.5),
    "cow": lambda u, v: _rect(u, v, -0.35, 0.3, 0.4, 0.85) | _legs(u, v, (-0.3, -0.15, 0.12, 0.25), 0.08, 0.45)
    | _rect(u, v, 0.3, 0.5, 0.6, 0.9) | _triangle(u, v, (0.3, 0.9), (0.38, 0.9), (0.3, 1.0)),
    "diningtable": lambda u, v: _rect(u, v, -0.5, 0.5, 0.85, 1.0) | _legs(u, v, (-0.42, 0.42), 0.07, 0.9),
    "dog": lambda u, v: _ellipse(u, v, -0.05, 0.55, 0.35, 0.2) | _legs(u, v, (-0.3, -0.2, 0.1, 0.2), 0.07, 0.55)
    | _ellipse(u, v, 0.35, 0.8, 0.14, 0.17) | _rect(u, v, 0.38, 0.5, 0.7, 0.8),
    "horse": lambda u, v: _ellipse(u, v, -0.1, 0.55, 0.35, 0.15) | _legs(u, v, (-0.35, -0.25, 0.05, 0.15), 0.06, 0.55)
    | _triangle(u, v, (0.1, 0.5), (0.25, 0.65), (0.35, 0.95)) | _rect(u, v, 0.25, 0.5, 0.85, 1.0),
    "motorbike": lambda u, v: _ellipse(u, v, -0.3, 0.2, 0.2, 0.2) | _ellipse(u, v, 0.3, 0.2, 0.2, 0.2)
    | _ellipse(u, v, 0.0, 0.45, 0.35, 0.18) | _rect(u, v, 0.15, 0.25, 0.45, 0.8),
    "person": lambda u, v: _ellipse(u, v, 0, 0.9, 0.22, 0.1) | _rect(u, v, -0.3, 0.3, 0.45, 0.8)
    | _legs(u, v, (-0.15, 0.15), 0.2, 0.47) | _rect(u, v, -0.5, -0.3, 0.45, 0.78) | _rect(u, v, 0.3, 0.5, 0.45, 0.78),
    "pottedplant": lambda u, v: _triangle(u, v, (-0.3, 0.35), (0.3, 0.35), (0.0, -0.6)) & (v >= 0) & (np.abs(u) <= 0.2 + 0.1 * v / 0.35)
    | _ellipse(u, v, 0, 0.65, 0.45, 0.25) | _ellipse(u, v, -0.2, 0.85, 0.25, 0.15) | _ellipse(u, v, 0.2, 0.88, 0.25, 0.12),
    "sheep": lambda u, v: _ellipse(u, v, -0.25, 0.6, 0.2, 0.22) | _ellipse(u, v, 0.0, 0.65, 0.22, 0.25) | _ellipse(u, v, 0.2, 0.6, 0.2, 0.22)
    | _legs(u, v, (-0.3, -0.15, 0.1, 0.25), 0.06, 0.45) | _ellipse(u, v, 0.42, 0.7, 0.09, 0.12),
    "sofa": lambda u, v: _rect(u, v, -0.5, 0.5, 0.1, 0.5) | _rect(u, v, -0.45, 0.45, 0.5, 1.0)
    | _rect(u, v, -0.5, -0.38, 0.5, 0.7) | _rect(u, v, 0.38, 0.5, 0.5, 0.7) | _legs(u, v, (-0.45, 0.45), 0.05, 0.1),
    "train": lambda u, v: _rect(u, v, -0.5, 0.35, 0.1, 0.9) | _ellipse(u, v, 0.35, 0.5, 0.15, 0.4) & (u >= 0.35)
    | _rect(u, v, -0.3, -0.2, 0.9, 1.0) | _ellipse(u, v, -0.35, 0.08, 0.05, 0.08) | _ellipse(u, v, 0.2, 0.08, 0.05, 0.08),
    "tvmonitor": lambda u, v: _rect(u, v, -0.5, 0.5, 0.25, 1.0) | _rect(u, v, -0.06, 0.06, 0.08, 0.25)
    | _rect(u, v, -0.25, 0.25, 0.0, 0.08),
}

# class -> (real height in metres, width / height, flies)
GEOMETRY: dict[str, tuple[float, float, bool]] = {
    "aeroplane": (4.0, 2.2, True), "bicycle": (1.0, 1.6, False), "bird": (0.4, 1.3, True),
    "boat": (2.5, 1.1, False), "bottle": (0.35, 0.35, False), "bus": (3.0, 2.3, False),
    "car": (1.5, 2.1, False), "cat": (0.35, 1.2, False), "chair": (0.95, 0.7, False),
    "cow": (1.5, 1.6, False), "diningtable": (0.75, 1.8, False), "dog": (0.6, 1.4, False),
    "horse": (1.7, 1.3, False), "motorbike": (1.1, 1.6, False), "person": (1.7, 0.45, False),
    "pottedplant": (0.8, 0.7, False), "sheep": (0.9, 1.4, False), "sofa": (0.9, 2.0, False),
    "train": (3.5, 3.0, False), "tvmonitor": (0.5, 1.2, False),
}


@dataclass(frozen=True)
class SyntheticSpec:
    """What :func:`make_voc_tree` writes; stored as ``synthetic.json`` beside the tree."""

    n_train: int = 400
    n_val: int = 100
    size: int = 128
    seed: int = 0
    max_objects: int = 4
    boundary_px: int = 1
    jpeg_quality: int = 90


# ----------------------------------------------------------------------------- rendering
def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """One colour distribution for sky, ground and every class: shape, not colour, tells classes apart."""
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.05, 0.8)
    val = rng.uniform(0.25, 0.95)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
    return val - val * sat * np.clip(np.minimum(k, 4 - k), 0, 1)


def _texture(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A multiplicative texture in [0.7, 1.3] over coordinates ``a, b`` (flat, stripes or blotches)."""
    kind = rng.integers(3)
    if kind == 0:
        return np.ones_like(a)
    if kind == 1:
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.08, 0.3)
        return 1.0 + 0.25 * np.sign(np.sin(2 * np.pi * (a * np.cos(angle) + b * np.sin(angle)) / period))
    fa, fb, pa, pb = rng.uniform(4, 12), rng.uniform(4, 12), rng.uniform(0, 6.3), rng.uniform(0, 6.3)
    return 1.0 + 0.2 * np.sin(fa * a + pa) * np.sin(fb * b + pb)


def render_scene(rng: np.random.Generator, size: int, max_objects: int = 4):
    """Render one scene.

    Returns ``(rgb, labels, instances, depth)``: (H, W, 3) float in [0, 1], (H, W) uint8 class
    ids, (H, W) uint8 instance ids (0 = background) and (H, W) float32 depth in metres,
    before boundary bands are marked.
    """
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    focal = w * rng.uniform(0.9, 1.3)
    cam_h = rng.uniform(0.6, 2.0)  # low (indoor, pets) to standing eye height
    horizon = h * rng.uniform(0.3, 0.55)

    # ground plane and sky
    below = yy - horizon
    depth = np.where(below > 0.5, focal * cam_h / np.maximum(below, 1e-3), MAX_DEPTH_M)
    depth = np.minimum(depth, MAX_DEPTH_M).astype(np.float32)
    world_x = (xx - w / 2) * depth / focal
    ground_pattern = _texture(rng, world_x / 3.0, depth / 3.0)
    ground = _random_colour(rng)[None, None] * ground_pattern[..., None]
    sky_top, sky_low = _random_colour(rng), _random_colour(rng)
    t = np.clip(yy / max(horizon, 1.0), 0, 1)[..., None]
    sky = sky_top * (1 - t) + sky_low * t
    rgb = np.where((below > 0.5)[..., None], ground, sky)

    labels = np.zeros((h, w), np.uint8)
    instances = np.zeros((h, w), np.uint8)
    objects = []
    names = CLASSES[1:]
    for _ in range(int(rng.integers(1, max_objects + 1))):
        name = names[rng.integers(len(names))]
        real_h, aspect, flies = GEOMETRY[name]
        if flies:  # seen against the sky: size sets the distance, then altitude the row
            dist = focal * real_h / (h * rng.uniform(0.1, 0.5))
            bottom = rng.uniform(0.15 * h, horizon)
        else:  # stands on the ground: the contact row sets the distance
            bottom = rng.uniform(horizon + 0.08 * (h - horizon), 1.1 * h)
            dist = focal * cam_h / (bottom - horizon)
            too_big = focal * real_h / dist / (1.2 * h)
            if too_big > 1:  # would not fit in the frame: push it back along the ground
                dist *= too_big
                bottom = horizon + focal * cam_h / dist
        box_h = focal * real_h / dist
        box_w = box_h * aspect * rng.uniform(0.85, 1.15)
        centre = rng.uniform(0.0, w)
        objects.append((min(dist, MAX_DEPTH_M * 0.9), name, bottom, box_h, box_w, centre, bool(rng.integers(2))))

    objects.sort(key=lambda o: -o[0])  # painter's algorithm: far to near
    for index, (dist, name, bottom, box_h, box_w, centre, flip) in enumerate(objects, start=1):
        y0, y1 = int(max(np.floor(bottom - box_h), 0)), int(min(np.ceil(bottom), h))
        x0, x1 = int(max(np.floor(centre - box_w / 2), 0)), int(min(np.ceil(centre + box_w / 2), w))
        if y1 <= y0 or x1 <= x0:
            continue
        sub_y, sub_x = yy[y0:y1, x0:x1] + 0.5, xx[y0:y1, x0:x1] + 0.5
        u = (sub_x - centre) / box_w * (-1 if flip else 1)
        v = (bottom - sub_y) / box_h
        silhouette = SHAPES[name](u, v) & (v >= 0) & (v <= 1) & (np.abs(u) <= 0.5)
        if not silhouette.any():
            continue
        bulge = np.sqrt(np.clip(1 - (2 * u) ** 2, 0, 1) * np.clip(1 - (2 * v - 1) ** 2, 0, 1))
        thickness = 0.3 * box_w * dist / focal
        obj_depth = dist + thickness * (1 - bulge)  # nearest at the centre, rounding away to the outline
        colour = _random_colour(rng) * _texture(rng, u, v)[..., None]
        shaded = colour * (0.6 + 0.4 * bulge)[..., None]
        region = (slice(y0, y1), slice(x0, x1))
        rgb[region] = np.where(silhouette[..., None], shaded, rgb[region])
        depth[region] = np.where(silhouette, obj_depth, depth[region])
        labels[region] = np.where(silhouette, CLASSES.index(name), labels[region])
        instances[region] = np.where(silhouette, index, instances[region])

    haze_len = rng.uniform(15.0, 40.0)
    haze_colour = np.array([0.75, 0.78, 0.82]) * rng.uniform(0.8, 1.1)
    keep = np.exp(-depth / haze_len)[..., None]
    rgb = rgb * keep + haze_colour * (1 - keep)
    rgb = rgb + rng.normal(0, 0.015, rgb.shape)
    return np.clip(rgb, 0, 1), labels, _renumber(instances), depth


def _renumber(instances: np.ndarray) -> np.ndarray:
    """Consecutive instance ids 1..K over the objects that stayed visible."""
    visible = np.unique(instances)
    lookup = np.zeros(256, np.uint8)
    lookup[visible[visible > 0]] = np.arange(1, int((visible > 0).sum()) + 1)
    return lookup[instances]


def boundary_band(instances: np.ndarray, width: int = 1) -> np.ndarray:
    """VOC's 255 band along object outlines: the pixels on both sides of every change of
    instance id, grown by ``width - 1`` more pixels.

    Args:
        instances: (H, W) integer instance ids, 0 = background.
    Returns:
        (H, W) bool.
    """
    band = np.zeros(instances.shape, bool)
    horizontal = instances[:, 1:] != instances[:, :-1]
    vertical = instances[1:, :] != instances[:-1, :]
    band[:, 1:] |= horizontal
    band[:, :-1] |= horizontal
    band[1:, :] |= vertical
    band[:-1, :] |= vertical
    for _ in range(width - 1):
        grown = band.copy()
        grown[1:, :] |= band[:-1, :]
        grown[:-1, :] |= band[1:, :]
        grown[:, 1:] |= band[:, :-1]
        grown[:, :-1] |= band[:, 1:]
        band = grown
    return band


def make_voc_tree(root: str | Path, spec: SyntheticSpec = SyntheticSpec(), progress: bool = True) -> Path:
    """Write a synthetic VOC-format tree under ``root`` (the folder that will hold ``VOCdevkit``).

    Deterministic from ``spec.seed``: scene ``i`` depends only on ``(seed, i)``. A tree that
    already exists with the same spec is left as it is; another spec is refused.
    Returns the ``VOC2012`` folder.
    """
    base = voc_dir(root)
    stamp = base / "synthetic.json"
    if stamp.exists():
        existing = json.loads(stamp.read_text())
        if existing == asdict(spec):
            return base
        raise FileExistsError(
            f"{base} already holds a synthetic dataset made with {existing}, not {asdict(spec)}. "
            f"Choose another --root or delete {base.parent} to regenerate."
        )
    folders = {name: base / name for name in ("JPEGImages", "SegmentationClass", "SegmentationObject", TRUE_DEPTH_DIR)}
    for folder in (*folders.values(), base / "ImageSets" / "Segmentation"):
        folder.mkdir(parents=True, exist_ok=True)

    total = spec.n_train + spec.n_val
    ids = [f"syn_{i:06d}" for i in range(total)]
    for i, image_id in enumerate(tqdm(ids, desc="synthetic scenes", disable=not progress, unit="img")):
        rng = np.random.default_rng([spec.seed, i])
        rgb, labels, instances, depth = render_scene(rng, spec.size, spec.max_objects)
        band = boundary_band(instances, spec.boundary_px)
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
    return base


def read_true_depth(root: str | Path, image_id: str) -> np.ndarray:
    """True depth of a synthetic scene: (H, W) float32 in metres."""
    path = voc_dir(root) / TRUE_DEPTH_DIR / f"{image_id}.png"
    if not path.exists():
        raise FileNotFoundError(
            f"No true depth at {path}: only synthetic trees (python -m mdseg data synthetic) have {TRUE_DEPTH_DIR}/."
        )
    return read_depth_png(path).astype(np.float32) / DEPTH_SCALE_MM
