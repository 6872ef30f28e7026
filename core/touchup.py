"""GrabCut brush: user strokes re-solve the alpha in their neighbourhood only.

Strokes are rasterised into a hint layer (HxW uint8: 0 none, 1 foreground,
2 background; erase strokes set 0). ``solve_region`` runs GrabCut on a crop
around the strokes, seeded by the current alpha and the hints, then rebuilds the
soft edge along the new boundary from the aligned plate (known-background
matting) and recomputes the foreground colours there. Pixels that the solve did
not change keep their exact previous values; pixels outside the crop are never
read back. ``TouchUpSession`` keeps the layers and an undo history
(``core.history``) for the GUI.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import cv2
import numpy as np

from .history import EditHistory, EditRecord, Patch, Region
from .jobs import CancelToken, check

HINT_NONE, HINT_FOREGROUND, HINT_BACKGROUND = 0, 1, 2
STROKE_KINDS = ("foreground", "background", "erase")
_HINT_VALUE = {"foreground": HINT_FOREGROUND, "background": HINT_BACKGROUND, "erase": HINT_NONE}
_SUBPIXEL_BITS = 4  # cv2 drawing precision: 1/16 px


@dataclass(frozen=True)
class Stroke:
    """One brush stroke in photo pixel coordinates (x right, y down, pixel centres at integers).

    kind: "foreground", "background" or "erase" (erase removes earlier hints, not alpha).
    points: ((x, y), ...) the brush path, at least one point.
    radius: brush radius in pixels (> 0).
    """

    kind: str
    points: tuple
    radius: float

    def __post_init__(self) -> None:
        if self.kind not in STROKE_KINDS:
            raise ValueError(f"Unknown stroke kind {self.kind!r}; use one of {', '.join(STROKE_KINDS)}.")
        if not self.radius > 0:
            raise ValueError(f"A brush radius must be positive (got {self.radius}).")
        points = tuple((float(x), float(y)) for x, y in self.points)
        if not points:
            raise ValueError("A stroke needs at least one point.")
        object.__setattr__(self, "points", points)


@dataclass(frozen=True)
class TouchUpOptions:
    """Knobs of the local re-solve.

    margin: context (px) around the strokes that GrabCut sees and may change.
    band: half-width (px) of the soft edge rebuilt along the new boundary.
    plate_threshold: mean absolute RGB difference to the aligned plate under which
        backdrop that was already cut as backdrop stays backdrop unless painted.
    min_contrast: |foreground - plate| under which the plate cannot tell alpha
        (the edge is feathered instead).
    max_solve_megapixels: GrabCut runs at most at this size (the crop is scaled down,
        the soft edge is still solved at full resolution).
    """

    margin: int = 40
    iterations: int = 3
    band: int = 3
    use_plate: bool = True
    plate_threshold: float = 0.03
    min_contrast: float = 0.12
    max_solve_megapixels: float = 0.5


@dataclass(frozen=True)
class RegionEdit:
    """New alpha and foreground inside ``region`` only.

    region: (x0, y0, x1, y1), x1/y1 exclusive, in photo pixels.
    alpha: (y1-y0)x(x1-x0) float32 [0, 1]; foreground: (y1-y0)x(x1-x0)x3 float32 RGB [0, 1].
    """

    region: Region
    alpha: np.ndarray
    foreground: np.ndarray


@dataclass(frozen=True)
class TouchUpResult:
    """Full-size alpha (HxW float32 [0, 1]) and foreground (HxWx3 float32 RGB [0, 1]);
    only pixels inside ``region`` (x0, y0, x1, y1) may differ from the input."""

    alpha: np.ndarray
    foreground: np.ndarray
    region: Region


def stroke_region(stroke: Stroke, shape: tuple) -> Optional[Region]:
    """The pixel box a stroke can touch in an image of ``shape`` (H, W, ...), None if outside."""
    pts = np.asarray(stroke.points, dtype=np.float64)
    r = stroke.radius + 1.0
    x0 = max(0, math.floor(pts[:, 0].min() - r))
    y0 = max(0, math.floor(pts[:, 1].min() - r))
    x1 = min(shape[1], math.ceil(pts[:, 0].max() + r) + 1)
    y1 = min(shape[0], math.ceil(pts[:, 1].max() + r) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def union_region(a: Optional[Region], b: Optional[Region]) -> Optional[Region]:
    if a is None or b is None:
        return a if b is None else b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def paint_stroke(hints: np.ndarray, stroke: Stroke) -> Optional[Region]:
    """Rasterise ``stroke`` into the HxW uint8 hint layer in place; returns the touched box."""
    region = stroke_region(stroke, hints.shape)
    if region is None:
        return None
    scale = 1 << _SUBPIXEL_BITS
    pts = np.round(np.asarray(stroke.points) * scale).astype(np.int32)
    value = int(_HINT_VALUE[stroke.kind])
    thickness = max(1, int(round(2 * stroke.radius)))
    # drawing in place on a view of the layer keeps a stroke's cost proportional to its size
    x0, y0, x1, y1 = region
    view = hints[y0:y1, x0:x1]
    pts -= np.array([x0 * scale, y0 * scale], dtype=np.int32)
    radius = int(round(stroke.radius * scale))
    for p in pts:
        cv2.circle(view, (int(p[0]), int(p[1])), radius, value, -1, cv2.LINE_8, _SUBPIXEL_BITS)
    if len(pts) > 1:
        cv2.polylines(view, [pts.reshape(-1, 1, 2)], False, value, thickness, cv2.LINE_8, _SUBPIXEL_BITS)
    return region


def rasterize_strokes(strokes: Iterable[Stroke], shape: tuple) -> np.ndarray:
    """The hint layer (HxW uint8: 0 none, 1 foreground, 2 background) of strokes painted in order."""
    hints = np.zeros(shape[:2], np.uint8)
    for stroke in strokes:
        paint_stroke(hints, stroke)
    return hints


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)[..., ::-1])


def _grabcut_labels(image: np.ndarray, mask: np.ndarray, options: TouchUpOptions) -> np.ndarray:
    """Run GrabCut (scaled down when large) and return the HxW bool foreground label."""
    fg_seed = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if fg_seed.all() or not fg_seed.any():
        return fg_seed  # GrabCut needs both a foreground and a background colour model
    h, w = mask.shape
    scale = min(1.0, math.sqrt(options.max_solve_megapixels * 1e6 / (h * w)))
    small_image, small_mask = image, mask
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    small_mask = small_mask.copy()
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means start uses OpenCV's RNG: same input, same cut
    cv2.grabCut(_to_bgr8(small_image), small_mask, None, bgd_model, fgd_model,
                options.iterations, cv2.GC_INIT_WITH_MASK)
    labels = np.isin(small_mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if scale < 1.0:
        labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    return labels.astype(bool)


def _estimate_edge_foreground(source: np.ndarray, interior: np.ndarray, sigma: float) -> np.ndarray:
    """Foreground colour near each pixel: a normalised Gaussian average of ``source`` over ``interior``."""
    weight = interior.astype(np.float32)
    if not interior.any():
        return source.copy()
    num = cv2.GaussianBlur(source * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    fallback = source[interior].mean(axis=0)
    return np.where(den > 1e-3, num / np.maximum(den, 1e-6), fallback).astype(np.float32)


def solve_region(photo: np.ndarray, aligned_plate: np.ndarray, alpha: np.ndarray, foreground: np.ndarray,
                 hints: np.ndarray, focus: Region, options: TouchUpOptions = TouchUpOptions(),
                 valid: Optional[np.ndarray] = None, cancel: Optional[CancelToken] = None) -> RegionEdit:
    """Re-solve alpha and foreground around ``focus`` (the box of new strokes).

    photo, aligned_plate, foreground: HxWx3 float32 RGB [0, 1]; alpha: HxW float32 [0, 1];
    hints: HxW uint8 hint layer; valid: HxW bool plate coverage (None = everywhere).
    The inputs are only read. Returns the crop (focus + margin) with the new values;
    inside it, pixels away from the changed labels keep their exact input values.
    """
    h, w = alpha.shape
    m = options.margin
    x0, y0 = max(0, focus[0] - m), max(0, focus[1] - m)
    x1, y1 = min(w, focus[2] + m), min(h, focus[3] + m)
    if x1 <= x0 or y1 <= y0:
        raise ValueError("The touch-up region lies outside the image; paint on the photo.")
    box = np.s_[y0:y1, x0:x1]
    image, plate = photo[box].astype(np.float32), aligned_plate[box].astype(np.float32)
    old_alpha, old_fg, hint = alpha[box], foreground[box], hints[box]
    plate_ok = np.ones(old_alpha.shape, bool) if valid is None else valid[box]

    mask = np.where(old_alpha >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if options.use_plate:
        difference = np.abs(image - plate).mean(axis=2)
        mask[(old_alpha < 0.05) & (difference < options.plate_threshold) & plate_ok] = cv2.GC_BGD
    mask[hint == HINT_FOREGROUND] = cv2.GC_FGD
    mask[hint == HINT_BACKGROUND] = cv2.GC_BGD
    check(cancel)
    hard = _grabcut_labels(image, mask, options)
    check(cancel)
    hard[hint == HINT_FOREGROUND] = True
    hard[hint == HINT_BACKGROUND] = False

    changed = (hard != (old_alpha >= 0.5)) | (hint != HINT_NONE)
    band = max(1, options.band)
    edit = cv2.dilate(changed.astype(np.uint8), _disk(2 * band)).astype(bool)
    if not edit.any():
        return RegionEdit((x0, y0, x1, y1), old_alpha.copy(), old_fg.copy())

    hard8 = hard.astype(np.uint8)
    edge = (cv2.dilate(hard8, _disk(band)) != cv2.erode(hard8, _disk(band)))
    interior = cv2.erode(hard8, _disk(band + 1)).astype(bool)
    # decontaminated colours where the old matte was sure, the photo for newly added interior
    source = np.where((old_alpha > 0.95)[..., None], old_fg, image).astype(np.float32)
    edge_fg = _estimate_edge_foreground(source, interior, sigma=max(4.0, 2.0 * band))

    feathered = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), max(0.5, band / 2.0))
    contrast_vec = edge_fg - plate
    contrast2 = (contrast_vec ** 2).sum(axis=2)
    plate_alpha = ((image - plate) * contrast_vec).sum(axis=2) / np.maximum(contrast2, 1e-6)
    trusted = plate_ok & (contrast2 > options.min_contrast ** 2)
    soft = np.where(trusted, np.clip(plate_alpha, 0.0, 1.0), feathered)

    new_alpha = hard.astype(np.float32)
    new_alpha[edge] = soft[edge]
    new_alpha[hint == HINT_FOREGROUND] = 1.0
    new_alpha[hint == HINT_BACKGROUND] = 0.0

    a = new_alpha[..., None]
    unmixed = (image - (1.0 - a) * np.where(plate_ok[..., None], plate, 0.0)) / np.maximum(a, 0.3)
    unmixed = np.where(plate_ok[..., None], unmixed, image)
    new_fg = np.where(a > 0.3, np.clip(unmixed, 0.0, 1.0), edge_fg)

    out_alpha = np.where(edit, new_alpha, old_alpha).astype(np.float32)
    out_fg = np.where(edit[..., None], new_fg, old_fg).astype(np.float32)
    # report only the box that changed, so undo records and display refreshes stay small
    rows, cols = np.flatnonzero(edit.any(axis=1)), np.flatnonzero(edit.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return RegionEdit((x0 + int(c0), y0 + int(r0), x0 + int(c1), y0 + int(r1)),
                      out_alpha[r0:r1, c0:c1].copy(), out_fg[r0:r1, c0:c1].copy())


def apply_strokes(photo: np.ndarray, aligned_plate: np.ndarray, alpha: np.ndarray, foreground: np.ndarray,
                  strokes: Sequence[Stroke], options: TouchUpOptions = TouchUpOptions(),
                  valid: Optional[np.ndarray] = None, cancel: Optional[CancelToken] = None) -> TouchUpResult:
    """Re-solve the neighbourhood of ``strokes`` (painted in order) and return new full-size arrays.

    Shapes as in ``solve_region``; the inputs are not modified. Pixels outside
    ``result.region`` are bit-for-bit equal to the input.
    """
    if photo.shape[:2] != alpha.shape or aligned_plate.shape != photo.shape or foreground.shape != photo.shape:
        raise ValueError("Photo, aligned plate, alpha and foreground must have the same size.")
    hints = rasterize_strokes(strokes, alpha.shape)
    focus = None
    for stroke in strokes:
        focus = union_region(focus, stroke_region(stroke, alpha.shape))
    new_alpha, new_fg = alpha.copy(), foreground.copy()
    if focus is None:
        return TouchUpResult(new_alpha, new_fg, (0, 0, 0, 0))
    edit = solve_region(photo, aligned_plate, alpha, foreground, hints, focus, options, valid, cancel)
    x0, y0, x1, y1 = edit.region
    new_alpha[y0:y1, x0:x1] = edit.alpha
    new_fg[y0:y1, x0:x1] = edit.foreground
    return TouchUpResult(new_alpha, new_fg, edit.region)


class TouchUpSession:
    """The editable matte of one photo: alpha, foreground and hint layers with undo.

    Holds copies of the arrays (shapes as in ``solve_region``). One stroke is one
    undo step, one applied re-solve another. ``pending`` is the box of strokes not
    yet applied; ``apply`` re-solves it using every hint in the layer.
    Not thread-safe: a caller that runs ``solve`` in a worker must not edit meanwhile.
    """

    def __init__(self, photo: np.ndarray, aligned_plate: np.ndarray, alpha: np.ndarray,
                 foreground: np.ndarray, valid: Optional[np.ndarray] = None,
                 options: TouchUpOptions = TouchUpOptions(), history: Optional[EditHistory] = None):
        if photo.shape[:2] != alpha.shape or aligned_plate.shape != photo.shape or foreground.shape != photo.shape:
            raise ValueError("Photo, aligned plate, alpha and foreground must have the same size.")
        self.photo, self.aligned_plate, self.valid = photo, aligned_plate, valid
        self.options = options
        self.history = history if history is not None else EditHistory()
        self.layers = {"alpha": alpha.astype(np.float32, copy=True),
                       "foreground": foreground.astype(np.float32, copy=True),
                       "hints": np.zeros(alpha.shape, np.uint8)}
        self.pending: Optional[Region] = None

    alpha = property(lambda self: self.layers["alpha"])
    foreground = property(lambda self: self.layers["foreground"])
    hints = property(lambda self: self.layers["hints"])
    can_undo = property(lambda self: self.history.can_undo)
    can_redo = property(lambda self: self.history.can_redo)

    def add_stroke(self, stroke: Stroke) -> Optional[Region]:
        """Paint one stroke into the hint layer (one undo step); returns the touched box or None."""
        region = stroke_region(stroke, self.hints.shape)
        if region is None:
            return None
        x0, y0, x1, y1 = region
        old = self.hints[y0:y1, x0:x1].copy()
        paint_stroke(self.hints, stroke)
        new = self.hints[y0:y1, x0:x1]
        if np.array_equal(old, new):
            return None
        patch = Patch("hints", region, old, new.copy())
        pending = union_region(self.pending, region)
        self.history.push(EditRecord(f"{stroke.kind.capitalize()} stroke", (patch,),
                                     {"pending": self.pending}, {"pending": pending}))
        self.pending = pending
        return region

    def solve(self, cancel: Optional[CancelToken] = None) -> Optional[RegionEdit]:
        """Re-solve the pending box without changing the session (safe to run in a worker)."""
        if self.pending is None:
            return None
        return solve_region(self.photo, self.aligned_plate, self.alpha, self.foreground, self.hints,
                            self.pending, self.options, self.valid, cancel)

    def commit(self, edit: RegionEdit) -> Region:
        """Write a solved edit into the layers as one undo step; clears ``pending``."""
        x0, y0, x1, y1 = edit.region
        patches = []
        for name, new in (("alpha", edit.alpha), ("foreground", edit.foreground)):
            old = self.layers[name][y0:y1, x0:x1].copy()
            self.layers[name][y0:y1, x0:x1] = new
            patches.append(Patch(name, edit.region, old, np.array(new, copy=True)))
        self.history.push(EditRecord("Apply touch-up", tuple(patches),
                                     {"pending": self.pending}, {"pending": None}))
        self.pending = None
        return edit.region

    def apply(self, cancel: Optional[CancelToken] = None) -> Optional[Region]:
        edit = self.solve(cancel)
        return None if edit is None else self.commit(edit)

    def undo(self) -> Optional[EditRecord]:
        record = self.history.undo(self.layers)
        if record is not None:
            self.pending = record.meta_before.get("pending")
        return record

    def redo(self) -> Optional[EditRecord]:
        record = self.history.redo(self.layers)
        if record is not None:
            self.pending = record.meta_after.get("pending")
        return record

