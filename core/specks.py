"""Dropping specks: small pieces of a matte that lie apart from the product.

Where the scene changed between the photo and the plate (leaves in the wind,
a hand-held camera's parallax, dust), the matting network sees a difference and
keeps it: a few bright specks beside the product. A piece of the matte
(8-connected, alpha above ``LOW``) whose alpha mass is under a small share of
the largest piece's is taken for one and cleared. Products with parts apart
(a pair of earrings, a cap beside its bottle) keep them: each part is far more
than a percent of the largest.
"""
from __future__ import annotations

import cv2
import numpy as np

#: default share of the largest piece's alpha mass under which a piece is a speck
SPECK_SHARE = 0.01
#: alpha above this belongs to a piece
LOW = 0.05
#: the pieces are found on a copy of at most this many pixels (a 24 MP matte costs little more than a small one)
WORK_PIXELS = 2_000_000


def drop_specks(alpha: np.ndarray, share: float = SPECK_SHARE) -> tuple[np.ndarray, float]:
    """(alpha with the specks cleared, the share of the matte's alpha they held); ``alpha`` (HxW float32
    [0, 1]) is not changed. Most mattes have a few noise specks of a pixel or two: a share of 0.0001.

    share: a piece whose alpha mass is under ``share`` times the largest piece's is
    cleared; 0 keeps every piece. Pixels next to a kept piece are never cleared.
    """
    if share <= 0:
        return alpha, 0.0
    height, width = alpha.shape
    scale = min(1.0, float(np.sqrt(WORK_PIXELS / (height * width))))
    small = alpha if scale == 1.0 else cv2.resize(
        alpha, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    count, labels = cv2.connectedComponents((small > LOW).astype(np.uint8), connectivity=8)
    if count <= 2:
        return alpha, 0.0
    mass = np.bincount(labels.ravel(), weights=small.ravel(), minlength=count)
    mass[0] = 0.0
    speck = mass < share * mass.max()
    speck[0] = False
    if not speck.any():
        return alpha, 0.0
    kernel = np.ones((3, 3), np.uint8)
    kept = ((labels > 0) & ~speck[labels]).astype(np.uint8)
    gone = (cv2.dilate(speck[labels].astype(np.uint8), kernel) > 0) & (cv2.dilate(kept, kernel) == 0)
    gone = gone.astype(np.uint8)
    if scale < 1.0:
        gone = cv2.resize(gone, (width, height), interpolation=cv2.INTER_NEAREST)
    out = alpha.copy()
    np.putmask(out, gone.view(bool), 0.0)
    return out, float(mass[speck].sum() / max(mass.sum(), 1e-9))
