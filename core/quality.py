"""The quality judge: does the matte explain the photo, and is the cut-out free of backdrop?

Two tests from DESIGN.md, at about one megapixel (the judge needs area, not detail):

* recomposition: ``alpha * F + (1 - alpha) * aligned_plate`` should give the
  photo back wherever the plate is valid. Product the matte missed shows up
  there (alpha 0, so the plate is recomposed where the photo shows product).
  ``recomposition_error`` is the area that fails, as a fraction of the product's area.
* leakage: the cut-out (alpha > 0.5) should not look like the backdrop behind
  it. Backdrop the matte took for product shows up there. ``leakage`` is that
  area as a fraction of the product's area.

``score = exp(-(recomposition_error / 0.10 + leakage / 0.20))`` in [0, 1];
an image needs review when ``score < REVIEW_THRESHOLD`` (0.6: about 5% of the
product missing, or 10% of it looking like backdrop), when no product was
found, or when alignment asked for a check.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .difference import measure_difference
from .working import SmallView, make_small_view

REVIEW_THRESHOLD = 0.6
#: Differences above this many noise sigmas count as failing to recompose.
ERROR_SIGMAS = 5.0
#: Foreground closer to the plate than this many noise sigmas counts as backdrop.
LEAK_SIGMAS = 2.5
_WORK_MEGAPIXELS = 1.0


@dataclass(frozen=True)
class QualityScore:
    """score in [0, 1] (1 = perfect); needs_review when score < REVIEW_THRESHOLD.

    recomposition_error, leakage: failing areas as fractions of the product's
    area (see the module docstring); reasons: sentences for the user.
    """

    score: float
    recomposition_error: float
    leakage: float
    needs_review: bool
    reasons: tuple = ()


def score_matte(photo: np.ndarray, aligned_plate: np.ndarray, valid: np.ndarray, alpha: np.ndarray,
                foreground: np.ndarray, alignment_verdict: str = "ok",
                small: Optional[SmallView] = None) -> QualityScore:
    """Judge one matte.

    photo, aligned_plate, foreground: HxWx3 float32 [0, 1]; valid: HxW bool;
    alpha: HxW float32 [0, 1]; small: the shared ``SmallView`` (made here when
    not given). Returns a ``QualityScore`` (score in [0, 1]).
    """
    if small is None:
        small = make_small_view(photo, aligned_plate, valid, _WORK_MEGAPIXELS)
    a = small.shrink(alpha)
    F = small.shrink(foreground)
    B = small.aligned_plate
    # Recompose before blurring: blur spreads the edge identically in both.
    recomposed = cv2.GaussianBlur(a[..., None] * F + (1.0 - a[..., None]) * B, (0, 0), 1.0)
    I, B, F = (cv2.GaussianBlur(x, (0, 0), 1.0) for x in (small.photo, B, F))
    v = small.valid
    # The judge must not blame the matte for the plate's edge interpolation.
    v = cv2.erode(v.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0

    # Noise levels of the photo against the plate, on the backdrop the matte left.
    backdrop = v & (a < 0.02)
    noise = measure_difference(I, B, backdrop if backdrop.sum() > 100 else v, smooth_px=0).noise
    leak_noise = max(noise)

    product_area = float(a[v].sum())
    reasons = []
    if product_area < 1e-4 * a.size:
        reasons.append("no product was found in the photo; check that the plate matches it")
        return QualityScore(score=0.0, recomposition_error=1.0, leakage=0.0, needs_review=True,
                            reasons=tuple(reasons))
    area = max(product_area, 0.002 * a.size)
    # Shadow-aware, like the coarse mask: a cast shadow is not a missed product.
    mismatch = measure_difference(I, recomposed.astype(np.float32), v, smooth_px=0, noise=noise).score
    failing = v & (mismatch > ERROR_SIGMAS)
    recomposition_error = min(1.0, float(failing.sum()) / area)
    looks_like_plate = np.abs(F - B).mean(axis=2) < LEAK_SIGMAS * leak_noise
    leakage = min(1.0, float((a * (v & looks_like_plate & (a > 0.5))).sum()) / area)

    score = float(np.exp(-(recomposition_error / 0.10 + leakage / 0.20)))
    if recomposition_error > 0.03:
        reasons.append(f"{recomposition_error:.0%} of the product's area does not recompose the photo "
                       "(parts may be missing or the edge is off)")
    if leakage > 0.05:
        reasons.append(f"{leakage:.0%} of the cut-out looks like the backdrop (backdrop may be included)")
    if alignment_verdict != "ok":
        reasons.append("the plate alignment asked for a check")
    needs_review = score < REVIEW_THRESHOLD or alignment_verdict != "ok"
    return QualityScore(score=score, recomposition_error=recomposition_error, leakage=leakage,
                        needs_review=needs_review, reasons=tuple(reasons))
