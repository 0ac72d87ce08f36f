"""The 20 VOC classes as the synthetic world draws them: real size, silhouette built from
coloured parts, typical colours and textures.

Why it looks like this (each a property of VOC photos that a segmentation model learns from):

* **Shape from parts.** A person is a head of skin above clothes above trousers, a car a body
  with dark windows and black wheels, a potted plant foliage over a pot. Parts give a class its
  typical layout, not just an outline.
* **Typical colours that overlap.** Each part draws its colour from a short list of what that
  class usually looks like in photos (cows black, brown, white or patched; buses yellow, red,
  white or blue). The lists overlap on purpose: white is a sheep, a boat, an aeroplane, a car
  or a sofa; brown is a dog, a horse, a chair or a table; dark parts (wheels, windows, screens)
  are shared by many classes. So colour narrows a pixel's class down but never names it
  (:func:`mdseg.study.stats.colour_only_miou` measures how far colour alone gets).
* **Texture by material.** Fur, wool, patches, wood grain, foliage and smooth paint, as
  multiplicative patterns over the body colour.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .drawing import Choices, Shape, choose, colour, ellipse, legs, rect, ring, texture, triangle


# ----------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class ObjectClass:
    """How the generator draws one class.

    Attributes:
        height_m: typical real height (sets apparent size from distance).
        aspect: width / height of its box.
        flies: seen in the air (aeroplane, bird) rather than standing on the ground.
        parts: ``(role, shape)`` pairs painted in order; the class is their union.
        colours: role -> ``(colour name, weight)`` choices; role ``body`` also gets a texture.
        textures: ``(texture, weight)`` choices for the body (see :func:`texture`).
    """

    height_m: float
    aspect: float
    flies: bool
    parts: tuple[tuple[str, Shape], ...]
    colours: dict[str, Choices]
    textures: Choices = (("smooth", 1.0),)


DARK: Choices = (("black", 3), ("dark_grey", 1))
GLASS: Choices = (("black", 2), ("dark_grey", 2), ("navy", 1), ("sky_blue", 0.5))
FUR: Choices = (("fur", 3), ("smooth", 1))

CLASS_LOOKS: dict[str, ObjectClass] = {
    "aeroplane": ObjectClass(4.0, 2.2, True, (
        ("body", lambda u, v: ellipse(u, v, 0, 0.45, 0.5, 0.14)),
        ("body", lambda u, v: triangle(u, v, (-0.12, 0.45), (0.15, 0.45), (-0.05, 0.0))),
        ("accent", lambda u, v: triangle(u, v, (0.3, 0.5), (0.48, 0.5), (0.45, 1.0))),
        ("dark", lambda u, v: rect(u, v, -0.32, 0.3, 0.47, 0.5)),
    ), {"body": (("white", 6), ("silver", 3), ("grey", 1), ("blue", 0.5), ("red", 0.5), ("yellow", 0.5)),
        "accent": (("red", 2), ("blue", 2), ("navy", 1), ("white", 1), ("yellow", 1)), "dark": GLASS},
        (("smooth", 2), ("metal", 1))),
    "bicycle": ObjectClass(1.0, 1.6, False, (
        ("dark", lambda u, v: ring(u, v, -0.28, 0.3, 0.3, 0.21, 1.6) | ring(u, v, 0.28, 0.3, 0.3, 0.21, 1.6)),
        ("body", lambda u, v: triangle(u, v, (-0.28, 0.3), (0.0, 0.75), (0.05, 0.3))
         & ~triangle(u, v, (-0.19, 0.35), (0.0, 0.64), (0.0, 0.35))),
        ("body", lambda u, v: rect(u, v, -0.02, 0.04, 0.3, 0.78) | rect(u, v, 0.05, 0.3, 0.68, 0.76)),
        ("dark", lambda u, v: rect(u, v, -0.1, 0.06, 0.78, 0.84) | rect(u, v, 0.22, 0.3, 0.76, 0.95)),
    ), {"body": (("red", 2), ("blue", 2), ("black", 2), ("silver", 1), ("green", 1), ("yellow", 1),
                 ("white", 1)), "dark": DARK}, (("smooth", 1), ("metal", 1))),
    "bird": ObjectClass(0.4, 1.3, True, (
        ("body", lambda u, v: ellipse(u, v, 0, 0.4, 0.32, 0.25) | ellipse(u, v, 0.3, 0.68, 0.13, 0.16)
         | triangle(u, v, (-0.3, 0.42), (-0.5, 0.58), (-0.5, 0.3))),
        ("wing", lambda u, v: ellipse(u, v, -0.08, 0.48, 0.2, 0.1)),
        ("beak", lambda u, v: triangle(u, v, (0.4, 0.72), (0.5, 0.66), (0.4, 0.62))),
    ), {"body": (("brown", 3), ("grey", 2), ("black", 2), ("white", 2), ("blue", 0.5), ("yellow", 0.5),
                 ("red", 0.5)), "wing": (("dark_brown", 2), ("black", 1), ("grey", 1), ("white", 1)),
        "beak": (("orange", 2), ("yellow", 2), ("black", 1))}, (("feathers", 2), ("smooth", 1))),
    "boat": ObjectClass(2.5, 1.1, False, (
        ("body", lambda u, v: (triangle(u, v, (-0.5, 0.3), (0.5, 0.3), (0.35, 0.0)) & (v >= 0))
         | (rect(u, v, -0.35, 0.35, 0.0, 0.3) & (np.abs(u) <= 0.5 - 0.5 * (0.3 - v)))),
        ("mast", lambda u, v: rect(u, v, -0.02, 0.02, 0.3, 1.0)),
        ("sail", lambda u, v: triangle(u, v, (0.03, 0.95), (0.03, 0.35), (0.38, 0.35))
         | triangle(u, v, (-0.03, 0.85), (-0.03, 0.35), (-0.3, 0.35))),
    ), {"body": (("white", 5), ("blue", 2), ("red", 1), ("wood", 2), ("yellow", 1), ("navy", 1)),
        "mast": (("wood", 1), ("silver", 1), ("dark_grey", 1)),
        "sail": (("white", 4), ("cream", 2), ("red", 1), ("orange", 0.5))}),
    "bottle": ObjectClass(0.35, 0.35, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.0, 0.58) | ellipse(u, v, 0, 0.58, 0.5, 0.15)
         | rect(u, v, -0.18, 0.18, 0.6, 0.92)),
        ("label", lambda u, v: rect(u, v, -0.5, 0.5, 0.15, 0.42)),
        ("cap", lambda u, v: rect(u, v, -0.2, 0.2, 0.9, 1.0)),
    ), {"body": (("green", 3), ("dark_green", 1), ("brown", 3), ("silver", 2), ("blue", 1), ("white", 1)),
        "label": (("white", 3), ("cream", 2), ("red", 1), ("yellow", 1), ("black", 1)),
        "cap": (("red", 1), ("white", 1), ("black", 1), ("yellow", 1), ("silver", 1))}, (("glass", 1),)),
    "bus": ObjectClass(3.0, 2.3, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.12, 1.0) & ~rect(u, v, 0.45, 0.5, 0.9, 1.0)),
        ("accent", lambda u, v: rect(u, v, -0.5, 0.5, 0.3, 0.38)),
        ("dark", lambda u, v: rect(u, v, -0.46, 0.44, 0.55, 0.86) | rect(u, v, 0.3, 0.4, 0.15, 0.86)),
        ("wheel", lambda u, v: ellipse(u, v, -0.3, 0.12, 0.08, 0.12) | ellipse(u, v, 0.3, 0.12, 0.08, 0.12)),
    ), {"body": (("yellow", 3), ("red", 3), ("white", 3), ("blue", 2), ("green", 1), ("silver", 1),
                 ("orange", 1)), "accent": (("white", 1), ("red", 1), ("blue", 1), ("yellow", 1), ("grey", 1)),
        "dark": GLASS, "wheel": DARK}, (("smooth", 2), ("metal", 1))),
    "car": ObjectClass(1.5, 2.1, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.15, 0.55)
         | (triangle(u, v, (-0.32, 0.55), (0.32, 0.55), (0.12, 0.95)) & (v <= 0.92) & (u >= -0.24))),
        ("dark", lambda u, v: triangle(u, v, (-0.25, 0.58), (0.26, 0.58), (0.1, 0.88)) & (v <= 0.86)
         & (u >= -0.17)),
        ("wheel", lambda u, v: ellipse(u, v, -0.3, 0.15, 0.1, 0.15) | ellipse(u, v, 0.3, 0.15, 0.1, 0.15)),
    ), {"body": (("black", 2), ("white", 2), ("silver", 2), ("red", 1.5), ("blue", 1.5), ("grey", 1.5),
                 ("dark_red", 0.5), ("green", 0.5), ("yellow", 0.3)), "dark": GLASS, "wheel": DARK},
        (("metal", 2), ("smooth", 1))),
    "cat": ObjectClass(0.35, 1.2, False, (
        ("body", lambda u, v: ellipse(u, v, -0.05, 0.3, 0.35, 0.3) | ellipse(u, v, 0.3, 0.7, 0.17, 0.2)
         | triangle(u, v, (0.16, 0.8), (0.24, 0.8), (0.18, 1.0)) | triangle(u, v, (0.34, 0.8), (0.44, 0.8), (0.42, 1.0))
         | rect(u, v, -0.5, -0.4, 0.2, 0.75)),
        ("eyes", lambda u, v: ellipse(u, v, 0.26, 0.73, 0.025, 0.03) | ellipse(u, v, 0.36, 0.73, 0.025, 0.03)),
    ), {"body": (("ginger", 2), ("grey", 2), ("black", 2), ("white", 1.5), ("tan", 1.5), ("brown", 1),
                 ("cream", 0.5)), "eyes": (("yellow", 1), ("green", 1), ("black", 1))},
        (("fur", 3), ("stripes", 2), ("patches", 1))),
    "chair": ObjectClass(0.95, 0.7, False, (
        ("body", lambda u, v: rect(u, v, -0.4, 0.4, 0.45, 0.55) | rect(u, v, 0.28, 0.4, 0.45, 1.0)
         | legs(u, v, (-0.35, 0.34), 0.08, 0.5)),
        ("cushion", lambda u, v: rect(u, v, -0.36, 0.26, 0.54, 0.6)),
    ), {"body": (("wood", 3), ("black", 2), ("brown", 2), ("white", 1.5), ("red", 0.5), ("blue", 0.5),
                 ("green", 0.5), ("silver", 0.5)),
        "cushion": (("red", 1), ("blue", 1), ("beige", 1), ("grey", 1), ("green", 1), ("wood", 1))},
        (("wood", 2), ("smooth", 1))),
    "cow": ObjectClass(1.5, 1.6, False, (
        ("body", lambda u, v: ellipse(u, v, -0.05, 0.64, 0.38, 0.22) | legs(u, v, (-0.3, -0.16, 0.1, 0.22), 0.08, 0.5)
         | rect(u, v, 0.28, 0.46, 0.6, 0.88) | triangle(u, v, (0.24, 0.62), (0.36, 0.85), (0.3, 0.5))),
        ("horn", lambda u, v: triangle(u, v, (0.3, 0.88), (0.36, 0.88), (0.3, 0.98))),
        ("muzzle", lambda u, v: rect(u, v, 0.38, 0.5, 0.58, 0.7)),
    ), {"body": (("black", 2), ("brown", 2.5), ("white", 1.5), ("tan", 1), ("dark_brown", 1)),
        "horn": (("cream", 1), ("grey", 1)), "muzzle": (("pink", 1), ("black", 1), ("tan", 1))},
        (("patches", 3), ("fur", 2))),
    "diningtable": ObjectClass(0.75, 1.8, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.82, 1.0) | legs(u, v, (-0.42, 0.42), 0.07, 0.9)),
        ("cloth", lambda u, v: rect(u, v, -0.5, 0.5, 0.62, 0.9)),
        ("dishes", lambda u, v: ellipse(u, v, -0.2, 0.99, 0.1, 0.04) | ellipse(u, v, 0.18, 0.99, 0.1, 0.04)),
    ), {"body": (("wood", 4), ("dark_brown", 2), ("white", 1), ("black", 1)),
        "cloth": (("white", 3), ("cream", 2), ("red", 1), ("blue", 1), ("wood", 3)),
        "dishes": (("white", 3), ("silver", 1))}, (("wood", 3), ("smooth", 1))),
    "dog": ObjectClass(0.6, 1.4, False, (
        ("body", lambda u, v: ellipse(u, v, -0.05, 0.55, 0.35, 0.2) | legs(u, v, (-0.3, -0.2, 0.1, 0.2), 0.07, 0.55)
         | ellipse(u, v, 0.35, 0.8, 0.14, 0.17) | rect(u, v, 0.38, 0.5, 0.7, 0.8)
         | triangle(u, v, (-0.38, 0.6), (-0.5, 0.85), (-0.34, 0.55))),
        ("ear", lambda u, v: ellipse(u, v, 0.28, 0.8, 0.06, 0.12)),
        ("nose", lambda u, v: ellipse(u, v, 0.49, 0.77, 0.025, 0.03)),
    ), {"body": (("golden", 2), ("brown", 2), ("black", 2), ("white", 1.5), ("tan", 1.5), ("grey", 1),
                 ("dark_brown", 1)), "ear": (("dark_brown", 1), ("black", 1), ("tan", 1)), "nose": DARK},
        (("fur", 3), ("patches", 1))),
    "horse": ObjectClass(1.7, 1.3, False, (
        ("body", lambda u, v: ellipse(u, v, -0.1, 0.55, 0.35, 0.15) | legs(u, v, (-0.35, -0.25, 0.05, 0.15), 0.06, 0.55)
         | triangle(u, v, (0.1, 0.5), (0.25, 0.65), (0.35, 0.95)) | rect(u, v, 0.25, 0.5, 0.85, 1.0)),
        ("mane", lambda u, v: triangle(u, v, (0.12, 0.62), (0.2, 0.66), (0.3, 0.98))
         | triangle(u, v, (-0.42, 0.6), (-0.5, 0.25), (-0.45, 0.62))),
    ), {"body": (("brown", 4), ("dark_brown", 2.5), ("black", 1.5), ("white", 1), ("grey", 1), ("tan", 1)),
        "mane": (("black", 2), ("dark_brown", 2), ("cream", 1))}, (("smooth", 2), ("fur", 1), ("patches", 0.5))),
    "motorbike": ObjectClass(1.1, 1.6, False, (
        ("wheel", lambda u, v: ellipse(u, v, -0.3, 0.2, 0.2, 0.2) | ellipse(u, v, 0.3, 0.2, 0.2, 0.2)),
        ("body", lambda u, v: ellipse(u, v, 0.0, 0.45, 0.35, 0.18) | rect(u, v, 0.15, 0.25, 0.45, 0.8)),
        ("dark", lambda u, v: rect(u, v, -0.3, 0.02, 0.56, 0.64)),
        ("chrome", lambda u, v: rect(u, v, 0.1, 0.35, 0.78, 0.84) | ellipse(u, v, -0.3, 0.2, 0.06, 0.06)
         | ellipse(u, v, 0.3, 0.2, 0.06, 0.06)),
    ), {"body": (("black", 3), ("red", 2), ("silver", 1.5), ("blue", 1.5), ("orange", 1), ("white", 1),
                 ("yellow", 0.5)), "wheel": DARK, "dark": DARK, "chrome": (("silver", 1),)},
        (("metal", 2), ("smooth", 1))),
    "person": ObjectClass(1.7, 0.45, False, (
        ("trousers", lambda u, v: legs(u, v, (-0.15, 0.15), 0.2, 0.47) | rect(u, v, -0.25, 0.25, 0.4, 0.5)),
        ("clothes", lambda u, v: rect(u, v, -0.3, 0.3, 0.45, 0.8) | rect(u, v, -0.5, -0.3, 0.45, 0.78)
         | rect(u, v, 0.3, 0.5, 0.45, 0.78)),
        ("skin", lambda u, v: ellipse(u, v, 0, 0.9, 0.2, 0.1) | rect(u, v, -0.5, -0.3, 0.4, 0.46)
         | rect(u, v, 0.3, 0.5, 0.4, 0.46)),
        ("hair", lambda u, v: ellipse(u, v, 0, 0.95, 0.21, 0.06)),
    ), {"clothes": (("red", 1), ("blue", 1.5), ("navy", 1), ("black", 1.5), ("white", 1.5), ("grey", 1),
                    ("green", 0.7), ("yellow", 0.5), ("pink", 0.5), ("brown", 0.7), ("purple", 0.5), ("orange", 0.3)),
        "trousers": (("navy", 2), ("black", 2), ("blue", 1.5), ("grey", 1), ("tan", 1), ("brown", 0.5), ("white", 0.3)),
        "skin": (("skin_light", 3), ("skin_mid", 2), ("skin_dark", 1)),
        "hair": (("black", 2), ("dark_brown", 2), ("brown", 1), ("golden", 1), ("grey", 0.5))},
        (("fabric", 2), ("smooth", 1))),
    "pottedplant": ObjectClass(0.8, 0.7, False, (
        ("pot", lambda u, v: (triangle(u, v, (-0.3, 0.35), (0.3, 0.35), (0.0, -0.6)) & (v >= 0)
                              & (np.abs(u) <= 0.2 + 0.1 * v / 0.35))),
        ("body", lambda u, v: ellipse(u, v, 0, 0.65, 0.45, 0.25) | ellipse(u, v, -0.2, 0.85, 0.25, 0.15)
         | ellipse(u, v, 0.2, 0.88, 0.25, 0.12)),
        ("flowers", lambda u, v: ellipse(u, v, -0.22, 0.9, 0.06, 0.05) | ellipse(u, v, 0.15, 0.75, 0.06, 0.05)
         | ellipse(u, v, 0.05, 0.95, 0.06, 0.04)),
    ), {"body": (("green", 3), ("dark_green", 3), ("olive", 1)),
        "pot": (("terracotta", 3), ("white", 1), ("black", 1), ("blue", 0.5), ("brown", 1)),
        "flowers": (("green", 4), ("red", 1), ("yellow", 1), ("pink", 1), ("white", 1))}, (("foliage", 1),)),
    "sheep": ObjectClass(0.9, 1.4, False, (
        ("body", lambda u, v: ellipse(u, v, -0.25, 0.6, 0.2, 0.22) | ellipse(u, v, 0.0, 0.65, 0.22, 0.25)
         | ellipse(u, v, 0.2, 0.6, 0.2, 0.22)),
        ("legs", lambda u, v: legs(u, v, (-0.3, -0.15, 0.1, 0.25), 0.06, 0.45)),
        ("face", lambda u, v: ellipse(u, v, 0.42, 0.7, 0.09, 0.12)),
    ), {"body": (("cream", 4), ("white", 3), ("beige", 1.5), ("grey", 1), ("dark_brown", 0.3)),
        "legs": (("black", 1), ("dark_grey", 1), ("cream", 1)), "face": (("black", 1), ("cream", 1), ("tan", 1))},
        (("wool", 1),)),
    "sofa": ObjectClass(0.9, 2.0, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.1, 0.5) | rect(u, v, -0.45, 0.45, 0.5, 1.0)
         | rect(u, v, -0.5, -0.38, 0.5, 0.7) | rect(u, v, 0.38, 0.5, 0.5, 0.7)),
        ("cushion", lambda u, v: rect(u, v, -0.35, -0.02, 0.42, 0.55) | rect(u, v, 0.02, 0.35, 0.42, 0.55)),
        ("dark", lambda u, v: legs(u, v, (-0.45, 0.45), 0.05, 0.1)),
    ), {"body": (("brown", 2), ("beige", 2), ("grey", 2), ("black", 1), ("red", 1), ("blue", 1), ("green", 1),
                 ("cream", 1), ("dark_red", 0.5)),
        "cushion": (("beige", 1), ("cream", 1), ("red", 1), ("blue", 1), ("grey", 1), ("white", 1)), "dark": DARK},
        (("fabric", 3), ("smooth", 1), ("stripes", 0.5))),
    "train": ObjectClass(3.5, 3.0, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.35, 0.1, 0.9) | (ellipse(u, v, 0.35, 0.5, 0.15, 0.4) & (u >= 0.35))),
        ("roof", lambda u, v: rect(u, v, -0.5, 0.35, 0.85, 0.92) | rect(u, v, -0.3, -0.2, 0.9, 1.0)),
        ("accent", lambda u, v: rect(u, v, -0.5, 0.45, 0.28, 0.34)),
        ("dark", lambda u, v: rect(u, v, -0.48, 0.3, 0.55, 0.75) | (ellipse(u, v, 0.38, 0.62, 0.08, 0.12))),
        ("wheel", lambda u, v: ellipse(u, v, -0.35, 0.08, 0.05, 0.08) | ellipse(u, v, -0.2, 0.08, 0.05, 0.08)
         | ellipse(u, v, 0.05, 0.08, 0.05, 0.08) | ellipse(u, v, 0.2, 0.08, 0.05, 0.08)),
    ), {"body": (("red", 2), ("blue", 2), ("yellow", 1.5), ("white", 1.5), ("green", 1), ("silver", 1), ("black", 1),
                 ("orange", 0.5)), "roof": (("grey", 1), ("dark_grey", 1), ("silver", 1)),
        "accent": (("white", 1), ("yellow", 1), ("red", 1), ("blue", 1)), "dark": GLASS, "wheel": DARK},
        (("metal", 2), ("smooth", 1))),
    "tvmonitor": ObjectClass(0.5, 1.2, False, (
        ("body", lambda u, v: rect(u, v, -0.5, 0.5, 0.25, 1.0) | rect(u, v, -0.06, 0.06, 0.08, 0.25)
         | rect(u, v, -0.25, 0.25, 0.0, 0.08)),
        ("screen", lambda u, v: rect(u, v, -0.44, 0.44, 0.32, 0.94)),
    ), {"body": (("black", 5), ("silver", 2), ("dark_grey", 2), ("white", 1)),
        "screen": (("black", 2), ("navy", 2), ("dark_grey", 1), ("sky_blue", 1), ("blue", 1), ("green", 0.5),
                   ("white", 0.5))}, (("smooth", 1),)),
}


def paint(rng: np.random.Generator, look: ObjectClass, u: np.ndarray, v: np.ndarray, px: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Draw one thing that looks like ``look`` over box coordinates ``u, v`` (2-D arrays) of a
    box ``px`` pixels high.

    Returns ``(rgb, silhouette)``: (H, W, 3) unshaded colour and (H, W) bool, where the
    silhouette is the union of the parts inside the box.
    """
    rgb = np.zeros((*u.shape, 3))
    silhouette = np.zeros(u.shape, bool)
    inside = (v >= 0) & (v <= 1) & (np.abs(u) <= 0.5)
    chosen: dict[str, np.ndarray] = {}
    for role, shape in look.parts:
        mask = shape(u, v) & inside
        if role not in chosen:
            chosen[role] = colour(rng, choose(rng, look.colours[role]))
        fill = np.broadcast_to(chosen[role], rgb.shape)
        if role == "body":
            kind = choose(rng, look.textures)
            pattern = texture(rng, kind, u, v, px)
            if kind == "patches":  # two-coloured coat: body colour and a contrasting one
                other = colour(rng, "white" if chosen[role].mean() < 0.5 else choose(rng, (("black", 2), ("brown", 1))))
                fill = np.where(pattern[..., None] > 0, chosen[role], other)
            else:
                fill = fill * pattern[..., None]
        rgb = np.where(mask[..., None], fill, rgb)
        silhouette |= mask
    return rgb, silhouette
