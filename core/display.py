"""8-bit screen proxies of a result, so a GUI never converts full-resolution arrays.

Everything here is numpy/OpenCV (no Qt): a worker thread calls
``make_display_images`` once per result and the GUI only wraps the small uint8
buffers. Proxies are at most ``max_side`` pixels long; their pixel grid maps to
the full-resolution photo by ``scale = display width / photo width``. When a
view zooms in past that scale, ``render_detail`` cuts the visible part of the
full-resolution layers at screen resolution (a detail tile drawn over the proxy).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .history import Region

DISPLAY_MAX_SIDE = 2048
DETAIL_LAYERS = ("photo", "aligned_plate", "difference", "coarse_mask", "alpha", "cutout")
DETAIL_MAX_PIXELS = 6_000_000  # one tile of one layer: a 4K screen's worth plus margin
HINT_COLOURS = np.array([[0, 0, 0, 0],           # none
                         [40, 220, 90, 150],     # foreground hint
                         [235, 60, 60, 150]],    # background hint
                        np.uint8)


@dataclass(frozen=True)
class DisplayImages:
    """Screen proxies of one result, all the same hxw (the display shape).

    size: (W, H) of the full-resolution photo (the views' coordinate system).
    photo, aligned_plate: hxwx3 uint8 RGB.
    difference: hxwx3 uint8 RGB, |photo - aligned plate| amplified; tinted red where the plate is invalid.
    coarse_mask, alpha: hxw uint8 (0 backdrop .. 255 product).
    cutout: hxwx4 uint8 RGBA, straight (not premultiplied) foreground with alpha.
    """

    size: tuple
    photo: np.ndarray
    aligned_plate: np.ndarray
    difference: np.ndarray
    coarse_mask: np.ndarray
    alpha: np.ndarray
    cutout: np.ndarray

    @property
    def scale(self) -> float:
        return self.photo.shape[1] / self.size[0]


def display_shape(height: int, width: int, max_side: int = DISPLAY_MAX_SIDE) -> tuple[int, int]:
    """(h, w) of the proxy of an image of ``height`` x ``width``."""
    factor = min(1.0, max_side / max(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def resize_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``image`` resized to (h, w): area averaging when shrinking, bilinear when growing."""
    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    shrinking = image.shape[0] > h or image.shape[1] > w
    src = image.astype(np.float32) if image.dtype == bool else image
    return cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 [0, 255], rounded; uint8 passes through."""
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    return np.ascontiguousarray((np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def make_cutout(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """hxwx4 uint8 straight RGBA from float foreground (hxwx3) and alpha (hxw)."""
    return np.ascontiguousarray(np.dstack([to_uint8(foreground), to_uint8(alpha)]))


def make_difference(photo: np.ndarray, aligned_plate: np.ndarray, valid: Optional[np.ndarray] = None,
                    gain: float = 4.0) -> np.ndarray:
    """hxwx3 uint8 |photo - aligned plate| x gain; where the plate is invalid a dark red."""
    diff = np.clip(np.abs(photo.astype(np.float32) - aligned_plate.astype(np.float32)) * gain, 0.0, 1.0)
    out = to_uint8(diff)
    if valid is not None:
        out[~valid.astype(bool)] = (90, 0, 0)
    return out


def make_display_images(result, size: Optional[tuple] = None, max_side: int = DISPLAY_MAX_SIDE) -> DisplayImages:
    """Proxies of a ``core.pipeline.MatteResult`` (any working resolution).

    size: (W, H) of the full-resolution photo; defaults to the result's own size.
    """
    height, width = result.alpha.shape
    size = (width, height) if size is None else (int(size[0]), int(size[1]))
    shape = display_shape(size[1], size[0], max_side)
    photo = resize_to(result.photo, shape)
    plate = resize_to(result.aligned_plate, shape)
    valid = resize_to(result.valid, shape) > 0.5 if result.valid is not None else None
    return DisplayImages(
        size=size,
        photo=to_uint8(photo),
        aligned_plate=to_uint8(plate),
        difference=make_difference(photo, plate, valid),
        coarse_mask=to_uint8(resize_to(result.coarse_mask, shape)),
        alpha=to_uint8(resize_to(result.alpha, shape)),
        cutout=make_cutout(resize_to(result.foreground, shape), resize_to(result.alpha, shape)),
    )


def display_region(region: Region, size: tuple, shape: tuple[int, int]) -> Region:
    """The proxy pixel box (x0, y0, x1, y1) covering a full-resolution ``region``."""
    sx, sy = shape[1] / size[0], shape[0] / size[1]
    x0, y0 = int(np.floor(region[0] * sx)), int(np.floor(region[1] * sy))
    x1 = min(shape[1], max(x0 + 1, int(np.ceil(region[2] * sx))))
    y1 = min(shape[0], max(y0 + 1, int(np.ceil(region[3] * sy))))
    return (x0, y0, x1, y1)


def _source_box(box: Region, size: tuple, shape: tuple[int, int]) -> tuple:
    sx, sy = size[0] / shape[1], size[1] / shape[0]
    return (int(round(box[0] * sx)), int(round(box[1] * sy)),
            max(int(round(box[0] * sx)) + 1, int(round(box[2] * sx))),
            max(int(round(box[1] * sy)) + 1, int(round(box[3] * sy))))


def render_matte_region(alpha: np.ndarray, foreground: np.ndarray, region: Region,
                        shape: tuple[int, int]) -> tuple[Region, np.ndarray, np.ndarray]:
    """Re-render the proxies of alpha and cutout where a full-resolution ``region`` changed.

    alpha: HxW float32, foreground: HxWx3 float32 (full resolution); shape: the proxy (h, w).
    Returns (proxy box, alpha patch hxw uint8, cutout patch hxwx4 uint8); cost grows with the region.
    """
    size = (alpha.shape[1], alpha.shape[0])
    box = display_region(region, size, shape)
    sx0, sy0, sx1, sy1 = _source_box(box, size, shape)
    patch_shape = (box[3] - box[1], box[2] - box[0])
    a = resize_to(alpha[sy0:sy1, sx0:sx1], patch_shape)
    f = resize_to(foreground[sy0:sy1, sx0:sx1], patch_shape)
    return box, to_uint8(a), make_cutout(f, a)


def render_hints(hints: np.ndarray, shape: tuple[int, int],
                 region: Optional[Region] = None) -> tuple[Region, np.ndarray]:
    """RGBA proxy (hxwx4 uint8) of the hint layer (HxW uint8) inside ``region`` (None = all).

    A proxy pixel shows a hint when any full-resolution pixel under it has one, so thin
    strokes stay visible when zoomed out. Returns (proxy box, patch).
    """
    size = (hints.shape[1], hints.shape[0])
    box = display_region(region if region is not None else (0, 0, size[0], size[1]), size, shape)
    sx0, sy0, sx1, sy1 = _source_box(box, size, shape)
    src = hints[sy0:sy1, sx0:sx1]
    patch_shape = (box[3] - box[1], box[2] - box[0])
    labels = np.zeros(patch_shape, np.uint8)
    for value in (2, 1):  # foreground drawn last wins where both are under one proxy pixel
        covered = resize_to((src == value).astype(np.float32), patch_shape) > 0
        labels[covered] = value
    return box, np.ascontiguousarray(HINT_COLOURS[labels])


def detail_shape(box: Region, density: float, max_pixels: int = DETAIL_MAX_PIXELS) -> tuple[int, int]:
    """(h, w) of a detail tile over photo-pixel ``box`` at ``density`` tile pixels per photo pixel.

    The density is capped at 1 (never finer than the photo) and lowered so the tile
    has at most ``max_pixels`` pixels.
    """
    width, height = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    density = min(1.0, float(density), float(np.sqrt(max_pixels / (width * height))))
    return max(1, int(np.ceil(height * density))), max(1, int(np.ceil(width * density)))


def render_detail(result, layers, box: Region, size: tuple, shape: tuple[int, int],
                  alpha: Optional[np.ndarray] = None,
                  foreground: Optional[np.ndarray] = None) -> tuple[tuple, dict]:
    """uint8 crops of a result's layers over a photo-pixel box, to draw above the proxies.

    result: a ``core.pipeline.MatteResult`` at any working resolution (its arrays are read, not copied).
    layers: names from ``DETAIL_LAYERS``; each crop has the dtype and channels of the
        ``DisplayImages`` field of that name.
    box: (x0, y0, x1, y1) in pixels of the full-resolution photo of ``size`` (W, H).
    shape: the (h, w) wanted (see ``detail_shape``); never more than the crop has at the
        result's resolution (a crop is shrunk, never enlarged).
    alpha, foreground: HxW / HxWx3 float32 [0, 1] at the result's resolution replacing the
        result's own (a touch-up session's current matte).
    Returns (scene box (x0, y0, x1, y1) as floats in photo pixels that the crops cover exactly,
    name -> uint8 array); cost grows with the crop, not the photo.
    """
    unknown = set(layers) - set(DETAIL_LAYERS)
    if unknown:
        raise ValueError(f"Cannot render detail of {', '.join(sorted(unknown))}; use {', '.join(DETAIL_LAYERS)}.")
    alpha = result.alpha if alpha is None else alpha
    foreground = result.foreground if foreground is None else foreground
    height, width = alpha.shape
    fx, fy = width / size[0], height / size[1]
    sx0, sy0 = max(0, int(np.floor(box[0] * fx))), max(0, int(np.floor(box[1] * fy)))
    sx1 = min(width, max(sx0 + 1, int(np.ceil(box[2] * fx))))
    sy1 = min(height, max(sy0 + 1, int(np.ceil(box[3] * fy))))
    out_shape = (min(int(shape[0]), sy1 - sy0), min(int(shape[1]), sx1 - sx0))
    crops: dict[str, np.ndarray] = {}

    def crop(name: str, source: Optional[np.ndarray]) -> Optional[np.ndarray]:
        if name not in crops and source is not None:
            crops[name] = resize_to(source[sy0:sy1, sx0:sx1], out_shape)
        return crops.get(name)

    out: dict[str, np.ndarray] = {}
    for name in layers:
        if name in ("photo", "aligned_plate", "coarse_mask", "alpha"):
            source = {"photo": result.photo, "aligned_plate": result.aligned_plate,
                      "coarse_mask": result.coarse_mask, "alpha": alpha}[name]
            out[name] = to_uint8(crop(name, source))
        elif name == "difference":
            valid = crop("valid", result.valid)
            out[name] = make_difference(crop("photo", result.photo), crop("aligned_plate", result.aligned_plate),
                                        None if valid is None else valid > 0.5)
        else:
            out[name] = make_cutout(crop("foreground", foreground), crop("alpha", alpha))
    scene_box = (sx0 / fx, sy0 / fy, sx1 / fx, sy1 / fy)
    return scene_box, out
