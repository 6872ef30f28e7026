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

The judge solves the foreground itself (at its working size) unless given one,
so mattes from different methods are judged on their alpha alone.
``rank_candidates`` compares several mattes of one photo: it measures their
failing areas against one shared product area (the largest), because against
its own area a matte that takes extra backdrop dilutes its own errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

from .difference import measure_difference
from .foreground import estimate_foreground
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
    #: failing, leaking and product areas in pixels of the judge's working size (for ``rank_candidates``)
    failing_px: float = 0.0
    leak_px: float = 0.0
    product_px: float = 0.0


def score_matte(photo: np.ndarray, aligned_plate: np.ndarray, valid: np.ndarray, alpha: np.ndarray,
                foreground: Optional[np.ndarray] = None, alignment_verdict: str = "ok",
                small: Optional[SmallView] = None) -> QualityScore:
    """Judge one matte.

    photo, aligned_plate: HxWx3 float32 [0, 1]; valid: HxW bool; alpha: HxW
    float32 [0, 1]; foreground: HxWx3 float32 [0, 1], or None to solve it from
    the photo and plate (what a network predicted is then not judged); small:
    the shared ``SmallView`` (made here when not given). Returns a
    ``QualityScore`` (score in [0, 1]).
    """
    if small is None:
        small = make_small_view(photo, aligned_plate, valid, _WORK_MEGAPIXELS)
    a = small.shrink(alpha)
    if foreground is None:
        F = estimate_foreground(small.photo, small.aligned_plate, a, small.valid, small=small)
    else:
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
                            reasons=tuple(reasons), product_px=product_area)
    area = max(product_area, 0.002 * a.size)
    # Shadow-aware, like the coarse mask: a cast shadow is not a missed product.
    mismatch = measure_difference(I, recomposed.astype(np.float32), v, smooth_px=0, noise=noise).score
    failing_px = float((v & (mismatch > ERROR_SIGMAS)).sum())
    recomposition_error = min(1.0, failing_px / area)
    looks_like_plate = np.abs(F - B).mean(axis=2) < LEAK_SIGMAS * leak_noise
    leak_px = float((a * (v & looks_like_plate & (a > 0.5))).sum())
    leakage = min(1.0, leak_px / area)

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
                        needs_review=needs_review, reasons=tuple(reasons), failing_px=failing_px,
                        leak_px=leak_px, product_px=product_area)


#: how much higher another candidate must rank before it replaces the trusted one (calibrated
#: on 44 held-out pairs: at smaller margins the judge's overrides made the average worse)
TRUST_MARGIN = 0.7


def pick_candidate(methods: Sequence[str], scores: Sequence[QualityScore], trusted: Optional[str] = None) -> int:
    """Index of the matte to keep among candidates ``methods`` with quality ``scores``.

    The highest ``rank_candidates`` wins (the first on ties), except that the ``trusted``
    method (the one the dev set shows is best on average, e.g. the recommended networks)
    keeps its place unless another candidate ranks more than ``TRUST_MARGIN`` above it:
    the judge's tests cannot tell a deep shadow or glass from missing product as well
    as the network can, but they do catch a network that missed the product.
    """
    ranks = rank_candidates(scores)
    best = max(range(len(ranks)), key=lambda k: ranks[k])
    if trusted in methods:
        keep = list(methods).index(trusted)
        if ranks[best] - ranks[keep] <= TRUST_MARGIN:
            return keep
    return best


def rank_candidates(scores: Sequence[QualityScore]) -> list[float]:
    """Comparable scores in [0, 1] for several mattes of one photo (higher is better).

    Like ``QualityScore.score``, but every matte's failing areas are divided by
    the same product area, the largest of them: a matte that takes a cast
    shadow or a patch of backdrop as product no longer shrinks its own errors
    by growing its area. A matte that found no product scores 0.
    """
    if not scores:
        return []
    area = max(max(q.product_px for q in scores), 1.0)
    return [0.0 if q.score == 0.0 and q.failing_px == 0.0 and q.leak_px == 0.0 else
            float(np.exp(-(q.failing_px / area / 0.10 + q.leak_px / area / 0.20))) for q in scores]
