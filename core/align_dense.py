"""Dense plate alignment: the backdrop's texture itself, where feature points fail.

ORB finds few repeatable corners on woven fabric (a periodic weave gives every
corner a twin), foam, paper or a table top, yet their texture still correlates
between photo and plate. Everything here works on grey copies of the work images
(``Pyramid``: a fine level of about 0.2-0.3 MP, where a weave still resolves, and
a coarse one twice as small); a homography maps photo to plate pixels of the
level it is given for, like everywhere in alignment.

- ``estimate_dense``: starts from the plate in place and, if tiles do not agree
  from there, from the best global shifts of the backdrop; overlapping coarse
  tiles, then fine tiles matched by correlation and fitted by MAGSAC++; a check
  of the repeats of a periodic pattern (``_resolve_repeat``), and of the coarse
  structure against a shift onto something else.
- ``refine_dense``: Lucas-Kanade on band-passed images over the backdrop:
  sub-pixel, and it copes with one-directional texture (wood grain) that a tile
  cannot pin down.
- ``measure_residual``: the misalignment left, from tile correlation.

Correlation uses the cross-power spectrum whitened by its square root: full
whitening (phase correlation) gives the noise-only frequencies of a faint texture
as much weight as the signal, plain correlation gives a broad peak on smooth light.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import cv2
import numpy as np

from .align_geometry import (Matches, coverage_mask, fit_homography, refine_lucas_kanade, reprojection_errors,
                             scale_matrix)

FINE_MEGAPIXELS = 0.2        # the fine level is the smallest power-of-two reduction keeping this many pixels
TILE = 32                    # tile side (level pixels)
CLEAR_PEAK = 1.3             # a tile's correlation peak must beat its second peak by this ratio
DENSE_INLIER_PX = 1.0        # work pixels: a tile agrees with the homography within this distance
MIN_TILES = 12               # fewer agreeing tiles than this: the texture says nothing
MIN_TILE_FRACTION = 0.2      # and at least this share of the tiles with a clear peak must agree
GLOBAL_CANDIDATES = 3        # global shifts tried as starts when the plate in place is not close enough
CONFIDENT_FRACTION = 0.8     # share of agreeing tiles that makes the plate in place a close enough start
LOW_BAND_TOLERANCE = 0.05    # how much worse than in place the coarse structure may agree after alignment
REPEAT_PEAK = 0.6            # correlation peaks this high relative to the fit's are candidate pattern repeats
REPEAT_MARGIN = 0.01         # a repeat correlating within this of the best leaves the shift ambiguous
RESIDUAL_MIN_TILES = 8       # a homography fits any 4 tiles: it takes more to show a real misalignment
LK_DRIFT = 0.01              # LK may move a corner by at most this fraction of the diagonal


@dataclass(frozen=True)
class Pyramid:
    """Grey float32 copies of one work image: ``images[f]`` is reduced by ``f`` (1 = work),
    ``to_level[f]`` the 3x3 matrix mapping work pixel centres to its pixel centres.

    fine: the level tiles and refinement work on (about ``FINE_MEGAPIXELS``, where a
    weave still resolves); coarse: twice as small, for the first, wider search.
    """

    images: dict
    to_level: dict
    fine: int
    coarse: int


def fine_factor(shape) -> int:
    """The reduction of the fine level for a work image of ``shape``: 2 at 1 MP, 1 below 0.8 MP."""
    f = 1
    while shape[0] * shape[1] / (2 * f) ** 2 >= FINE_MEGAPIXELS * 1e6:
        f *= 2
    return f


def build_pyramid(grey: np.ndarray, fine: int) -> Pyramid:
    """Levels 1, ``fine`` and ``2 * fine`` of a grey work image (float32)."""
    images, to_level = {1: grey}, {1: np.eye(3)}
    h, w = grey.shape
    f = 1
    while f < 2 * fine:
        f *= 2
        size = (max(8, w // f), max(8, h // f))
        images[f] = cv2.resize(images[f // 2], size, interpolation=cv2.INTER_AREA)
        to_level[f] = scale_matrix(size[0] / w, size[1] / h)
    return Pyramid(images, to_level, fine, 2 * fine)


def _at_level(h: np.ndarray, photo: Pyramid, plate: Pyramid, f: int) -> np.ndarray:
    return plate.to_level[f] @ h @ np.linalg.inv(photo.to_level[f])


def _to_work(h: np.ndarray, photo: Pyramid, plate: Pyramid, f: int) -> np.ndarray:
    out = np.linalg.inv(plate.to_level[f]) @ h @ photo.to_level[f]
    return out / out[2, 2]


def _fit_mask(mask: np.ndarray, shape) -> np.ndarray:
    if mask.shape == tuple(shape):
        return mask
    return cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).view(bool)


def _band(grey: np.ndarray, fine: float, coarse: float) -> np.ndarray:
    """Difference of Gaussians of sigmas ``fine`` and ``coarse`` (pixels of ``grey``)."""
    k = 1
    while coarse / (2 * k) >= 6.0 and min(grey.shape) // (2 * k) >= 16:
        k *= 2
    if k == 1:
        smooth = cv2.GaussianBlur(grey, (0, 0), coarse)
    else:  # a wide blur costs as much as its kernel is long: blur a reduced copy, which is as good
        h, w = grey.shape
        small = cv2.resize(grey, (w // k, h // k), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), float(np.sqrt(max(coarse ** 2 - k ** 2 / 4, 1.0))) / k)
        smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(grey, (0, 0), fine) - smooth


def _warp(image: np.ndarray, homography: np.ndarray, shape) -> np.ndarray:
    return cv2.warpPerspective(image, homography, (shape[1], shape[0]),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def _warped_plate(photo: Pyramid, plate: Pyramid, homography: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """The plate of level ``f`` warped onto the photo's by a work ``homography``, and where it covers
    the photo (HxW float32 0/1): outside, the warp only replicates the plate's border, which must
    not count for or against any alignment."""
    level_h = _at_level(homography, photo, plate, f)
    shape = photo.images[f].shape
    covered = coverage_mask(level_h, plate.images[f].shape, shape, 1.0).astype(np.float32)
    return _warp(plate.images[f], level_h, shape), covered


def _peak(surface: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,2) sub-pixel (dx, dy) of each (N,h,w) circular correlation surface's peak, its height
    and the height of the best peak outside its 5x5 neighbourhood."""
    n, h, w = surface.shape
    flat = surface.reshape(n, -1)
    iy, ix = np.divmod(flat.argmax(1), w)
    rows = np.arange(n)

    def at(dy: int, dx: int) -> np.ndarray:
        return surface[rows, (iy + dy) % h, (ix + dx) % w]

    centre = at(0, 0)
    offsets = []
    for lo, hi in ((at(0, -1), at(0, 1)), (at(-1, 0), at(1, 0))):
        curve = lo - 2 * centre + hi
        offsets.append(np.clip(0.5 * (lo - hi) / np.where(curve < -1e-12, curve, -1e-12), -0.5, 0.5))
    dx = (ix + w // 2) % w - w // 2 + offsets[0]
    dy = (iy + h // 2) % h - h // 2 + offsets[1]
    masked = surface.copy()
    for oy in range(-2, 3):
        for ox in range(-2, 3):
            masked[rows, (iy + oy) % h, (ix + ox) % w] = -np.inf
    return np.stack([dx, dy], 1), centre, masked.reshape(n, -1).max(1)


def _spectra_surface(photo: np.ndarray, plate: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(N,h,w) circular correlation surfaces of (N,h,w) stacks windowed by ``weight`` (h x w)."""
    spectra = []
    for stack in (photo, plate):
        mean = (stack * weight).sum(axis=(1, 2), keepdims=True) / max(float(weight.sum()), 1e-6)
        spectra.append(np.fft.rfft2((stack - mean) * weight))
    cross = spectra[1] * np.conj(spectra[0])
    magnitude = np.abs(cross)
    floor = 1e-3 * magnitude.mean(axis=(1, 2), keepdims=True) + 1e-20
    return np.fft.irfft2(cross / np.sqrt(magnitude + floor), s=photo.shape[1:])


def correlate(photo: np.ndarray, plate: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shifts d (N,2) with plate(x) ~ photo(x - d), and peak clarity (peak / second peak), for
    (N,h,w) float32 stacks windowed by ``weight`` (h x w)."""
    shifts, peak, second = _peak(_spectra_surface(photo, plate, weight))
    return shifts, peak / np.maximum(second, 1e-12)


def _window(h: int, w: int) -> np.ndarray:
    return np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)


def _translate(homography: np.ndarray, shift) -> np.ndarray:
    """``homography`` (photo -> plate) composed with a shift d of the photo: c -> H(c + d)."""
    return homography @ np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]], [0.0, 0.0, 1.0]])


def global_shifts(photo: Pyramid, plate: Pyramid, homography: np.ndarray, changed: np.ndarray,
                  count: int = GLOBAL_CANDIDATES) -> list[np.ndarray]:
    """``homography`` (work) moved by the ``count`` best global shifts of the backdrop, best first.

    changed: HxW bool at the coarsest level, True where photo and plate obviously
    differ (product, shadow): left out of the correlation. Several candidates, because
    a large product, a glass showing the backdrop displaced or a repeating pattern can
    outvote the true shift; the tiles decide between them.
    """
    f = photo.coarse
    a = photo.images[f]
    level_h = _at_level(homography, photo, plate, f)
    b, covered = _warped_plate(photo, plate, homography, f)
    keep = cv2.GaussianBlur((~changed).astype(np.float32) * covered, (0, 0), 2.0)
    surface = _spectra_surface(_band(a, 1.0, 8.0)[None], _band(b, 1.0, 8.0)[None], _window(*a.shape) * keep)[0]
    h, w = surface.shape
    out = []
    for _ in range(count):
        iy, ix = np.unravel_index(int(surface.argmax()), surface.shape)
        shift = ((ix + w // 2) % w - w // 2, (iy + h // 2) % h - h // 2)
        out.append(_to_work(_translate(level_h, shift), photo, plate, f))
        ys = np.arange(iy - 3, iy + 4) % h
        xs = np.arange(ix - 3, ix + 4) % w
        surface[np.ix_(ys, xs)] = -np.inf
    return out


def match_tiles(photo: Pyramid, plate: Pyramid, homography: np.ndarray, f: int, step: int = TILE,
                backdrop: Optional[np.ndarray] = None) -> Matches:
    """Work-resolution correspondences from ``TILE``-sized squares of level ``f``, ``step`` apart,
    that have a clear correlation peak.

    backdrop: HxW bool at level ``f``; tiles not mostly on it are skipped.
    """
    tile = TILE
    a = photo.images[f]
    level_h = _at_level(homography, photo, plate, f)
    b, covered = _warped_plate(photo, plate, homography, f)
    usable = covered > 0 if backdrop is None else backdrop & (covered > 0)
    h, w = a.shape
    ys, xs = np.meshgrid(np.arange(0, h - tile + 1, step), np.arange(0, w - tile + 1, step), indexing="ij")
    ys, xs = ys.ravel(), xs.ravel()
    if len(ys):
        share = cv2.integral(usable.astype(np.uint8))
        inside = share[ys + tile, xs + tile] - share[ys, xs + tile] - share[ys + tile, xs] + share[ys, xs]
        keep = inside >= 0.9 * tile * tile
        ys, xs = ys[keep], xs[keep]
    if len(ys) < 4:
        return Matches(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32))
    view = np.lib.stride_tricks.sliding_window_view
    tiles_a = view(a, (tile, tile))[ys, xs]
    tiles_b = view(b, (tile, tile))[ys, xs]
    shifts, clarity = correlate(tiles_a, tiles_b, _window(tile, tile))
    clear = clarity >= CLEAR_PEAK
    if not clear.any():
        return Matches(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32))
    centres = np.stack([xs, ys], 1)[clear] + (tile - 1) / 2.0
    # b(x) = plate(H x) ~ photo(x - d): the plate point of photo point c is H(c + d)
    targets = cv2.perspectiveTransform((centres + shifts[clear]).reshape(-1, 1, 2), level_h).reshape(-1, 2)
    photo_pts = cv2.perspectiveTransform(centres.reshape(-1, 1, 2), np.linalg.inv(photo.to_level[f]))
    plate_pts = cv2.perspectiveTransform(targets.reshape(-1, 1, 2), np.linalg.inv(plate.to_level[f]))
    return Matches(photo_pts.reshape(-1, 2).astype(np.float32), plate_pts.reshape(-1, 2).astype(np.float32))


@dataclass(frozen=True)
class DenseFit:
    """A homography (work pixels) from tile correspondences; matches: the tiles with a clear peak.

    ambiguous: the backdrop's pattern repeats and a shift by a repeat fits almost as well.
    """

    homography: np.ndarray
    matches: Matches
    inliers: int
    ambiguous: bool = False


def _fit_tiles(photo: Pyramid, plate: Pyramid, homography: np.ndarray, f: int,
               passes: int = 1) -> Optional[DenseFit]:
    """A homography fitted to the tiles of level ``f`` matched from ``homography``, ``passes`` times
    (a tile's window pulls its peak towards the start: a second pass from the first fit removes
    most of that pull); None if the tiles disagree."""
    fit = None
    threshold = DENSE_INLIER_PX * f / 2
    for _ in range(passes):
        # overlapping tiles at the coarse level, where they are few
        matches = match_tiles(photo, plate, homography, f, TILE if f == photo.fine else TILE // 2)
        candidate = fit_homography(matches, threshold)
        if candidate is None:
            break
        inliers = int((reprojection_errors(candidate, matches) < threshold).sum())
        if inliers < MIN_TILES or inliers < MIN_TILE_FRACTION * len(matches):
            break
        homography, fit = candidate, DenseFit(candidate, matches, inliers)
    return fit


def _low_band_agreement(photo: Pyramid, plate: Pyramid, homography: np.ndarray, keep: np.ndarray) -> float:
    """Weighted correlation of the coarse structure (folds, light fall-off, mottling) of photo and plate
    aligned by ``homography`` (work), at the coarse level. keep: HxW float32 weights."""
    f = photo.coarse
    b, covered = _warped_plate(photo, plate, homography, f)
    return _zncc(_band(photo.images[f], 2.0, 16.0), _band(b, 2.0, 16.0), keep * covered)


def estimate_dense(photo: Pyramid, plate: Pyramid, homography: np.ndarray,
                   changed: np.ndarray) -> Optional[DenseFit]:
    """Align on texture alone, from ``homography`` (work pixels; the plate in place).

    Each start (the plate in place, then the best global shifts) is refined by the
    coarse tiles and fitted by the fine ones; the fit most fine tiles agree with wins,
    unless its coarse structure agrees clearly worse with the photo than the plate in
    place does (a shift onto a repeat of the pattern, or onto sensor noise shared by
    the two frames). changed: HxW bool at the coarsest level (see ``global_shifts``).
    Returns None when no start leads to tiles agreeing on one homography (a plain
    backdrop, another scene).
    """
    coarse, fine = photo.coarse, photo.fine
    keep = (~changed).astype(np.float32)
    keep[:4], keep[-4:], keep[:, :4], keep[:, -4:] = 0, 0, 0, 0  # the border replicates, not the scene
    floor = _low_band_agreement(photo, plate, homography, keep) - LOW_BAND_TOLERANCE
    best = None
    starts = [homography]
    while starts:
        start = starts.pop(0)
        rough = _fit_tiles(photo, plate, start, coarse)
        fit = _fit_tiles(photo, plate, start if rough is None else rough.homography, fine, passes=2)
        if (fit is not None and (best is None or fit.inliers > best.inliers)
                and _low_band_agreement(photo, plate, fit.homography, keep) >= floor):
            best = fit
        if start is homography and (best is None or best.inliers < CONFIDENT_FRACTION * len(best.matches)):
            starts = global_shifts(photo, plate, homography, changed)  # in place was not close enough
    return None if best is None else _resolve_repeat(photo, plate, best, changed)


def _zncc(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    """Weighted zero-mean normalised cross-correlation of two images."""
    total = float(weight.sum())
    if total <= 0:
        return -1.0
    a = a - float((a * weight).sum()) / total
    b = b - float((b * weight).sum()) / total
    denominator = float(np.sqrt((weight * a * a).sum() * (weight * b * b).sum()))
    return float((weight * a * b).sum()) / denominator if denominator > 0 else -1.0


def _resolve_repeat(photo: Pyramid, plate: Pyramid, fit: DenseFit, changed: np.ndarray) -> DenseFit:
    """``fit``, or a fit one pattern repeat away if the fine texture correlates better there.

    Each tile's window favours the peak nearest its start, so on a weave whose irregular
    threads are faint all tiles can agree on a shift off by whole thread periods. The
    other peaks of the whole-frame correlation near the fit are the candidate repeats;
    each is fitted by the tiles in turn and the fit whose fine texture correlates best
    with the photo's over the whole backdrop wins. Only shifts within half a tile are
    looked at: further away a peak is not a repeat of the weave but something else,
    e.g. sensor noise shared by the two frames.
    """
    f = photo.fine
    a = photo.images[f]
    keep = cv2.resize((~changed).astype(np.float32), (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    keep = cv2.GaussianBlur(keep, (0, 0), 4.0)
    keep[:4], keep[-4:], keep[:, :4], keep[:, -4:] = 0, 0, 0, 0
    photo_band = _band(a, 1.0, 16.0)

    def score(candidate: DenseFit) -> float:
        # a little blur: the fits are not yet refined, and a fraction of a pixel must not decide
        warped, covered = _warped_plate(photo, plate, candidate.homography, f)
        return _zncc(photo_band, _band(warped, 1.0, 16.0), keep * covered)

    level_h = _at_level(fit.homography, photo, plate, f)
    b, covered = _warped_plate(photo, plate, fit.homography, f)
    surface = _spectra_surface(_band(a, 0.7, 8.0)[None], _band(b, 0.7, 8.0)[None],
                               _window(*a.shape) * keep * covered)[0]
    reach = TILE // 2
    near = np.roll(surface, (reach, reach), axis=(0, 1))[:2 * reach + 1, :2 * reach + 1]
    top = cv2.dilate(near, np.ones((5, 5), np.uint8))
    peaks = np.argwhere((near >= top) & (near > REPEAT_PEAK * near[reach, reach]))
    scored = [(score(fit), fit)] if len(peaks) else []
    for iy, ix in peaks:
        shift = (ix - reach, iy - reach)
        if max(abs(shift[0]), abs(shift[1])) < 2:
            continue
        moved = _fit_tiles(photo, plate, _to_work(_translate(level_h, shift), photo, plate, f), f, passes=2)
        if moved is not None:
            scored.append((score(moved), moved))
    if not scored:
        return fit
    best_score, best = max(scored, key=lambda pair: pair[0])
    work_shape = photo.images[1].shape
    rivals = [s for s, other in scored if _distance(other.homography, best.homography, work_shape) >= 1.0]
    ambiguous = bool(rivals) and max(rivals) > best_score - REPEAT_MARGIN
    return replace(best, ambiguous=ambiguous)


def _distance(a: np.ndarray, b: np.ndarray, shape) -> float:
    """Largest distance (work pixels) between where two work homographies put the corners of ``shape``."""
    h, w = shape[:2]
    corners = np.array([[[0, 0]], [[w - 1, 0]], [[w - 1, h - 1]], [[0, h - 1]]], np.float64)
    return float(np.linalg.norm(cv2.perspectiveTransform(corners, a) - cv2.perspectiveTransform(corners, b),
                                axis=2).max())


def refine_dense(photo: Pyramid, plate: Pyramid, homography: np.ndarray, backdrop: np.ndarray,
                 finest: Optional[int] = None) -> tuple[np.ndarray, bool]:
    """Sub-pixel refinement of a work homography by Lucas-Kanade, from the fine level down to ``finest``
    (default: the fine level; 1 for the work resolution itself, worth its cost only when the photo is
    much larger than the work copy, so that a work pixel spans several of the photo's).

    backdrop: HxW bool at the fine level, True on pixels both images show as backdrop.
    Returns (homography, improved): the input and False when there is too little
    backdrop, the fit does not lower the error, or it drifts more than ``LK_DRIFT``.
    """
    f, improved = photo.fine, False
    current = homography
    while f >= (photo.fine if finest is None else finest):
        a, b = photo.images[f], plate.images[f]
        level_h = _at_level(current, photo, plate, f)
        refined = refine_lucas_kanade(_band(a, 0.7, 8.0), _band(b, 0.7, 8.0), level_h,
                                      _fit_mask(backdrop, a.shape))
        if refined is None or _distance(refined, _at_level(homography, photo, plate, f),
                                        a.shape) > LK_DRIFT * np.hypot(*a.shape):
            break
        current, improved = _to_work(refined, photo, plate, f), True
        f //= 2
    return current, improved


def measure_residual(photo: Pyramid, plate: Pyramid, homography: np.ndarray,
                     backdrop: np.ndarray) -> tuple[float, int]:
    """Median misalignment (work pixels) left on backdrop tiles, and the tile count it is measured on.

    Only tiles with a clear correlation peak that also agree with each other (a homography
    fits them) count: on a plain backdrop a few tiles of mere noise peak by chance, and their
    shifts are random. Measured on the fine level, or on the coarse one where the fine tiles
    find too little (a faint mottle, e.g. paper); NaN when neither has ``RESIDUAL_MIN_TILES``
    agreeing tiles (nothing to measure on).
    backdrop: HxW bool at the fine level, True on pixels both images show as backdrop.
    """
    agree = 0
    for f in (photo.fine, photo.coarse):
        level_backdrop = _fit_mask(backdrop, photo.images[f].shape)
        matches = match_tiles(photo, plate, homography, f, TILE if f == photo.fine else TILE // 2, level_backdrop)
        threshold = DENSE_INLIER_PX * f / 2
        consistent = fit_homography(matches, threshold)
        if consistent is None:
            continue
        agreeing = reprojection_errors(consistent, matches) < threshold
        agree = int(agreeing.sum())
        if agree >= max(RESIDUAL_MIN_TILES, MIN_TILE_FRACTION * len(matches)):
            # in photo pixels, whatever the plate's resolution
            plate_pts = matches.plate_pts[agreeing].reshape(-1, 1, 2).astype(np.float64)
            back = cv2.perspectiveTransform(plate_pts, np.linalg.inv(homography)).reshape(-1, 2)
            return float(np.median(np.linalg.norm(back - matches.photo_pts[agreeing], axis=1))), agree
    return float("nan"), agree
