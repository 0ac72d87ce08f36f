"""Scene contexts of the synthetic world: which classes appear where, and each context's
background (ground, backdrop, sky, clutter) with its true depth.

Why (each a property of VOC photos):

* **Context is informative but not decisive.** Cows stand on pasture, sofas indoors, boats on
  water; but a dog may be indoors, on grass or in a street, and grass is also where people,
  horses and birds are. :data:`CLASS_CONTEXTS` gives every class at least two contexts.
* **Class frequencies follow VOC.** :data:`VOC_IMAGES_PER_CLASS` (segmentation trainval images
  containing each class, PASCAL VOC 2012 dataset statistics, host.robots.ox.ac.uk/pascal/VOC/
  voc2012/dbstats.html) sets how often each class is the main subject: person in about a
  third of the images, every other class in 4-9%.
* **Backgrounds are not empty.** Walls with windows and doors, buildings, tree lines, fences,
  lamp posts and bushes are background (class 0): a model must learn that not every blob is
  an object, and that a green blob can be a bush as well as a potted plant.
* **Depth geometry of real scenes.** A ground plane seen by a pinhole camera (depth
  ``focal * camera_height / (row - horizon)``), a fronto-parallel backdrop (a room's back wall,
  building fronts, a tree line) where the ground meets it, sky at :data:`MAX_DEPTH_M`;
  ground texture laid out in metres, so it shrinks with distance (texture gradient).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .drawing import Choices, choose, colour, ellipse, legs, rect, smooth_noise, triangle
from .objects import ObjectClass

MAX_DEPTH_M = 50.0  # sky and anything farther

VOC_IMAGES_PER_CLASS: dict[str, int] = {
    "aeroplane": 178, "bicycle": 144, "bird": 208, "boat": 150, "bottle": 183, "bus": 152, "car": 255,
    "cat": 250, "chair": 271, "cow": 135, "diningtable": 157, "dog": 249, "horse": 147, "motorbike": 157,
    "person": 888, "pottedplant": 167, "sheep": 120, "sofa": 183, "train": 167, "tvmonitor": 157,
}

CONTEXTS = ("indoor", "pasture", "street", "water", "sky", "rail")

# P(context | class): where photos of each class are taken (every class in >= 2 contexts).
CLASS_CONTEXTS: dict[str, dict[str, float]] = {
    "aeroplane": {"sky": 0.7, "street": 0.3},  # in flight, or parked on tarmac
    "bicycle": {"street": 0.7, "pasture": 0.2, "indoor": 0.1},
    "bird": {"sky": 0.35, "pasture": 0.3, "water": 0.25, "indoor": 0.1},
    "boat": {"water": 0.85, "street": 0.15},  # afloat, or in a harbour / on a trailer
    "bottle": {"indoor": 0.9, "pasture": 0.1},  # table tops, picnics
    "bus": {"street": 0.9, "pasture": 0.1},  # city, country road
    "car": {"street": 0.85, "pasture": 0.15},
    "cat": {"indoor": 0.75, "pasture": 0.15, "street": 0.1},
    "chair": {"indoor": 0.85, "pasture": 0.15},  # garden chairs
    "cow": {"pasture": 0.9, "street": 0.1},
    "diningtable": {"indoor": 0.9, "pasture": 0.1},
    "dog": {"indoor": 0.45, "pasture": 0.35, "street": 0.2},
    "horse": {"pasture": 0.85, "street": 0.15},
    "motorbike": {"street": 0.8, "pasture": 0.2},
    "person": {"street": 0.35, "indoor": 0.35, "pasture": 0.15, "water": 0.1, "rail": 0.05},
    "pottedplant": {"indoor": 0.8, "street": 0.2},
    "sheep": {"pasture": 0.95, "street": 0.05},
    "sofa": {"indoor": 0.95, "street": 0.05},
    "train": {"rail": 0.85, "street": 0.15},  # tracks, trams in streets
    "tvmonitor": {"indoor": 0.95, "street": 0.05},
}


def main_class(rng: np.random.Generator) -> str:
    """The main subject's class, as often as VOC has images of it."""
    return choose(rng, tuple(VOC_IMAGES_PER_CLASS.items()))


def context_of(rng: np.random.Generator, name: str) -> str:
    return choose(rng, tuple(CLASS_CONTEXTS[name].items()))


def class_in(rng: np.random.Generator, context: str) -> str:
    """Another object's class in ``context``: P(class | context) by Bayes from the tables above."""
    return choose(rng, tuple((c, n * CLASS_CONTEXTS[c].get(context, 0.0)) for c, n in VOC_IMAGES_PER_CLASS.items()
                             if context in CLASS_CONTEXTS[c]))


@dataclass(frozen=True)
class Camera:
    """A level pinhole camera: ``focal`` in pixels, ``height`` above the ground in metres and
    the ``horizon`` row (may lie outside the image when the subject is framed from close by)."""

    focal: float
    height: float
    horizon: float

    def ground_depth(self, row: np.ndarray) -> np.ndarray:
        """Depth (m) of the ground seen at ``row``; ``inf`` at and above the horizon."""
        below = row - self.horizon
        return np.where(below > 0.5, self.focal * self.height / np.maximum(below, 1e-3), np.inf)

    def contact_row(self, distance: float) -> float:
        """The row where something standing ``distance`` metres away touches the ground."""
        return self.horizon + self.focal * self.height / distance


# Camera height (m) per context: crouching for pets and tables indoors, standing eye level outside.
CAMERA_HEIGHT: dict[str, tuple[float, float]] = {
    "indoor": (0.4, 1.7), "pasture": (0.8, 2.0), "street": (1.0, 2.0), "water": (1.0, 3.0),
    "sky": (1.2, 2.0), "rail": (1.2, 2.5),
}

# Background things (class 0) that stand in each context: size as in :class:`ObjectClass`.
CLUTTER: dict[str, ObjectClass] = {
    "cupboard": ObjectClass(1.8, 0.55, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.0, 1.0)),
        ("dark", lambda u, v: rect(u, v, -0.02, 0.02, 0.05, 0.95) | rect(u, v, -0.45, 0.45, 0.48, 0.5))),
        {"body": (("wood", 3), ("white", 2), ("dark_brown", 1), ("cream", 1)), "dark": (("dark_brown", 1), ("grey", 1))},
        (("wood", 1), ("smooth", 1))),
    "lamp": ObjectClass(1.6, 0.3, False, (
        ("dark", lambda u, v: rect(u, v, -0.04, 0.04, 0.0, 0.8) | rect(u, v, -0.3, 0.3, 0.0, 0.03)),
        ("body", lambda u, v: triangle(u, v, (-0.5, 0.78), (0.5, 0.78), (0.0, 1.3)) & (v <= 1.0))),
        {"body": (("cream", 2), ("white", 2), ("yellow", 1), ("beige", 1)), "dark": (("black", 1), ("silver", 1))}),
    "bush": ObjectClass(1.0, 1.5, False, (
        ("body", lambda u, v: ellipse(u, v, 0, 0.45, 0.5, 0.45) | ellipse(u, v, -0.2, 0.7, 0.25, 0.3)),),
        {"body": (("dark_green", 3), ("green", 2), ("olive", 1))}, (("foliage", 1),)),
    "tree": ObjectClass(6.0, 0.6, False, (
        ("trunk", lambda u, v: rect(u, v, -0.06, 0.06, 0.0, 0.5)),
        ("body", lambda u, v: ellipse(u, v, 0, 0.68, 0.5, 0.32))),
        {"body": (("dark_green", 3), ("green", 2), ("olive", 1)), "trunk": (("dark_brown", 2), ("brown", 1))},
        (("foliage", 1),)),
    "fence": ObjectClass(1.1, 4.0, False, (
        ("body", lambda u, v: legs(u, v, (-0.45, -0.15, 0.15, 0.45), 0.03, 1.0)
         | rect(u, v, -0.5, 0.5, 0.45, 0.55) | rect(u, v, -0.5, 0.5, 0.85, 0.95)),),
        {"body": (("wood", 2), ("white", 2), ("dark_brown", 1), ("grey", 1))}, (("wood", 1),)),
    "rock": ObjectClass(0.6, 1.5, False, (("body", lambda u, v: ellipse(u, v, 0, 0.4, 0.5, 0.6)),),
                        {"body": (("grey", 3), ("dark_grey", 1), ("tan", 1))}, (("wool", 1),)),
    "lamppost": ObjectClass(4.5, 0.15, False, (
        ("body", lambda u, v: rect(u, v, -0.12, 0.12, 0.0, 1.0) | rect(u, v, -0.5, 0.12, 0.93, 1.0)),),
        {"body": (("black", 2), ("dark_grey", 2), ("dark_green", 1))}),
    "sign": ObjectClass(2.6, 0.3, False, (
        ("dark", lambda u, v: rect(u, v, -0.06, 0.06, 0.0, 0.75)),
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.72, 1.0))),
        {"body": (("blue", 2), ("red", 2), ("white", 1), ("yellow", 1), ("green", 1)),
         "dark": (("silver", 1), ("grey", 1))}),
    "bin": ObjectClass(1.0, 0.6, False, (("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.0, 1.0)),),
                       {"body": (("dark_green", 2), ("grey", 2), ("black", 1), ("blue", 1))}),
    "buoy": ObjectClass(0.8, 0.8, False, (("body", lambda u, v: ellipse(u, v, 0, 0.45, 0.5, 0.45)),),
                        {"body": (("red", 2), ("orange", 2), ("yellow", 1), ("white", 1))}),
    "post": ObjectClass(6.0, 0.06, False, (("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.0, 1.0)),),
                        {"body": (("grey", 2), ("silver", 1), ("dark_grey", 1))}),
}
CONTEXT_CLUTTER: dict[str, Choices] = {
    "indoor": (("cupboard", 2), ("lamp", 1)), "pasture": (("bush", 3), ("tree", 2), ("fence", 2), ("rock", 1)),
    "street": (("lamppost", 2), ("sign", 1), ("bin", 1), ("tree", 1)), "water": (("buoy", 1),),
    "sky": (("tree", 1),), "rail": (("post", 3), ("bush", 1)),
}

GROUND: dict[str, Choices] = {
    "indoor": (("wood", 3), ("tan", 1), ("beige", 2), ("grey", 1), ("dark_red", 1), ("brown", 1), ("navy", 0.5)),
    "pasture": (("green", 4), ("olive", 2), ("dark_green", 1), ("tan", 1)),
    "street": (("dark_grey", 3), ("grey", 2)),
    "water": (("blue", 2), ("teal", 2), ("navy", 1), ("grey", 1), ("dark_green", 0.5)),
    "sky": (("green", 1), ("grey", 1), ("olive", 1)),
    "rail": (("grey", 2), ("brown", 1), ("dark_grey", 1), ("tan", 1)),
}
WALLS: Choices = (("white", 3), ("cream", 3), ("beige", 2), ("sky_blue", 1), ("pink", 0.5), ("yellow", 0.5),
                  ("grey", 1), ("green", 0.3))
FACADES: Choices = (("terracotta", 2), ("dark_red", 1), ("beige", 2), ("grey", 2), ("white", 1), ("cream", 1),
                    ("brown", 1))
SKIES = ("clear", "overcast", "sunset")


def _sky(rng: np.random.Generator, rows: np.ndarray, horizon: float, h: int) -> np.ndarray:
    """Sky colour per row: deep at the top, paler at the horizon; (H, 1, 3)."""
    kind = SKIES[rng.choice(3, p=[0.6, 0.3, 0.1])]
    top, low = {"clear": (colour(rng, "sky_blue") * 0.8, np.array([0.85, 0.9, 0.95])),
                "overcast": (colour(rng, "silver"), colour(rng, "white")),
                "sunset": (colour(rng, "navy") * 1.5, colour(rng, "orange"))}[kind]
    t = np.clip(rows / max(horizon, h * 0.3), 0, 1)[..., None]
    return top * (1 - t) + low * t


def _ground(rng: np.random.Generator, context: str, depth: np.ndarray, world_x: np.ndarray) -> np.ndarray:
    """Ground colour laid out in metres (so its texture shrinks with distance): (H, W, 3)."""
    base = colour(rng, choose(rng, GROUND[context]))
    z = np.where(np.isfinite(depth), depth, 0.0)
    noise = smooth_noise(rng, depth.shape, 0.6)
    if context == "indoor":
        kind = rng.integers(3)  # planks, tiles, carpet
        if kind == 0:
            pattern = 1 + 0.12 * np.sign(np.sin(2 * np.pi * world_x / 0.3))
        elif kind == 1:
            pattern = 1 + 0.1 * np.sign(np.sin(2 * np.pi * world_x / 0.8) * np.sin(2 * np.pi * z / 0.8))
        else:
            pattern = 1 + 0.05 * noise
        return base * pattern[..., None]
    if context == "street":
        rgb = base * (1 + 0.06 * noise)[..., None]
        marking = (np.abs(world_x - rng.uniform(-3, 3)) < 0.08) & (np.sin(2 * np.pi * z / 6.0) > -0.2)
        kerb = world_x > rng.uniform(2.5, 5.0)
        rgb = np.where(kerb[..., None], colour(rng, choose(rng, (("silver", 1), ("beige", 1)))), rgb)
        return np.where(marking[..., None], colour(rng, choose(rng, (("white", 3), ("yellow", 1)))), rgb)
    if context == "water":
        ripples = 1 + 0.12 * np.sin(2 * np.pi * z / 0.7 + 2 * noise) + 0.05 * noise
        return base * ripples[..., None]
    if context == "rail":
        rgb = base * (1 + 0.15 * noise)[..., None]
        sleepers = (np.abs(world_x) < 1.3) & (np.sin(2 * np.pi * z / 0.6) > 0.3)
        rgb = np.where(sleepers[..., None], colour(rng, choose(rng, (("dark_brown", 1), ("grey", 1)))), rgb)
        rails = np.minimum(np.abs(world_x - 0.72), np.abs(world_x + 0.72)) < 0.05
        return np.where(rails[..., None], colour(rng, "silver"), rgb)
    grass = 1 + 0.1 * noise + 0.08 * smooth_noise(rng, depth.shape, 3)
    return base * grass[..., None]


def _backdrop(rng: np.random.Generator, context: str, cam: Camera, h: int, w: int, nearest_m: float
              ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """A vertical backdrop where the ground meets it: ``(distance, top_row (W,), rgb (H, W, 3))``,
    or ``None`` for an open horizon. ``nearest_m``: it stands behind everything up to there."""
    xs = np.arange(w) + 0.5
    if context == "indoor":
        dist = nearest_m + rng.uniform(1.0, 4.0)
        rgb = np.broadcast_to(colour(rng, choose(rng, WALLS)), (h, w, 3)).copy()
        rows, cols = np.mgrid[0:h, 0:w] + 0.5
        wx, wy = (cols - w / 2) * dist / cam.focal, cam.height + (cam.horizon - rows) * dist / cam.focal
        for _ in range(rng.integers(0, 3)):  # windows, doors, pictures on the wall
            kind = rng.integers(3)
            cx = rng.uniform(-3, 3)
            size, bottom = [(1.2, 0.9), (0.9, 0.0), (0.6, 1.2)][kind]
            height = [1.2, 2.0, 0.5][kind]
            shape = (np.abs(wx - cx) < size / 2) & (wy > bottom) & (wy < bottom + height)
            paint = colour(rng, choose(rng, [(("sky_blue", 2), ("white", 1)), (("wood", 2), ("white", 1)),
                                             (("red", 1), ("blue", 1), ("yellow", 1), ("green", 1))][kind]))
            rgb = np.where(shape[..., None], paint, rgb)
        return dist, np.full(w, -np.inf), rgb
    if context in ("pasture", "rail") and rng.uniform() < 0.7 or context == "water" and rng.uniform() < 0.5:
        dist = max(nearest_m + 5, rng.uniform(25, 45))
        height = rng.uniform(3, 12) + 1.5 * np.sin(xs / w * rng.uniform(4, 12) + rng.uniform(0, 6)) \
            + 1.0 * smooth_noise(rng, (1, w), 2)[0]
        if context == "water":
            height = height * 0.4
        rgb = colour(rng, choose(rng, (("dark_green", 3), ("green", 1), ("olive", 1))))
        rgb = rgb * (1 + 0.15 * smooth_noise(rng, (h, w), 0.8))[..., None]
        return min(dist, MAX_DEPTH_M * 0.95), cam.horizon - cam.focal * (height - cam.height) / dist, rgb
    if context == "street":
        dist = max(nearest_m + 5, rng.uniform(15, 40))
        edges = np.cumsum(rng.uniform(6, 15, 12)) - rng.uniform(0, 15)
        world = (xs - w / 2) * dist / cam.focal
        block = np.searchsorted(edges, world)
        heights = rng.uniform(6, 25, 13)[block]
        colours = np.stack([colour(rng, choose(rng, FACADES)) for _ in range(13)])[block]
        rows = np.arange(h)[:, None] + 0.5
        wy = cam.height + (cam.horizon - rows) * dist / cam.focal
        windows = (np.sin(2 * np.pi * wy / 3.0) > 0.2) & (np.sin(2 * np.pi * world[None] / 2.5) > 0.1) & (wy > 1.5)
        rgb = np.where(windows[..., None], colour(rng, choose(rng, (("dark_grey", 2), ("sky_blue", 1)))),
                       np.broadcast_to(colours[None], (h, w, 3)))
        return min(dist, MAX_DEPTH_M * 0.95), cam.horizon - cam.focal * (heights - cam.height) / dist, rgb
    return None


def background(rng: np.random.Generator, context: str, cam: Camera, h: int, w: int, nearest_m: float
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """Paint a context's background and its depth.

    Returns ``(rgb, depth, backdrop_m)``: (H, W, 3) float in [0, 1], (H, W) float32 metres and
    the distance of the backdrop (objects must stand nearer; ``MAX_DEPTH_M`` when open).
    """
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    depth = cam.ground_depth(rows)
    world_x = (cols - w / 2) * np.where(np.isfinite(depth), depth, 0) / cam.focal
    rgb = np.where(np.isfinite(depth)[..., None], _ground(rng, context, depth, world_x),
                   _sky(rng, rows[:, :1], cam.horizon, h))
    if context != "indoor":
        clouds = (smooth_noise(rng, (h, w), h * 0.06) > rng.uniform(0.8, 2.5)) & ~np.isfinite(depth)
        rgb = np.where(clouds[..., None], colour(rng, "white"), rgb)
    depth = np.where(np.isfinite(depth), depth, MAX_DEPTH_M)
    backdrop = _backdrop(rng, context, cam, h, w, nearest_m)
    if backdrop is None:
        return rgb, np.minimum(depth, MAX_DEPTH_M).astype(np.float32), MAX_DEPTH_M
    dist, top, paint = backdrop
    covered = (depth > dist) & (rows >= top[None, :])
    rgb = np.where(covered[..., None], paint, rgb)
    depth = np.where(covered, dist, depth)
    return rgb, np.minimum(depth, MAX_DEPTH_M).astype(np.float32), dist


def clutter_look(rng: np.random.Generator, context: str) -> tuple[str, ObjectClass]:
    name = choose(rng, CONTEXT_CLUTTER[context])
    return name, CLUTTER[name]
