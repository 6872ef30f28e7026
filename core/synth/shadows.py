"""Cast shadows: darkening of the backdrop by the product, in the photo only (alpha stays 0 there).

Shadows are soft, so they are computed at a quarter of the frame size (less
reduction for small frames) and upsampled. Each component multiplies the backdrop by a factor of 0.4-0.9 at
its darkest.
"""
from __future__ import annotations

import cv2
import numpy as np

DOWN = 4


def make_shadow(objects: list[np.ndarray], rng: np.random.Generator, force: bool = False,
                probability: float = 0.55) -> np.ndarray:
    """Shadow map (HxW float32 in (0, 1], 1 = no shadow) cast by objects of coverage ``objects`` (HxW each).

    Components per object: a contact shadow at the base, a projected
    silhouette on the floor (behind or in front of the object) and, sometimes,
    a drop shadow on the wall, all from one light for the whole scene.
    ``force`` guarantees a visible shadow.
    """
    h, w = objects[0].shape
    if not force and rng.random() >= probability:
        return np.ones((h, w), np.float32)
    down = DOWN if min(h, w) >= 128 else 2 if min(h, w) >= 64 else 1
    sh, sw = max(h // down, 2), max(w // down, 2)
    light = {"squash": rng.uniform(0.12, 0.5) * (1 if rng.random() < 0.7 else -1),   # < 0: towards camera
             "shear": rng.uniform(0.2, 1.2) * rng.choice([-1, 1]),
             "wall": rng.uniform(0.03, 0.1, 2) * rng.choice([-1, 1], 2) * (1.0, 0.6)}
    kinds = [k for k, p in (("contact", 0.6), ("floor", 0.6), ("wall", 0.3)) if rng.random() < p]
    if not kinds:
        kinds = ["floor" if rng.random() < 0.6 else "contact"]
    strengths = {k: rng.uniform(0.1, 0.6) for k in kinds}
    dark = np.zeros((sh, sw), np.float32)
    sils, covered = [], np.zeros((sh, sw), bool)
    for alpha in objects:
        sil = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
        covered |= sil > 0
        sils.append(np.clip((sil - 0.1) * 1.5, 0.0, 1.0))      # glass casts a lighter shadow
        for kind in kinds:
            m = _component(kind, sils[-1], light, rng)
            if m is not None:
                dark = 1.0 - (1.0 - dark) * (1.0 - strengths[kind] * np.clip(m, 0.0, 1.0))
    if force:
        covered = cv2.dilate(covered.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        dark = _make_visible(dark, sils, covered, light, rng)
    shadow = 1.0 - cv2.resize(dark, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(shadow, 0.35, 1.0).astype(np.float32)


def _make_visible(dark: np.ndarray, sils: list[np.ndarray], covered: np.ndarray, light: dict,
                  rng: np.random.Generator) -> np.ndarray:
    """Make sure a forced shadow shows beside the objects (``covered``: where they are), not only under them."""
    for attempt in range(4):
        if (dark * ~covered).max() >= 0.2:
            return dark
        light = dict(light, wall=light["wall"] * (1.6 + attempt))       # push the drop shadow out
        for sil in sils:
            m = _component("wall", sil, light, rng)
            if m is not None:
                dark = 1.0 - (1.0 - dark) * (1.0 - rng.uniform(0.35, 0.6) * np.clip(m / 0.7, 0.0, 1.0))
    peak = float((dark * ~covered).max())
    if peak > 0:
        return np.clip(dark * (0.25 / peak), 0, 0.65)
    # tiny or wire-thin objects: a soft blob on the floor beside them
    ys, xs = np.nonzero(np.maximum.reduce(sils) > 0.01) if covered.any() else (np.array([dark.shape[0] - 1]),
                                                                                 np.array([dark.shape[1] // 2]))
    blob = np.zeros_like(dark)
    size = max(ys.max() - ys.min(), xs.max() - xs.min(), 4)
    centre = (int((xs.mean() + np.sign(light["shear"]) * 0.4 * size) * 16), int(ys.max() * 16))
    cv2.ellipse(blob, centre, (int(size * 0.5 * 16), int(max(size * 0.15, 1) * 16)), 0, 0, 360, 1.0, -1,
                cv2.LINE_AA, 4)
    blob = cv2.GaussianBlur(blob, (0, 0), max(size * 0.1, 0.7))
    return 1.0 - (1.0 - dark) * (1.0 - 0.5 * blob / max(float(blob.max()), 1e-6))


def _component(kind: str, sil: np.ndarray, light: dict, rng: np.random.Generator) -> np.ndarray | None:
    """One shadow component (low-res darkness in [0, 1]) of one object's silhouette ``sil``."""
    sh, sw = sil.shape
    ys, xs = np.nonzero(sil > 0.5)
    if len(ys) == 0:
        return None
    base = float(ys.max()) + 0.5
    size = float(max(ys.max() - ys.min(), xs.max() - xs.min(), 4))
    if kind == "contact":
        bottom_cols = xs[ys >= ys.max() - max(2, (ys.max() - ys.min()) * 0.05)]
        m = np.zeros((sh, sw), np.float32)
        cx = float(bottom_cols.mean())
        half = max((bottom_cols.max() - bottom_cols.min()) * rng.uniform(0.5, 0.75), 1.5)
        cv2.ellipse(m, (int(cx * 16), int(base * 16)), (int(half * 16), int(max(size * 0.03, 1.0) * 16)),
                    0, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
        return cv2.GaussianBlur(m, (0, 0), max(size * rng.uniform(0.01, 0.03), 0.6))
    if kind == "floor":
        squash, shear = light["squash"], light["shear"]
        mat = np.float32([[1, -shear * abs(squash), shear * abs(squash) * base], [0, squash, base * (1 - squash)]])
        m = cv2.warpAffine(sil, mat, (sw, sh), flags=cv2.INTER_LINEAR, borderValue=0)
        near = cv2.GaussianBlur(m, (0, 0), max(size * 0.01, 0.6))
        far = cv2.GaussianBlur(m, (0, 0), max(size * rng.uniform(0.03, 0.08), 1.0))
        dist = np.abs(np.arange(sh, dtype=np.float32)[:, None] - base) / max(size * abs(squash), 1.0)
        fade = np.exp(-dist * rng.uniform(0.5, 2.0))
        return (near * fade + far * (1 - fade)) * (0.5 + 0.5 * fade)
    d = light["wall"] * size
    mat = np.float32([[1, 0, d[0]], [0, 1, -abs(d[1])]])
    m = cv2.warpAffine(sil, mat, (sw, sh), flags=cv2.INTER_LINEAR, borderValue=0)
    return 0.7 * cv2.GaussianBlur(m, (0, 0), max(size * rng.uniform(0.03, 0.08), 1.0))


def ambient_occlusion(objects: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Soft shade of the backdrop around and between the objects' parts (HxW float32 in (0, 1], 1 = none).

    The light a bouquet or a chair back blocks darkens the backdrop seen through
    its gaps and just around it, by a few percent to a third: a blur of the
    silhouette (sigma 3-10 % of the object's size), strongest where parts enclose
    a gap. It is what real shots show between stems and leaves, where a cast
    shadow (``make_shadow``) leaves the backdrop untouched, and what teaches the
    networks that a darker backdrop inside a gap is still backdrop.
    """
    h, w = objects[0].shape
    down = DOWN if min(h, w) >= 128 else 2 if min(h, w) >= 64 else 1
    sh, sw = max(h // down, 2), max(w // down, 2)
    sil = np.maximum.reduce([cv2.resize(a, (sw, sh), interpolation=cv2.INTER_AREA) for a in objects])
    ys, xs = np.nonzero(sil > 0.5)
    if len(ys) == 0:
        return np.ones((h, w), np.float32)
    size = float(max(ys.max() - ys.min(), xs.max() - xs.min(), 4))
    occ = cv2.GaussianBlur(sil, (0, 0), max(size * rng.uniform(0.03, 0.1), 0.7))
    dark = rng.uniform(0.05, 0.3) * np.clip(occ / rng.uniform(0.4, 0.8), 0.0, 1.0)
    return (1.0 - cv2.resize(dark, (w, h), interpolation=cv2.INTER_LINEAR)).astype(np.float32)
