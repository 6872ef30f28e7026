"""Synthetic photo/plate pairs with true alpha, for training and evaluation.

``make_pair(seed)`` renders one shot: a procedural product (or a real object from
the shared data) over a studio backdrop, with a cast shadow, sensor noise and
JPEG, plus the same backdrop re-captured as a plate by a slightly moved camera.
``make_large_pair`` does the same at 12-50 megapixels for benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

#: the seed space: evaluation items (the dev set from 0, validation sets) lie below, training samples from here on
TRAIN_SEED_BASE = 1_000_000


@dataclass(frozen=True)
class SyntheticPair:
    """One rendered shot.

    photo: HxWx3 float32 RGB [0, 1]: foreground over backdrop, cast shadow, noise.
    plate: HxWx3 float32 RGB [0, 1]: the backdrop re-captured (moved camera,
        exposure / white-balance drift, own noise, JPEG), NOT aligned.
    aligned_plate: HxWx3 float32 [0, 1]: the plate as a good alignment would
        leave it (sub-pixel residual warp, small residual gain error).
    alpha: HxW float32 [0, 1] true alpha in photo coordinates (0 in shadows).
    foreground: HxWx3 float32 [0, 1] true straight foreground colours.
    shadow: HxW float32 (0, 1] multiplicative darkening of the backdrop in the photo (1 = none).
    homography: 3x3 float64 mapping photo pixel coords to plate pixel coords.
    gain: (3,) float64 per-channel gain g with plate ~= g * backdrop-in-photo.
    tags: subsets this pair belongs to: "shadow", "close_colour", "transparent", "thin", "fuzzy", "real_mask".
        Also "blur" (motion blur or defocus on the object), "product:KIND" and "backdrop:KIND".
    backdrop: HxWx3 float32 [0, 1] the clean backdrop in the photo's frame (no shadow, no noise),
        so photo ~= alpha * foreground + (1 - alpha) * backdrop * shadow; None for large pairs.
    """

    photo: np.ndarray
    plate: np.ndarray
    aligned_plate: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    shadow: np.ndarray
    homography: np.ndarray
    gain: np.ndarray
    tags: frozenset
    backdrop: Optional[np.ndarray] = None


from .backdrops import backdrop_kinds  # noqa: E402  (the modules below import SyntheticPair)
from .large import make_large_pair  # noqa: E402
from .pairs import KNOWN_TAGS, make_pair  # noqa: E402
from .products import product_kinds  # noqa: E402
from .real import RealMask, iter_real_masks, list_backdrop_photos  # noqa: E402

__all__ = ["SyntheticPair", "make_pair", "make_large_pair", "backdrop_kinds", "product_kinds",
           "iter_real_masks", "list_backdrop_photos", "RealMask", "KNOWN_TAGS"]
