"""Assemble synthetic shots: products (or real objects) over a backdrop, shadow, photo and plate capture."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional

import cv2
import numpy as np

from . import SyntheticPair
from .backdrops import pick_backdrop_kind, render_backdrop
from .capture import (add_noise, quantize, sample_gain, sample_jpeg, sample_motion, sample_residual,
                      sample_sensor, translation, warp)
from .canvas import Layer, as3, layer_from_premult
from .labels import jitter_colour, product_colour
from .lathe import random_light
from .products import camera_blur, pick_product_kind, product_aspect, render_product
from .real import list_backdrop_photos, pick_real_object, real_masks
from .shadows import ambient_occlusion, make_shadow

KNOWN_TAGS = frozenset({"shadow", "close_colour", "transparent", "thin", "fuzzy", "real_mask", "blur"})
PRODUCT_ONLY_TAGS = frozenset({"transparent", "thin", "fuzzy"})
KINDS = ("mixed", "product", "real")


@dataclass
class Scene:
    """Everything in front of the camera, before capture.

    canvas: (h + 2 margin) x (w + 2 margin) x 3 backdrop, photo frame at [margin:, margin:].
    foreground, alpha, shadow: frame-sized (see ``SyntheticPair``).
    lens: frame-sized float32 or None: how far along x (pixels) the backdrop seen
        through each pixel lies (refraction by glass; see ``Layer.lens``).
    """

    canvas: np.ndarray
    margin: int
    foreground: np.ndarray
    alpha: np.ndarray
    shadow: np.ndarray
    tags: set
    lens: Optional[np.ndarray] = None


def motion_margins(h: int, w: int) -> tuple[int, int]:
    """(backdrop margin, plate margin) that cover the camera motion of ``sample_motion`` in an hxw frame.

    The plate is captured with an extra border (a multiple of 16, so JPEG blocks
    stay aligned after cropping) which the aligned plate is resampled from.
    """
    shift = 0.035 * max(h, w) + 4
    plate_margin = int(np.ceil(shift / 16.0)) * 16
    return plate_margin + int(np.ceil(shift)), plate_margin


def make_pair(seed: int, size: tuple[int, int] = (384, 512), *, data_dir: Path | None = None,
              kind: str = "mixed", tags: Iterable[str] | None = None, refraction: float = 0.0,
              occlusion: float = 0.0, plants: float = 0.0) -> SyntheticPair:
    """Render one synthetic photo/plate pair with ground truth, deterministically from ``seed``.

    size: (height, width) of the photo and plate.
    data_dir: the shared data folder (real objects and photo backdrops); ignored when absent.
    kind: "product" (procedural product), "real" (a real object mask, needs data_dir) or "mixed".
    tags: subsets the pair must belong to ("shadow", "close_colour", "transparent", "thin",
        "fuzzy", "blur", "real_mask"), for stratified evaluation sets. A real object cannot be
        glass, wire or fur, so with kind="real" those tags add a procedural product beside it.
    refraction: the share of scenes with glass whose glass refracts the backdrop behind
        it (training data; 0, the default, renders exactly what earlier versions did).
    occlusion: the share of scenes whose backdrop is also shaded around and between the
        object's parts (``shadows.ambient_occlusion``; training data, 0 by default as refraction).
    plants: the share of procedural scenes (without glass or fur asked for) whose product is
        cut flowers or foliage (``plants.render_plant``; training data, 0 by default).
    """
    h, w = (int(v) for v in size)
    if h < 32 or w < 32:
        raise ValueError(f"Synthetic pairs need at least 32x32 pixels, got {h}x{w}.")
    for name, share in (("refraction", refraction), ("occlusion", occlusion), ("plants", plants)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} is a share between 0 and 1, got {share}.")
    if kind not in KINDS:
        raise ValueError(f"Unknown pair kind {kind!r}; choose one of {', '.join(KINDS)}.")
    want = frozenset(tags or ())
    if want - KNOWN_TAGS:
        raise ValueError(f"Unknown tags {sorted(want - KNOWN_TAGS)}; known tags are {sorted(KNOWN_TAGS)}.")
    data = Path(data_dir) if data_dir is not None and Path(data_dir).is_dir() else None
    real_ok = data is not None and bool(real_masks(data))
    if (kind == "real" or "real_mask" in want) and not real_ok:
        raise ValueError("Real-object pairs need the shared data folder; pass data_dir pointing at it.")
    if kind == "product" and "real_mask" in want:
        raise ValueError("The real_mask tag contradicts kind='product'.")
    rng = np.random.default_rng(seed)
    use_real = kind == "real" or "real_mask" in want
    if kind == "mixed" and real_ok and not use_real and not want & PRODUCT_ONLY_TAGS:
        use_real = rng.random() < 0.3
    scene = compose_scene(rng, h, w, data, use_real, want, refraction=refraction, occlusion=occlusion,
                          plants=plants)
    return capture_pair(scene, rng, h, w)


def compose_scene(rng: np.random.Generator, h: int, w: int, data: Path | None, use_real: bool,
                  want: frozenset, margin: int | None = None, refraction: float = 0.0,
                  occlusion: float = 0.0, plants: float = 0.0) -> Scene:
    """Choose and render the backdrop and the object(s), place them and cast the shadow.

    refraction: the chance that glass in the scene refracts the backdrop, with a
    strength k in [-2.2, 0.2] (see ``turned._lens``: a filled glass mirrors or
    magnifies what is behind it). Drawn last and only when positive, so the
    scenes of seeds without it are unchanged. occlusion: the chance of an ambient
    shade around and between the parts (``shadows.ambient_occlusion``), drawn after
    refraction and only when positive, for the same reason. plants: the chance that
    the (first) procedural product is a plant (``plants.render_plant``), drawn first
    and only when positive and no glass or fur is asked for.
    """
    margin = motion_margins(h, w)[0] if margin is None else margin
    plant = plants > 0 and not use_real and not want & {"transparent", "fuzzy"} and rng.random() < plants
    photos = list_backdrop_photos(str(data)) if data is not None else ()
    light = random_light(rng)
    close = "close_colour" in want or rng.random() < 0.15
    blur = "blur" in want or rng.random() < 0.12
    tags = set()
    layers: list[Layer] = []
    required = sorted(want & PRODUCT_ONLY_TAGS)
    if use_real:
        layer = pick_real_object(data, rng)
        if layer is None:
            raise ValueError(f"{data}: no usable real object masks were found in this data folder.")
        fg_colour = np.median(layer.colour[layer.alpha > 0.5], axis=0)
        bd_kind = pick_backdrop_kind(rng, bool(photos), plain=close)
        backdrop = render_backdrop(bd_kind, rng, h + 2 * margin, w + 2 * margin,
                                   jitter_colour(rng, fg_colour, 0.01, 0.1, 0.06) if close else None, photos)
        layers.append(_fit_real(layer, rng, h, w, 0.6 if required else 1.0))
        n = len(required)                                    # products carrying tags a real mask cannot
    else:
        bd_kind = pick_backdrop_kind(rng, bool(photos), plain=close)
        backdrop = render_backdrop(bd_kind, rng, h + 2 * margin, w + 2 * margin, photos=photos)
        n = max(len(required), 2 if rng.random() < 0.12 else 1)
    for i in range(n):
        pkind = "plant" if plant and i == 0 else pick_product_kind(rng, required[i] if i < len(required) else None)
        f = rng.uniform(0.15, 0.6) if n == 1 and not layers else rng.uniform(0.08, 0.3)
        aspect = product_aspect(pkind)
        height = min(np.sqrt(f * h * w / aspect), 0.9 * h, 0.85 * w / aspect)
        near = np.clip(backdrop.colour / 0.85, 0, 1) if close else None
        layer = render_product(pkind, rng, height, product_colour(rng, near), light)
        lh, lw = layer.alpha.shape                       # wider than its kind usually is: shrink
        s = min(1.0, np.sqrt(1.2 * f * h * w / (lh * lw)), 0.95 * w / lw, 0.95 * h / lh)
        layers.append(_scale(layer, s) if s < 0.97 else layer)
    if blur:
        layers[-1] = camera_blur(layers[-1], rng, max(h, w) / 512)
    foreground, alpha, objects, lens = _place(layers, rng, h, w)
    for layer in layers:
        tags |= {t for t in layer.tags if not t.startswith("touches:")}
    tags.add(f"backdrop:{bd_kind}")
    if close:
        tags.add("close_colour")
    shadow = make_shadow(objects, rng, force="shadow" in want)
    refracting = None
    if refraction > 0 and lens is not None and rng.random() < refraction:
        tags.add("refraction")
        refracting = lens * rng.uniform(-2.2, 0.2)
    if occlusion > 0 and rng.random() < occlusion:
        tags.add("occlusion")
        shadow = shadow * ambient_occlusion(objects, rng)
    return Scene(backdrop.image, margin, foreground, alpha, shadow, tags, refracting)


def _fit_real(layer: Layer, rng: np.random.Generator, h: int, w: int, share: float = 1.0) -> Layer:
    """Scale a real object to take 15-60 % of the frame times ``share`` (or to span it, where it was cut)."""
    lh, lw = layer.alpha.shape
    f = rng.uniform(0.15, 0.6) * share
    s = np.sqrt(f * h * w / (lh * lw))
    s = min(s, 0.95 * h / lh, 0.95 * w / lw)
    if "touches:top" in layer.tags and "touches:bottom" in layer.tags:
        s = h / lh                                           # cut at both ends: span the frame
    elif "touches:left" in layer.tags and "touches:right" in layer.tags:
        s = min(w / lw, h / lh)
    nh, nw = max(int(round(lh * s)), 4), max(int(round(lw * s)), 4)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    premult = cv2.resize(layer.colour * layer.alpha[..., None], (nw, nh), interpolation=interp)
    alpha = cv2.resize(layer.alpha, (nw, nh), interpolation=interp)
    return layer_from_premult(premult, alpha, layer.tags)


def _place(layers: list[Layer], rng: np.random.Generator, h: int,
           w: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], Optional[np.ndarray]]:
    """Composite the layers into the frame like a catalogue shot.

    Returns (foreground, alpha, per-object alpha list, lens), all frame-sized;
    lens (``Layer.lens`` in the frame, hidden where nearer objects cover it) is
    None when no layer refracts.
    """
    premult = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    lens = np.zeros((h, w), np.float32) if any(layer.lens is not None for layer in layers) else None
    objects = []
    n = len(layers)
    order = np.argsort(rng.uniform(size=n))
    for rank, i in enumerate(order):                         # later = nearer = lower in the frame
        layer = layers[i]
        lh, lw = layer.alpha.shape
        if lw > w or lh > h:                                 # rare: shrink to fit
            s = min(w / lw, h / lh) * 0.98
            layer = _scale(layer, s)
            lh, lw = layer.alpha.shape
        rows = np.nonzero(layer.alpha.max(1) > 0.01)[0]
        cols = np.nonzero(layer.alpha.max(0) > 0.01)[0]
        if len(rows) == 0:
            continue
        top_pad, bottom_pad = rows[0], lh - 1 - rows[-1]
        left_pad, right_pad = cols[0], lw - 1 - cols[-1]
        centre = w / 2 + (rng.normal(0, 0.08) * w if n == 1 else (rank - (n - 1) / 2) * w * 0.38
                          + rng.normal(0, 0.03) * w)
        x0 = int(np.clip(centre - lw / 2, -left_pad, w - lw + right_pad))
        base = h * (rng.uniform(0.8, 0.97) if n == 1 else 0.78 + 0.15 * rank / max(n - 1, 1))
        if rng.random() < 0.15:                              # cut by the bottom edge
            base = h + rng.uniform(0.0, 0.12) * (rows[-1] - rows[0])
        y0 = int(base - (lh - bottom_pad))
        y0 = max(y0, -top_pad)
        if "touches:bottom" in layer.tags:
            y0 = h - lh + bottom_pad
        if "touches:top" in layer.tags:
            y0 = -top_pad
        if "touches:left" in layer.tags:
            x0 = -left_pad
        elif "touches:right" in layer.tags:
            x0 = w - lw + right_pad
        if lens is not None:
            _over_lens(lens, layer, y0, x0)
        _over(premult, alpha, layer, y0, x0)
        own = np.zeros((h, w), np.float32)
        _over(None, own, layer, y0, x0)
        objects.append(own)
    fg = layer_from_premult(premult, alpha).colour
    return fill_foreground(fg, alpha), alpha, objects or [alpha], lens


def _scale(layer: Layer, s: float) -> Layer:
    lh, lw = layer.alpha.shape
    nh, nw = max(int(lh * s), 2), max(int(lw * s), 2)
    premult = cv2.resize(layer.colour * layer.alpha[..., None], (nw, nh), interpolation=cv2.INTER_AREA)
    scaled = layer_from_premult(premult, cv2.resize(layer.alpha, (nw, nh), interpolation=cv2.INTER_AREA), layer.tags)
    if layer.lens is None:
        return scaled
    return replace(scaled, lens=cv2.resize(layer.lens, (nw, nh), interpolation=cv2.INTER_AREA) * s)


def _window(frame_shape: tuple, layer: Layer, y0: int, x0: int):
    """(frame window, layer window) where ``layer`` with its top-left corner at (y0, x0) meets the frame,
    or None when it lies outside."""
    h, w = frame_shape
    lh, lw = layer.alpha.shape
    fy0, fx0, fy1, fx1 = max(y0, 0), max(x0, 0), min(y0 + lh, h), min(x0 + lw, w)
    if fy1 <= fy0 or fx1 <= fx0:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1)), (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))


def _over_lens(lens: np.ndarray, layer: Layer, y0: int, x0: int) -> None:
    """Put ``layer``'s refraction over the frame's: a nearer object hides (by its alpha) what refracts behind it."""
    where = _window(lens.shape, layer, y0, x0)
    if where is not None:
        frame, own = where
        lens[frame] *= 1.0 - layer.alpha[own]
        if layer.lens is not None:
            lens[frame] += layer.lens[own]


def _over(premult: np.ndarray | None, alpha: np.ndarray, layer: Layer, y0: int, x0: int) -> None:
    """Composite ``layer`` with its top-left corner at (y0, x0) over the frame, clipped to it.

    premult: frame premultiplied colour, or None to composite the alpha only.
    """
    where = _window(alpha.shape, layer, y0, x0)
    if where is None:
        return
    frame, own = where
    a = layer.alpha[own]
    keep = 1.0 - a
    if premult is not None:
        premult[frame] = premult[frame] * as3(keep) + layer.colour[own] * as3(a)
    alpha[frame] = alpha[frame] * keep + a


def fill_foreground(fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Extend the foreground colours smoothly into alpha == 0 (undefined there, but kept plausible)."""
    h, w = alpha.shape
    sh, sw = max(h // 8, 1), max(w // 8, 1)
    a = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    pm = cv2.resize(cv2.multiply(fg, as3(alpha)), (sw, sh), interpolation=cv2.INTER_AREA)
    mean = pm.reshape(-1, 3).sum(0) / max(float(a.sum()), 1e-6)
    a_b = cv2.GaussianBlur(a, (0, 0), 2.0) + 1e-6
    weight = np.clip(a_b * 20.0, 0, 1)[..., None]          # far from the object: its mean colour
    pm = cv2.GaussianBlur(pm, (0, 0), 2.0) / a_b[..., None] * weight + mean * (1 - weight)
    pm = cv2.GaussianBlur(pm.astype(np.float32), (0, 0), 4.0)
    fill = cv2.resize(np.clip(pm, 0, 1).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    covered = as3((alpha > 0).astype(np.float32))
    return (fill + covered * (fg - fill)).astype(np.float32)


def capture_pair(scene: Scene, rng: np.random.Generator, h: int, w: int, large: bool = False) -> SyntheticPair:
    """Shoot the scene twice: the photo (with product and shadow) and the plate (moved camera, drift)."""
    m = scene.margin
    m2 = motion_margins(h, w)[1]
    sensor = sample_sensor(rng)
    backdrop = scene.canvas[m:m + h, m:m + w]
    foreground, seen = scene.foreground, backdrop
    if scene.lens is not None:
        foreground, seen = refract(scene, h, w)
    photo = composite(foreground, scene.alpha, seen, scene.shadow)
    photo = quantize(add_noise(photo, sensor, rng, signal_dependent=not large), None if large else sample_jpeg(rng))

    homography = sample_motion(rng, h, w)
    gain = sample_gain(rng)
    to_canvas = translation(m, m) @ np.linalg.inv(homography) @ translation(-m2, -m2)
    plate_ext = warp(scene.canvas, to_canvas, h + 2 * m2, w + 2 * m2, cubic=not large)
    plate_ext = cv2.transform(plate_ext, np.diag(gain))             # per-channel gain
    plate_ext = quantize(add_noise(plate_ext, sensor, rng, signal_dependent=not large, bank=1),
                         None if large else sample_jpeg(rng))
    plate = np.ascontiguousarray(plate_ext[m2:m2 + h, m2:m2 + w])

    residual = sample_residual(rng, h, w)
    gain_est = gain * (1.0 + rng.uniform(-0.02, 0.02, 3))
    aligned = warp(plate_ext, translation(m2, m2) @ homography @ residual, h, w)
    del plate_ext
    aligned = cv2.transform(aligned, np.diag(1.0 / gain_est))
    np.clip(aligned, 0.0, 1.0, out=aligned)

    tags = set(scene.tags)
    if ((scene.shadow < 0.9) & (scene.alpha <= 0)).sum() > max(4, 2e-4 * h * w):
        tags.add("shadow")
    return SyntheticPair(photo=photo, plate=plate, aligned_plate=aligned, alpha=scene.alpha,
                         foreground=foreground, shadow=scene.shadow, homography=homography,
                         gain=gain, tags=frozenset(tags),
                         backdrop=None if large else np.ascontiguousarray(backdrop))


def refract(scene: Scene, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(foreground, backdrop as seen through the glass) of a refracting scene, both HxWx3 float32.

    The alpha stays the glass's opacity (what triangulation matting measures over
    a plain backdrop). The foreground takes what refraction adds, so that the
    compositing equation still holds with the backdrop the plate shows:
    alpha F' + (1 - alpha) B S = alpha F + (1 - alpha) B_seen S, clipped to [0, 1].
    """
    m = scene.margin
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    seen = cv2.remap(scene.canvas, xs + (m + scene.lens), ys + m, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    a = scene.alpha
    gain = np.where(a > 0, (1.0 - a) / np.maximum(a, 0.02), 0.0).astype(np.float32) * scene.shadow
    backdrop = scene.canvas[m:m + h, m:m + w]
    foreground = np.clip(scene.foreground + as3(gain) * (seen - backdrop), 0.0, 1.0).astype(np.float32)
    return foreground, seen


def composite(foreground: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """alpha * foreground + (1 - alpha) * backdrop * shadow (HxWx3 float32), in few passes over memory.

    cv2.blendLinear normalises by the weight sum, so the result is scaled back by it.
    """
    back_weight = (1.0 - alpha) * shadow
    out = cv2.blendLinear(foreground, backdrop, alpha, back_weight)
    if float(shadow.min()) < 1.0:
        out = cv2.multiply(out, as3(alpha + back_weight), dst=out)
    return out
