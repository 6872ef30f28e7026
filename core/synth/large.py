"""Benchmark-sized pairs (12-50 MP): a ~1 MP scene upscaled, with full-resolution texture and noise."""
from __future__ import annotations

import cv2
import numpy as np

from . import SyntheticPair
from .capture import add_tiled_noise
from .pairs import Scene, capture_pair, compose_scene, motion_margins

_WORK_MP = 1.0


def large_size(megapixels: float) -> tuple[int, int]:
    """(height, width) of a 3:2 landscape frame of about ``megapixels``."""
    w = int(round(np.sqrt(megapixels * 1e6 * 1.5) / 2)) * 2
    return int(round(w / 1.5 / 2)) * 2, w


def make_large_pair(seed: int, megapixels: float) -> SyntheticPair:
    """A 3:2 procedural-product pair of about ``megapixels`` (e.g. 12, 24, 50) for benchmarks.

    The scene is rendered at about 1 MP and upscaled (so edges are soft over a few
    pixels); paper texture, product grain and sensor noise are added at full
    resolution. Fast (a few seconds at 24 MP) and float32 throughout; no JPEG
    (8-bit quantisation only) and ``backdrop`` is None to save memory.
    """
    if not 0.05 <= megapixels <= 200:
        raise ValueError(f"megapixels must be between 0.05 and 200, got {megapixels}.")
    rng = np.random.default_rng(seed)
    h, w = large_size(megapixels)
    sh, sw = large_size(min(_WORK_MP, megapixels))
    s = w / sw
    m, _ = motion_margins(h, w)
    small = compose_scene(rng, sh, sw, None, False, frozenset(), margin=int(np.ceil(m / s)) + 1)
    big_m = int(round(small.margin * s))
    ch, cw = h + 2 * big_m, w + 2 * big_m
    canvas = cv2.resize(small.canvas, (cw, ch), interpolation=cv2.INTER_LINEAR)
    # fine static texture of the backdrop (seen by photo and plate alike) and grain on the product
    add_tiled_noise(canvas, 0.003, rng)
    fg = cv2.resize(small.foreground, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = np.clip(cv2.resize(small.alpha, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
    np.clip(add_tiled_noise(fg, 0.01, rng), 0, 1, out=fg)
    shadow = cv2.resize(small.shadow, (w, h), interpolation=cv2.INTER_LINEAR)
    scene = Scene(canvas, big_m, fg, alpha, shadow, small.tags | {"large"})
    del small
    return capture_pair(scene, rng, h, w, large=True)
