"""Reduced-resolution copies shared by the stages that need context, not detail.

A 24 MP photo is shrunk once to about a megapixel; the classical solve, the
foreground fill and the quality judge all read the same small copies instead
of each resizing the full-resolution arrays again.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def scale_to_megapixels(shape: tuple, megapixels: float) -> float:
    """The factor (<= 1) that brings an image of ``shape`` to at most ``megapixels``."""
    h, w = shape[:2]
    return min(1.0, float(np.sqrt(megapixels * 1e6 / (h * w))))


def resize_to(image: np.ndarray, size_wh: tuple, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """``image`` at ``size_wh`` (width, height); the same array when it already is."""
    if (image.shape[1], image.shape[0]) == tuple(size_wh):
        return image
    return cv2.resize(image, size_wh, interpolation=interpolation)


@dataclass(frozen=True)
class SmallView:
    """photo, aligned_plate: hxwx3 float32 [0, 1]; valid: hxw bool; size: (w, h);
    full_size: (W, H) of the arrays they were made from."""

    photo: np.ndarray
    aligned_plate: np.ndarray
    valid: np.ndarray
    size: tuple
    full_size: tuple

    def shrink(self, image: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
        """Another full-resolution array brought to this view's size."""
        return resize_to(image, self.size, interpolation)


def make_small_view(photo: np.ndarray, aligned_plate: np.ndarray, valid: np.ndarray,
                    megapixels: float = 1.0) -> SmallView:
    """Shrink photo, plate and valid mask together to at most ``megapixels``."""
    H, W = photo.shape[:2]
    scale = scale_to_megapixels(photo.shape, megapixels)
    size = (max(8, int(round(W * scale))), max(8, int(round(H * scale))))
    small_valid = resize_to(valid.astype(np.uint8), size, cv2.INTER_NEAREST) > 0
    return SmallView(photo=resize_to(photo, size), aligned_plate=resize_to(aligned_plate, size),
                     valid=small_valid, size=size, full_size=(W, H))
