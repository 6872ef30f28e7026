"""How much the photo differs from the aligned plate, in units of noise.

A cast shadow darkens the backdrop by a similar factor in every channel, so it
changes luminance but hardly chroma; a product usually changes both, or makes
the backdrop brighter, which a shadow never does. The two changes are measured
separately and a pure darkening only counts when it is deeper than a shadow.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Luminance ratios (photo / plate) down to this are treated as possible shadow.
SHADOW_MIN_RATIO = 0.30
_EPS = 1e-3


@dataclass(frozen=True)
class DifferenceMap:
    """score: HxW float32 >= 0, the photo's departure from the plate in noise
    units (about 1 on the backdrop, large on the product); 0 where invalid.
    shadow: HxW float32 in [0, 1], how strongly a pixel looks like a shadow
    (darker than the plate, same chroma).
    noise: (chroma, luminance) noise levels used for scaling; pass them back
    in to measure another difference on the same scale.
    """

    score: np.ndarray
    shadow: np.ndarray
    noise: tuple


def _robust_sigma(values: np.ndarray) -> float:
    """Noise sigma of mostly-zero-centred positive values, robust to up to ~70% outliers.

    For a half-normal variable the 25th percentile is 0.3186 sigma; the lower
    quantile keeps a product that fills half the frame from inflating it.
    """
    if values.size == 0:
        return 0.01
    q = float(np.percentile(values, 25))
    return max(q / 0.3186, 2e-3)


def measure_difference(photo: np.ndarray, aligned_plate: np.ndarray, valid: np.ndarray,
                       smooth_px: float = 1.0, noise: tuple | None = None) -> DifferenceMap:
    """Shadow-aware difference between ``photo`` and ``aligned_plate``.

    photo, aligned_plate: HxWx3 float32 RGB [0, 1] (same shape); valid: HxW bool.
    smooth_px: Gaussian sigma applied to both first, which averages sensor
    noise and JPEG blocks down without moving edges by more than a pixel.
    noise: (chroma, luminance) levels from an earlier call; estimated from the
    lower quartile of the differences when not given.
    """
    if photo.shape != aligned_plate.shape or photo.shape[:2] != valid.shape:
        raise ValueError("photo, aligned plate and valid mask must have the same size")
    if smooth_px > 0:
        photo = cv2.GaussianBlur(photo, (0, 0), smooth_px)
        aligned_plate = cv2.GaussianBlur(aligned_plate, (0, 0), smooth_px)
        # The blur pulls the uncovered border's fill into its neighbours: drop them too.
        reach = 2 * int(np.ceil(2 * smooth_px)) + 1
        valid = cv2.erode(valid.astype(np.uint8), np.ones((reach, reach), np.uint8)) > 0

    lum_p = photo.mean(axis=2) + _EPS
    lum_b = aligned_plate.mean(axis=2) + _EPS
    # Chroma: the RGB direction, compared after scaling both to the plate's
    # brightness, so a uniform darkening (shadow) gives ~0.
    chroma = photo / lum_p[..., None] - aligned_plate / lum_b[..., None]
    chroma_dist = np.sqrt((chroma * chroma).sum(axis=2)) * np.minimum(lum_p, lum_b)
    ratio = lum_p / lum_b
    brighter = np.maximum(lum_p - lum_b, 0.0)
    # Darkening beyond what a shadow does; shallower darkening scores by how far
    # it falls below the shadow range, so deep-dark products on light paper count.
    too_dark = np.maximum(SHADOW_MIN_RATIO * lum_b - lum_p, 0.0)
    darker = np.maximum(lum_b - lum_p, 0.0)

    v = valid
    if noise is None:
        noise = (_robust_sigma(chroma_dist[v]), _robust_sigma(np.abs(lum_p - lum_b)[v]))
    sigma_c, sigma_l = noise
    score = np.maximum(chroma_dist / sigma_c, brighter / sigma_l)
    score = np.maximum(score, too_dark / sigma_l * 4.0)
    # A darkening with unchanged chroma, no deeper than a shadow goes, is a
    # shadow candidate and does not count; anything else that darkens does.
    chroma_same = np.clip(1.5 - chroma_dist / (3.0 * sigma_c), 0.0, 1.0)
    darkening = np.clip((lum_b - lum_p) / (2.0 * sigma_l), 0.0, 1.0)
    # Shadows are soft; a darkening with a sharp local structure (a thin dark
    # cable, a strap, print) is product even when its chroma matches.
    depth = np.clip(1.0 - ratio, 0.0, 1.0).astype(np.float32)
    sharp = np.abs(depth - cv2.GaussianBlur(depth, (0, 0), 1.5))
    soft = np.clip(1.0 - (sharp - 0.04) / 0.08, 0.0, 1.0)
    shadow = darkening * chroma_same * soft * (ratio >= SHADOW_MIN_RATIO)
    score = np.maximum(score, darker / sigma_l * (1.0 - shadow))
    score = np.where(valid, score, 0.0).astype(np.float32)
    return DifferenceMap(score=score, shadow=(shadow * valid).astype(np.float32),
                         noise=(float(sigma_c), float(sigma_l)))
