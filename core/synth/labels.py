"""Product colours and printed label textures (stripes, bands, text) for the product generator."""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

from .canvas import fill_ellipse

# Typical packaging colours (RGB, [0, 1]); jittered per product.
PRODUCT_COLOURS = (
    (0.85, 0.12, 0.10), (0.95, 0.55, 0.08), (0.97, 0.85, 0.15), (0.20, 0.55, 0.25), (0.10, 0.35, 0.70),
    (0.45, 0.20, 0.55), (0.92, 0.92, 0.90), (0.08, 0.08, 0.09), (0.55, 0.35, 0.20), (0.70, 0.72, 0.75),
    (0.95, 0.60, 0.70), (0.15, 0.60, 0.65), (0.30, 0.30, 0.33), (0.80, 0.70, 0.50), (0.60, 0.80, 0.30),
)

_WORDS = ("AURA", "NORD", "PURE", "Bio", "ORGANIC", "Fresh", "LUX", "Vita", "500 ml", "250g", "Classic",
          "ZEST", "Herbal", "NOIR", "Aqua", "SOFT", "Original", "Extra", "MAX", "Daily", "Citrus", "OAK",
          "Since 1921", "Natural", "Mint", "Cream", "GOLD", "Nova", "Kids", "Sport", "Light", "Dark")
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
          cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX, cv2.FONT_HERSHEY_PLAIN)


def jitter_colour(rng: np.random.Generator, rgb, hue: float = 0.03, sat: float = 0.15, val: float = 0.12):
    """An RGB triple near ``rgb`` (HSV jitter), as float32 array."""
    h, s, v = colorsys.rgb_to_hsv(*np.clip(rgb, 0, 1))
    h = (h + rng.uniform(-hue, hue)) % 1.0
    s = float(np.clip(s * rng.uniform(1 - sat, 1 + sat), 0, 1))
    v = float(np.clip(v * rng.uniform(1 - val, 1 + val), 0, 1))
    return np.asarray(colorsys.hsv_to_rgb(h, s, v), np.float32)


def product_colour(rng: np.random.Generator, near=None) -> np.ndarray:
    """A packaging colour; with ``near`` (RGB) a colour deliberately close to it (close-colour subset)."""
    if near is not None:
        return np.clip(np.asarray(near, np.float32) + rng.uniform(-0.05, 0.05, 3).astype(np.float32)
                       * rng.uniform(0.3, 1.0), 0.02, 0.98)
    return jitter_colour(rng, PRODUCT_COLOURS[rng.integers(len(PRODUCT_COLOURS))])


def contrast_colour(rng: np.random.Generator, base) -> np.ndarray:
    """A print colour that reads on ``base`` (dark on light, light on dark, or a saturated accent)."""
    lum = float(np.dot(base, (0.3, 0.59, 0.11)))
    if rng.random() < 0.4:
        return jitter_colour(rng, PRODUCT_COLOURS[rng.integers(len(PRODUCT_COLOURS))])
    return np.full(3, 0.08 if lum > 0.5 else 0.95, np.float32) + rng.uniform(-0.04, 0.04, 3).astype(np.float32)


def make_label(rng: np.random.Generator, h: int, w: int, base, plain: bool = False) -> np.ndarray:
    """A printed label texture: hxwx3 float32 [0, 1] with stripes, a band, a badge and text."""
    h, w = max(int(h), 4), max(int(w), 4)
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.asarray(base, np.float32)
    if plain:
        return img
    ink = contrast_colour(rng, base)
    accent = contrast_colour(rng, base)
    u8 = (img * 255).astype(np.uint8)
    for _ in range(rng.integers(0, 4)):                       # stripes / bands
        y = rng.uniform(0, h)
        t = rng.uniform(0.02, 0.2) * h
        col = tuple(int(c) for c in (accent if rng.random() < 0.6 else ink) * 255)
        cv2.rectangle(u8, (0, int(y)), (w, int(y + t)), col, -1, cv2.LINE_AA)
    if rng.random() < 0.35:                                   # diagonal or vertical accent stripes
        step = max(int(rng.uniform(0.05, 0.2) * w), 3)
        slope = rng.choice([0.0, 0.5, -0.5])
        col = tuple(int(c) for c in accent * 255)
        for x in range(-w, 2 * w, step):
            cv2.line(u8, (x, 0), (int(x + slope * h), h), col, max(step // 3, 1), cv2.LINE_AA)
    if rng.random() < 0.4:                                    # round badge / logo
        tmp = np.zeros((h, w), np.uint8)
        r = rng.uniform(0.12, 0.3) * min(h, w)
        fill_ellipse(tmp, (rng.uniform(0.2, 0.8) * w, rng.uniform(0.25, 0.75) * h), (r, r))
        a = tmp.astype(np.float32)[..., None] / 255.0
        u8 = (u8 * (1 - a) + a * accent * 255).astype(np.uint8)
    n_lines = int(rng.integers(1, 4))
    y = rng.uniform(0.15, 0.4) * h
    for i in range(n_lines):
        text = _WORDS[rng.integers(len(_WORDS))]
        font = _FONTS[rng.integers(len(_FONTS))]
        target_h = (rng.uniform(0.12, 0.3) if i == 0 else rng.uniform(0.06, 0.14)) * h
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
        scale = min(target_h / max(th, 1), 0.8 * w / max(tw, 1))
        thick = max(int(scale * rng.uniform(1.0, 2.5)), 1)
        (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
        x = (w - tw) / 2 + rng.uniform(-0.1, 0.1) * w
        y += th * 1.4
        if y > h * 0.95:
            break
        col = tuple(int(c) for c in (ink if i == 0 or rng.random() < 0.5 else accent) * 255)
        cv2.putText(u8, text, (int(x), int(y)), font, scale, col, thick, cv2.LINE_AA)
    return u8.astype(np.float32) / 255.0
