"""Surfaces of revolution (bottles, cans, jars, cups) seen slightly from above, with shading.

A horizontal circle of radius r(h) at height h projects to an ellipse of
semi-axes (r, e*r), where e = sin(camera elevation); the front surface point at
angle theta appears at y = h + e*r*cos(theta). Inverting that per pixel (two
fixed-point steps) gives the height h and u = sin(theta) of the visible surface,
hence curved bottoms and label edges, cylinder normals and wrapped labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Lathe:
    """Per-pixel geometry of a lathe inside the canvas window ``box`` (all arrays box-sized, float32).

    box: (slice of rows, slice of columns) of the canvas the arrays cover.
    coverage: [0, 1] antialiased coverage of the side surface.
    u: [-1, 1] sine of the angle around the axis (0 = facing the camera).
    height: the surface height h (canvas rows) seen at each pixel.
    slope: dr/dh at that height (shoulders lean the normal up or down).
    """

    box: tuple
    coverage: np.ndarray
    u: np.ndarray
    height: np.ndarray
    slope: np.ndarray


def profile(points) -> tuple[np.ndarray, np.ndarray]:
    """Control points [(h, r), ...] (h increasing) -> dense (hs, rs) with smooth (cosine) transitions."""
    pts = np.asarray(points, np.float64)
    hs, rs = [], []
    for i, ((h0, r0), (h1, r1)) in enumerate(zip(pts[:-1], pts[1:])):
        t = np.linspace(0.0, 1.0, max(int(h1 - h0) + 2, 2))[(1 if i else 0):]   # no repeated joints
        hs.append(h0 + t * (h1 - h0))
        rs.append(r0 + (r1 - r0) * (0.5 - 0.5 * np.cos(np.pi * t)))
    hs, rs = np.concatenate(hs), np.concatenate(rs)
    keep = np.concatenate([[True], np.diff(hs) > 1e-3])      # steps (h1 == h0) become near-vertical ramps
    return hs[keep], rs[keep]


def window(h: int, w: int, y0: float, y1: float, x0: float, x1: float) -> tuple:
    """Canvas window (row slice, column slice) covering [y0, y1) x [x0, x1), clipped, 2 px margin."""
    ys = slice(int(np.clip(np.floor(y0) - 2, 0, h)), int(np.clip(np.ceil(y1) + 2, 0, h)))
    xs = slice(int(np.clip(np.floor(x0) - 2, 0, w)), int(np.clip(np.ceil(x1) + 2, 0, w)))
    return ys, xs


class _Table:
    """Fast float32 lookup of a function finely sampled on a uniform grid (nearest of 1/8 px steps)."""

    def __init__(self, xs: np.ndarray, ys: np.ndarray, step: float = 0.125):
        self.x0, self.inv = float(xs[0]), 1.0 / step
        grid = np.arange(xs[0], xs[-1] + step, step)
        self.table = np.interp(grid, xs, ys).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        idx = ((x - self.x0) * self.inv + 0.5).astype(np.int32)
        np.clip(idx, 0, len(self.table) - 1, out=idx)
        return self.table[idx]


def lathe_geometry(h: int, w: int, cx: float, prof: tuple[np.ndarray, np.ndarray], e: float,
                   top_overlap: float = 1.5) -> Lathe:
    """Geometry of the side surface of a lathe whose profile is ``prof`` (from ``profile``).

    top_overlap: the side surface starts this many canvas pixels above its top
    height, so that a top face painted over it leaves no half-covered seam.
    """
    hs, rs = prof
    top, bottom, rmax = float(hs[0]), float(hs[-1]), float(rs.max())
    box = window(h, w, top - top_overlap, bottom + e * rmax + 1, cx - rmax, cx + rmax)
    radius = _Table(hs, rs)
    y = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] + 0.5
    dx = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] + 0.5 - cx
    dx2 = dx * dx
    hh = np.broadcast_to(y, (len(y), dx.shape[1])).astype(np.float32)
    for _ in range(2):
        r = radius(hh)
        hh = y - e * np.sqrt(np.maximum(r * r - dx2, 0.0))
    r = radius(hh)
    cov = np.clip(r - np.abs(dx) + 0.5, 0.0, 1.0)
    cov *= np.clip(hh - top + top_overlap + 0.5, 0.0, 1.0) * np.clip(bottom - hh + 0.5, 0.0, 1.0)
    u = np.clip(dx / np.maximum(r, 1e-3), -1.0, 1.0)
    dr = np.gradient(rs) / np.maximum(np.gradient(hs), 1e-6)
    slope = _Table(hs, dr)(hh)
    return Lathe(box, cov, u, hh, slope)


def random_light(rng: np.random.Generator) -> np.ndarray:
    """A key-light direction (unit 3-vector, x right, y down, z towards the camera) from above one side."""
    v = np.array([rng.choice([-1, 1]) * rng.uniform(0.2, 0.9), -rng.uniform(0.2, 0.7), rng.uniform(0.5, 1.0)])
    return (v / np.linalg.norm(v)).astype(np.float32)


def shade(geom: Lathe, light: np.ndarray, ambient: float = 0.35, gloss: float = 0.5,
          shininess: float = 30.0, softbox: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """(diffuse factor, specular) hxw float32 for a lathe lit by ``light`` and studio softboxes.

    Shading depends only on u and the profile slope, so it is tabulated on a
    (slope, u) grid and looked up: much cheaper than per-pixel transcendentals.
    """
    us = np.linspace(-1.0, 1.0, _NU, dtype=np.float32)[None, :]
    ss = np.linspace(-_SLOPE, _SLOPE, _NS, dtype=np.float32)[:, None]
    nz = np.sqrt(np.maximum(1.0 - us * us, 0.0))
    ny = -ss * nz
    norm = np.sqrt(us * us + ny * ny + nz * nz) + 1e-6
    nx, ny, nz = us / norm, ny / norm, nz / norm
    ndl = nx * light[0] + ny * light[1] + nz * light[2]
    diffuse = ambient + (1.0 - ambient) * np.clip(ndl, 0.0, 1.0)
    rz = 2.0 * ndl * nz - light[2]                      # reflection towards the camera
    spec = gloss * np.clip(rz, 0.0, 1.0) ** shininess
    # vertical softbox reflections, typical of catalogue shots of glossy round things
    side = np.sign(light[0])
    spec = spec + softbox * gloss * (np.exp(-((us - 0.55 * side) / 0.08) ** 2)
                                     + 0.5 * np.exp(-((us + 0.8 * side) / 0.05) ** 2)) * np.ones_like(ss)
    ui = ((geom.u + 1.0) * ((_NU - 1) / 2.0) + 0.5).astype(np.int32)
    si = ((np.clip(geom.slope, -_SLOPE, _SLOPE) + _SLOPE) * ((_NS - 1) / (2 * _SLOPE)) + 0.5).astype(np.int32)
    flat = si * _NU + ui
    return (diffuse.astype(np.float32).ravel()[flat], spec.astype(np.float32).ravel()[flat])


_NU, _NS, _SLOPE = 513, 129, 2.0


def wrap_texture(texture: np.ndarray, geom: Lathe, h0: float, h1: float, turns: float = 0.5,
                 phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Sample a flat label wrapped round the lathe between heights h0..h1.

    Returns (planar colour 3xhxw, inside hxw in [0, 1]); ``turns`` is the fraction of the
    circumference the texture width covers (0.5: the label spans the visible half).
    """
    th, tw = texture.shape[:2]
    theta = np.arcsin(geom.u) / np.pi                       # -0.5..0.5 turns
    mx = ((theta + phase) / turns + 0.5) * tw - 0.5
    my = (geom.height - h0) / max(h1 - h0, 1e-3) * th - 0.5
    colour = cv2.remap(texture, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    colour = np.ascontiguousarray(colour.transpose(2, 0, 1))
    inside = np.clip(geom.height - h0 + 0.5, 0, 1) * np.clip(h1 - geom.height + 0.5, 0, 1)
    if turns < 1.0:
        inside = inside * ((mx >= -0.5) & (mx <= tw - 0.5))
    return colour, inside.astype(np.float32)


def ellipse_coverage(h: int, w: int, cx: float, cy: float, ax: float, ay: float,
                     box: tuple | None = None) -> tuple[tuple, np.ndarray]:
    """(box, coverage) of an antialiased axis-aligned filled ellipse; coverage is box-sized float32.

    box: evaluate over this canvas window instead of the ellipse's own bounding box.
    """
    ax, ay = max(float(ax), 1e-3), max(float(ay), 1e-3)
    if box is None:
        box = window(h, w, cy - ay, cy + ay, cx - ax, cx + ax)
    yy = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] + 0.5 - cy
    xx = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] + 0.5 - cx
    d = np.sqrt((xx / ax) ** 2 + (yy / ay) ** 2)
    grad = np.sqrt((xx / ax ** 2) ** 2 + (yy / ay ** 2) ** 2) / np.maximum(d, 1e-6)
    dist = (d - 1.0) / np.maximum(grad, 1e-6)           # signed distance to the rim, in pixels
    return box, np.where(d < 0.5, 1.0, np.clip(0.5 - dist, 0.0, 1.0)).astype(np.float32)
