"""Plate alignment: warp the plate onto the photo and match its exposure.

``align_plate`` works on downscaled copies (``AlignOptions.work_megapixels``) and
touches full resolution only for the final warp:

1. ORB features spread over the frame, ratio test, one-to-one matches, MAGSAC++
   homography; matches inside the changed region (product, shadow) are dropped
   and the fit repeated.
2. Too few features (woven fabric, foam, paper, a table top): the backdrop's
   texture itself, matched by correlation from a global shift down to tiles
   (``align_dense``): method "dense".
3. Neither (a plain paper sweep, the common tripod case): the plate is taken as
   already in place (the proportional mapping) and accepted only if, after the
   exposure gain, it reproduces the photo over enough of the frame.
4. Lucas-Kanade refinement on the backdrop (product masked out), kept only if it
   lowers the difference and the features or tiles do not veto it.
5. Sanity checks (shift, zoom, tilt) and per-channel exposure gain; a plate of
   another scene, or a blank one, raises ``AlignmentError``: never a silent bad warp.

The scene check (steps 3 and 5: does the plate show this photo's backdrop?) can be
wrong: a product filling the frame on plain paper leaves too little backdrop to
tell. It raises ``SceneCheckError``, which ``AlignOptions(trust_plate=True)``
overrides: the plate is then aligned as well as it can be and the verdict is "check".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .align_dense import (DENSE_INLIER_PX, Pyramid, build_pyramid, estimate_dense, fine_factor, measure_residual,
                          refine_dense)
from .align_gain import (Comparison, backdrop_agreement, border_colour, check_image_content, compare_backdrop,
                         in_place_agreement, is_plain, refit_gain, reproduces_backdrop)
from .align_geometry import (INLIER_PX, Features, Matches, coverage_mask, describe_homography_problem,
                             detect_features, fit_homography, match_features, proportional_homography,
                             reprojection_errors, scale_matrix)
from .errors import AlignmentError, SceneCheckError
from .jobs import CancelToken, ProgressFn, check, report

STAGE = "align"
MIN_INLIERS = 20            # fewer inliers than this: the features say nothing
MIN_INLIER_FRACTION = 0.15  # a wrong scene yields a few chance inliers among many matches
STRONG_INLIERS = 60         # this many inliers make a homography trustworthy on its own
STRONG_TILES = 40           # this many agreeing tiles make a dense homography trustworthy
FIRST_PASS_FEATURES = 1500  # matching cost grows with the square of the feature count
OK_AGREEMENT = 0.5
CHECK_RESIDUAL_WORK_PX = 0.6
VALID_MARGIN_PX = 1.5       # plate pixels at the border excluded from ``valid`` (interpolation)
TRUSTED_ASPECT_TOLERANCE = 0.02  # a trusted plate used in place must have the photo's proportions
TRUST_HINT = "--trust-plate on the command line, Matte > Trust the Plate in the app"


@dataclass(frozen=True)
class AlignOptions:
    """Knobs of ``align_plate``; the defaults suit tripod and hand-held shots."""

    max_features: int = 4000
    work_megapixels: float = 1.0      # resolution of the copies aligned (dense matching, refinement)
    feature_megapixels: float = 0.5   # resolution feature points are detected at
    refine: bool = True               # sub-pixel Lucas-Kanade refinement on the backdrop
    dense: bool = True                # align on backdrop texture when features are too few
    fit_gain: bool = True             # per-channel exposure / white-balance gain
    max_shift_fraction: float = 0.15  # larger motions are rejected as another scene
    # use the plate even where the scene check says it shows another scene (a product filling the
    # frame on plain paper); blank plates and impossible warps are still refused, the verdict is "check"
    trust_plate: bool = False


@dataclass(frozen=True)
class AlignmentReport:
    """What alignment found; shown to the user and written to batch reports.

    homography: 3x3 float64, maps photo pixel coordinates (x, y, 1) to plate
        pixel coordinates, full resolution.
    matches: ratio-tested one-to-one feature matches (method "dense": backdrop tiles with a
        clear correlation peak); inliers: those the homography explains.
    residual_px: median misalignment left between photo and aligned plate on textured
        backdrop, in full-resolution photo pixels (NaN on a plain backdrop: nothing to measure).
    gain: (3,) float64 per-channel RGB gain applied to the warped plate.
    verdict: "ok", "check" (usable, but the user should look) or "failed".
    backdrop_agreement: fraction of the covered frame where the aligned plate reproduces the photo.
    coverage: fraction of the photo covered by the plate (``valid``).
    method: "features" (homography from feature matches), "dense" (too few features: from the
        backdrop's texture, tile by tile) or "in-place" (neither; tripod assumed).
    """

    homography: np.ndarray
    matches: int
    inliers: int
    inlier_fraction: float
    residual_px: float
    gain: np.ndarray
    verdict: str
    message: str
    refined: bool = False
    backdrop_agreement: float = 0.0
    coverage: float = 0.0
    method: str = "features"


@dataclass(frozen=True)
class Alignment:
    """The plate in the photo's frame.

    aligned_plate: HxWx3 float32 RGB in [0, 1], same shape as the photo, gain applied.
    valid: HxW bool, True where the warped plate covers the photo.
    report: the ``AlignmentReport``.
    """

    aligned_plate: np.ndarray
    valid: np.ndarray
    report: AlignmentReport


def _as_rgb(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise AlignmentError(f"the {name} must be an RGB image (height x width x 3), got shape {shape}")
    if min(image.shape[:2]) < 32:
        raise AlignmentError(f"the {name} is too small to align ({image.shape[1]}x{image.shape[0]} pixels)")
    return np.ascontiguousarray(image, dtype=np.float32)


def _resize(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``image`` resized to ``size`` (w, h) and the 3x3 matrix mapping its pixel centres to the result's."""
    h, w = image.shape[:2]
    if (w, h) == size:
        return image, np.eye(3)
    if size[0] > w:
        return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), scale_matrix(size[0] / w, size[1] / h)
    k = min(w // size[0], h // size[1])
    if k >= 2:
        # OpenCV's area filter is ~2x faster for integer factors: shrink by k first (dropping < k edge
        # pixels at the right and bottom, which moves no pixel centre), then finish on the small image
        w, h = w // k * k, h // k * k
        image = cv2.resize(image[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, scale_matrix(size[0] / w, size[1] / h)


def _work_images(photo: np.ndarray, plate: np.ndarray, megapixels: float):
    """Downscaled photo and plate with the 3x3 matrices mapping full to work pixel coordinates.

    A plate with the photo's aspect ratio is resized to the photo's work size (the
    same scene at another resolution); any other plate keeps its own pixel scale.
    """
    h, w = photo.shape[:2]
    s = min(1.0, float(np.sqrt(megapixels * 1e6 / (h * w))))
    size = (max(32, round(w * s)), max(32, round(h * s)))
    ph, pw = plate.shape[:2]
    if abs((pw / ph) / (w / h) - 1.0) < 0.01:
        plate_size = size
    else:
        t = min(1.0, float(np.sqrt(megapixels * 1e6 / (ph * pw))))
        plate_size = (max(32, round(pw * t)), max(32, round(ph * t)))
    work_photo, s_photo = _resize(photo, size)
    work_plate, s_plate = _resize(plate, plate_size)
    return work_photo, s_photo, work_plate, s_plate


def _warp(image: np.ndarray, homography: np.ndarray, shape) -> np.ndarray:
    return cv2.warpPerspective(image, homography, (shape[1], shape[0]),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def _warp_full(plate: np.ndarray, homography: np.ndarray, photo_shape, gain: np.ndarray) -> np.ndarray:
    """The plate warped onto the photo at full resolution with the gain applied, in place where possible."""
    zoom = float(np.sqrt(plate.shape[0] * plate.shape[1] / (photo_shape[0] * photo_shape[1])))
    if zoom > 1.5:  # warpPerspective does not low-pass; shrink a much larger plate first
        size = (round(plate.shape[1] / zoom), round(plate.shape[0] / zoom))
        small = scale_matrix(size[0] / plate.shape[1], size[1] / plate.shape[0])
        plate, homography = cv2.resize(plate, size, interpolation=cv2.INTER_AREA), small @ homography
    out = _warp(plate, homography, photo_shape)
    if np.any(gain != 1.0):
        h, w = photo_shape[:2]
        rows = out.reshape(h, w * 3)  # a long inner loop is ~10x faster than broadcasting (3,)
        np.multiply(rows, np.tile(gain.astype(np.float32), w), out=rows)
        if np.any(gain > 1.0):
            np.minimum(out, np.float32(1.0), out=out)
    return out


def _percent(fraction: float) -> str:
    """Rounded down, so that a figure just short of a limit does not read as the limit itself."""
    return f"{int(100 * fraction)}%"


def _scene_refusal(comparison: Optional[Comparison], inliers: int, method: str,
                   plain: bool) -> tuple[str, SceneCheckError]:
    """(what was measured, for a trusted plate's report; the error refusing an untrusted plate).

    comparison: the plate used in place (None when features or tiles aligned it); plain:
    the plate shows no texture (``is_plain``), so nothing could be aligned on.
    """
    if comparison is not None and plain:
        frame, edges = in_place_agreement(comparison)
        measured = (f"the plate, used as it is, matches the photo on only {_percent(edges)} of the frame's "
                    f"edges and {_percent(frame)} of the frame")
        return measured, SceneCheckError(
            f"{measured}, and the backdrop is plain, so there was nothing to align on: either this is the "
            "wrong plate file (pick the plate shot with this photo) or the product fills the frame (if the "
            f"plate is right, trust it: {TRUST_HINT}).")
    what = "matching backdrop tiles" if method == "dense" else "matching features"
    measured = f"the plate does not seem to show the same backdrop as the photo (only {inliers} {what})"
    return measured, SceneCheckError(
        f"the plate does not show the same backdrop as the photo (only {inliers} {what}); shoot the plate "
        f"from the same position or pick the right plate file (if the plate is right, trust it: {TRUST_HINT}).")


def _inlier_px(method: str) -> float:
    """Reprojection error (work pixels) within which a match supports a homography."""
    return DENSE_INLIER_PX if method == "dense" else INLIER_PX


def _count_inliers(homography: Optional[np.ndarray], matches: Matches, threshold: float = INLIER_PX) -> int:
    return 0 if homography is None else int((reprojection_errors(homography, matches) < threshold).sum())


def _inlier_median(homography: np.ndarray, matches: Matches, threshold: float = INLIER_PX) -> float:
    errors = reprojection_errors(homography, matches)
    errors = errors[errors < threshold]
    return float(np.median(errors)) if errors.size else float("inf")


def _match_and_fit(photo: Features, plate: Features, max_features: int):
    """(matches, homography or None, inliers): a quick pass on the strongest features, all of them if needed."""
    limits = [min(max_features, FIRST_PASS_FEATURES)]
    if max_features > FIRST_PASS_FEATURES:
        limits.append(max_features)
    for limit in limits:
        matches = match_features(photo, plate, limit)
        homography = fit_homography(matches)
        inliers = _count_inliers(homography, matches)
        # plenty of support, or no sign of a common scene at all: more features will not change the answer
        if (inliers >= 2 * STRONG_INLIERS and inliers >= 0.3 * len(matches)) or inliers < 8:
            break
    return matches, homography, inliers


@dataclass(frozen=True)
class _Frames:
    """Photo and plate at the resolutions alignment works on, all derived from the work images.

    photo, plate: grey pyramids (dense alignment, refinement, residual); small_photo,
    small_plate: HxWx3 float32 RGB at the pyramids' fine level (product and shadow,
    agreement, gain: the full work resolution would add only cost there).
    """

    photo: Pyramid
    plate: Pyramid
    small_photo: np.ndarray
    small_plate: np.ndarray

    def at_level(self, homography: np.ndarray, f: Optional[int] = None) -> np.ndarray:
        """A work homography in pixels of pyramid level ``f`` (default: the fine level)."""
        f = self.photo.fine if f is None else f
        return self.plate.to_level[f] @ homography @ np.linalg.inv(self.photo.to_level[f])

    def compare(self, homography: np.ndarray, with_gain: bool) -> Comparison:
        return compare_backdrop(self.small_photo, self.small_plate, self.at_level(homography), with_gain)


def _frames(work_photo: np.ndarray, work_plate: np.ndarray) -> _Frames:
    fine = fine_factor(work_photo.shape)  # one factor for both, so that a level keeps the plate's scale
    photo = build_pyramid(cv2.cvtColor(work_photo, cv2.COLOR_RGB2GRAY), fine)
    plate = build_pyramid(cv2.cvtColor(work_plate, cv2.COLOR_RGB2GRAY), fine)

    def shrink(image: np.ndarray, pyramid: Pyramid) -> np.ndarray:
        if fine == 1:
            return image
        return cv2.resize(image, pyramid.images[fine].shape[::-1], interpolation=cv2.INTER_AREA)

    return _Frames(photo, plate, shrink(work_photo, photo), shrink(work_plate, plate))


def _align_on_texture(frames: _Frames, in_place: np.ndarray, with_gain: bool):
    """``estimate_dense`` from the plate in place, the product and shadow found at the coarse level."""
    f = frames.photo.coarse
    photo = cv2.resize(frames.small_photo, frames.photo.images[f].shape[::-1], interpolation=cv2.INTER_AREA)
    plate = cv2.resize(frames.small_plate, frames.plate.images[f].shape[::-1], interpolation=cv2.INTER_AREA)
    changed = compare_backdrop(photo, plate, frames.at_level(in_place, f), with_gain).changed
    return estimate_dense(frames.photo, frames.plate, in_place, changed)


def _exclude_changed(frames: _Frames, homography: np.ndarray, matches: Matches, with_gain: bool) -> Matches:
    """The matches outside the changed region (product, shadow): there they may be false (repeated texture)."""
    changed = frames.compare(homography, with_gain).changed
    h, w = changed.shape
    pts = cv2.perspectiveTransform(matches.photo_pts.reshape(-1, 1, 2).astype(np.float64),
                                   frames.photo.to_level[frames.photo.fine]).reshape(-1, 2)
    pts = np.clip(np.round(pts).astype(int), 0, [w - 1, h - 1])
    return matches.subset(~changed[pts[:, 1], pts[:, 0]])


def align_plate(photo: np.ndarray, plate: np.ndarray, options: AlignOptions = AlignOptions(),
                progress: Optional[ProgressFn] = None,
                cancel: Optional[CancelToken] = None) -> Alignment:
    """Warp ``plate`` onto ``photo`` and match its exposure.

    photo, plate: HxWx3 float32 RGB in [0, 1]; the plate may have another size
    (same scene at another resolution, or a crop). Returns an ``Alignment`` whose
    aligned plate has the photo's shape. Reports progress as stage "align".

    Raises ``Cancelled`` when ``cancel`` is set, and ``AlignmentError`` when:
    - the plate is an empty frame (black, blown out or constant) unlike the photo's
      backdrop (see ``check_image_content``);
    - the features support a homography that moves, zooms, rotates or tilts the
      plate beyond ``max_shift_fraction`` and fixed sane limits;
    - (``SceneCheckError``) neither features (under 20 inliers, or under 15% of the
      matches) nor backdrop tiles agree on a homography, and the plate, used in place,
      reproduces the photo on less than 30% of the frame or less than 60% of a band
      along its edges (another scene, not a plain backdrop); or the aligned plate
      reproduces under 10% of the frame on little support.
    With ``options.trust_plate`` a failed scene check does not raise: the report's
    verdict is "check" and its message starts "plate trusted, scene check overridden";
    a trusted plate used in place must still have the photo's proportions.
    """
    photo, plate = _as_rgb(photo, "photo"), _as_rgb(plate, "plate")
    report(progress, STAGE, 0.0)
    check(cancel)
    work_photo, s_photo, work_plate, s_plate = _work_images(photo, plate, options.work_megapixels)
    check_image_content(work_photo, "photo")
    check_image_content(work_plate, "plate", backdrop=border_colour(work_photo))

    def to_full(h: np.ndarray) -> np.ndarray:
        return np.linalg.inv(s_plate) @ h @ s_photo

    def problem(h: np.ndarray) -> Optional[str]:
        return describe_homography_problem(to_full(h), photo.shape, plate.shape, options.max_shift_fraction)

    check(cancel)
    report(progress, STAGE, 0.1)
    photo_features = detect_features(work_photo, options.max_features, options.feature_megapixels)
    plate_features = detect_features(work_plate, options.max_features, options.feature_megapixels)
    check(cancel)
    report(progress, STAGE, 0.25)
    matches, homography, inliers = _match_and_fit(photo_features, plate_features, options.max_features)
    check(cancel)
    report(progress, STAGE, 0.35)

    use_features = (homography is not None and inliers >= MIN_INLIERS
                    and inliers >= MIN_INLIER_FRACTION * len(matches))
    if use_features and problem(homography) is not None:
        if inliers >= STRONG_INLIERS:
            raise AlignmentError(f"{problem(homography)}; shoot the plate from the same position as the photo")
        use_features = False
    frames = _frames(work_photo, work_plate)
    method = "features" if use_features else "in-place"
    ambiguous = False
    if use_features:
        refit = fit_homography(_exclude_changed(frames, homography, matches, options.fit_gain))
        if refit is not None and _count_inliers(refit, matches) >= MIN_INLIERS and problem(refit) is None:
            homography = refit
    else:
        homography = proportional_homography(work_photo.shape, work_plate.shape)
        dense = _align_on_texture(frames, homography, options.fit_gain) if options.dense else None
        if dense is not None and problem(dense.homography) is None:
            method, homography, matches, inliers = "dense", dense.homography, dense.matches, dense.inliers
            ambiguous = dense.ambiguous
    overridden = None  # what the scene check measured when it failed on a trusted plate

    def refuse(in_place: Optional[Comparison]) -> str:
        """Raise the scene check's error, or, for a trusted plate, return what it measured."""
        plain = is_plain(frames.plate.images[frames.plate.fine])
        measured, error = _scene_refusal(in_place, inliers, method, plain)
        if not options.trust_plate:
            raise error
        pw, ph, w, h = plate.shape[1], plate.shape[0], photo.shape[1], photo.shape[0]
        if method == "in-place" and abs(np.log((pw / ph) / (w / h))) > TRUSTED_ASPECT_TOLERANCE:
            raise AlignmentError(f"the plate ({pw}x{ph}) and the photo ({w}x{h}) have different proportions, "
                                 "so the plate cannot be used as it is; pick the plate shot with this photo")
        return measured

    comparison = frames.compare(homography, options.fit_gain)
    if method == "in-place" and not reproduces_backdrop(comparison):
        # fail fast: refining cannot turn another scene into this one
        overridden = refuse(comparison)
    check(cancel)
    report(progress, STAGE, 0.5)

    threshold = _inlier_px(method)
    refined = False
    if options.refine and method != "in-place":  # in place: neither features nor tiles found texture
        # a work pixel spanning several of the photo's is worth refining at the work resolution too
        finest = 1 if s_photo[0, 0] <= 0.5 else None
        candidate, refined = refine_dense(frames.photo, frames.plate, homography, comparison.backdrop, finest)
        # LK may slide onto a moving or out-of-plane part of the scene; the matches veto that
        if refined:
            before = _inlier_median(homography, matches, threshold)
            after = _inlier_median(candidate, matches, threshold)
            kept = _count_inliers(candidate, matches, threshold) >= 0.9 * _count_inliers(homography, matches, threshold)
            refined = kept and after <= max(1.25 * before, before + 0.1 * threshold) and problem(candidate) is None
        if refined:
            homography = candidate
            comparison = frames.compare(homography, options.fit_gain)
    check(cancel)
    report(progress, STAGE, 0.65)

    if options.fit_gain:
        comparison = refit_gain(frames.small_photo, comparison)
    if method == "in-place" and not reproduces_backdrop(comparison):
        overridden = refuse(comparison)
    inliers = _count_inliers(homography, matches, threshold)
    agreement = backdrop_agreement(comparison.difference, comparison.valid)
    strong = STRONG_TILES if method == "dense" else STRONG_INLIERS
    if method != "in-place" and agreement < 0.1 and inliers < strong:
        overridden = refuse(None)
    full_homography = to_full(homography)
    full_problem = problem(homography)
    if full_problem is not None:
        raise AlignmentError(f"{full_problem}; shoot the plate from the same position as the photo")

    per_px = 1.0 / s_photo[0, 0]  # work pixels -> full-resolution photo pixels
    residual, _ = measure_residual(frames.photo, frames.plate, homography, comparison.backdrop)
    if np.isnan(residual) and method == "features":
        residual = _inlier_median(homography, matches)
    coverage = float(coverage_mask(homography, work_plate.shape, work_photo.shape, 1.0).mean())
    gain = comparison.gain
    plain = overridden is None or is_plain(frames.plate.images[frames.plate.fine])
    verdict, message = _verdict(method, len(matches), inliers, residual, per_px, gain, agreement, coverage,
                                ambiguous, plain)
    if overridden is not None:
        verdict, message = "check", f"plate trusted, scene check overridden: {overridden}; {message}"
    check(cancel)
    report(progress, STAGE, 0.75)

    aligned = _warp_full(plate, full_homography, photo.shape, gain)
    full_valid = coverage_mask(full_homography, plate.shape, photo.shape, VALID_MARGIN_PX)
    report(progress, STAGE, 1.0)
    result = AlignmentReport(
        homography=full_homography, matches=len(matches), inliers=inliers,
        inlier_fraction=inliers / len(matches) if len(matches) else 0.0,
        residual_px=residual * per_px, gain=gain, verdict=verdict, message=message, refined=refined,
        backdrop_agreement=agreement, coverage=coverage, method=method)
    return Alignment(aligned_plate=aligned, valid=full_valid, report=result)


def _verdict(method: str, matches: int, inliers: int, residual_work: float, per_px: float,
             gain: np.ndarray, agreement: float, coverage: float, ambiguous: bool = False,
             plain: bool = True) -> tuple[str, str]:
    """("ok" | "check", one-line message) from the alignment figures.

    plain: the plate shows no texture (a trusted plate used in place may show some).
    """
    gain_text = f"gain R {gain[0]:.2f} G {gain[1]:.2f} B {gain[2]:.2f}"
    residual_text = "residual n/a" if np.isnan(residual_work) else f"residual {residual_work * per_px:.2f} px"
    if method == "features":
        head = f"aligned: {inliers} inliers ({inliers / max(matches, 1):.0%}), {residual_text}, {gain_text}"
    elif method == "dense":
        head = (f"aligned on the backdrop's texture: {inliers} of {matches} tiles agree, {residual_text}, "
                f"{gain_text}")
    elif plain:
        head = (f"plate used in place (plain backdrop: {inliers} matching features and no texture to align on, "
                f"so a small camera move would go unseen): backdrop agrees on {agreement:.0%} of the frame, "
                f"{gain_text}")
    else:
        head = (f"plate used in place (neither features nor the backdrop's texture matched the photo): "
                f"backdrop agrees on {agreement:.0%} of the frame, {gain_text}")
    reasons = []
    if method == "features" and (inliers < STRONG_INLIERS or inliers < 0.3 * matches):
        reasons.append("few matching features")
    if method == "dense" and inliers < STRONG_TILES:
        reasons.append("little backdrop texture to align on")
    if ambiguous:
        reasons.append("the backdrop's pattern repeats, so the plate may sit one repeat off")
    if not np.isnan(residual_work) and residual_work > CHECK_RESIDUAL_WORK_PX:
        reasons.append("the plate does not line up everywhere (camera moved or the scene is not flat)")
    if agreement < OK_AGREEMENT:
        reasons.append(f"photo and plate differ over {1 - agreement:.0%} of the frame")
    if coverage < 0.9:
        reasons.append(f"the plate covers only {coverage:.0%} of the photo")
    if np.any(gain < 0.67) or np.any(gain > 1.5):
        reasons.append("the plate's exposure differs strongly")
    if reasons:
        return "check", f"{head}; check: {'; '.join(reasons)}"
    return "ok", head
