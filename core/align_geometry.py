"""Geometry of plate alignment: feature matches, homography fit, ECC refinement, sanity.

Features, ECC and the residual work on downscaled ("work") images; the sanity
check and the coverage mask work at any resolution. ``align_plate`` converts
homographies between resolutions with ``scale_matrix``. A homography here
always maps photo pixel coordinates (x, y, 1) to plate pixel coordinates,
with pixel centres at integer coordinates (OpenCV's convention).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

RATIO_TEST = 0.8            # Lowe's ratio: best match must be clearly better than the second
INLIER_PX = 2.5             # reprojection error (work pixels) that counts as an inlier
FEATURE_GRID = (8, 6)     # keypoints are spread over this grid so the product cannot take them all
ECC_MEGAPIXELS = 0.25       # finest ECC level; ECC costs ~8 warps per iteration, so keep it small
ECC_MAX_DRIFT = 0.02        # ECC may move a corner by at most this fraction of the diagonal
MAX_ZOOM = 1.5              # linear scale between plate and photo beyond the size ratio
MAX_TILT = 1.3              # ratio of the perspective divisor across the frame
MAX_ROTATION_DEGREES = 10.0


@dataclass(frozen=True)
class Matches:
    """Putative correspondences. photo_pts, plate_pts: Nx2 float32 work-resolution pixels."""

    photo_pts: np.ndarray
    plate_pts: np.ndarray

    def __len__(self) -> int:
        return len(self.photo_pts)

    def subset(self, keep: np.ndarray) -> "Matches":
        return Matches(self.photo_pts[keep], self.plate_pts[keep])


def scale_matrix(sx: float, sy: float) -> np.ndarray:
    """3x3 float64 mapping full-resolution pixel centres to pixel centres of an image resized by (sx, sy)."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def to_feature_grey(rgb: np.ndarray) -> np.ndarray:
    """HxW uint8 grey with local contrast equalised, so faint backdrop texture (paper, cloth) yields keypoints."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey8 = np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey8)


def _spread_keypoints(keypoints: list, shape: tuple[int, int], count: int) -> list:
    """Up to ``count`` keypoints taken round-robin over a grid, strongest first in each cell."""
    if not keypoints:
        return keypoints
    pts = cv2.KeyPoint_convert(keypoints)
    response = np.array([k.response for k in keypoints])
    gx, gy = FEATURE_GRID
    h, w = shape
    cx = np.minimum((pts[:, 0] * gx / w).astype(int), gx - 1)
    cy = np.minimum((pts[:, 1] * gy / h).astype(int), gy - 1)
    cell = cy * gx + cx
    order = np.lexsort((-response, cell))
    sorted_cells = cell[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_cells)) + 1]
    first_of_cell = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order)) - first_of_cell
    chosen = np.lexsort((-response, rank))[:count]
    return [keypoints[i] for i in chosen]


@dataclass(frozen=True)
class Features:
    """ORB keypoints of one work image.

    points: Nx2 float32 work pixels; descriptors: Nx32 uint8. Ordered round-robin over
    a grid, so any prefix is still spread over the whole frame.
    """

    points: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.points)


def detect_features(grey: np.ndarray, count: int) -> Features:
    """Up to ``count`` ORB features spread over the frame (the product cannot take them all)."""
    # A low FAST threshold finds keypoints on faint texture; the grid keeps the strongest per cell.
    orb = cv2.ORB_create(nfeatures=2 * count, fastThreshold=7, edgeThreshold=19, patchSize=19)
    keypoints = _spread_keypoints(list(orb.detect(grey, None)), grey.shape, count)
    if keypoints:
        keypoints, descriptors = orb.compute(grey, keypoints)
    if not keypoints or descriptors is None:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    return Features(cv2.KeyPoint_convert(keypoints).reshape(-1, 2), descriptors)


def match_features(photo: Features, plate: Features, limit: int) -> Matches:
    """Ratio-tested, one-to-one matches between the first ``limit`` features of each image."""
    photo_desc, plate_desc = photo.descriptors[:limit], plate.descriptors[:limit]
    if len(photo_desc) < 2 or len(plate_desc) < 2:
        return Matches(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32))
    best: dict[int, cv2.DMatch] = {}
    for pair in cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(photo_desc, plate_desc, k=2):
        if len(pair) == 2 and pair[0].distance < RATIO_TEST * pair[1].distance:
            m = pair[0]
            # one-to-one: many photo keypoints (e.g. on the product) may pick the same plate keypoint
            if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
                best[m.trainIdx] = m
    query = np.array([m.queryIdx for m in best.values()], dtype=int)
    train = np.array([m.trainIdx for m in best.values()], dtype=int)
    return Matches(photo.points[query].reshape(-1, 2), plate.points[train].reshape(-1, 2))


def reprojection_errors(homography: np.ndarray, matches: Matches) -> np.ndarray:
    """(N,) float64 distances in plate work pixels between H(photo point) and the matched plate point."""
    if len(matches) == 0:
        return np.zeros(0)
    mapped = cv2.perspectiveTransform(matches.photo_pts.reshape(-1, 1, 2).astype(np.float64), homography)
    return np.linalg.norm(mapped.reshape(-1, 2) - matches.plate_pts, axis=1)


def fit_homography(matches: Matches) -> Optional[np.ndarray]:
    """MAGSAC++ homography (3x3 float64, photo -> plate) or None when it cannot be fitted."""
    if len(matches) < 8:
        return None
    homography, _ = cv2.findHomography(matches.photo_pts, matches.plate_pts, cv2.USAC_MAGSAC,
                                       INLIER_PX, maxIters=5000, confidence=0.999)
    if homography is None or not np.all(np.isfinite(homography)):
        return None
    return homography / homography[2, 2]


def _zncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Zero-mean normalised cross-correlation of two float32 images over a bool mask."""
    if mask.sum() < 100:
        return -1.0
    x = a[mask] - a[mask].mean()
    y = b[mask] - b[mask].mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom > 0 else -1.0


def _warp_plate(plate: np.ndarray, homography: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return cv2.warpPerspective(plate, homography, (shape[1], shape[0]),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def _corner_drift(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> float:
    """Largest corner displacement between two homographies, as a fraction of the image diagonal."""
    h, w = shape
    corners = _corners(shape)
    pa = cv2.perspectiveTransform(corners, a).reshape(-1, 2)
    pb = cv2.perspectiveTransform(corners, b).reshape(-1, 2)
    return float(np.linalg.norm(pa - pb, axis=1).max() / np.hypot(w, h))


def refine_ecc(photo_grey: np.ndarray, plate_grey: np.ndarray, homography: np.ndarray,
               mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """Refine a work-resolution homography by ECC on a 2-level pyramid (coarse to fine).

    photo_grey, plate_grey: float32 grey work images; mask: HxW bool in photo work
    coordinates, True on backdrop pixels usable for the fit (valid, not product).
    Returns (homography, improved): the input homography and False when ECC fails to
    converge, drifts far, or does not raise the masked correlation of the two images.
    """
    h, w = photo_grey.shape
    fine = min(1.0, float(np.sqrt(ECC_MEGAPIXELS * 1e6 / (h * w))))
    levels = [fine / 2.0, fine]
    warp = np.linalg.inv(homography)  # ECC warps the input (photo) onto the template (plate)
    try:
        for level, (iterations, eps) in zip(levels, [(40, 1e-4), (20, 1e-5)]):
            ph, pw = max(8, round(h * level)), max(8, round(w * level))
            qh, qw = max(8, round(plate_grey.shape[0] * level)), max(8, round(plate_grey.shape[1] * level))
            s_photo = scale_matrix(pw / w, ph / h)
            s_plate = scale_matrix(qw / plate_grey.shape[1], qh / plate_grey.shape[0])
            template = cv2.resize(plate_grey, (qw, qh), interpolation=cv2.INTER_AREA)
            image = cv2.resize(photo_grey, (pw, ph), interpolation=cv2.INTER_AREA)
            level_mask = cv2.resize(mask.astype(np.uint8), (pw, ph), interpolation=cv2.INTER_NEAREST)
            level_warp = (s_photo @ warp @ np.linalg.inv(s_plate)).astype(np.float32)
            level_warp /= level_warp[2, 2]
            criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, iterations, eps)
            _, level_warp = cv2.findTransformECC(template, image, level_warp, cv2.MOTION_HOMOGRAPHY,
                                                 criteria, level_mask, 5)
            warp = np.linalg.inv(s_photo) @ level_warp.astype(np.float64) @ s_plate
    except cv2.error:
        return homography, False
    refined = np.linalg.inv(warp)
    if not np.all(np.isfinite(refined)) or abs(refined[2, 2]) < 1e-12:
        return homography, False
    refined /= refined[2, 2]
    if _corner_drift(refined, homography, (h, w)) > ECC_MAX_DRIFT:
        return homography, False
    blur = lambda im: cv2.GaussianBlur(im, (5, 5), 0)  # noqa: E731  (same smoothing ECC uses)
    photo_b = blur(photo_grey)
    before = _zncc(photo_b, blur(_warp_plate(plate_grey, homography, (h, w))), mask)
    after = _zncc(photo_b, blur(_warp_plate(plate_grey, refined, (h, w))), mask)
    if after <= before:
        return homography, False
    return refined, True


def measure_residual(photo_grey: np.ndarray, warped_plate_grey: np.ndarray, mask: np.ndarray,
                     tile: int = 64, max_tiles: int = 96) -> tuple[float, int]:
    """Median local misalignment (work pixels) between photo and aligned plate, and the tile count.

    Phase correlation on the most textured backdrop tiles (fully inside ``mask``)
    measures the shift still left after alignment; NaN when fewer than 4 tiles
    have texture (a plain backdrop has nothing to measure on).
    """
    h, w = photo_grey.shape
    candidates = []
    for y in range(0, h - tile + 1, tile):
        for x in range(0, w - tile + 1, tile):
            if mask[y:y + tile, x:x + tile].all():
                a = photo_grey[y:y + tile, x:x + tile]
                gy, gx = np.gradient(a)
                energy = float(np.median(np.hypot(gx, gy)))
                if energy > 0.004:
                    candidates.append((energy, y, x))
    candidates.sort(reverse=True)
    window = cv2.createHanningWindow((tile, tile), cv2.CV_32F)
    shifts = []
    for _, y, x in candidates[:max_tiles]:
        (dx, dy), response = cv2.phaseCorrelate(photo_grey[y:y + tile, x:x + tile],
                                                warped_plate_grey[y:y + tile, x:x + tile], window)
        if response > 0.2:
            shifts.append(np.hypot(dx, dy))
    if len(shifts) < 4:
        return float("nan"), len(shifts)
    return float(np.median(shifts)), len(shifts)


def proportional_homography(photo_shape, plate_shape) -> np.ndarray:
    """The plate in place: centres coincide, scaled by the ratio of the image sizes."""
    h, w = photo_shape[:2]
    ph, pw = plate_shape[:2]
    s = float(np.sqrt((ph * pw) / (h * w)))
    return np.array([[s, 0, (pw - 1) / 2 - s * (w - 1) / 2], [0, s, (ph - 1) / 2 - s * (h - 1) / 2], [0, 0, 1.0]])


def _corners(shape) -> np.ndarray:
    h, w = shape[:2]
    return np.array([[[0, 0]], [[w - 1, 0]], [[w - 1, h - 1]], [[0, h - 1]]], np.float64)


def describe_homography_problem(homography: np.ndarray, photo_shape, plate_shape,
                                max_shift_fraction: float) -> Optional[str]:
    """A user sentence saying why a full-resolution homography is implausible, or None if it is sane."""
    if not np.all(np.isfinite(homography)):
        return "the alignment did not converge"
    corners = _corners(photo_shape).reshape(-1, 2)
    w_div = (homography[2, :2] @ corners.T) + homography[2, 2]
    if np.any(w_div <= 0) or w_div.max() / w_div.min() > MAX_TILT:
        return "the plate is seen from a strongly different angle"
    mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(-1, 2).astype(np.float32)
    if not cv2.isContourConvex(mapped) or cv2.contourArea(mapped, oriented=True) * \
            cv2.contourArea(corners.astype(np.float32), oriented=True) <= 0:
        return "the plate would have to be folded or mirrored to fit the photo"
    expected = cv2.perspectiveTransform(corners.reshape(-1, 1, 2),
                                        proportional_homography(photo_shape, plate_shape)).reshape(-1, 2)
    zoom = float(np.sqrt(cv2.contourArea(mapped) / max(cv2.contourArea(expected.astype(np.float32)), 1.0)))
    if not 1 / MAX_ZOOM <= zoom <= MAX_ZOOM:
        return f"the plate is zoomed {zoom:.2f}x relative to the photo"
    edges, expected_edges = np.roll(mapped, -1, axis=0) - mapped, np.roll(expected, -1, axis=0) - expected
    cross = expected_edges[:, 0] * edges[:, 1] - expected_edges[:, 1] * edges[:, 0]
    turn = np.degrees(np.arctan2(cross, (expected_edges * edges).sum(axis=1)))
    if np.abs(turn).max() > MAX_ROTATION_DEGREES:
        return f"the plate is rotated by {np.median(turn):.0f} degrees relative to the photo"
    shift = float(np.linalg.norm(mapped - expected, axis=1).max() / np.hypot(*plate_shape[:2]))
    if shift > max_shift_fraction:
        return (f"the plate is shifted by {shift:.0%} of the frame (at most {max_shift_fraction:.0%} "
                "is accepted)")
    return None


def coverage_mask(homography: np.ndarray, plate_shape, photo_shape, margin: float) -> np.ndarray:
    """HxW bool over the photo: where the plate, inset by ``margin`` plate pixels, lands."""
    margin += 0.5  # fillConvexPoly also fills pixels that the polygon's edge only grazes
    ph, pw = plate_shape[:2]
    quad = np.array([[[margin, margin]], [[pw - 1 - margin, margin]],
                     [[pw - 1 - margin, ph - 1 - margin]], [[margin, ph - 1 - margin]]], np.float64)
    in_photo = cv2.perspectiveTransform(quad, np.linalg.inv(homography)).reshape(-1, 2)
    mask = np.zeros(photo_shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(in_photo * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
    return mask.view(bool)
