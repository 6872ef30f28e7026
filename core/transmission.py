"""Re-level see-through areas of a matte from the backdrop texture seen through them.

A see-through layer (clear glass, film, a veil) of opacity ``a`` and colour ``F``
over the backdrop ``B`` shows ``I = a F + (1 - a) B``: the backdrop's fine texture
passes with ``1 - a`` of its contrast, whatever the layer's colour. Where the glass
has the backdrop's own colour, colour and shading say little about ``a`` and the
matting network guesses it (on the dev set its guesses sat 0.1-0.2 from the truth);
the texture measures it.

For each large area of mid alpha (at most ``WORK_SIDE`` px on the long side):
regress the photo's high-pass on the plate's, pooled over the area and the colour
channels, and divide by the same regression over the clear, unshadowed backdrop,
where ``a`` is 0. The calibration cancels what weakens the texture everywhere alike:
sensor noise, JPEG, blur and the alignment's residual. The matte's level over the
area moves toward ``1 - ratio``; its shape within the area stays the network's.

Left alone: a backdrop without measurable texture (plain paper: nothing to read),
areas the texture does not cross (the texture seen through them does not follow the
plate's, as behind refracting glass), shifts larger than ``MAX_SHIFT`` (no single
level fits the area, or the reading is off) and areas that look like a shadow (the
photo as much darker than the plate as the texture is weaker).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

#: the work size (long side, px): the tests below were set on 512x384 pairs
WORK_SIDE = 512
#: Gaussian sigma (work px) of the low-pass whose remainder is the texture
HIGHPASS_SIGMA = 4.0
#: alpha range of a see-through area
MID_ALPHA = (0.1, 0.9)
#: the backdrop: alpha below this, 4 px away from anything above it, and lit as in the plate
BACKDROP_ALPHA = 0.005
UNSHADED = 0.07
#: the backdrop's texture must correlate this well between photo and plate
MIN_BACKDROP_CORRELATION = 0.45
#: and pass with at least this slope (else alignment or blur ate it)
MIN_BACKDROP_SLOPE = 0.3
#: an area's interior (3 px in from its edge) must cover this share of the work image
MIN_AREA_SHARE = 0.0015
#: the plate's texture under an area must be at least this strong against the backdrop's
MIN_TEXTURE_RATIO = 0.5
#: below this photo-plate correlation in the area the texture does not cross it
MIN_AREA_CORRELATION = 0.05
#: the largest level change made; larger ones are not trusted
MAX_SHIFT = 0.2
#: the share of the measured change applied (the reading is noisy; the network is not blind)
GAIN = 0.75
#: an area at least this much darker than the plate, with its texture as much weaker, is a shadow
SHADOW_DARKER = 0.92
SHADOW_MATCH = 0.15


@dataclass(frozen=True)
class Relevelled:
    """One see-through area the matte's level was moved in (levels are mean alpha)."""

    share: float  # of the frame
    before: float
    measured: float
    after: float


def _texture_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope of y on x, their correlation, x's energy per pixel) over zero-mean rows (N, 3) pooled."""
    cov = float((x * y).sum())
    vx = float((x * x).sum())
    vy = float((y * y).sum())
    if vx <= 1e-12 or vy <= 1e-12:
        return 0.0, 0.0, vx / max(len(x), 1)
    return cov / vx, cov / np.sqrt(vx * vy), vx / len(x)


def relevel_see_through(photo: np.ndarray, plate: np.ndarray, alpha: np.ndarray,
                        valid: Optional[np.ndarray] = None) -> tuple[np.ndarray, tuple[Relevelled, ...]]:
    """(alpha with its see-through areas re-levelled, what was moved); ``alpha`` is not changed.

    photo, plate: HxWx3 float32 [0, 1], the plate aligned; alpha: HxW float32 [0, 1];
    valid: HxW bool, where the aligned plate has data (default: everywhere).
    """
    height, width = alpha.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))

    def small(image, interpolation=cv2.INTER_AREA):
        image = np.asarray(image, np.float32)
        return image if scale == 1.0 else cv2.resize(image, size, interpolation=interpolation)

    photo_s, plate_s, alpha_s = small(photo), small(plate), small(alpha)
    ok = np.ones(alpha_s.shape, bool) if valid is None else small(valid.astype(np.float32), cv2.INTER_NEAREST) > 0.5
    low_photo = cv2.GaussianBlur(photo_s, (0, 0), HIGHPASS_SIGMA)
    low_plate = cv2.GaussianBlur(plate_s, (0, 0), HIGHPASS_SIGMA)
    tex_photo, tex_plate = photo_s - low_photo, plate_s - low_plate
    darker = (low_photo.sum(-1) + 1e-3) / (low_plate.sum(-1) + 1e-3)

    backdrop = cv2.erode((alpha_s < BACKDROP_ALPHA).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    backdrop &= ok & (np.abs(darker - 1.0) < UNSHADED)
    if backdrop.sum() < 500:
        return alpha, ()
    slope_b, corr_b, energy_b = _texture_fit(tex_plate[backdrop], tex_photo[backdrop])
    if corr_b < MIN_BACKDROP_CORRELATION or slope_b < MIN_BACKDROP_SLOPE:
        return alpha, ()

    lo, hi = MID_ALPHA
    mid = ((alpha_s > lo) & (alpha_s < hi)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mid, connectivity=8)
    interior = (cv2.erode(mid, np.ones((7, 7), np.uint8)) > 0) & ok
    shifts = np.zeros(count, np.float32)
    moved = []
    min_area = MIN_AREA_SHARE * alpha_s.size
    # a fuzzy or noisy matte can have thousands of small pieces: only large ones are looked at
    for label in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area):
        if label == 0:
            continue
        area = (labels == label) & interior
        if area.sum() < min_area:
            continue
        slope, corr, energy = _texture_fit(tex_plate[area], tex_photo[area])
        if energy < MIN_TEXTURE_RATIO * energy_b or corr < MIN_AREA_CORRELATION:
            continue
        transmitted = slope / slope_b
        measured = float(np.clip(1.0 - transmitted, 0.02, 0.98))
        before = float(alpha_s[area].mean())
        if abs(measured - before) > MAX_SHIFT:
            continue
        shade = float(np.mean(darker[area]))
        if shade < SHADOW_DARKER and abs(shade - transmitted) < SHADOW_MATCH:
            continue
        shifts[label] = GAIN * (measured - before)
        moved.append(Relevelled(float(area.sum() / alpha_s.size), before, measured, before + float(shifts[label])))
    if not moved:
        return alpha, ()
    shift = shifts[labels]
    if scale != 1.0:
        shift = cv2.resize(shift, (width, height), interpolation=cv2.INTER_NEAREST)
    out = alpha.astype(np.float32, copy=True)
    inside = (out > lo) & (out < hi)
    out[inside] = np.clip(out[inside] + shift[inside], 0.0, 1.0)
    return out, tuple(moved)
