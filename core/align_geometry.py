"""Geometry of plate alignment: feature matches, homography fit, Lucas-Kanade refinement,
sanity checks, coverage.

Features work on downscaled ("work") images; refinement, the sanity check and the
coverage mask work at any resolution. ``align_plate`` converts
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
MAX_ZOOM = 1.5              # linear scale between plate and photo beyond the size ratio
MAX_TILT = 1.3              # ratio of the perspective divisor across the frame
MAX_ROTATION_DEGREES = 10.0
LK_ITERATIONS = 25
LK_MAX_POINTS = 30_000      # pixels sampled for Lucas-Kanade: more add cost, not precision


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


def to_feature_grey(grey: np.ndarray) -> np.ndarray:
    """HxW uint8 copy of a float32 grey image with local contrast equalised, so that faint backdrop
    texture (paper, cloth) yields keypoints."""
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


def detect_features(rgb: np.ndarray, count: int, megapixels: float = 0.5) -> Features:
    """Up to ``count`` ORB features of an RGB image, spread over the frame (the product cannot take them all).

    Detected on a copy of about ``megapixels`` (ORB's cost grows with the pixel count, and
    the refinement that follows restores sub-pixel precision); points are returned in the
    pixels of ``rgb``.
    """
    h, w = rgb.shape[:2]
    s = min(1.0, float(np.sqrt(megapixels * 1e6 / (h * w))))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if s < 1.0:
        grey = cv2.resize(grey, (max(32, round(w * s)), max(32, round(h * s))), interpolation=cv2.INTER_AREA)
    grey = to_feature_grey(grey)
    # A low FAST threshold finds keypoints on faint texture; the grid keeps the strongest per cell.
    orb = cv2.ORB_create(nfeatures=2 * count, fastThreshold=7, edgeThreshold=19, patchSize=19)
    keypoints = _spread_keypoints(list(orb.detect(grey, None)), grey.shape, count)
    if keypoints:
        keypoints, descriptors = orb.compute(grey, keypoints)
    if not keypoints or descriptors is None:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    to_image = np.linalg.inv(scale_matrix(grey.shape[1] / w, grey.shape[0] / h))
    points = cv2.perspectiveTransform(cv2.KeyPoint_convert(keypoints).reshape(-1, 1, 2).astype(np.float64), to_image)
    return Features(points.reshape(-1, 2).astype(np.float32), descriptors)


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


def fit_homography(matches: Matches, threshold: float = INLIER_PX) -> Optional[np.ndarray]:
    """MAGSAC++ homography (3x3 float64, photo -> plate) or None when it cannot be fitted.

    threshold: largest reprojection error (plate pixels) of an inlier.
    """
    if len(matches) < 8:
        return None
    homography, _ = cv2.findHomography(matches.photo_pts, matches.plate_pts, cv2.USAC_MAGSAC,
                                       threshold, maxIters=5000, confidence=0.999)
    if homography is None or not np.all(np.isfinite(homography)):
        return None
    return homography / homography[2, 2]


def refine_lucas_kanade(template: np.ndarray, image: np.ndarray, homography: np.ndarray,
                        mask: np.ndarray) -> Optional[np.ndarray]:
    """Refine a homography by inverse-compositional Lucas-Kanade (Baker and Matthews 2004).

    template: HxW float32 band-passed photo; image: band-passed plate (any size);
    homography: photo -> plate pixels of these images; mask: HxW bool over the photo,
    True on backdrop both images show. Minimises the Huber-weighted difference of the
    template and the warped image scaled by a least-squares gain, with Levenberg-Marquardt
    damping. Returns the refined homography, or None when fewer than 500 pixels qualify
    or no step lowers the error.
    """
    h, w = template.shape
    inner = np.zeros_like(mask)
    inner[2:-2, 2:-2] = mask[2:-2, 2:-2]
    ys, xs = np.nonzero(inner)
    if len(xs) < 500:
        return None
    step = max(1, len(xs) // LK_MAX_POINTS)
    ys, xs = ys[::step], xs[::step]
    cx, cy, s = (w - 1) / 2.0, (h - 1) / 2.0, max(w, h) / 2.0
    norm = np.array([[1 / s, 0, -cx / s], [0, 1 / s, -cy / s], [0, 0, 1.0]])  # conditions the Jacobian
    gx = cv2.Sobel(template, cv2.CV_32F, 1, 0, ksize=3, scale=s / 8)[ys, xs]
    gy = cv2.Sobel(template, cv2.CV_32F, 0, 1, ksize=3, scale=s / 8)[ys, xs]
    u, v = ((xs - cx) / s).astype(np.float32), ((ys - cy) / s).astype(np.float32)
    radial = gx * u + gy * v
    jacobian = np.stack([gx * u, gx * v, gx, gy * u, gy * v, gy, -radial * u, -radial * v], 1)
    target = template[ys, xs]
    points = np.stack([xs, ys], 1).astype(np.float64).reshape(-1, 1, 2)

    count = len(xs)
    rows = -(-count // 1024)  # remap takes maps shorter than 32767 a side: fold the points into rows

    def residual(hom: np.ndarray) -> np.ndarray:
        mapped = np.zeros((rows * 1024, 2), np.float32)
        mapped[:count] = cv2.perspectiveTransform(points, hom).reshape(-1, 2)
        maps = mapped.reshape(rows, 1024, 2)
        sampled = cv2.remap(image, maps, None, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE).ravel()[:count]
        gain = float(sampled @ target) / max(float(sampled @ sampled), 1e-12)
        return np.float32(gain) * sampled - target

    error = residual(homography)
    scale = 2.0 * 1.4826 * float(np.median(np.abs(error))) + 1e-12

    def huber(e: np.ndarray) -> np.ndarray:
        return (1.0 / np.maximum(np.abs(e) / scale, 1.0)).astype(np.float32)

    weights = huber(error)
    cost = float(weights @ (error * error))
    start_cost, damping, current = cost, 1e-3, homography
    for _ in range(LK_ITERATIONS):
        weighted = jacobian * weights[:, None]
        normal = weighted.T @ jacobian
        gradient = weighted.T @ error
        try:
            step_p = np.linalg.solve(normal + damping * np.diag(np.diag(normal)), gradient)
        except np.linalg.LinAlgError:
            return None
        update = np.eye(3) + np.append(step_p, 0.0).reshape(3, 3)
        candidate = current @ np.linalg.inv(norm) @ np.linalg.inv(update) @ norm
        candidate /= candidate[2, 2]
        new_error = residual(candidate)
        new_cost = float(weights @ (new_error * new_error))
        if new_cost < cost:
            current, error = candidate, new_error
            weights = huber(error)
            cost = float(weights @ (error * error))
            damping = max(damping / 10, 1e-6)
            if np.abs(step_p).max() * s < 1e-3:
                break
        else:
            damping *= 10
            if damping > 1e3:
                break
    return current if cost < start_cost else None


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
        # the circular mean: turns near +-180 degrees must not average to 0
        angle = np.degrees(np.arctan2(np.sin(np.radians(turn)).sum(), np.cos(np.radians(turn)).sum()))
        return f"the plate is rotated by {abs(angle):.0f} degrees relative to the photo"
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
