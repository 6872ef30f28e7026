"""Products with fine structure: plush toys and pompoms (fur), headphones and cables (thin lines)."""
from __future__ import annotations

import numpy as np

from .canvas import (Canvas, Layer, catmull_rom, coverage, draw_curves, fill_ellipse, fill_polygon, rgb,
                     rounded_rect, smooth_noise, strands_along)
from .labels import jitter_colour
from .lathe import window

SS = 2
FUR_COLOURS = ((0.55, 0.38, 0.22), (0.85, 0.75, 0.6), (0.95, 0.94, 0.92), (0.5, 0.5, 0.52), (0.95, 0.7, 0.8),
               (0.3, 0.2, 0.12), (0.9, 0.85, 0.4), (0.25, 0.25, 0.27))


def _shaded_part(cv: Canvas, centre, axes, colour, light, noise) -> np.ndarray:
    """Paint a softly shaded ellipse (a stuffed body part); returns its uint8 mask (canvas-sized)."""
    m = fill_ellipse(cv.mask(), centre, axes)
    box = window(cv.h, cv.w, centre[1] - axes[1], centre[1] + axes[1], centre[0] - axes[0], centre[0] + axes[0])
    ny = (np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] - centre[1]) / max(axes[1], 1.0)
    nx = (np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] - centre[0]) / max(axes[0], 1.0)
    nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
    tone = 0.45 + 0.55 * np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0.0, 1.0)
    cv.over(np.clip(rgb(colour) * (tone * noise[box]), 0, 1), coverage(m[box]), box)
    return m


def render_plush(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Teddy-like plush toy or pompom with fur strands of fractional alpha along every edge."""
    fur_col = jitter_colour(rng, FUR_COLOURS[rng.integers(len(FUR_COLOURS))]) if rng.random() < 0.6 else colour
    hh = height * SS
    fur_len = max(hh * rng.uniform(0.03, 0.08), 3.0 * SS)
    pad = int(fur_len * 2 + 3 * SS)
    pompom = rng.random() < 0.3
    w = int(hh * (1.0 if pompom else rng.uniform(0.75, 0.95)) + 2 * pad)
    cv = Canvas(int(hh + 2 * pad), w, SS)
    noise = 1.0 + 0.12 * smooth_noise(rng, cv.h, cv.w, max(fur_len * 0.7, 2.0))
    cx, top, bottom = w / 2.0, pad + fur_len, pad + hh - fur_len
    solid = cv.mask()
    parts = []
    if pompom:
        r = (bottom - top) / 2
        parts.append(((cx, top + r), (r * rng.uniform(0.9, 1.05), r)))
    else:
        body_r = (bottom - top) * 0.3
        head_r = (bottom - top) * rng.uniform(0.2, 0.26)
        body_c = (cx, bottom - body_r * 1.05)
        head_c = (cx, top + head_r * 1.35)
        ear_r = head_r * rng.uniform(0.3, 0.45)
        for s in (-1, 1):
            parts.append(((cx + s * head_r * 0.8, head_c[1] - head_r * 0.75), (ear_r, ear_r)))
        for s in (-1, 1):                                     # arms, then legs
            parts.append(((cx + s * body_r * 0.95, body_c[1] - body_r * 0.35), (body_r * 0.35, body_r * 0.6)))
        parts.append((body_c, (body_r * 0.85, body_r)))
        for s in (-1, 1):
            parts.append(((cx + s * body_r * 0.55, bottom - body_r * 0.3), (body_r * 0.38, body_r * 0.3)))
        parts.append((head_c, (head_r, head_r * 0.95)))
    for centre, axes in parts:
        solid |= _shaded_part(cv, centre, axes, fur_col, light, noise)
    if not pompom:
        muzzle = (cx, head_c[1] + head_r * 0.35)
        _shaded_part(cv, muzzle, (head_r * 0.38, head_r * 0.28), np.clip(np.asarray(fur_col) * 1.25, 0, 1),
                     light, noise)
        for s in (-1, 1):
            m = fill_ellipse(cv.mask(), (cx + s * head_r * 0.38, head_c[1] - head_r * 0.1), (head_r * 0.09,) * 2)
            cv.over_mask(np.full(3, 0.04, np.float32), m)
        m = fill_ellipse(cv.mask(), (muzzle[0], muzzle[1] - head_r * 0.08), (head_r * 0.12, head_r * 0.08))
        cv.over_mask(np.full(3, 0.08, np.float32), m)
    # fur: several colour groups of strands, drawn one sub-pixel wide at the supersampled scale
    strands = strands_along(rng, solid, fur_len, rng.uniform(1.0, 2.5))
    groups = np.array_split(np.arange(len(strands)), 4)
    for g in groups:
        m = draw_curves(cv.mask(), [strands[i] for i in g], 1)
        tone = rng.uniform(0.7, 1.2)
        cv.over_mask(np.clip(np.asarray(fur_col) * tone, 0, 1), m, rng.uniform(0.7, 1.0))
    return cv.to_layer(frozenset({"fuzzy"}))


def render_headphones(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Over-ear headphones: headband arc (hole under it), ear cups, and a thin dangling cable."""
    hh = height * SS
    width = hh * rng.uniform(0.7, 0.95)
    pad = 3 * SS
    cv = Canvas(int(hh + 2 * pad), int(width + 2 * pad + hh * 0.2), SS)
    cx = cv.w / 2.0
    band_t = max(hh * rng.uniform(0.03, 0.06), 3)
    cup_ax, cup_ay = width * rng.uniform(0.12, 0.17), hh * rng.uniform(0.15, 0.2)
    band_top = pad + band_t / 2
    cup_y = band_top + hh * rng.uniform(0.45, 0.55)
    half = width / 2 - cup_ax
    m = fill_ellipse(cv.mask(), (cx, cup_y), (half, cup_y - band_top), 0, 255, 180, 360, int(band_t))
    cv.over_mask(np.asarray(colour, np.float32) * 0.9, m)
    m = fill_ellipse(cv.mask(), (cx, cup_y), (half - band_t * 0.4, cup_y - band_top - band_t * 0.4), 0, 255, 200,
                     340, max(int(band_t * 0.25), 1))
    cv.over_mask(np.clip(np.asarray(colour) * 1.4 + 0.1, 0, 1), m, 0.6)
    for s in (-1, 1):
        c = (cx + s * half, cup_y + cup_ay * 0.3)
        m = fill_ellipse(cv.mask(), (c[0] - s * cup_ax * 0.25, c[1]), (cup_ax * 0.8, cup_ay * 0.95))
        cv.over_mask(np.full(3, 0.1, np.float32), m)                       # cushion
        yy = (np.arange(cv.h, dtype=np.float32)[:, None] - c[1]) / cup_ay
        m = fill_ellipse(cv.mask(), c, (cup_ax * 0.75, cup_ay * 0.85))
        cv.over_mask(np.clip(rgb(colour) * (1.0 - 0.3 * yy), 0, 1), m)
        m = fill_ellipse(cv.mask(), (c[0] - cup_ax * 0.2, c[1] - cup_ay * 0.35), (cup_ax * 0.2, cup_ay * 0.15))
        cv.over_mask(np.ones(3, np.float32), m, 0.35)                      # gloss
    start = np.array([cx - half, cup_y + cup_ay * 1.1])
    end = np.array([cx + rng.uniform(-0.3, 0.3) * width, cv.h - pad - 4])
    cable = _cable_path(rng, start, end, hh * 0.15)
    cable = np.clip(cable, pad, [cv.w - pad, cv.h - pad])
    thick = int(rng.integers(2, 7))
    m = draw_curves(cv.mask(), [cable], thick)
    cv.over_mask(np.full(3, 0.08, np.float32) if rng.random() < 0.7 else np.full(3, 0.9, np.float32), m)
    _plug(cv, cable[-1], cable[-1] - cable[-6], thick)
    return cv.to_layer(frozenset({"thin"}))


def _cable_path(rng: np.random.Generator, start, end, wiggle: float) -> np.ndarray:
    n = int(rng.integers(3, 7))
    t = np.linspace(0, 1, n + 2)[:, None]
    ctrl = start + t * (end - start)
    ctrl[1:-1] += rng.normal(0.0, wiggle, (n, 2))
    return catmull_rom(ctrl, 200)


def _plug(cv: Canvas, tip, direction, thick: float) -> None:
    """A small connector (plug body and metal tip) at the end of a cable."""
    d = np.asarray(direction, float)
    d /= max(np.linalg.norm(d), 1e-6)
    n = np.array([-d[1], d[0]])
    size = max(thick * 2.5, 6.0)
    body = [tip + n * size / 2, tip + n * size / 2 + d * size * 2.5, tip - n * size / 2 + d * size * 2.5,
            tip - n * size / 2]
    cv.over_mask(np.full(3, 0.12, np.float32), fill_polygon(cv.mask(), body))
    t0 = tip + d * size * 2.5
    metal = [t0 + n * size / 4, t0 + n * size / 4 + d * size, t0 - n * size / 4 + d * size, t0 - n * size / 4]
    cv.over_mask(np.full(3, 0.75, np.float32), fill_polygon(cv.mask(), metal))


def render_cable(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """A coiled charging cable with plugs, or a fine necklace with a pendant: 1-4 px wide curves."""
    hh = height * SS
    width = hh * rng.uniform(0.8, 1.4)
    pad = 8 * SS
    cv = Canvas(int(hh + 2 * pad), int(width + 2 * pad), SS)
    c = np.array([cv.w / 2.0, cv.h / 2.0])
    if rng.random() < 0.6:
        loops = []
        for _ in range(int(rng.integers(3, 7))):
            t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            rx, ry = width / 2 * rng.uniform(0.6, 0.95), hh / 2 * rng.uniform(0.6, 0.95)
            pts = np.stack([c[0] + rx * np.cos(t), c[1] + ry * np.sin(t)], 1) + rng.normal(0, hh * 0.04, (12, 2))
            loops.append(catmull_rom(np.vstack([pts, pts[:2]]), 150))
        thick = int(rng.integers(2, 9))
        col = np.asarray(colour, np.float32) if rng.random() < 0.5 else np.full(3, rng.choice([0.08, 0.92]), np.float32)
        m = draw_curves(cv.mask(), loops, thick)
        cv.over_mask(col, m)
        hl = draw_curves(cv.mask(), [lp + [-thick * 0.15, -thick * 0.15] for lp in loops], max(thick // 3, 1))
        cv.over_mask(np.clip(col + 0.25, 0, 1), hl, 0.5)
        for lp in (loops[0], loops[-1]):
            i = int(rng.integers(10, len(lp) - 10))
            _plug(cv, lp[i], lp[i] - lp[i - 5], thick)
    else:
        metal = np.asarray([(0.85, 0.7, 0.35), (0.8, 0.8, 0.82)][rng.integers(2)], np.float32)
        left = np.array([pad + width * 0.1, pad + 2.0])
        right = np.array([cv.w - pad - width * 0.1, pad + 2.0])
        low = np.array([c[0] + rng.uniform(-0.1, 0.1) * width, cv.h - pad - hh * 0.22])
        chain = catmull_rom(np.vstack([left, left + [width * 0.05, hh * 0.45], low,
                                       right + [-width * 0.05, hh * 0.45], right]), 300)
        m = draw_curves(cv.mask(), [chain], int(rng.integers(1, 4)))
        cv.over_mask(metal, m)
        links = chain[::3]
        m = draw_curves(cv.mask(), [np.vstack([p, p + 1.0]) for p in links], 2)
        cv.over_mask(np.clip(metal + 0.2, 0, 1), m, 0.6)
        gem = rounded_rect(low[0] - hh * 0.06, low[1], low[0] + hh * 0.06, low[1] + hh * 0.18, hh * 0.05)
        cv.over_mask(jitter_colour(rng, colour), fill_polygon(cv.mask(), gem))
    return cv.to_layer(frozenset({"thin"}))
