"""The network-free matting path: plate difference -> coarse mask -> GrabCut -> soft edge.

The coarse mask and GrabCut run at a reduced "solve" resolution (about one
megapixel: shape is context, not detail); the soft edge is then solved at full
resolution in a thin band around the boundary only, with the plate as the known
background, so the cost grows with the edge length, not the megapixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .difference import DifferenceMap, measure_difference
from .foreground import fill_from_confident
from .jobs import CancelToken, check
from .working import SmallView, make_small_view, resize_to, scale_to_megapixels  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class ClassicalOptions:
    """seed_threshold / grow_threshold: hysteresis on the noise-normalised
    difference (sure product / may be product). min_object_fraction: smaller
    isolated specks are dropped. grabcut_iterations: 0 skips GrabCut."""

    solve_megapixels: float = 1.0
    seed_threshold: float = 7.0
    grow_threshold: float = 3.0
    min_object_fraction: float = 0.0004
    grabcut_iterations: int = 3
    hole_fill_mean: float = 1.8


#: a network coarse mask under this is "sure backdrop" (see ``matte_classical``)
PRIOR_BACKDROP = 0.1


def _disk(radius: int) -> np.ndarray:
    r = max(1, int(radius))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def coarse_mask_from_difference(diff: DifferenceMap, options: ClassicalOptions = ClassicalOptions()) -> np.ndarray:
    """Product mask by hysteresis on ``diff.score``; HxW float32 in {0, 1}.

    Seeds are pixels far above the noise; the mask grows from them through
    pixels moderately above it. Enclosed gaps are filled when their mean
    difference is above what noise alone gives (a colour match inside the
    product) and left open when they look like backdrop (a mug's handle).
    """
    score = diff.score
    h, w = score.shape
    candidates = (score > options.grow_threshold).astype(np.uint8)
    candidates = cv2.morphologyEx(candidates, cv2.MORPH_CLOSE, _disk(1))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[score > options.seed_threshold])] = True
    seeded[0] = False
    seeded &= stats[:, cv2.CC_STAT_AREA] >= options.min_object_fraction * h * w
    mask = seeded[labels].astype(np.uint8)
    return fill_product_holes(mask, score, options.hole_fill_mean).astype(np.float32)


def fill_product_holes(mask: np.ndarray, score: np.ndarray, mean_threshold: float) -> np.ndarray:
    """Fill enclosed background regions of ``mask`` (uint8 0/1) that differ from the plate on average."""
    inverse = (mask == 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    if count <= 1:
        return mask
    touches_border = np.zeros(count, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touches_border[np.unique(edge)] = True
    # Measure away from the hole's rim, where the product's edge blurs in.
    interior = cv2.erode(inverse, _disk(2)).ravel() > 0
    sums = np.bincount(labels.ravel()[interior], weights=score.ravel()[interior], minlength=count)
    means = sums / np.maximum(np.bincount(labels.ravel()[interior], minlength=count), 1)
    # Tiny gaps are noise in the mask whatever their content.
    fill = ~touches_border & ((means > mean_threshold) | (stats[:, cv2.CC_STAT_AREA] < 16))
    fill[0] = False if touches_border[0] else fill[0]
    out = mask.copy()
    out[fill[labels] & (inverse == 1).astype(bool)] = 1
    return out


def solve_grabcut(photo: np.ndarray, coarse: np.ndarray, score: np.ndarray, iterations: int = 3,
                  valid: Optional[np.ndarray] = None, prior: Optional[np.ndarray] = None) -> np.ndarray:
    """GrabCut seeded from the plate difference; returns HxW uint8 {0, 1}.

    Sure product where the mask survives erosion and the difference is strong,
    probable product on the rest of the mask, probable backdrop in a ring around
    it, sure backdrop beyond. Only the ring's bounding box is solved.
    ``prior`` (hxw float32 [0, 1], e.g. the network's coarse mask) adds sure
    product where it is confident and keeps the components it supports.
    """
    h, w = coarse.shape
    inside = coarse > 0.5
    if not inside.any() or iterations <= 0:
        return inside.astype(np.uint8)
    ring = max(3, int(round(0.02 * max(h, w))))
    near = cv2.dilate(inside.astype(np.uint8), _disk(ring)) > 0
    core_fg = cv2.erode(inside.astype(np.uint8), _disk(max(2, ring // 3))) > 0
    gc = np.full((h, w), cv2.GC_BGD, np.uint8)
    gc[near] = cv2.GC_PR_BGD
    gc[inside] = cv2.GC_PR_FGD
    gc[core_fg & (score > 4.0)] = cv2.GC_FGD
    if prior is not None:
        gc[core_fg & (prior > 0.9)] = cv2.GC_FGD
    if valid is not None:
        # Where the plate gives no evidence, let colour and smoothness decide.
        gc[~valid & (gc == cv2.GC_BGD)] = cv2.GC_PR_BGD
    ys, xs = np.nonzero(gc != cv2.GC_BGD)
    y0, y1 = max(ys.min() - 2, 0), min(ys.max() + 3, h)
    x0, x1 = max(xs.min() - 2, 0), min(xs.max() + 3, w)
    crop = np.ascontiguousarray(gc[y0:y1, x0:x1])
    if not ((crop == cv2.GC_BGD) | (crop == cv2.GC_PR_BGD)).any() or not (
            (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)).any():
        return inside.astype(np.uint8)
    image = cv2.cvtColor((np.clip(photo[y0:y1, x0:x1], 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means start uses OpenCV's RNG: same input, same cut
    cv2.grabCut(image, crop, None, bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_MASK)
    out = np.zeros((h, w), np.uint8)
    out[y0:y1, x0:x1] = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
    # GrabCut may flip isolated backdrop specks; keep components the evidence supports.
    return _drop_unsupported_components(out, score, prior)


def _drop_unsupported_components(mask: np.ndarray, score: np.ndarray, prior: Optional[np.ndarray] = None,
                                 seed: float = 6.0) -> np.ndarray:
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count <= 2:
        return mask
    keep = np.zeros(count, bool)
    support = score > seed
    if prior is not None:
        support |= prior > 0.9
    keep[np.unique(labels[support & (mask > 0)])] = True
    keep[0] = False
    return keep[labels].astype(np.uint8)


def sample_bilinear(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``image`` (HxWxC float32) sampled at float coordinates ``xs``, ``ys`` (N,): returns NxC."""
    n = xs.size
    width = 4096  # cv2.remap needs maps under 32767 rows and columns
    rows = max(1, -(-n // width))
    pad = rows * width - n
    mx = np.pad(xs.astype(np.float32), (0, pad)).reshape(rows, width)
    my = np.pad(ys.astype(np.float32), (0, pad)).reshape(rows, width)
    out = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * width, -1)[:n]


def refine_edge(photo: np.ndarray, aligned_plate: np.ndarray, valid: np.ndarray, mask_small: np.ndarray,
                band_px: int = 2, min_contrast: float = 0.12,
                cancel: Optional[CancelToken] = None, photo_small: Optional[np.ndarray] = None) -> np.ndarray:
    """Soft alpha at full resolution from a binary mask solved at lower resolution.

    photo, aligned_plate: HxWx3 float32 [0, 1] full resolution; valid: HxW bool.
    mask_small: hxw {0, 1} at solve resolution. In a band of ``band_px``
    solve-pixels either side of the mask's edge, alpha is solved with the plate
    as known background: alpha = <I - B, F - B> / |F - B|^2, F being the colour
    of nearby sure product; where F and B are too alike (contrast below
    ``min_contrast``) the smoothly upsampled mask is kept. Returns HxW float32 [0, 1].
    """
    H, W = photo.shape[:2]
    h, w = mask_small.shape
    m = mask_small.astype(np.uint8)
    band_small = (cv2.dilate(m, _disk(band_px)) - cv2.erode(m, _disk(band_px))) > 0
    # Upsampling a lightly blurred mask gives a smooth fallback alpha in the band;
    # outside the band the mask is binary (thresholding avoids a 24 MP boolean index).
    soft = cv2.resize(cv2.GaussianBlur(m.astype(np.float32), (0, 0), 0.7), (W, H), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.threshold(soft, 0.5, 1.0, cv2.THRESH_BINARY)[1]
    band = cv2.resize(band_small.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST)
    check(cancel)
    points = cv2.findNonZero(band)
    if points is None:
        return alpha
    points = points.reshape(-1, 2)  # (x, y) rows; OpenCV 4 adds a middle axis
    xs, ys = points[:, 0], points[:, 1]
    # Colour of sure product near the edge, extrapolated outwards.
    if photo_small is None or photo_small.shape[:2] != (h, w):
        photo_small = resize_to(photo, (w, h))
    sure = cv2.erode(m, _disk(band_px + 1)).astype(np.float32)
    fg_small = fill_from_confident(photo_small, sure)
    sx = ((xs + 0.5) * (w / W) - 0.5).astype(np.float32)
    sy = ((ys + 0.5) * (h / H) - 0.5).astype(np.float32)
    F = sample_bilinear(fg_small, sx, sy)
    I = photo[ys, xs]
    B = aligned_plate[ys, xs]
    fb = F - B
    contrast2 = (fb * fb).sum(axis=1)
    solved = np.clip(((I - B) * fb).sum(axis=1) / np.maximum(contrast2, 1e-6), 0.0, 1.0)
    weight = np.clip(contrast2 / (min_contrast ** 2), 0.0, 1.0) * valid[ys, xs]
    blended = weight * solved + (1.0 - weight) * np.clip(soft[ys, xs], 0.0, 1.0)
    # Sensor noise leaves alpha of a few percent beside the edge (noise / |F - B|);
    # snapping it keeps the backdrop fully clear and crops tight.
    blended[blended < 0.04] = 0.0
    blended[blended > 0.96] = 1.0
    alpha[ys, xs] = blended
    return alpha


def join_touching(base: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``base`` plus the connected parts of ``extra`` that touch it (both HxW bool-like); uint8 {0, 1}."""
    union = (np.asarray(base, bool) | np.asarray(extra, bool)).astype(np.uint8)
    count, labels = cv2.connectedComponents(union, connectivity=8)
    touching = np.zeros(count, bool)
    touching[np.unique(labels[np.asarray(base, bool)])] = True
    touching[0] = False
    return touching[labels].astype(np.uint8)


def matte_classical(photo: np.ndarray, aligned_plate: np.ndarray, valid: np.ndarray,
                    options: ClassicalOptions = ClassicalOptions(),
                    cancel: Optional[CancelToken] = None,
                    small: Optional[SmallView] = None,
                    prior: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Coarse mask (at solve resolution) and full-resolution alpha; both float32 [0, 1].

    Returns ``(coarse_small, alpha)``; the coarse mask is small on purpose, the
    caller upsamples it for display only. ``small`` is a ready ``SmallView`` at
    ``options.solve_megapixels`` (made here when not given). ``prior``: a
    coarse mask from the network (any size, float32 [0, 1]); with it, the
    solve also trusts the network where the plate difference is silent, which
    is what fills a product whose colour matches the backdrop.
    """
    if small is None:
        small = make_small_view(photo, aligned_plate, valid, options.solve_megapixels)
    diff = measure_difference(small.photo, small.aligned_plate, small.valid)
    coarse = coarse_mask_from_difference(diff, options)
    strong = ((coarse > 0.5) & (diff.score > options.seed_threshold)).astype(np.uint8)
    veto = None
    if prior is not None:
        prior = small.shrink(prior.astype(np.float32), cv2.INTER_LINEAR)
        # Wide areas the network is sure are backdrop stay backdrop: there the plate
        # difference misleads (deep cast shadows, GrabCut spreading into them).
        veto = cv2.erode((prior < PRIOR_BACKDROP).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        # Only network regions that touch what the plate shows count: a detached
        # one has no evidence behind it at all.
        prior = prior * join_touching(coarse > 0.5, prior > 0.5)
        coarse = np.maximum(coarse, (prior > 0.5).astype(np.float32))
        coarse[veto] = 0.0
    check(cancel)
    mask = solve_grabcut(small.photo, coarse, diff.score, options.grabcut_iterations, small.valid, prior)
    # GrabCut's smoothness term cuts thin cables and straps away; pixels the plate
    # says are certainly product stay product.
    mask |= ((coarse > 0.5) & (diff.score > options.seed_threshold)).astype(np.uint8)
    mask = fill_product_holes(mask, diff.score, options.hole_fill_mean)
    if prior is not None:
        # Confident network regions joined to the solved product fill its colour-match holes.
        mask = join_touching(mask, prior > 0.9)
        mask[veto] = 0
        # A cable too thin for the network's resolution is no shadow: thin strong pixels stay.
        mask |= strong & ~cv2.morphologyEx(strong, cv2.MORPH_OPEN, _disk(3))
    check(cancel)
    alpha = refine_edge(photo, aligned_plate, valid, mask, cancel=cancel, photo_small=small.photo)
    return coarse, alpha
