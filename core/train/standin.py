"""Stand-in pair renderer used for training until ``core.synth.make_pair`` exists.

A simpler cousin of the synthetic generator: a real object mask (DAVIS, BSDS
salient objects) or a procedural blob, softened, composited over a paper sweep
or a real photo, with a cast shadow in the photo only, and a plate that is the
same backdrop with a residual sub-pixel shift, gain drift and its own noise.
Returns the ``core.synth.SyntheticPair`` fields as a plain namespace so that
importing this module never imports ``core.synth``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np


@lru_cache(maxsize=4)
def _list_sources(data_dir: str) -> tuple[list, list]:
    root = Path(data_dir)
    objects = []
    for mask in sorted((root / "davis2016-val-sub" / "masks").glob("*.png")):
        objects.append((root / "davis2016-val-sub" / "images" / (mask.stem + ".jpg"), mask))
    for mask in sorted((root / "bsds500" / "sod-masks").glob("*.png")):
        for split in ("train", "val", "test"):
            image = root / "bsds500" / "images" / split / (mask.stem + ".jpg")
            if image.exists():
                objects.append((image, mask))
                break
    backdrops = sorted((root / "bsds500" / "images").glob("*/*.jpg"))
    return [o for o in objects if o[0].exists()], backdrops


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _paper_sweep(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    colour = rng.uniform(0.05, 0.95, 3).astype(np.float32)
    if rng.random() < 0.3:
        colour[:] = rng.uniform(0.1, 0.95)
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    falloff = 1.0 + rng.uniform(-0.35, 0.2) * ys + rng.uniform(-0.1, 0.1) * np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    image = colour[None, None, :] * falloff
    if rng.random() < 0.4:  # fabric-like texture
        noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 3))
        image = image * (1 + rng.uniform(0.02, 0.12) * noise[..., None] / (noise.std() + 1e-6))
    return np.clip(image, 0, 1).astype(np.float32)


def _procedural_object(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 4)):
        centre = (int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h))
        axes = (int(rng.uniform(0.08, 0.3) * w), int(rng.uniform(0.08, 0.35) * h))
        if rng.random() < 0.5:
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        else:
            cv2.rectangle(mask, (centre[0] - axes[0], centre[1] - axes[1]), (centre[0] + axes[0], centre[1] + axes[1]), 255, -1)
    colour = rng.uniform(0, 1, 3).astype(np.float32)
    shade = np.linspace(0.7, 1.1, w, dtype=np.float32)[None, :, None]
    texture = _paper_sweep(rng, h, w) if rng.random() < 0.3 else np.ones((h, w, 3), np.float32)
    return np.clip(colour * shade * texture, 0, 1), mask.astype(np.float32) / 255.0


def render_standin_pair(seed: int, size: tuple[int, int], data_dir: str | Path | None) -> SimpleNamespace:
    """One pair at ``size`` (H, W): fields photo, aligned_plate (HxWx3 [0,1]), alpha (HxW [0,1]), foreground, tags."""
    rng = np.random.default_rng(seed)
    h, w = size
    objects, backdrops = _list_sources(str(data_dir)) if data_dir is not None and Path(data_dir).exists() else ([], [])
    tags = set()
    if objects and rng.random() < 0.85:
        image_path, mask_path = objects[rng.integers(len(objects))]
        fg = _read_rgb(image_path)
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        if fg.shape[:2] != mask.shape:
            fg = np.ascontiguousarray(np.rot90(fg))
        if fg.shape[:2] != mask.shape:
            fg = cv2.resize(fg, mask.shape[::-1])
        tags.add("real_mask")
    else:
        fg, mask = _procedural_object(rng, 256, 256)
    # place the object's bounding box at a random scale and position
    ys, xs = np.nonzero(mask > 0.5)
    if len(ys) < 16:
        fg, mask = _procedural_object(rng, 256, 256)
        ys, xs = np.nonzero(mask > 0.5)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    scale = rng.uniform(0.35, 0.95) * min(h / (y1 - y0), w / (x1 - x0))
    ty = rng.uniform(0, max(1.0, h - scale * (y1 - y0))) - scale * y0
    tx = rng.uniform(0, max(1.0, w - scale * (x1 - x0))) - scale * x0
    warp = np.array([[scale, 0, tx], [0, scale, ty]], np.float32)
    fg = cv2.warpAffine(fg, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = cv2.warpAffine(mask, warp, (w, h), flags=cv2.INTER_LINEAR)
    alpha = np.clip(cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.3, 1.5)), 0, 1)

    if backdrops and rng.random() < 0.4:
        backdrop = cv2.resize(_read_rgb(backdrops[rng.integers(len(backdrops))]), (w, h), interpolation=cv2.INTER_AREA)
    else:
        backdrop = _paper_sweep(rng, h, w)
    if rng.random() < 0.2:  # product colour close to the backdrop's
        fg = np.clip(0.6 * fg + 0.4 * backdrop.mean((0, 1)), 0, 1)
        tags.add("close_colour")
    shadow = np.ones((h, w), np.float32)
    if rng.random() < 0.5:
        dx, dy = rng.uniform(-0.08, 0.08, 2) * (w, h)
        cast = cv2.warpAffine(alpha, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h))
        cast = cv2.GaussianBlur(cast, (0, 0), rng.uniform(2, 12))
        shadow = 1.0 - rng.uniform(0.15, 0.55) * cast
        tags.add("shadow")
    noise = rng.uniform(0.002, 0.02)
    photo = alpha[..., None] * fg + (1 - alpha[..., None]) * backdrop * shadow[..., None]
    photo = photo + rng.normal(0, noise, photo.shape).astype(np.float32)
    shift = np.float32([[1, 0, rng.normal(0, 0.4)], [0, 1, rng.normal(0, 0.4)]])
    plate = cv2.warpAffine(backdrop, shift, (w, h), borderMode=cv2.BORDER_REFLECT)
    plate = plate * rng.uniform(0.96, 1.04, 3).astype(np.float32)
    plate = plate + rng.normal(0, noise, plate.shape).astype(np.float32)
    return SimpleNamespace(
        photo=np.clip(photo, 0, 1).astype(np.float32),
        aligned_plate=np.clip(plate, 0, 1).astype(np.float32),
        alpha=alpha.astype(np.float32),
        foreground=fg.astype(np.float32),
        shadow=shadow,
        tags=frozenset(tags),
    )
