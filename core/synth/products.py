"""Registry of procedural products, and the camera blur applied to a rendered product."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from . import packs, plants, soft, turned
from .canvas import Layer, blur_layer, disk_kernel, motion_kernel

Renderer = Callable[[np.random.Generator, float, np.ndarray, np.ndarray], Layer]


def _glass(rng: np.random.Generator, height: float, colour, light) -> Layer:
    return turned.render_glass(rng, height, colour, light, plastic=rng.random() < 0.35)


# name -> (renderer, typical width / height, sampling weight)
_PRODUCTS: dict[str, tuple[Renderer, float, float]] = {
    "bottle": (turned.render_bottle, 0.38, 1.2),
    "box": (packs.render_box, 0.8, 1.2),
    "can": (turned.render_can, 0.6, 0.7),
    "jar": (turned.render_jar, 0.85, 0.7),
    "tube": (turned.render_tube, 0.35, 0.5),
    "mug": (turned.render_mug, 1.15, 1.0),
    "glass": (_glass, 0.5, 0.8),
    "tape": (packs.render_tape, 1.0, 0.6),
    "bag": (packs.render_bag, 0.9, 0.8),
    "plush": (soft.render_plush, 0.9, 0.8),
    "headphones": (soft.render_headphones, 1.0, 0.6),
    "cable": (soft.render_cable, 1.1, 0.6),
    "plant": (plants.render_plant, 0.85, 0.0),  # weight 0: only when asked (make_pair's plants share)
}
# kinds that always produce a tag (used to force stratified subsets)
TAG_KINDS = {"transparent": ("glass",), "thin": ("headphones", "cable"), "fuzzy": ("plush",)}


def product_kinds() -> tuple[str, ...]:
    """Names of the procedural product generators."""
    return tuple(_PRODUCTS)


def product_aspect(kind: str) -> float:
    """Typical width / height of a product kind (for sizing before rendering)."""
    return _PRODUCTS[kind][1]


def pick_product_kind(rng: np.random.Generator, tag: str | None = None) -> str:
    """A random product kind; with ``tag`` ("transparent", "thin", "fuzzy") one that has it."""
    names = list(TAG_KINDS[tag]) if tag is not None else [n for n in _PRODUCTS if _PRODUCTS[n][2] > 0]
    weights = np.array([_PRODUCTS[n][2] for n in names])
    return str(names[rng.choice(len(names), p=weights / weights.sum())])


def render_product(kind: str, rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Render product ``kind`` about ``height`` output pixels tall (colour: main RGB, light: unit 3-vector)."""
    if kind not in _PRODUCTS:
        raise ValueError(f"Unknown product kind {kind!r}; choose one of {', '.join(_PRODUCTS)}.")
    layer = _PRODUCTS[kind][0](rng, max(float(height), 12.0), np.asarray(colour, np.float32), light)
    return replace(layer, tags=layer.tags | {f"product:{kind}"})


def camera_blur(layer: Layer, rng: np.random.Generator, scale: float = 1.0) -> Layer:
    """Motion blur or defocus, applied to premultiplied colour and alpha with the same kernel."""
    if rng.random() < 0.5:
        kernel = motion_kernel(rng.uniform(2.0, 9.0) * scale, rng.uniform(0, 180))
    else:
        kernel = disk_kernel(rng.uniform(0.8, 3.0) * scale)
    blurred = blur_layer(layer, kernel)
    return replace(blurred, tags=blurred.tags | {"blur"})
