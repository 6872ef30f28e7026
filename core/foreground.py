"""Foreground colours: decontaminate soft edges using the known plate.

Where the plate is known, I = alpha * F + (1 - alpha) * B gives the foreground
directly: F = (I - (1 - alpha) B) / alpha. That is exact for alpha near 1 and
unstable for small alpha, where it is blended into the colour of the nearest
solid product (extrapolated by a push-pull fill). Pixels with alpha 0 also
carry that colour, so resampling the straight-alpha PNG never pulls in backdrop.
"""
from __future__ import annotations

import cv2
import numpy as np

from .working import SmallView, resize_to

_SOLID = 0.98


def fill_from_confident(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Extrapolate ``values`` from where ``weights`` is high to everywhere (push-pull).

    values: HxWxC float32; weights: HxW float32 in [0, 1]. Returns HxWxC float32
    equal to ``values`` where weights is 1, smoothly filled elsewhere. If no
    weight is positive the plain mean of ``values`` is returned everywhere.
    """
    weights = weights.astype(np.float32)
    if not (weights > 0).any():
        return np.broadcast_to(values.reshape(-1, values.shape[-1]).mean(0), values.shape).astype(np.float32)
    levels = [(values * weights[..., None], weights)]
    while min(levels[-1][1].shape) > 2:
        vw, w = levels[-1]
        levels.append((cv2.pyrDown(vw), cv2.pyrDown(w)))
    vw, w = levels[-1]
    estimate = vw / np.maximum(w, 1e-8)[..., None]
    fallback = (vw.reshape(-1, vw.shape[-1]).sum(0) / max(float(w.sum()), 1e-8)).astype(np.float32)
    estimate[w <= 1e-8] = fallback
    for vw, w in reversed(levels[:-1]):
        up = cv2.resize(estimate, (w.shape[1], w.shape[0]), interpolation=cv2.INTER_LINEAR)
        if up.ndim == 2:
            up = up[..., None]
        own = vw / np.maximum(w, 1e-8)[..., None]
        confidence = np.clip(w * 4.0, 0.0, 1.0)[..., None]
        estimate = confidence * own + (1.0 - confidence) * up
    return estimate.astype(np.float32)


def soft_pixels(alpha: np.ndarray, low: float = 0.0, high: float = _SOLID) -> tuple:
    """(ys, xs) of pixels with low < alpha < high, found without a full-size boolean index."""
    mask = cv2.inRange(alpha, float(low), float(high))
    mask[alpha <= low] = 0  # inRange is inclusive at both ends
    points = cv2.findNonZero(mask)
    if points is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    points = points.reshape(-1, 2)  # (x, y) rows; OpenCV 4 adds a middle axis
    return points[:, 1], points[:, 0]


def estimate_foreground(photo: np.ndarray, aligned_plate: np.ndarray, alpha: np.ndarray,
                        valid: np.ndarray | None = None, work_megapixels: float = 1.0,
                        small: SmallView | None = None) -> np.ndarray:
    """Straight foreground colours, HxWx3 float32 RGB [0, 1].

    photo, aligned_plate: HxWx3 float32 [0, 1]; alpha: HxW float32 [0, 1];
    valid: HxW bool where the plate is trustworthy (elsewhere the solid-colour
    fill is used for soft pixels). The push-pull fill runs at about
    ``work_megapixels`` (or on ``small``'s photo); the exact solve only touches
    soft pixels.
    """
    H, W = alpha.shape
    if small is None:
        scale = min(1.0, float(np.sqrt(work_megapixels * 1e6 / (H * W))))
        size = (max(4, int(round(W * scale))), max(4, int(round(H * scale))))
        photo_s = resize_to(photo, size)
    else:
        photo_s, size = small.photo, small.size
    alpha_s = resize_to(alpha, size)
    solid = np.clip((alpha_s - 0.9) / (_SOLID - 0.9), 0.0, 1.0).astype(np.float32)
    fill_s = fill_from_confident(photo_s, solid)
    # Start from the fill (covers alpha == 0), then copy solid pixels from the photo.
    foreground = resize_to(fill_s, (W, H), cv2.INTER_LINEAR)
    if foreground is fill_s:
        foreground = fill_s.copy()
    solid_full = cv2.threshold(alpha, _SOLID - 1e-6, 1, cv2.THRESH_BINARY)[1].astype(np.uint8)
    cv2.copyTo(photo, solid_full, foreground)
    ys, xs = soft_pixels(alpha)
    if ys.size:
        a = alpha[ys, xs][:, None]
        I = photo[ys, xs]
        B = aligned_plate[ys, xs]
        exact = np.clip((I - (1.0 - a) * B) / np.maximum(a, 1e-3), 0.0, 1.0)
        # Trust the exact solve from alpha ~0.35 up; below, noise / alpha dominates.
        trust = np.clip((a - 0.05) / 0.3, 0.0, 1.0)
        if valid is not None:
            trust = trust * valid[ys, xs][:, None]
        foreground[ys, xs] = trust * exact + (1.0 - trust) * foreground[ys, xs]
    return foreground
