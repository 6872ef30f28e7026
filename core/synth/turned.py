"""Round products built from surfaces of revolution: bottle, can, jar, tube, mug, glass.

Each ``render_*`` takes the generator, the product height in output pixels, the
main colour and the key light, and returns a ``Layer`` (straight colour + true
soft alpha) rendered at ``ss`` times the size and area-reduced.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from .canvas import Canvas, Layer, coverage, fill_ellipse, rgb
from .labels import contrast_colour, jitter_colour, make_label
from .lathe import ellipse_coverage, lathe_geometry, profile, shade, window, wrap_texture

SS = 2


def _canvas(height_px: float, radius: float, e: float, extra_w: float = 0.0) -> tuple[Canvas, float, float]:
    """A canvas for a lathe of total height ``height_px`` (output px); returns (canvas, top, cx) in canvas px."""
    pad = 3 * SS
    h = int(np.ceil(height_px * SS + 2 * pad + e * radius + 2))
    w = int(np.ceil(2 * radius + 2 * pad + extra_w))
    return Canvas(h, w, SS), float(pad + e * radius), float(pad + radius)


def _paint(canvas: Canvas, geom, albedo, light, *, gloss=0.4, ambient=0.35, shininess=30.0,
           opacity=1.0, cover=None) -> None:
    diffuse, spec = shade(geom, light, ambient=ambient, gloss=gloss, shininess=shininess)
    albedo = np.asarray(albedo, np.float32)
    if albedo.ndim == 1:
        albedo = rgb(albedo)
    colour = np.clip(albedo * diffuse + spec, 0.0, 1.0)
    canvas.over(colour, geom.coverage * opacity if cover is None else cover, geom.box)


def _top_face(canvas: Canvas, cx: float, cy: float, r: float, e: float, colour, light, shade_k=0.15) -> None:
    """Flat ellipse cap on a lathe (lid, cap top), slightly lit from the key-light side."""
    box, cov = ellipse_coverage(canvas.h, canvas.w, cx, cy, r, max(e * r, 0.5))
    x = (np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :] - cx) / max(r, 1.0)
    tone = 1.0 + shade_k * (0.5 - 0.5 * np.sign(light[0]) * x)
    canvas.over(np.clip(rgb(colour) * tone, 0, 1), cov, box)


def _ribbed(colour, geom, n: int, depth: float = 0.15) -> np.ndarray:
    """Cap colour with vertical ribs (grip) modulating the shade around the axis."""
    theta = np.arcsin(geom.u)
    return rgb(colour) * (1.0 - depth * (0.5 + 0.5 * np.cos(theta * n)))


def render_bottle(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Shampoo / drinks bottle: body, shoulder, neck, ribbed cap, wrapped label, specular streaks."""
    hh = height * SS
    r_body = hh * rng.uniform(0.13, 0.22)
    r_neck = r_body * rng.uniform(0.28, 0.5)
    r_cap = r_neck * rng.uniform(1.05, 1.35)
    e = rng.uniform(0.05, 0.22)
    cv, top, cx = _canvas(height, r_body, e)
    cap_h = hh * rng.uniform(0.06, 0.13)
    neck = hh * rng.uniform(0.04, 0.18)
    shoulder = hh * rng.uniform(0.06, 0.22)
    bottom = top + hh - e * r_body
    neck_top = top + cap_h * 0.7
    body = profile([(neck_top, r_neck), (top + cap_h + neck, r_neck), (top + cap_h + neck + shoulder, r_body),
                    (bottom - 0.03 * hh, r_body), (bottom, r_body * 0.9)])
    geom = lathe_geometry(cv.h, cv.w, cx, body, e)
    glassy = rng.random() < 0.3
    gloss = rng.uniform(0.5, 0.9) if glassy else rng.uniform(0.15, 0.55)
    base = np.asarray(colour) * (0.5 if glassy else 1.0)
    albedo = rgb(base)
    if rng.random() < 0.85:
        l0 = top + cap_h + neck + shoulder + rng.uniform(0.0, 0.1) * hh
        l1 = bottom - rng.uniform(0.05, 0.2) * hh
        if l1 - l0 > 0.1 * hh:
            turns = 1.0 if rng.random() < 0.5 else rng.uniform(0.3, 0.45)
            label_base = (jitter_colour(rng, (0.95, 0.94, 0.9)) if rng.random() < 0.5
                          else contrast_colour(rng, colour))
            tex = make_label(rng, (l1 - l0) / SS, np.pi * r_body * turns * 2 / SS, label_base)
            lab, inside = wrap_texture(tex, geom, l0, l1, turns)
            albedo = albedo * (1 - inside) + lab * inside
    _paint(cv, geom, albedo, light, gloss=gloss, shininess=rng.uniform(15, 60))
    cap_geom = lathe_geometry(cv.h, cv.w, cx, profile([(top, r_cap), (top + cap_h, r_cap)]), e)
    cap_col = jitter_colour(rng, (0.95, 0.95, 0.95)) if rng.random() < 0.4 else contrast_colour(rng, colour)
    _paint(cv, cap_geom, _ribbed(cap_col, cap_geom, int(rng.integers(20, 60))), light, gloss=0.3)
    _top_face(cv, cx, top, r_cap, e, cap_col * 0.95, light)
    return cv.to_layer()


def render_can(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Drinks / food can: metal rims, metallic lid, full wrap-around printed label."""
    hh = height * SS
    r = hh * rng.uniform(0.2, 0.36)
    e = rng.uniform(0.08, 0.25)
    cv, top, cx = _canvas(height, r, e)
    bottom = top + hh - e * r
    rim = 0.04 * hh
    geom = lathe_geometry(cv.h, cv.w, cx, profile([(top, r * 0.94), (top + rim, r), (bottom - rim, r),
                                                   (bottom, r * 0.9)]), e)
    tex = make_label(rng, (bottom - top - 2 * rim) / SS, 2 * np.pi * r / SS, colour)
    lab, inside = wrap_texture(tex, geom, top + rim, bottom - rim, 1.0, rng.uniform(-0.5, 0.5))
    metal = np.array([0.72, 0.73, 0.75], np.float32)
    albedo = rgb(metal) * (1 - inside) + lab * inside
    _paint(cv, geom, albedo, light, gloss=rng.uniform(0.4, 0.8), shininess=40)
    _top_face(cv, cx, top, r * 0.94, e, metal * 0.9, light, 0.3)
    _top_face(cv, cx, top + 0.15 * e * r, r * 0.8, e, metal * 0.75, light, 0.3)
    return cv.to_layer()


def render_jar(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Wide jar with shoulder, ribbed screw lid and a front label."""
    hh = height * SS
    r = hh * rng.uniform(0.28, 0.45)
    e = rng.uniform(0.08, 0.25)
    cv, top, cx = _canvas(height, r, e)
    bottom = top + hh - e * r
    lid_h = hh * rng.uniform(0.12, 0.22)
    r_lid = r * rng.uniform(0.75, 0.95)
    body = profile([(top + lid_h * 0.8, r_lid * 0.97), (top + lid_h + 0.05 * hh, r_lid * 0.97),
                    (top + lid_h + 0.15 * hh, r), (bottom - 0.05 * hh, r), (bottom, r * 0.88)])
    geom = lathe_geometry(cv.h, cv.w, cx, body, e)
    albedo = rgb(colour)
    l0, l1 = top + lid_h + 0.2 * hh, bottom - 0.1 * hh
    tex = make_label(rng, (l1 - l0) / SS, np.pi * r * 0.8 / SS,
                     jitter_colour(rng, (0.93, 0.9, 0.82)) if rng.random() < 0.6 else contrast_colour(rng, colour))
    lab, inside = wrap_texture(tex, geom, l0, l1, 0.4)
    albedo = albedo * (1 - inside) + lab * inside
    _paint(cv, geom, albedo, light, gloss=rng.uniform(0.2, 0.7))
    lid = lathe_geometry(cv.h, cv.w, cx, profile([(top, r_lid), (top + lid_h, r_lid)]), e)
    lid_col = contrast_colour(rng, colour) if rng.random() < 0.5 else jitter_colour(rng, (0.75, 0.6, 0.2))
    _paint(cv, lid, _ribbed(lid_col, lid, int(rng.integers(30, 80)), 0.1), light, gloss=0.5)
    _top_face(cv, cx, top, r_lid, e, lid_col, light)
    return cv.to_layer()


def render_tube(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Cosmetic tube standing on its cap: flattened crimped top, tapering body, printed text."""
    hh = height * SS
    r_top = hh * rng.uniform(0.13, 0.2)
    e = rng.uniform(0.0, 0.06)
    cv, top, cx = _canvas(height, r_top, e)
    bottom = top + hh - e * r_top
    cap_h = hh * rng.uniform(0.1, 0.18)
    r_cap = r_top * rng.uniform(0.45, 0.6)
    body = profile([(top, r_top), (top + 0.06 * hh, r_top), (bottom - cap_h, r_cap * 0.95)])
    geom = lathe_geometry(cv.h, cv.w, cx, body, e)
    tex = make_label(rng, (bottom - cap_h - top - 0.1 * hh) / SS, r_top * 2.5 / SS, colour)
    lab, inside = wrap_texture(tex, geom, top + 0.08 * hh, bottom - cap_h - 0.02 * hh, 0.5)
    albedo = rgb(colour) * (1 - inside) + lab * inside
    crimp = (geom.height < top + 0.05 * hh) * (0.85 + 0.15 * np.cos(geom.height * 2.2))
    albedo = albedo * (1 - 0.3 * (crimp > 0) * (1 - crimp))
    _paint(cv, geom, albedo, light, gloss=rng.uniform(0.2, 0.6), ambient=0.45)
    cap = lathe_geometry(cv.h, cv.w, cx, profile([(bottom - cap_h - 0.01 * hh, r_cap), (bottom, r_cap)]), e)
    _paint(cv, cap, contrast_colour(rng, colour), light, gloss=0.4)
    return cv.to_layer()


def render_mug(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Mug with an open top (dark interior) and a handle whose hole shows the backdrop."""
    hh = height * SS
    r = hh * rng.uniform(0.35, 0.5)
    e = rng.uniform(0.12, 0.3)
    side = 1 if rng.random() < 0.6 else -1
    ax, ay, thick = r * rng.uniform(0.38, 0.5), hh * rng.uniform(0.25, 0.33), max(r * rng.uniform(0.09, 0.15), 3.0)
    cv, top, cx = _canvas(height, r, e, extra_w=ax * 2 + thick * 2)
    if side < 0:
        cx = cv.w - cx
    bottom = top + hh - e * r
    # handle first: the body hides the part of the ring that overlaps it
    hx = cx + side * (r * 0.95)
    hy = top + (bottom - top) * rng.uniform(0.42, 0.52)
    box = window(cv.h, cv.w, hy - ay - thick, hy + ay + thick, hx - ax - thick, hx + ax + thick)
    m = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), np.uint8)
    fill_ellipse(m, (hx - box[1].start, hy - box[0].start), (ax, ay), 0.0, 255, thickness=int(thick))
    yy = (np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] - hy) / ay
    cv.over(np.clip(rgb(colour) * (0.75 - 0.25 * yy), 0, 1), coverage(m), box)
    geom = lathe_geometry(cv.h, cv.w, cx, profile([(top, r), (bottom - 0.04 * hh, r * 0.93), (bottom, r * 0.85)]), e)
    albedo = rgb(colour)
    if rng.random() < 0.5:
        tex = make_label(rng, 0.5 * hh / SS, np.pi * r * 0.6 / SS, colour)
        lab, inside = wrap_texture(tex, geom, top + 0.25 * hh, top + 0.75 * hh, 0.3, rng.uniform(-0.1, 0.1))
        albedo = albedo * (1 - inside) + lab * inside
    _paint(cv, geom, albedo, light, gloss=rng.uniform(0.3, 0.7))
    rim = max(r * 0.06, 1.5)
    _top_face(cv, cx, top, r, e, np.asarray(colour) * 1.05, light)
    box, inner = ellipse_coverage(cv.h, cv.w, cx, top, r - rim, max(e * (r - rim), 0.5))
    yy = np.clip((np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None] - (top - e * r))
                 / max(2 * e * r, 1.0), 0, 1)
    cv.over(rgb(colour) * (0.25 + 0.35 * yy), inner, box)
    return cv.to_layer()


def render_glass(rng: np.random.Generator, height: float, colour, light, plastic: bool = False) -> Layer:
    """Glass or clear plastic (tumbler, wine glass or bottle): tinted, alpha 0.15-0.7, opaque-ish rims."""
    hh = height * SS
    shape = rng.choice(["tumbler", "wine", "bottle"])
    e = rng.uniform(0.08, 0.25)
    r = hh * (rng.uniform(0.25, 0.4) if shape == "tumbler" else rng.uniform(0.18, 0.28))
    cv, top, cx = _canvas(height, r, e)
    bottom = top + hh - e * r
    if shape == "tumbler":
        body = profile([(top, r), (bottom, r * rng.uniform(0.7, 0.95))])
    elif shape == "wine":
        stem_r = max(r * 0.06, 1.5)
        bowl_b = top + hh * rng.uniform(0.45, 0.6)
        body = profile([(top, r * 0.85), (top + (bowl_b - top) * 0.5, r), (bowl_b, stem_r * 1.5),
                        (bowl_b + 0.02 * hh, stem_r), (bottom - 0.03 * hh, stem_r), (bottom - 0.01 * hh, r * 0.8),
                        (bottom, r * 0.8)])
    else:
        body = profile([(top, r * 0.3), (top + 0.2 * hh, r * 0.3), (top + 0.38 * hh, r), (bottom, r)])
    geom = lathe_geometry(cv.h, cv.w, cx, body, e)
    tint = (jitter_colour(rng, colour, val=0.05) if plastic or rng.random() < 0.4
            else jitter_colour(rng, (0.85, 0.9, 0.88), 0.05, 0.3, 0.05))
    a0 = rng.uniform(0.35, 0.6) if plastic else rng.uniform(0.15, 0.4)
    a_edge = rng.uniform(0.65, 0.9)
    edge = np.abs(geom.u) ** 4
    opacity = a0 + (a_edge - a0) * edge
    diffuse, spec = shade(geom, light, ambient=0.6, gloss=0.9, shininess=60, softbox=0.6)
    body_col = rgb(tint) * ((0.75 + 0.25 * diffuse) * (1 - 0.35 * edge))
    cv.over(np.clip(body_col, 0, 1), geom.coverage * opacity, geom.box)
    if rng.random() < 0.35 and shape != "wine":          # liquid inside, more opaque
        level = top + hh * rng.uniform(0.3, 0.6)
        liquid = lathe_geometry(cv.h, cv.w, cx, profile([(level, r * 0.93), (bottom - 0.06 * hh, r * 0.85)]), e)
        liq_col = jitter_colour(rng, [(0.9, 0.5, 0.1), (0.5, 0.05, 0.1), (0.6, 0.8, 0.95)][rng.integers(3)])
        cv.over(liq_col, liquid.coverage * rng.uniform(0.4, 0.75), liquid.box)
    rim_t = max(r * 0.04, 1.5)
    r_top = float(np.interp(top, *body))
    box, outer = ellipse_coverage(cv.h, cv.w, cx, top, r_top, max(e * r_top, 0.7))
    inner = np.zeros_like(outer)
    ibox, icov = ellipse_coverage(cv.h, cv.w, cx, top, r_top - rim_t, max(e * (r_top - rim_t), 0.5))
    inner[ibox[0].start - box[0].start: ibox[0].stop - box[0].start,
          ibox[1].start - box[1].start: ibox[1].stop - box[1].start] = icov
    cv.over(np.clip(tint * 1.1, 0, 1), np.clip(outer - inner, 0, 1) * 0.85, box)
    base = geom.coverage * np.clip((geom.height - (bottom - 0.07 * hh)) / 3.0, 0, 1)
    cv.over(np.clip(tint * 0.8, 0, 1), base * 0.6, geom.box)
    cv.over(np.ones(3, np.float32), geom.coverage * np.clip(spec * 1.2, 0, 0.95), geom.box)
    return replace(cv.to_layer(frozenset({"transparent"})), lens=_lens(cv, geom, cx))


def _lens(cv: Canvas, geom, cx: float) -> np.ndarray:
    """The unit refraction field of a see-through lathe (see ``Layer.lens``), at the layer's size.

    A filled cylinder acts as a lens across its width: the backdrop seen at a
    distance d from the axis lies about k * d further along x (k < -1 mirrors
    it, -1 < k < 0 magnifies it), so the field is d, weighted by coverage.
    """
    plane = np.zeros((cv.h, cv.w), np.float32)
    d = np.arange(geom.box[1].start, geom.box[1].stop, dtype=np.float32)[None, :] + 0.5 - cx
    plane[geom.box] = d * geom.coverage
    h, w = cv.h // cv.ss, cv.w // cv.ss
    return cv2.resize(plane[: h * cv.ss, : w * cv.ss], (w, h), interpolation=cv2.INTER_AREA) / cv.ss
