"""The synthetic world's paint box: named colours, weighted choices, shapes in box coordinates and
material textures, shared by the object classes (:mod:`mdseg.world.objects`) and the scenes
(:mod:`mdseg.world.scenes`)."""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

Shape = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Named colours (linear RGB in [0, 1]) shared by classes and scenes, so overlaps are explicit.
COLOURS: dict[str, tuple[float, float, float]] = {
    "white": (0.93, 0.93, 0.92), "cream": (0.91, 0.86, 0.72), "beige": (0.84, 0.77, 0.63),
    "silver": (0.72, 0.74, 0.77), "grey": (0.5, 0.51, 0.53), "dark_grey": (0.28, 0.28, 0.3),
    "black": (0.09, 0.09, 0.1), "dark_brown": (0.28, 0.18, 0.11), "brown": (0.48, 0.31, 0.17),
    "tan": (0.76, 0.6, 0.42), "ginger": (0.82, 0.48, 0.2), "golden": (0.86, 0.7, 0.42),
    "wood": (0.62, 0.43, 0.26), "terracotta": (0.72, 0.36, 0.22), "red": (0.74, 0.12, 0.11),
    "dark_red": (0.45, 0.08, 0.08), "orange": (0.92, 0.5, 0.12), "yellow": (0.92, 0.8, 0.18),
    "green": (0.22, 0.55, 0.22), "dark_green": (0.1, 0.3, 0.12), "olive": (0.45, 0.48, 0.2),
    "blue": (0.16, 0.32, 0.72), "navy": (0.1, 0.13, 0.32), "sky_blue": (0.55, 0.72, 0.9),
    "teal": (0.1, 0.5, 0.5), "purple": (0.45, 0.2, 0.55), "pink": (0.9, 0.55, 0.65),
    "skin_light": (0.94, 0.77, 0.65), "skin_mid": (0.78, 0.57, 0.42), "skin_dark": (0.42, 0.28, 0.19),
}

Choices = tuple[tuple[str, float], ...]  # (name, weight) pairs


def choose(rng: np.random.Generator, options: Choices) -> str:
    """One name from ``(name, weight)`` pairs, with probability proportional to its weight."""
    names, weights = zip(*options)
    p = np.asarray(weights, float)
    return names[rng.choice(len(names), p=p / p.sum())]


def colour(rng: np.random.Generator, name: str) -> np.ndarray:
    """A named colour with the variation of real materials and lighting: (3,) in [0, 1]."""
    base = np.asarray(COLOURS[name])
    return np.clip(base * rng.normal(1.0, 0.06, 3) * rng.uniform(0.82, 1.15), 0, 1)


# ----------------------------------------------------------------------------- primitives
# Box coordinates: u in [-0.5, 0.5] left to right, v in [0, 1] bottom to top.
def ellipse(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def rect(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def ring(u, v, cu, cv, r_out, r_in, aspect):
    d = ((u - cu) * aspect) ** 2 + (v - cv) ** 2
    return (d <= r_out**2) & (d >= r_in**2)


def triangle(u, v, a, b, c):
    def side(p, q):
        return (u - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (v - q[1])

    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    return ~(((d1 < 0) | (d2 < 0) | (d3 < 0)) & ((d1 > 0) | (d2 > 0) | (d3 > 0)))


def legs(u, v, xs, width, top):
    out = np.zeros_like(u, dtype=bool)
    for x in xs:
        out |= rect(u, v, x - width / 2, x + width / 2, 0.0, top)
    return out


# ----------------------------------------------------------------------------- textures
def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise with unit spread: (H, W) float."""
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma=max(sigma, 0.3))
    return field / (field.std() + 1e-6)


def texture(rng: np.random.Generator, kind: str, u: np.ndarray, v: np.ndarray, px: float) -> np.ndarray:
    """A multiplicative pattern around 1 over box coordinates ``u, v`` (2-D arrays) of a box
    ``px`` pixels high; kinds: smooth, fur, wool, feathers, fabric, glass, metal, wood,
    stripes, foliage, patches (``patches`` returns a 0/1 switch between two colours)."""
    shape = u.shape
    if kind == "patches":
        blobs = smooth_noise(rng, shape, max(px * 0.08, 1.0))
        return (blobs > rng.uniform(-0.3, 0.6)).astype(float)
    if kind == "stripes":
        angle, period = rng.uniform(-0.4, 0.4), rng.uniform(0.08, 0.18)
        return 1.0 + 0.22 * np.sign(np.sin(2 * np.pi * (u * np.cos(angle) + v * np.sin(angle)) / period))
    if kind == "wood":
        return 1.0 + 0.1 * np.sin(2 * np.pi * v / rng.uniform(0.03, 0.08) + 3 * smooth_noise(rng, shape, 2))
    if kind == "metal":
        return 1.0 + 0.25 * np.exp(-((v - rng.uniform(0.5, 0.8)) / 0.08) ** 2) - 0.1 * (1 - v)
    spread, sigma = {"smooth": (0.03, 1.0), "fur": (0.1, 0.6), "wool": (0.16, 1.2), "feathers": (0.1, 0.8),
                     "fabric": (0.06, 0.5), "glass": (0.12, 2.0), "foliage": (0.3, 0.7)}[kind]
    return 1.0 + spread * smooth_noise(rng, shape, sigma)
