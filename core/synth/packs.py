"""Angular and ring-shaped products: boxes in perspective, tape rolls with a hole, bags with handles."""
from __future__ import annotations

import cv2
import numpy as np

from .canvas import (Canvas, Layer, catmull_rom, coverage, draw_curves, fill_ellipse, fill_polygon, planar, rgb,
                     smooth_noise)
from .labels import contrast_colour, jitter_colour, make_label
from .lathe import ellipse_coverage, window

SS = 2


def _project_box(dims, yaw: float, pitch: float, dist: float):
    """Corners of a box (w, h, d; standing on y=0, y down) -> 2-D points and the visible faces."""
    w, h, d = dims
    xs, ys, zs = np.meshgrid([-w / 2, w / 2], [-h, 0.0], [-d / 2, d / 2], indexing="ij")
    pts = np.stack([xs.ravel(), ys.ravel(), zs.ravel()], 1)
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])   # camera looks down: the top shows
    rot = rot_x @ rot_y
    cam = pts @ rot.T + np.array([0.0, h / 2, dist])
    xy = cam[:, :2] / cam[:, 2:3]
    # faces as corner indices (index = 4*ix + 2*iy + iz), outward normals in object space
    faces = {"front": ([0, 4, 5, 1], [0, 0, -1]), "back": ([2, 3, 7, 6], [0, 0, 1]),
             "left": ([2, 0, 1, 3], [-1, 0, 0]), "right": ([4, 6, 7, 5], [1, 0, 0]),
             "top": ([0, 2, 6, 4], [0, -1, 0]), "bottom": ([1, 5, 7, 3], [0, 1, 0])}
    visible = {}
    for name, (idx, normal) in faces.items():
        n = rot @ np.asarray(normal, float)
        if n @ cam[idx].mean(0) < 0:
            visible[name] = (idx, n)
    return xy, visible


def render_box(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Product or shipping box in perspective: two or three visible faces, printed front, light edges."""
    cardboard = rng.random() < 0.25
    if cardboard:
        colour = jitter_colour(rng, (0.62, 0.45, 0.28), 0.02, 0.15, 0.1)
    dims = (1.0, rng.uniform(0.5, 2.2), rng.uniform(0.25, 1.0))
    yaw = np.radians(rng.uniform(12, 70)) * rng.choice([-1, 1])
    xy, visible = _project_box(dims, yaw, np.radians(rng.uniform(2, 28)), rng.uniform(4, 12))
    span = xy.max(0) - xy.min(0)
    scale = height * SS / span[1]
    pad = 3 * SS
    xy = (xy - xy.min(0)) * scale + pad
    cv = Canvas(int(np.ceil(span[1] * scale + 2 * pad)), int(np.ceil(span[0] * scale + 2 * pad)), SS)
    light_cam = np.array([light[0], light[1], -light[2]])
    tex_px = {"front": (dims[0], dims[1]), "back": (dims[0], dims[1]), "left": (dims[2], dims[1]),
              "right": (dims[2], dims[1]), "top": (dims[0], dims[2]), "bottom": (dims[0], dims[2])}
    for name, (idx, n) in visible.items():
        tw, th = (np.asarray(tex_px[name]) * height * 0.8).clip(8, None)
        if cardboard:
            tex = make_label(rng, th, tw, colour, plain=rng.random() < 0.6)
            if name == "top":
                cv2.rectangle(tex, (int(tw * 0.42), 0), (int(tw * 0.58), int(th)), (0.75, 0.6, 0.4), -1)
        elif name in ("front", "back"):
            tex = make_label(rng, th, tw, colour)
        else:
            tex = make_label(rng, th, tw, colour, plain=rng.random() < 0.5)
        grain = 1.0 + 0.03 * smooth_noise(rng, int(th), int(tw), max(th, tw) / 4)
        tex = tex * grain[..., None]
        quad = xy[idx]
        box = window(cv.h, cv.w, quad[:, 1].min(), quad[:, 1].max(), quad[:, 0].min(), quad[:, 0].max())
        offset = np.array([box[1].start, box[0].start], np.float64)
        size = (box[1].stop - box[1].start, box[0].stop - box[0].start)
        src = np.float32([[0, 0], [tw, 0], [tw, th], [0, th]])
        # corner order of a face: top-left, top-right, bottom-right, bottom-left as seen
        order = _order_quad(quad)
        hom = cv2.getPerspectiveTransform(src, (quad[order] - offset).astype(np.float32))
        warped = cv2.warpPerspective(tex, hom, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        tone = 0.4 + 0.6 * max(float(n @ light_cam), 0.0) + (0.15 if name == "top" else 0.0)
        m = fill_polygon(np.zeros(size[::-1], np.uint8), quad - offset)
        cv.over(planar(np.clip(warped * tone, 0, 1)), coverage(m), box)
    # faces meet with antialiased seams: keep their averaged colour, take alpha from the silhouette
    hull = coverage(fill_polygon(cv.mask(), cv2.convexHull(xy.astype(np.float32)).reshape(-1, 2)))
    colour_straight = cv.premult / np.maximum(cv.alpha, 1e-4)
    cv.premult = (colour_straight * hull).astype(np.float32)
    cv.alpha = hull
    edges = [xy[[a, b]] for idx, _ in visible.values() for a, b in zip(idx, idx[1:] + idx[:1])]
    m = draw_curves(cv.mask(), edges, max(SS // 2, 1))
    cv.over(np.ones(3, np.float32) * 0.95, coverage(m) * 0.35 * hull)
    return cv.to_layer()


def _order_quad(quad: np.ndarray) -> list[int]:
    """Indices of a quad's corners as top-left, top-right, bottom-right, bottom-left (image axes)."""
    c = quad.mean(0)
    ang = np.arctan2(quad[:, 1] - c[1], quad[:, 0] - c[0])
    order = list(np.argsort(ang))               # clockwise in image coordinates, from about -pi
    start = int(np.argmin(quad[order, 0] + quad[order, 1]))
    return order[start:] + order[:start]


def render_tape(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Roll of tape (standing or lying) with a cardboard core and a hole showing the backdrop."""
    standing = rng.random() < 0.6
    if standing:
        r = height * SS / 2.0
        ax, ay = r * rng.uniform(0.35, 0.95), r
        depth = r * rng.uniform(0.2, 0.55)
        off = np.array([depth * rng.choice([-1, 1]), 0.0])
    else:                                                   # lying flat, seen from above
        k, kd = rng.uniform(0.3, 0.6), rng.uniform(0.15, 0.4)
        r = height * SS / (2 * k + kd)
        ax, ay, depth = r, r * k, r * kd
        off = np.array([0.0, depth])
    k_core = rng.uniform(0.5, 0.72)
    pad = 3 * SS
    w = int(2 * ax + abs(off[0]) + 2 * pad)
    h = int(2 * ay + abs(off[1]) + 2 * pad)
    cv = Canvas(h, w, SS)
    front = np.array([pad + ax + max(-off[0], 0), pad + ay])
    back = front + off
    side_col = np.asarray(colour, np.float32) * 0.8
    m = cv.mask()
    fill_ellipse(m, back, (ax, ay))
    steps = np.linspace(0, 1, 8)
    for t in steps:
        fill_ellipse(m, front + t * off, (ax, ay))
    # tape layers show as fine stripes along the roll's axis (a function of x or of y only)
    if standing:
        along = (np.arange(w, dtype=np.float32)[None, :] - front[0]) * np.sign(off[0])
    else:
        along = np.arange(h, dtype=np.float32)[:, None] - front[1]
    stripes = 1.0 - 0.06 * (0.5 + 0.5 * np.sin(along / max(depth, 1.0) * 40.0))
    cv.over_mask(rgb(side_col) * stripes, m)
    box, face = ellipse_coverage(h, w, front[0], front[1], ax, ay)
    yy = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None]
    xx = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :]
    rr = np.sqrt(((xx - front[0]) / ax) ** 2 + ((yy - front[1]) / ay) ** 2)
    shade = 1.0 + 0.04 * np.sin(rr * rng.uniform(60, 140)) - 0.08 * rr
    cv.over(np.clip(rgb(colour) * shade, 0, 1), face, box)
    core = jitter_colour(rng, (0.68, 0.52, 0.34), 0.02, 0.1, 0.1)
    box, c_out = ellipse_coverage(h, w, front[0], front[1], ax * k_core, ay * k_core)
    cv.over(core, c_out, box)
    k_in = k_core - rng.uniform(0.04, 0.08)
    box, c_in = ellipse_coverage(h, w, front[0], front[1], ax * k_in, ay * k_in)
    cv.over(core * 0.55, c_in, box)
    # what shows through is where the front and back openings overlap
    _, b_in = ellipse_coverage(h, w, back[0], back[1], ax * k_in, ay * k_in, box=box)
    cv.cut(np.minimum(c_in, b_in), box)
    return cv.to_layer()


def render_bag(rng: np.random.Generator, height: float, colour, light) -> Layer:
    """Tote or handbag: trapezoid body with folds and stitching, handles leaving holes, optional strap."""
    hh = height * SS
    body_h = hh * rng.uniform(0.55, 0.72)
    wb = body_h * rng.uniform(0.9, 1.5)
    wt = wb * rng.uniform(0.75, 1.0)
    strap = rng.random() < 0.35
    handle_h = (hh - body_h) * (rng.uniform(0.45, 0.7) if strap else 1.0)
    pad = 3 * SS
    w = int(wb + 2 * pad + 2)
    h = int(hh + 2 * pad + 2)
    cv = Canvas(h, w, SS)
    cx, top, bottom = w / 2.0, pad + hh - body_h, pad + hh
    thick = max(int(wb * rng.uniform(0.035, 0.07)), 2)
    handle_col = contrast_colour(rng, colour) if rng.random() < 0.4 else np.asarray(colour) * 0.8
    n_handles = 2 if rng.random() < 0.6 else 1
    for i in range(n_handles):
        m = cv.mask()
        hw = wt * rng.uniform(0.25, 0.4)
        dx = (wt * 0.05) * (1 if i else -1) if n_handles == 2 else 0.0
        fill_ellipse(m, (cx + dx, top + thick), (hw, handle_h - thick), 0, 255, 180, 360, thick)
        cv.over_mask(np.asarray(handle_col) * (0.75 if i == 0 and n_handles == 2 else 1.0), m)
    corner = wb * rng.uniform(0.04, 0.12)
    poly = np.array([[cx - wt / 2, top], [cx + wt / 2, top], [cx + wb / 2, bottom], [cx - wb / 2, bottom]])
    m = fill_polygon(cv.mask(), _round_corners(poly, corner))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    folds = 1.0 + 0.06 * smooth_noise(rng, h, w, wb / 3) + 0.04 * np.sin(xx / wb * rng.uniform(6, 14))
    tone = folds * (1.05 - 0.2 * (yy - top) / max(bottom - top, 1)) * (1 - 0.15 * np.abs(xx - cx) / wb)
    body = rgb(colour) * tone
    cv.over_mask(np.clip(body, 0, 1), m)
    if rng.random() < 0.6:                                   # flap or pocket with stitching
        y0 = top + (bottom - top) * rng.uniform(0.1, 0.45)
        y1 = y0 + (bottom - top) * rng.uniform(0.2, 0.4)
        inset = wb * 0.12
        pocket = np.array([[cx - wt / 2 + inset, y0], [cx + wt / 2 - inset, y0], [cx + wt / 2 - inset, y1],
                           [cx - wt / 2 + inset, y1]])
        pm = fill_polygon(cv.mask(), pocket)
        cv.over_mask(np.clip(body * 0.88, 0, 1), pm, 0.9)
        dash = _dashes(pocket[[0, 1, 2, 3, 0]], max(wb * 0.02, 3.0))
        sm = draw_curves(cv.mask(), dash, 1)
        cv.over_mask(contrast_colour(rng, colour), sm, 0.8)
    tags = set()
    if strap:                                                # thin shoulder strap looping above
        left, right = np.array([cx - wt / 2 + thick, top + 2.0]), np.array([cx + wt / 2 - thick, top + 2.0])
        apex = np.array([cx + rng.uniform(-0.1, 0.1) * wt, pad + 2.0])
        curve = catmull_rom(np.vstack([left, left + [-wt * 0.05, -(top - pad) * 0.6], apex,
                                       right + [wt * 0.05, -(top - pad) * 0.6], right]), 120)
        sm = draw_curves(cv.mask(), [curve], int(rng.integers(2, 5)))
        cv.over_mask(np.asarray(handle_col) * 0.9, sm)
        tags.add("thin")
    return cv.to_layer(frozenset(tags))


def _round_corners(poly: np.ndarray, radius: float, steps: int = 6) -> np.ndarray:
    """Replace each vertex of a convex polygon by a small arc (rounded corners)."""
    out = []
    n = len(poly)
    for i in range(n):
        p, a, b = poly[i], poly[i - 1], poly[(i + 1) % n]
        da, db = (a - p) / np.linalg.norm(a - p), (b - p) / np.linalg.norm(b - p)
        q0, q1 = p + da * radius, p + db * radius
        for t in np.linspace(0, 1, steps):
            out.append((1 - t) ** 2 * q0 + 2 * (1 - t) * t * p + t ** 2 * q1)
    return np.asarray(out)


def _dashes(path: np.ndarray, step: float) -> list[np.ndarray]:
    """Split a polyline into short dashes (stitching)."""
    out = []
    for a, b in zip(path[:-1], path[1:]):
        n = max(int(np.linalg.norm(b - a) / step), 1)
        for i in range(0, n, 2):
            out.append(np.vstack([a + (b - a) * i / n, a + (b - a) * min(i + 1, n) / n]))
    return out
