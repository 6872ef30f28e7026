"""Photometry of plate alignment: blank-plate check, exposure gain, changed region, comparison.

All functions work on downscaled RGB images, float32 in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import cv2
import numpy as np

from .align_geometry import coverage_mask
from .errors import AlignmentError

DARK, BRIGHT = 0.03, 0.96     # channel values outside this range carry no reliable ratio
AGREE_DIFF = 0.08             # a backdrop pixel "agrees" when photo and aligned plate differ less
IN_PLACE_MIN_AGREEMENT = 0.3  # a plate used in place must reproduce this much of the frame
IN_PLACE_MIN_BORDER_AGREEMENT = 0.6  # and this much of a band along its edges
PLAIN_DETAIL = 4 / 255       # fine detail of a paper sweep (grain, sensor noise) stays below this
MAX_GAIN_SAMPLES = 60_000


def border_colour(image: np.ndarray) -> np.ndarray:
    """(3,) median RGB of a band along the frame's edges (5% of the short side): the backdrop's colour."""
    band = max(2, round(0.05 * min(image.shape[:2])))
    edges = np.concatenate([image[:band].reshape(-1, 3), image[-band:].reshape(-1, 3),
                            image[:, :band].reshape(-1, 3), image[:, -band:].reshape(-1, 3)])
    return np.median(edges[::4], axis=0)


def check_image_content(image: np.ndarray, name: str, backdrop: Optional[np.ndarray] = None) -> None:
    """Raise ``AlignmentError`` if the photo or plate is an empty frame rather than a picture.

    image: HxWx3 float32 RGB in [0, 1] (a work-resolution copy is enough); name:
    "photo" or "plate", used in the message; backdrop: (3,) RGB of the photo's
    backdrop (``border_colour``), given when checking the plate.
    Rule: an evenly lit plain backdrop is a legitimate plate (it still has a light
    fall-off and sensor noise of a few 8-bit levels). Suspect are a black frame
    (lens cap, flash did not fire: mean luminance < 0.03 and 99% of pixels below
    0.1), a blown-out frame (98% of pixels clipped at white) and a constant frame
    (1st to 99th luminance percentile within 1.5 8-bit levels), which no camera
    produces. A suspect plate is still accepted when the photo's backdrop has its
    colour (within 0.06): black velvet and blown-out white seamless are real studio
    set-ups, and their plates are exactly such frames.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    p1, p99 = np.percentile(grey[::2, ::2], [1, 99])
    if grey.mean() < 0.03 and p99 < 0.1:
        problem = f"the {name} is almost black (lens cap on or no light)"
    elif np.mean(grey >= 0.985) > 0.98:
        problem = f"the {name} is blown out to white"
    elif p99 - p1 < 1.5 / 255:
        problem = f"the {name} is a uniform frame with no picture in it"
    else:
        return
    if backdrop is not None and np.abs(np.median(image[::4, ::4].reshape(-1, 3), axis=0) - backdrop).max() < 0.06:
        return
    raise AlignmentError(f"{problem}; pick the right {name} file or reshoot it with the photo's exposure")


def is_plain(grey: np.ndarray) -> bool:
    """Whether a backdrop shows no texture to align on (a paper sweep), rather than cloth, foam or a room.

    grey: HxW float32 in [0, 1], about 0.2 megapixels. Measured on the fine detail (a
    difference of Gaussians, 1 to 4 pixels): its 90th percentile stays within 2.2 8-bit
    levels on synthetic paper sweeps with sensor noise and is 6 to 20 on foam, coarse
    fabric and photos; a fine weave or a smooth table top may pass for plain.
    """
    detail = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 4.0)
    return float(np.percentile(np.abs(detail[::2, ::2]), 90)) < PLAIN_DETAIL


def _log_ratio_mode(ratios: np.ndarray) -> float:
    """Peak of the distribution of log ratios: robust to one-sided outliers such as shadows."""
    hist, edges = np.histogram(ratios, bins=1000, range=(-2.0, 2.0))  # 0.004 wide: 0.4% of gain
    hist = cv2.GaussianBlur(hist.astype(np.float32).reshape(1, -1), (0, 0), 2.0).ravel()
    peak = float(edges[np.argmax(hist)] + 0.002)
    for _ in range(3):  # mean shift on a narrow window sharpens the histogram peak
        near = ratios[np.abs(ratios - peak) < 0.02]
        if len(near) == 0:
            break
        peak = float(near.mean())
    return peak


def fit_gain(photo: np.ndarray, warped_plate: np.ndarray, backdrop: np.ndarray) -> Optional[np.ndarray]:
    """Per-channel gain g (3,) float64 such that g * warped_plate ~= photo on the backdrop.

    photo, warped_plate: HxWx3 float32 RGB [0, 1]; backdrop: HxW bool, pixels that
    show the backdrop in both (valid, not product). Each channel's gain is the mode
    of log(photo / plate) over unclipped, not-too-dark pixels, so product remnants
    and cast shadows (which only darken) do not bias it. No offset is fitted: on a
    single-colour paper sweep gain and offset cannot be told apart. Returns None
    when fewer than 500 pixels qualify.
    """
    step = max(1, int(np.ceil(np.sqrt(backdrop.size / MAX_GAIN_SAMPLES))))
    keep = backdrop[::step, ::step]
    p = photo[::step, ::step][keep]
    q = warped_plate[::step, ::step][keep]
    gains = np.ones(3)
    for c in range(3):
        pc, qc = p[:, c], q[:, c]
        ok = (pc > DARK) & (pc < BRIGHT) & (qc > DARK) & (qc < BRIGHT)
        if ok.sum() < 500:
            return None
        gains[c] = np.exp(_log_ratio_mode(np.log(pc[ok] / qc[ok])))
    return gains


def backdrop_difference(photo: np.ndarray, warped_plate: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """HxW float32: largest per-channel |photo - gain * plate| after a light blur (noise, aliasing)."""
    a = cv2.GaussianBlur(photo, (5, 5), 0)
    b = cv2.multiply(cv2.GaussianBlur(warped_plate, (5, 5), 0), tuple(float(g) for g in gain) + (1.0,))
    red, green, blue = cv2.split(cv2.absdiff(a, b))
    return cv2.max(cv2.max(red, green), blue)


def changed_region(difference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """HxW bool: where photo and aligned plate differ (product, shadow, parallax), generously dilated.

    The threshold adapts to the backdrop's own noise (a multiple of the lower
    quartile of the difference) within [0.04, 0.12].
    """
    values = difference[::2, ::2][valid[::2, ::2]]
    base = float(np.percentile(values, 25)) if values.size else 0.0
    threshold = float(np.clip(6.0 * base, 0.04, 0.12))
    changed = (difference > threshold).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    radius = max(3, round(0.01 * np.hypot(*difference.shape)))
    # a square kernel is separable, hence fast; the exact shape of the margin does not matter
    return cv2.dilate(changed, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)).view(bool)


def backdrop_agreement(difference: np.ndarray, valid: np.ndarray, border_only: bool = False) -> float:
    """Fraction of valid pixels where the aligned plate reproduces the photo (0..1).

    border_only: count only a band along the frame's edges (5% of the short side),
    where the backdrop shows in nearly every product shot.
    """
    if border_only:
        band = max(2, round(0.05 * min(difference.shape)))
        edge = np.ones_like(valid)
        edge[band:-band, band:-band] = False
        valid = valid & edge
    count = int(valid.sum())
    return float(((difference < AGREE_DIFF) & valid).sum() / count) if count else 0.0


@dataclass(frozen=True)
class Comparison:
    """Photo vs plate warped by a homography, at the resolution of the images compared.

    warped: HxWx3 float32 plate in the photo's frame, no gain applied; valid: HxW bool,
    where it covers the photo; gain: (3,) float64; difference: HxW float32 after the gain
    (``backdrop_difference``); changed: HxW bool, product / shadow / parallax, dilated.
    """

    warped: np.ndarray
    valid: np.ndarray
    gain: np.ndarray
    difference: np.ndarray
    changed: np.ndarray

    @property
    def backdrop(self) -> np.ndarray:
        """HxW bool: pixels both images show as backdrop."""
        return self.valid & ~self.changed


def compare_backdrop(photo: np.ndarray, plate: np.ndarray, homography: np.ndarray, with_gain: bool) -> Comparison:
    """Warp ``plate`` by ``homography`` (photo -> plate pixels of these images) and compare it with ``photo``."""
    warped = cv2.warpPerspective(plate, homography, (photo.shape[1], photo.shape[0]),
                                 flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    valid = coverage_mask(homography, plate.shape, photo.shape, 1.0)
    gain = fit_gain(photo, warped, valid) if with_gain else None
    gain = np.ones(3) if gain is None else gain
    difference = backdrop_difference(photo, warped, gain)
    return Comparison(warped, valid, gain, difference, changed_region(difference, valid))


def refit_gain(photo: np.ndarray, comparison: Comparison) -> Comparison:
    """The comparison with the gain fitted on the backdrop alone, now that the changed region is known."""
    gain = fit_gain(photo, comparison.warped, comparison.backdrop)
    if gain is None:
        return comparison
    return replace(comparison, gain=gain, difference=backdrop_difference(photo, comparison.warped, gain))


def in_place_agreement(comparison: Comparison) -> tuple[float, float]:
    """(frame, edges): the fractions of the frame and of a band along its edges where the plate
    reproduces the photo (``backdrop_agreement``)."""
    return (backdrop_agreement(comparison.difference, comparison.valid),
            backdrop_agreement(comparison.difference, comparison.valid, border_only=True))


def reproduces_backdrop(comparison: Comparison) -> bool:
    """Whether a plate used in place explains the photo: over much of the frame, and along its edges."""
    agreement, border = in_place_agreement(comparison)
    return agreement >= IN_PLACE_MIN_AGREEMENT and border >= IN_PLACE_MIN_BORDER_AGREEMENT
