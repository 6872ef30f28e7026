"""Supersampled premultiplied canvas and antialiased drawing helpers for the product generator.

Products are painted part by part at ``ss`` times their final size with the
"over" operator on premultiplied colour, then reduced by area averaging, so
every edge ends up with true fractional coverage (not a thresholded mask).
OpenCV only antialiases 8-bit images, hence the uint8 coverage scratch masks.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import cv2
import numpy as np

SHIFT = 4                      # fixed-point bits for sub-pixel cv2 drawing
_ONE = float(1 << SHIFT)


@dataclass(frozen=True)
class Layer:
    """A rendered object in its own box.

    colour: hxwx3 float32 [0, 1] straight (un-premultiplied) colour.
    alpha: hxw float32 [0, 1] coverage times opacity.
    tags: subsets the object belongs to ("thin", "fuzzy", "transparent"...).
    lens: hxw float32 or None: for see-through objects, how far (output pixels,
        along x) the backdrop seen through each pixel lies from it at refraction
        strength 1, already weighted by coverage; a scene scales it by its own
        strength (``core.synth.pairs.compose_scene``). None: nothing refracts.
    """

    colour: np.ndarray
    alpha: np.ndarray
    tags: frozenset = frozenset()
    lens: Optional[np.ndarray] = None


class Canvas:
    """Premultiplied RGBA painting surface of shape (h, w) at supersampling ``ss``.

    Colour is stored planar (3, h, w): per-pixel compositing then broadcasts the
    coverage over the leading axis, several times faster than channel-last arrays.
    """

    def __init__(self, h: int, w: int, ss: int = 2):
        self.h, self.w, self.ss = int(h), int(w), int(ss)
        self.premult = np.zeros((3, self.h, self.w), np.float32)
        self.alpha = np.zeros((self.h, self.w), np.float32)

    def over(self, colour, coverage: np.ndarray, box: tuple | None = None) -> None:
        """Composite straight ``colour`` with ``coverage`` ([0, 1]) on top ("over").

        colour: an RGB triple or a planar array broadcastable to (3, h, w) of the window.
        box: optional (row slice, column slice) window that ``coverage`` covers; whole canvas when None.
        """
        box = box or (slice(0, self.h), slice(0, self.w))
        cov = np.clip(coverage, 0.0, 1.0).astype(np.float32, copy=False)
        col = np.asarray(colour, np.float32)
        if col.ndim == 1:
            col = col.reshape(3, 1, 1)
        keep = 1.0 - cov
        pm, a = self.premult[:, box[0], box[1]], self.alpha[box]
        pm *= keep
        pm += cov * col
        a *= keep
        a += cov

    def over_mask(self, colour, mask: np.ndarray, opacity: float = 1.0) -> None:
        """``over`` with a canvas-sized uint8 coverage mask, touching only the mask's bounding box.

        colour: an RGB triple or a canvas-sized planar (3, h, w) array.
        """
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return
        box = (slice(y, y + h), slice(x, x + w))
        col = np.asarray(colour, np.float32)
        if col.ndim == 3 and col.shape[1] > 1:
            col = col[:, box[0]]
        if col.ndim == 3 and col.shape[2] > 1:
            col = col[:, :, box[1]]
        self.over(col, mask[box].astype(np.float32) * np.float32(opacity / 255.0), box)

    def cut(self, coverage: np.ndarray, box: tuple | None = None) -> None:
        """Remove paint where ``coverage`` is 1 ("destination-out"): holes through an object."""
        box = box or (slice(0, self.h), slice(0, self.w))
        keep = 1.0 - np.clip(coverage, 0.0, 1.0).astype(np.float32, copy=False)
        self.premult[:, box[0], box[1]] *= keep
        self.alpha[box] *= keep

    def mask(self) -> np.ndarray:
        """A blank uint8 scratch mask of the canvas size, for cv2 drawing."""
        return np.zeros((self.h, self.w), np.uint8)

    def to_layer(self, tags=frozenset()) -> Layer:
        """Area-downsample by ``ss`` and un-premultiply."""
        h, w = self.h // self.ss, self.w // self.ss
        premult = cv2.merge([np.ascontiguousarray(p[: h * self.ss, : w * self.ss]) for p in self.premult])
        alpha = self.alpha[: h * self.ss, : w * self.ss]
        if self.ss > 1:
            premult = cv2.resize(premult, (w, h), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
        return layer_from_premult(premult, alpha, tags)


def rgb(colour) -> np.ndarray:
    """An RGB triple as a (3, 1, 1) float32 array, to multiply planar images."""
    return np.asarray(colour, np.float32).reshape(3, 1, 1)


def planar(image: np.ndarray) -> np.ndarray:
    """hxwx3 -> contiguous (3, h, w)."""
    return np.ascontiguousarray(np.asarray(image, np.float32).transpose(2, 0, 1))


def as3(plane: np.ndarray) -> np.ndarray:
    """hxw -> hxwx3 copies of one plane (cv2.merge: much faster than numpy broadcasting over RGB)."""
    plane = np.ascontiguousarray(plane, np.float32)
    return cv2.merge((plane, plane, plane))


def layer_from_premult(premult: np.ndarray, alpha: np.ndarray, tags=frozenset()) -> Layer:
    """Un-premultiply; where alpha is ~0 the colour is left at 0 (filled later for the whole frame)."""
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    inv = np.where(alpha < 1e-4, 0.0, 1.0 / np.maximum(alpha, 1e-4)).astype(np.float32)
    colour = cv2.multiply(np.ascontiguousarray(premult, np.float32), as3(inv))
    return Layer(np.clip(colour, 0.0, 1.0, out=colour), alpha, frozenset(tags))


def coverage(mask_u8: np.ndarray) -> np.ndarray:
    """uint8 scratch mask -> float32 coverage in [0, 1]."""
    return mask_u8.astype(np.float32) * (1.0 / 255.0)


def fixed(points) -> np.ndarray:
    """Float pixel coordinates -> int32 fixed-point array for cv2 drawing with ``shift=SHIFT``."""
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32).reshape(-1, 2)


def fill_polygon(mask: np.ndarray, points, value: int = 255) -> np.ndarray:
    """Antialiased filled polygon (float vertices) into a uint8 mask, in place."""
    cv2.fillPoly(mask, [fixed(points)], int(value), cv2.LINE_AA, SHIFT)
    return mask


def fill_ellipse(mask: np.ndarray, centre, axes, angle: float = 0.0, value: int = 255,
                 start: float = 0.0, end: float = 360.0, thickness: int = -1) -> np.ndarray:
    """Antialiased ellipse (filled when thickness < 0) with float centre/axes, in place."""
    c = tuple(int(v) for v in np.round(np.asarray(centre, np.float64) * _ONE))
    a = tuple(max(int(v), 1) for v in np.round(np.asarray(axes, np.float64) * _ONE))
    cv2.ellipse(mask, c, a, float(angle), float(start), float(end), int(value), int(thickness),
                cv2.LINE_AA, SHIFT)
    return mask


def draw_curves(mask: np.ndarray, curves, thickness: int, value: int = 255) -> np.ndarray:
    """Antialiased open polylines (list of Nx2 float arrays) into a uint8 mask, in place."""
    if len(curves):
        lengths = np.cumsum([len(c) for c in curves])[:-1]
        pts = np.split(fixed(np.concatenate(curves)), lengths)     # one conversion for many strands
        cv2.polylines(mask, pts, False, int(value), max(int(thickness), 1), cv2.LINE_AA, SHIFT)
    return mask


def rounded_rect(x0: float, y0: float, x1: float, y1: float, radius: float, steps: int = 8) -> np.ndarray:
    """Polygon vertices of a rounded rectangle (Nx2 float)."""
    r = float(min(radius, (x1 - x0) / 2, (y1 - y0) / 2))
    pts = []
    for cx, cy, a0 in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180)):
        for t in np.linspace(a0, a0 + 90, steps):
            pts.append((cx + r * np.cos(np.radians(t)), cy + r * np.sin(np.radians(t))))
    return np.asarray(pts)


def smooth_curve(rng: np.random.Generator, start, end, wiggle: float, n_ctrl: int = 4,
                 samples: int = 64) -> np.ndarray:
    """A smooth random curve from ``start`` to ``end`` (Catmull-Rom through jittered points)."""
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    t = np.linspace(0.0, 1.0, n_ctrl + 2)[:, None]
    ctrl = start + t * (end - start)
    ctrl[1:-1] += rng.normal(0.0, wiggle, (n_ctrl, 2))
    return catmull_rom(ctrl, samples)


def catmull_rom(ctrl: np.ndarray, samples: int = 64) -> np.ndarray:
    """Sample a Catmull-Rom spline through the Nx2 control points."""
    p = np.vstack([ctrl[:1], ctrl, ctrl[-1:]])
    n_seg = len(ctrl) - 1
    per = max(samples // max(n_seg, 1), 2)
    t = np.linspace(0.0, 1.0, per, endpoint=False)[:, None]
    out = []
    for i in range(n_seg):
        p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(ctrl[-1:])
    return np.vstack(out)


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth value noise (hxw float32, roughly zero mean, unit-ish amplitude) with features ~``cell`` px."""
    gh, gw = max(int(h / cell) + 2, 2), max(int(w / cell) + 2, 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def strands_along(rng: np.random.Generator, solid: np.ndarray, length: float, density: float,
                  spread_deg: float = 35.0) -> list[np.ndarray]:
    """Short curved hair strands growing outward from the boundary of a uint8 ``solid`` mask.

    length: mean strand length in canvas pixels; density: strands per boundary pixel.
    Returns a list of 3x2 float polylines (root inside the edge, tip outside).
    """
    contours, _ = cv2.findContours((solid > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return []
    pts = np.vstack([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    n = int(len(pts) * density)
    if n == 0:
        return []
    base = pts[rng.integers(0, len(pts), n)] + rng.uniform(-0.5, 0.5, (n, 2))
    blurred = cv2.GaussianBlur(solid.astype(np.float32), (0, 0), 3.0)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    ix = np.clip(base[:, 0].astype(int), 0, solid.shape[1] - 1)
    iy = np.clip(base[:, 1].astype(int), 0, solid.shape[0] - 1)
    ang = np.arctan2(-gy[iy, ix], -gx[iy, ix]) + np.radians(rng.uniform(-spread_deg, spread_deg, n))
    lens = length * rng.uniform(0.4, 1.4, n)
    d = np.stack([np.cos(ang), np.sin(ang)], 1)
    bend = np.stack([-d[:, 1], d[:, 0]], 1) * (rng.normal(0, 0.25, n) * lens)[:, None]
    root = base - d * (lens * rng.uniform(0.1, 0.5, n))[:, None]
    mid = root + d * (lens * 0.55)[:, None] + bend * 0.5
    tip = root + d * lens[:, None] + bend
    return list(np.stack([root, mid, tip], 1))


def motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Normalised linear motion-blur kernel."""
    size = int(np.ceil(length)) | 1
    k = np.zeros((size, size), np.uint8)
    c = size / 2.0
    dx, dy = np.cos(np.radians(angle_deg)) * length / 2, np.sin(np.radians(angle_deg)) * length / 2
    cv2.line(k, fixed([c - dx - 0.5, c - dy - 0.5])[0].tolist(), fixed([c + dx - 0.5, c + dy - 0.5])[0].tolist(),
             255, 1, cv2.LINE_AA, SHIFT)
    k = k.astype(np.float32)
    return k / max(k.sum(), 1e-6)


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised antialiased disk (defocus) kernel."""
    size = int(np.ceil(radius)) * 2 + 3
    k = np.zeros((size * 4, size * 4), np.uint8)
    fill_ellipse(k, (size * 2 - 0.5, size * 2 - 0.5), (radius * 4, radius * 4))
    k = cv2.resize(k.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return k / max(k.sum(), 1e-6)


def blur_layer(layer: Layer, kernel: np.ndarray) -> Layer:
    """Blur a layer consistently: the same kernel on premultiplied colour and on alpha."""
    pad = kernel.shape[0]
    a = cv2.copyMakeBorder(layer.alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    pm = cv2.copyMakeBorder(layer.colour * layer.alpha[..., None], pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                            value=0)
    a = cv2.filter2D(a, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    pm = cv2.filter2D(pm, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    blurred = layer_from_premult(pm, a, layer.tags)
    if layer.lens is None:
        return blurred
    lens = cv2.copyMakeBorder(layer.lens, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    return replace(blurred, lens=cv2.filter2D(lens, -1, kernel, borderType=cv2.BORDER_CONSTANT))
