"""Studio backdrops: paper sweeps, fabrics, foam, table tops and real photos.

A backdrop is rendered larger than the frame (the caller adds a margin) so that
a re-captured, slightly moved plate still sees backdrop everywhere. All the
texture here is part of the scene: photo and plate both see it, warped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .canvas import smooth_noise
from .labels import jitter_colour

PAPER_COLOURS = {
    "yellow": (0.95, 0.80, 0.15), "purple": (0.42, 0.24, 0.58), "brown": (0.45, 0.30, 0.18),
    "white": (0.90, 0.90, 0.89), "light grey": (0.76, 0.76, 0.77), "grey": (0.52, 0.52, 0.53),
    "green": (0.30, 0.58, 0.30), "chroma green": (0.10, 0.62, 0.25), "blue": (0.20, 0.40, 0.75),
    "black": (0.06, 0.06, 0.07), "pink": (0.95, 0.65, 0.75), "red": (0.72, 0.12, 0.12),
    "orange": (0.95, 0.50, 0.12), "teal": (0.10, 0.50, 0.55), "beige": (0.85, 0.78, 0.65),
    "navy": (0.10, 0.15, 0.35), "mint": (0.65, 0.88, 0.78), "lilac": (0.75, 0.65, 0.88),
}
WOOD_COLOURS = ((0.55, 0.38, 0.22), (0.75, 0.60, 0.42), (0.35, 0.22, 0.12), (0.85, 0.75, 0.6))
_KINDS = ("paper", "fabric", "foam", "tabletop", "photo")
_WEIGHTS = (0.5, 0.17, 0.1, 0.13, 0.1)


@dataclass(frozen=True)
class Backdrop:
    """image: HxWx3 float32 [0, 1]; colour: (3,) float32 dominant colour; kind: a ``backdrop_kinds()`` name."""

    image: np.ndarray
    colour: np.ndarray
    kind: str


def backdrop_kinds() -> tuple[str, ...]:
    """Names of the backdrop generators ("photo" needs the shared data folder)."""
    return _KINDS


def pick_backdrop_kind(rng: np.random.Generator, photos_available: bool, plain: bool = False) -> str:
    """A random backdrop kind; ``plain`` excludes photos (close-colour pairs need a known colour)."""
    weights = np.array(_WEIGHTS, float)
    if not photos_available or plain:
        weights[_KINDS.index("photo")] = 0.0
    return str(rng.choice(_KINDS, p=weights / weights.sum()))


def pick_paper_colour(rng: np.random.Generator) -> np.ndarray:
    names = list(PAPER_COLOURS)
    return jitter_colour(rng, PAPER_COLOURS[names[rng.integers(len(names))]], 0.015, 0.1, 0.08)


def render_backdrop(kind: str, rng: np.random.Generator, h: int, w: int, colour=None,
                    photos: Sequence[Path] = ()) -> Backdrop:
    """Render backdrop ``kind`` at hxw; ``colour`` forces the main colour (ignored by "photo")."""
    if kind not in _KINDS:
        raise ValueError(f"Unknown backdrop kind {kind!r}; choose one of {', '.join(_KINDS)}.")
    if kind == "photo":
        if not photos:
            raise ValueError("A photo backdrop needs the shared data folder (pass data_dir).")
        image = _photo(rng, h, w, photos)
    else:
        base = np.asarray(colour if colour is not None else pick_paper_colour(rng), np.float32)
        if kind == "paper":
            tone = _paper(rng, h, w)
        elif kind == "fabric":
            tone = _fabric(rng, h, w)
        elif kind == "foam":
            tone = _foam(rng, h, w)
        else:
            backdrop = _tabletop(rng, h, w, base)
            return Backdrop(_expose(backdrop.image, rng), backdrop.colour, backdrop.kind)
        image = _expose(_tint(tone, base), rng)
    small = image[h // 4: 3 * h // 4: 4, w // 4: 3 * w // 4: 4]
    return Backdrop(image, small.reshape(-1, 3).mean(0).astype(np.float32), kind)


def _expose(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep the brightest backdrop areas just under white, as a careful photographer exposes;
    sometimes (blown-out white sweeps) let them clip."""
    peak = float(image[::8, ::8].max())
    target = 0.95 if rng.random() < 0.85 else 1.05
    if peak > target:
        image *= np.float32(target / peak)
    return np.clip(image, 0.0, 1.0, out=image)


def _tint(tone: np.ndarray, colour: np.ndarray) -> np.ndarray:
    tone = tone.astype(np.float32, copy=False)
    return np.clip(cv2.merge([tone * float(c) for c in colour]), 0.0, 1.0)


def _upsample(field: np.ndarray, h: int, w: int) -> np.ndarray:
    return cv2.resize(field.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _low(h: int, w: int) -> tuple[int, int]:
    """Size of the grid smooth fields are computed on (upsampled afterwards: they have no fine detail)."""
    return max(h // 8, 8), max(w // 8, 8)


def _lighting(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Large-scale light falloff (hxw): a tilted gradient and a soft vignette around an off-centre hot spot."""
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    a = rng.uniform(0, 2 * np.pi)
    g = rng.uniform(0.0, 0.12)
    cx, cy = rng.uniform(-0.4, 0.4), rng.uniform(-0.6, 0.2)
    v = rng.uniform(0.05, 0.45)
    return (1.0 + g * (x * np.cos(a) + y * np.sin(a))) * (1.0 - v * 0.5 * ((x - cx) ** 2 + (y - cy) ** 2))


def _sweep(rng: np.random.Generator, h: int, w: int, strength: float = 1.0) -> np.ndarray:
    """Paper sweep (hxw, smooth): wall gradient curving into the floor, with lighting falloff."""
    yn = np.linspace(0.0, 1.0, h, dtype=np.float32)
    horizon = rng.uniform(0.3, 0.75)
    width = rng.uniform(0.08, 0.25)
    top = rng.uniform(0.55, 1.0)
    wall = top + (1.0 - top) * np.clip(yn / horizon, 0.0, 1.0)
    floor = rng.uniform(0.95, 1.12) + (yn - horizon) * rng.uniform(-0.3, 0.2)
    s = np.clip((yn - horizon) / width * 0.5 + 0.5, 0.0, 1.0)
    s = s * s * (3 - 2 * s)
    profile = wall * (1 - s) + floor * s
    if rng.random() < 0.5:                       # faint line where the sweep curves
        profile = profile * (1.0 - rng.uniform(0.0, 0.04) * np.exp(-((yn - horizon) / (width * 0.3)) ** 2))
    profile = 1.0 + strength * (profile / profile.mean() - 1.0)
    return profile[:, None] * _lighting(rng, h, w)


def _paper(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Paper sweep tone: smooth light, faint mottling, occasional soft wrinkles, fine fibres."""
    lh, lw = _low(h, w)
    tone = _sweep(rng, lh, lw) * (1.0 + 0.008 * smooth_noise(rng, lh, lw, 5.0))
    tone = _upsample(tone, h, w)
    if rng.random() < 0.25:
        yy = np.arange(h, dtype=np.float32)[:, None]
        xx = np.arange(w, dtype=np.float32)[None, :]
        for _ in range(int(rng.integers(1, 4))):
            a = rng.uniform(0, np.pi)
            d = (xx - rng.uniform(0, w)) * np.cos(a) + (yy - rng.uniform(0, h)) * np.sin(a)
            wid = rng.uniform(2.0, 10.0) * max(h, w) / 512
            tone *= 1.0 + rng.uniform(-0.04, 0.04) * np.exp(-(d / wid) ** 2)
    return tone * (1.0 + 0.004 * smooth_noise(rng, h, w, 1.5))


def _fabric(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Woven fabric tone: thread pattern (plain or twill), thread irregularity and soft folds."""
    lh, lw = _low(h, w)
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    warp = smooth_noise(rng, lh, lw, max(lh, lw) / 3)
    folds = np.zeros((lh, lw), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        b = rng.uniform(0, np.pi)
        f = rng.uniform(1.5, 4) * 2 * np.pi / max(lh, lw)
        folds += np.sin((xx * np.cos(b) + yy * np.sin(b)) * f + 0.7 * warp)
    tone = _upsample(_sweep(rng, lh, lw, 0.6) * (1.0 + rng.uniform(0.02, 0.08) * folds), h, w)
    # thread pattern: sin(k(x cos a + y sin a)) expanded into separable outer products
    a = np.radians(rng.uniform(-8, 8))
    k = 2 * np.pi / (rng.uniform(2.5, 7.0) * max(h, w) / 512)
    x = np.arange(w, dtype=np.float32)[None, :] * k
    y = np.arange(h, dtype=np.float32)[:, None] * k
    ca, sa = np.cos(a), np.sin(a)
    su = np.sin(x * ca) * np.cos(y * sa) + np.cos(x * ca) * np.sin(y * sa)      # sin(k u)
    if rng.random() < 0.5:
        sv = np.sin(y * ca) * np.cos(x * sa) - np.cos(y * ca) * np.sin(x * sa)  # sin(k v)
        pattern = su * sv
    else:
        pattern = su
    threads = cv2.resize(rng.standard_normal((h, max(w // 16, 2))).astype(np.float32), (w, h),
                         interpolation=cv2.INTER_LINEAR)
    return tone * (1.0 + rng.uniform(0.03, 0.1) * pattern + 0.02 * threads)


def _foam(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Foam tone: blobby open-cell noise, sometimes on an egg-crate (acoustic) relief."""
    scale = max(h, w) / 512
    n = smooth_noise(rng, h, w, rng.uniform(4, 12) * scale) + 0.5 * smooth_noise(rng, h, w, 2.5 * scale)
    tone = 1.0 + rng.uniform(0.05, 0.15) * np.clip(n * 1.2, -1.0, 1.0)
    lh, lw = _low(h, w)
    light = _lighting(rng, lh, lw)
    if rng.random() < 0.5:
        p = rng.uniform(30, 70) * scale
        x = np.arange(w, dtype=np.float32)[None, :] * (2 * np.pi / p)
        y = np.arange(h, dtype=np.float32)[:, None] * (2 * np.pi / p)
        tone *= 1.0 + 0.12 * (np.sin(x) + np.cos(x)) * np.sin(y)
    return tone * _upsample(light, h, w)


def _tabletop(rng: np.random.Generator, h: int, w: int, wall_colour: np.ndarray) -> Backdrop:
    """A wall (paper colour) meeting a table top (wood grain, marble or laminate) at a horizon."""
    lh, lw = _low(h, w)
    horizon = h * rng.uniform(0.3, 0.65)
    wall = _upsample(_lighting(rng, lh, lw) * (1.0 + 0.01 * smooth_noise(rng, lh, lw, 6)), h, w)
    # the table top is computed at half resolution: its grain is soft anyway
    th, tw = max(h // 2, 2), max(w // 2, 2)
    yy = np.arange(th, dtype=np.float32)[:, None] * (h / th)
    xx = np.arange(tw, dtype=np.float32)[None, :] * (w / tw)
    depth = np.clip((yy - horizon) / max(h - horizon, 1), 0.02, 1.0)
    surface = rng.choice(["wood", "marble", "laminate"])
    if surface == "wood":
        base = jitter_colour(rng, WOOD_COLOURS[rng.integers(len(WOOD_COLOURS))])
        warp = smooth_noise(rng, th, tw, 30) * 3.0
        grain = np.sin((yy - horizon) / np.sqrt(depth) * rng.uniform(0.3, 0.8) + warp + 0.02 * xx)
        tone = 1.0 + 0.1 * grain + 0.05 * smooth_noise(rng, th, tw, 2)
    elif surface == "marble":
        base = jitter_colour(rng, (0.9, 0.9, 0.88), 0.05, 0.2, 0.05)
        ang = rng.uniform(0, np.pi)
        turb = sum(np.abs(smooth_noise(rng, th, tw, cell)) * (cell / 40.0) for cell in (40, 20, 10))
        phase = (xx * np.cos(ang) + yy * np.sin(ang)) * (2 * np.pi / rng.uniform(120, 300)) + 2.5 * turb
        veins = np.abs(np.sin(phase))
        tone = 1.0 - rng.uniform(0.15, 0.35) * (1.0 - veins) ** 12 + 0.02 * smooth_noise(rng, th, tw, 6)
    else:
        base = jitter_colour(rng, (0.8, 0.8, 0.8), 0.5, 1.0, 0.3)
        tone = 1.0 + 0.01 * smooth_noise(rng, th, tw, 5) + 0 * xx
    table = _upsample(tone * _upsample(_lighting(rng, lh, lw), th, tw) * (0.85 + 0.25 * depth), h, w)
    y = np.arange(h, dtype=np.float32)[:, None]
    edge = np.clip(y - horizon, 0.0, 1.0)
    lip = 1.0 - 0.25 * np.exp(-((y - horizon - 1.5) / 1.2) ** 2)    # thin darker table edge
    image = (_tint(wall * (1 - edge) * lip, wall_colour) + _tint(table * edge * lip, base)).astype(np.float32)
    small = image[h // 4: 3 * h // 4: 4, w // 4: 3 * w // 4: 4]
    return Backdrop(np.clip(image, 0, 1), small.reshape(-1, 3).mean(0).astype(np.float32), "tabletop")


def _photo(rng: np.random.Generator, h: int, w: int, photos: Sequence[Path]) -> np.ndarray:
    """A random crop of a real photo, resized to cover hxw, sometimes mirrored or defocused."""
    path = photos[rng.integers(len(photos))]
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: cannot read this backdrop photo; check the shared data folder.")
    ih, iw = img.shape[:2]
    aspect = w / h
    ch = int(min(ih, iw / aspect) * rng.uniform(0.7, 1.0))
    cw = int(ch * aspect)
    y0 = int(rng.integers(0, ih - ch + 1))
    x0 = int(rng.integers(0, iw - cw + 1))
    crop = img[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    out = cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) * (1.0 / 255.0)
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 2.5))
    return out
