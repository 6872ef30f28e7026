"""Cut flowers and foliage: many thin stems, leaves and petals with backdrop showing between them.

A bouquet is the hardest common product for a coarse mask: at 320 px the gaps
between its stems and leaves are a few pixels wide, and the backdrop seen
through them is shaded by the leaves around it. The procedural products are
mostly solid, so the networks learned to fill such gaps; these plants (a
training option, ``make_pair(plants=...)``) teach them not to.
"""
from __future__ import annotations

import numpy as np

from .canvas import Canvas, Layer, catmull_rom, draw_curves, fill_ellipse, fill_polygon, layer_from_premult
from .labels import jitter_colour
from .turned import render_glass

SS = 2
GREENS = ((0.18, 0.35, 0.12), (0.3, 0.45, 0.15), (0.12, 0.28, 0.16), (0.4, 0.5, 0.25), (0.22, 0.3, 0.1))
PETALS = ((0.97, 0.96, 0.92), (0.98, 0.85, 0.2), (0.9, 0.3, 0.45), (0.75, 0.1, 0.15), (0.6, 0.35, 0.75),
          (0.98, 0.6, 0.2), (0.95, 0.75, 0.8))
#: Share of the bunches drawn as dense bouquets (see :func:`render_plant`).
DENSE_SHARE = 0.5


def _leaf(tip_from: np.ndarray, direction: np.ndarray, length: float, width: float, serrated: bool,
          rng: np.random.Generator) -> np.ndarray:
    """Polygon of a pointed leaf from ``tip_from`` along unit ``direction`` (Nx2 float)."""
    t = np.linspace(0.0, 1.0, 24)
    half = width * np.sin(np.pi * t) ** 0.8 * (1.0 - 0.3 * t)
    if serrated:
        half = half * (1.0 + 0.35 * (np.arange(len(t)) % 2))
    normal = np.array([-direction[1], direction[0]])
    bend = rng.uniform(-0.15, 0.15) * length * t ** 2
    spine = tip_from + np.outer(t * length, direction) + np.outer(bend, normal)
    return np.vstack([spine + np.outer(half, normal), (spine - np.outer(half, normal))[::-1]])


def in_vase(plant: Layer, rng: np.random.Generator, light) -> Layer:
    """``plant`` standing in a clear glass vase (``turned.render_glass``) over its stems' lower part:
    the stems show through the glass, which keeps its own opacity. Tagged "transparent" too."""
    ph, pw = plant.alpha.shape
    vase = render_glass(rng, ph * rng.uniform(0.3, 0.45), (0.85, 0.9, 0.88), light)
    vh, vw = vase.alpha.shape
    h, w = ph + vh // 2, max(pw, vw)
    premult = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    x0 = (w - pw) // 2
    alpha[:ph, x0:x0 + pw] = plant.alpha
    premult[:ph, x0:x0 + pw] = plant.colour * plant.alpha[..., None]
    y0, x0 = h - vh, (w - vw) // 2                      # the stems' meeting point sinks into the vase
    a = vase.alpha[..., None]
    premult[y0:, x0:x0 + vw] = vase.colour * a + premult[y0:, x0:x0 + vw] * (1.0 - a)
    alpha[y0:, x0:x0 + vw] = vase.alpha + alpha[y0:, x0:x0 + vw] * (1.0 - vase.alpha)
    return layer_from_premult(premult, alpha, plant.tags | vase.tags)


def render_plant(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """A bunch of 3-9 stems fanning up from one point, with leaves (some fern-like) and flower heads
    of ``colour`` or a petal colour; the stems' gaps show the backdrop. Tagged "thin". In 40 % of
    them the bunch stands in a clear glass vase (:func:`in_vase`; then also "transparent").

    Half of the bunches are dense bouquets (:data:`DENSE_SHARE`): 10-21 stems with 6-15 leaves
    each and large spidery heads of 40-119 petals, so that the backdrop shows only through
    narrow, enclosed gaps, as between the leaves and petals of a florist's bouquet. A sparse
    bunch leaves wide gaps that any mask shows; the dense ones are what the networks filled.
    """
    hh = height * SS
    dense = rng.random() < DENSE_SHARE
    width = hh * (rng.uniform(0.5, 0.9) if dense else rng.uniform(0.6, 1.1))
    pad = 6 * SS
    cv = Canvas(int(hh + 2 * pad), int(width + 2 * pad), SS)
    base = np.array([cv.w / 2.0 + rng.uniform(-0.05, 0.05) * width, cv.h - pad])
    green = np.asarray(GREENS[rng.integers(len(GREENS))], np.float32)
    petal = (np.asarray(colour, np.float32) if rng.random() < 0.4
             else np.asarray(PETALS[rng.integers(len(PETALS))], np.float32))
    stems = []
    for _ in range(int(rng.integers(10, 22) if dense else rng.integers(3, 10))):
        top = np.array([pad + rng.uniform(0.05, 0.95) * width, pad + rng.uniform(0.0, 0.45 if dense else 0.35) * hh])
        mid = base + (top - base) * rng.uniform(0.4, 0.6) + rng.normal(0.0, 0.05 * hh, 2)
        stems.append(catmull_rom(np.vstack([base, mid, top]), 120))
    stem_w = max(int(hh * rng.uniform(0.004, 0.012)), 1)
    for stem in stems:
        shade = jitter_colour(rng, green, 0.02, 0.1, 0.15)
        cv.over_mask(shade, draw_curves(cv.mask(), [stem], stem_w))
    leaf_len = hh * (rng.uniform(0.05, 0.12) if dense else rng.uniform(0.06, 0.18))
    fern = rng.random() < 0.4
    for stem in stems:
        for _ in range(int(rng.integers(6, 16) if dense else rng.integers(3, 11))):
            i = int(rng.integers(len(stem) // 5, len(stem) - 2))
            along = stem[i + 1] - stem[i]
            along = along / max(np.linalg.norm(along), 1e-6)
            side = np.sign(rng.uniform(-1, 1))
            angle = side * rng.uniform(0.5, 1.2)
            direction = np.array([along[0] * np.cos(angle) - along[1] * np.sin(angle),
                                  along[0] * np.sin(angle) + along[1] * np.cos(angle)])
            length = leaf_len * rng.uniform(0.6, 1.3)
            leaf_col = jitter_colour(rng, green, 0.03, 0.15, 0.2)
            if fern:                                     # a rachis with small leaflets: many tiny gaps
                rachis = stem[i] + np.outer(np.linspace(0, 1, 12) * length * 1.5, direction)
                cv.over_mask(leaf_col, draw_curves(cv.mask(), [rachis], max(stem_w // 2, 1)))
                normal = np.array([-direction[1], direction[0]])
                m = cv.mask()
                for k, p in enumerate(rachis[1:-1]):
                    for s in (-1, 1):
                        d = normal * s + direction * 0.6
                        fill_polygon(m, _leaf(p, d / np.linalg.norm(d), length * 0.28 * (1 - k / 14), length * 0.06,
                                              False, rng))
                cv.over_mask(leaf_col, m)
            else:
                poly = _leaf(stem[i], direction, length, length * rng.uniform(0.12, 0.25), rng.random() < 0.3, rng)
                cv.over_mask(leaf_col, fill_polygon(cv.mask(), poly))
                vein = stem[i] + np.outer(np.linspace(0, 0.9, 8) * length, direction)
                cv.over_mask(np.clip(leaf_col * 0.7, 0, 1), draw_curves(cv.mask(), [vein], 1), 0.6)
    for stem in stems:
        if rng.random() < (0.4 if dense else 0.6):
            tip = stem[-1]
            r = hh * (rng.uniform(0.06, 0.16) if dense else rng.uniform(0.04, 0.1))
            m = cv.mask()
            petals = int(rng.integers(40, 120) if dense else rng.integers(6, 40))
            thin = petals > 16                           # a chrysanthemum's spidery petals, or broad ones
            petal_w = r * (rng.uniform(0.015, 0.04) if dense else 0.06 if thin else 0.3)
            for a in rng.uniform(0, 2 * np.pi, petals) if thin else np.linspace(0, 2 * np.pi, petals, endpoint=False):
                d = np.array([np.cos(a), np.sin(a)])
                fill_polygon(m, _leaf(tip, d, r * (rng.uniform(0.4, 1.2) if dense else rng.uniform(0.6, 1.1)), petal_w,
                                      False, rng))
            cv.over_mask(jitter_colour(rng, petal, 0.02, 0.1, 0.12), m)
            centre = jitter_colour(rng, (0.85, 0.65, 0.1) if rng.random() < 0.6 else (0.25, 0.15, 0.05))
            cv.over_mask(centre, fill_ellipse(cv.mask(), tip, (r * 0.22, r * 0.22)))
    plant = cv.to_layer(frozenset({"thin"}))
    return in_vase(plant, rng, light) if rng.random() < 0.4 else plant
