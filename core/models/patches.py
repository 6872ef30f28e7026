"""Choosing, cropping and pasting the full-resolution patches the matting refiner re-solves.

Patches are ``patch x patch`` tiles on a regular grid of the full-resolution
image (the last row/column is shifted inside the image, so tiles may overlap
there); each crop adds ``context`` pixels on every side, replicated at the
image border. Coordinates are tile top-left corners in full-resolution pixels.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def tile_scores(alpha: np.ndarray, error: np.ndarray, full_size: tuple[int, int], patch: int) -> np.ndarray:
    """How much each tile needs refining: (ceil(H/patch), ceil(W/patch)) float32 >= 0.

    alpha, error: (h, w) float32 [0, 1] at the base resolution. The score is the
    predicted error plus the larger of the alpha uncertainty 4 * alpha * (1 - alpha)
    and the local alpha range (3x3 max - min), taken as a maximum over the base
    pixels each tile covers (edges are thin at base resolution).
    """
    height, width = full_size
    rows, cols = -(-height // patch), -(-width // patch)
    kernel = np.ones((3, 3), np.uint8)
    edge = cv2.dilate(alpha, kernel) - cv2.erode(alpha, kernel)  # a hard edge at base resolution is still blurred 10x at full
    score = (error + np.maximum(4.0 * alpha * (1.0 - alpha), edge)).astype(np.float32)
    h, w = score.shape
    if rows < h or cols < w:
        # max over the base pixels each tile covers (INTER_AREA would average a thin edge away)
        k = max(-(-h // rows), -(-w // cols)) + 1
        dense = cv2.resize(score, (cols * k, rows * k), interpolation=cv2.INTER_NEAREST)
        return dense.reshape(rows, k, cols, k).max(axis=(1, 3))
    # tiles smaller than base pixels: interpolate, then reach one tile further
    score = cv2.resize(score, (cols, rows), interpolation=cv2.INTER_LINEAR)
    return cv2.dilate(score, kernel)


def select_tiles(scores: np.ndarray, full_size: tuple[int, int], patch: int, max_tiles: int, threshold: float = 0.05):
    """Top-left corners (ys, xs), int64 arrays of length K <= max_tiles, of the highest-scoring tiles above threshold."""
    height, width = full_size
    if max_tiles <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    flat = scores.ravel()
    candidates = np.flatnonzero(flat > threshold)
    if len(candidates) > max_tiles:
        candidates = candidates[np.argpartition(flat[candidates], -max_tiles)[-max_tiles:]]
    candidates.sort()
    rows, cols = np.divmod(candidates, scores.shape[1])
    ys = np.minimum(rows * patch, max(0, height - patch)).astype(np.int64)
    xs = np.minimum(cols * patch, max(0, width - patch)).astype(np.int64)
    return ys, xs


def crop_patches(image_hwc: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, patch: int, context: int) -> torch.Tensor:
    """Crops (K, C, S, S), S = patch + 2 * context, from an (H, W, C) tensor (a view of a numpy image is fine)."""
    height, width = image_hwc.shape[:2]
    offsets = torch.arange(-context, patch + context)
    rows = (ys[:, None] + offsets).clamp(0, height - 1)
    cols = (xs[:, None] + offsets).clamp(0, width - 1)
    crops = image_hwc[rows[:, :, None], cols[:, None, :]]
    return crops.permute(0, 3, 1, 2).contiguous()


def sample_base(base: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, full_size: tuple[int, int], patch: int, context: int) -> torch.Tensor:
    """Bilinear samples (K, C, S, S) of the base outputs (1, C, h, w) at the crops' full-resolution pixel centres."""
    height, width = full_size
    offsets = torch.arange(-context, patch + context, dtype=base.dtype, device=base.device)
    gy = ((ys[:, None].to(base.device, base.dtype) + offsets + 0.5) / height) * 2 - 1
    gx = ((xs[:, None].to(base.device, base.dtype) + offsets + 0.5) / width) * 2 - 1
    size = offsets.numel()
    grid = torch.stack([gx[:, None, :].expand(-1, size, -1), gy[:, :, None].expand(-1, -1, size)], -1)
    return F.grid_sample(base.expand(len(ys), -1, -1, -1), grid, mode="bilinear", padding_mode="border", align_corners=False)


def paste_patches(target_hwc: np.ndarray, values: np.ndarray, ys: np.ndarray, xs: np.ndarray, patch: int) -> None:
    """Write (K, patch, patch, C) ``values`` into ``target_hwc`` (H, W, C) in place at the tiles' positions."""
    offsets = np.arange(patch)
    rows = ys[:, None] + offsets
    cols = xs[:, None] + offsets
    target_hwc[rows[:, :, None], cols[:, None, :]] = values
