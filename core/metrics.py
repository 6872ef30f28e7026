"""Matting error measures, Rhemann et al. (alphamatting.com) conventions.

All take ``alpha`` and ``truth`` as HxW float arrays in [0, 1] and an optional
boolean ``region`` (default: the whole image; the benchmark's trimap "unknown"
region is not used because our task includes the segmentation itself).
Reported units follow the papers: SAD, Grad and Conn divided by 1000, MSE
multiplied by 1000.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np


def _region(alpha: np.ndarray, region: Optional[np.ndarray]) -> np.ndarray:
    return np.ones(alpha.shape, bool) if region is None else region.astype(bool)


def sad(alpha: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None) -> float:
    """Sum of absolute differences / 1000."""
    r = _region(alpha, region)
    return float(np.abs(alpha[r].astype(np.float64) - truth[r]).sum() / 1000.0)


def mse(alpha: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None) -> float:
    """Mean squared error x 1000 (over ``region``)."""
    r = _region(alpha, region)
    d = alpha[r].astype(np.float64) - truth[r]
    return float((d * d).mean() * 1000.0) if d.size else 0.0


def _gauss_gradient_magnitude(image: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    """|grad| with first-order Gaussian derivative filters (as the benchmark's MATLAB code)."""
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2 * np.pi) * sigma * 1e-2))))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-x ** 2 / (2 * sigma ** 2)) / (np.sqrt(2 * np.pi) * sigma)
    dg = -x * g / sigma ** 2
    # The reference normalises the 2-D kernel outer(g, dg) to unit L2 norm.
    g, dg = g / np.linalg.norm(g), dg / np.linalg.norm(dg)
    image = image.astype(np.float64)
    gx = cv2.sepFilter2D(image, cv2.CV_64F, dg, g, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.sepFilter2D(image, cv2.CV_64F, g, dg, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def gradient_error(alpha: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None) -> float:
    """Sum of squared differences of gradient magnitudes / 1000."""
    r = _region(alpha, region)
    d = _gauss_gradient_magnitude(alpha) - _gauss_gradient_magnitude(truth)
    return float((d[r] ** 2).sum() / 1000.0)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def connectivity_error(alpha: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None,
                       step: float = 0.1) -> float:
    """Connectivity error / 1000: how far each pixel's alpha is from the level
    at which it stays connected to the main body of both mattes."""
    r = _region(alpha, region)
    alpha = alpha.astype(np.float64)
    truth = truth.astype(np.float64)
    thresholds = np.arange(0.0, 1.0 + step / 2, step)
    level = np.full(alpha.shape, -1.0)
    for i in range(1, len(thresholds)):
        omega = _largest_component((alpha >= thresholds[i]) & (truth >= thresholds[i]))
        level[(level == -1) & ~omega] = thresholds[i - 1]
    level[level == -1] = 1.0
    da, dt = alpha - level, truth - level
    phi_a = 1.0 - da * (da >= 0.15)
    phi_t = 1.0 - dt * (dt >= 0.15)
    return float(np.abs(phi_a - phi_t)[r].sum() / 1000.0)


def iou(alpha: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection over union of the two mattes thresholded at ``threshold`` (1.0 if both are empty)."""
    a, t = alpha > threshold, truth > threshold
    union = (a | t).sum()
    return float((a & t).sum() / union) if union else 1.0


def all_metrics(alpha: np.ndarray, truth: np.ndarray, region: Optional[np.ndarray] = None) -> dict:
    """{"SAD", "MSE", "Grad", "Conn", "IoU"} for one matte."""
    return {"SAD": sad(alpha, truth, region), "MSE": mse(alpha, truth, region),
            "Grad": gradient_error(alpha, truth, region), "Conn": connectivity_error(alpha, truth, region),
            "IoU": iou(alpha, truth)}
