"""Plate alignment on tiny seeded synthetic scenes, plus the real hand-held frames when present."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.align import AlignOptions, align_plate
from core.align_dense import correlate
from core.errors import AlignmentError
from core.jobs import CancelToken, Cancelled

H, W, MARGIN = 360, 480, 40
TRUE_GAIN = np.array([1.08, 0.97, 0.90])


def textured_backdrop(seed: int, h: int = H + 2 * MARGIN, w: int = W + 2 * MARGIN) -> np.ndarray:
    """HxWx3 float32 in [0.1, 0.8]: multi-scale coloured noise with random shapes, like fabric or a room."""
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.float32)
    for sigma, amplitude in [(25, 0.12), (6, 0.07), (1.5, 0.04)]:
        noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        image += amplitude * noise / noise.std()
    for _ in range(60):
        colour = tuple(float(c) for c in rng.uniform(-0.25, 0.25, 3))
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(3, 25)), colour, -1, cv2.LINE_AA)
        else:
            corner = (centre[0] + int(rng.integers(5, 40)), centre[1] + int(rng.integers(5, 40)))
            cv2.rectangle(image, centre, corner, colour, -1, cv2.LINE_AA)
    return np.clip(image + 0.45, 0.1, 0.8)


def woven_backdrop(seed: int, h: int = H + 2 * MARGIN, w: int = W + 2 * MARGIN) -> np.ndarray:
    """A green cloth: a fine plain weave (5.5 px threads), faintly uneven threads and soft folds, std ~6/255.

    The weave repeats every few pixels, so ORB finds no feature it can match unambiguously,
    and only the faint unevenness tells the true shift from one off by a thread period.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    k = np.float32(2 * np.pi / 5.5)
    weave = np.sin(k * xx) * np.sin(k * yy)
    threads = cv2.resize(rng.standard_normal((h, w // 16)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    folds = np.sin((0.8 * xx + 0.6 * yy) * np.float32(2 * np.pi / 300))
    tone = 1.0 + 0.08 * weave + 0.015 * threads + 0.03 * folds
    return (tone[..., None] * np.float32([0.25, 0.55, 0.28])).astype(np.float32)


def plain_backdrop(h: int = H + 2 * MARGIN, w: int = W + 2 * MARGIN) -> np.ndarray:
    """A paper sweep: warm colour with a smooth light fall-off and no texture."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    falloff = 1.0 - 0.25 * (((xx - w / 2) / w) ** 2 + ((yy - h / 3) / h) ** 2) - 0.1 * yy / h
    return (falloff[..., None] * np.float32([0.85, 0.75, 0.55])).astype(np.float32)


def true_homography(dx: float = 4.3, dy: float = -2.7, degrees: float = 1.0, scale: float = 1.012) -> np.ndarray:
    """Photo -> plate: a small rotation and zoom about the centre, a shift, a hint of perspective."""
    c, s = scale * np.cos(np.radians(degrees)), scale * np.sin(np.radians(degrees))
    cx, cy = (W - 1) / 2, (H - 1) / 2
    about_centre = np.array([[c, -s, cx - c * cx + s * cy + dx], [s, c, cy - s * cx - c * cy + dy], [0, 0, 1]])
    return about_centre @ np.array([[1, 0, 0], [0, 1, 0], [2e-6, -3e-6, 1]])


def add_product(photo: np.ndarray, seed: int, shadow: bool = True) -> np.ndarray:
    """Paste a textured bottle-like blob (and the shadow it casts) into the photo."""
    h, w = photo.shape[:2]
    out = photo.copy()
    if shadow:
        shade = np.zeros((h, w), np.float32)
        cv2.ellipse(shade, (int(w * 0.58), int(h * 0.8)), (int(w * 0.18), int(h * 0.07)), 0, 0, 360, 1.0, -1)
        shade = cv2.GaussianBlur(shade, (0, 0), 8)
        out *= (1.0 - 0.45 * shade)[..., None]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(w * 0.5), int(h * 0.5)), (int(w * 0.13), int(h * 0.3)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
    texture = textured_backdrop(seed + 200, h, w)[..., ::-1] * np.float32([1.1, 0.6, 0.5])
    return np.clip(mask * texture + (1 - mask) * out, 0, 1).astype(np.float32)


def make_pair(seed: int = 0, homography: np.ndarray | None = None, gain=TRUE_GAIN, plain: bool = False,
              noise: float = 0.01, woven: bool = False):
    """(photo, plate, photo->plate homography): the plate is the backdrop seen through ``homography``."""
    rng = np.random.default_rng(seed + 7)
    canvas = plain_backdrop() if plain else woven_backdrop(seed) if woven else textured_backdrop(seed)
    homography = true_homography() if homography is None else homography
    to_photo = np.array([[1, 0, -MARGIN], [0, 1, -MARGIN], [0, 0, 1]], np.float64)
    plate = cv2.warpPerspective(canvas, homography @ to_photo, (W, H), flags=cv2.INTER_CUBIC)
    backdrop = canvas[MARGIN:MARGIN + H, MARGIN:MARGIN + W] * np.float32(gain)
    photo = add_product(backdrop.astype(np.float32), seed)
    photo += rng.normal(0, noise, photo.shape).astype(np.float32)
    plate += rng.normal(0, noise, plate.shape).astype(np.float32)
    return np.clip(photo, 0, 1), np.clip(plate, 0, 1), homography


def grid_error(estimated: np.ndarray, truth: np.ndarray, w: int = W, h: int = H) -> float:
    """Largest distance (plate pixels) between the two mappings over a grid covering the photo."""
    xs, ys = np.meshgrid(np.linspace(0, w - 1, 7), np.linspace(0, h - 1, 5))
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).reshape(-1, 1, 2)
    a = cv2.perspectiveTransform(points, estimated)
    b = cv2.perspectiveTransform(points, truth)
    return float(np.linalg.norm(a - b, axis=2).max())


def test_recovers_known_homography_and_gain():
    photo, plate, truth = make_pair(seed=1)
    result = align_plate(photo, plate)
    report = result.report
    assert grid_error(report.homography, truth) < 0.5
    assert np.allclose(report.gain, TRUE_GAIN, rtol=0.02), report.gain
    assert report.verdict == "ok", report.message
    assert report.method == "features" and report.inliers >= 100
    assert report.residual_px < 0.5
    assert result.aligned_plate.shape == photo.shape and result.aligned_plate.dtype == np.float32
    assert result.valid.shape == photo.shape[:2] and result.valid.dtype == bool
    # far from the product and its shadow, the aligned plate reproduces the photo
    corner = (slice(10, 90), slice(10, 120))
    assert np.abs(result.aligned_plate[corner] - photo[corner]).mean() < 0.02


def test_fine_low_contrast_weave_is_aligned_by_its_texture():
    """A woven cloth gives ORB nothing to match; the backdrop's texture still pins the plate down."""
    truth = true_homography(dx=15.0, dy=-6.0, degrees=0.5, scale=1.0)
    photo, plate, _ = make_pair(seed=12, homography=truth, woven=True)
    assert cv2.cvtColor(plate, cv2.COLOR_RGB2GRAY).std() < 10 / 255  # low contrast indeed
    result = align_plate(photo, plate)
    report = result.report
    assert report.method == "dense", report.message
    assert grid_error(report.homography, truth) < 1.0
    assert np.allclose(report.gain, TRUE_GAIN, rtol=0.03), report.gain
    assert report.verdict == "ok", report.message
    corner = (slice(10, 90), slice(10, 120))
    assert np.abs(result.aligned_plate[corner] - photo[corner]).mean() < 0.015


def test_tile_correlation_finds_known_subpixel_shifts():
    """correlate(photo, plate) returns d with plate(x) = photo(x - d): to a tenth of a pixel near the
    start, and within half a pixel further out (the window pulls the peak in; a second pass fixes that)."""
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.standard_normal((96, 96)).astype(np.float32), (0, 0), 1.5)
    shifts = np.array([(0.6, -0.3), (-1.25, 0.8), (0.0, 0.4), (5.0, -3.0)])
    photo = np.stack([texture[32:64, 32:64]] * len(shifts))
    plate = np.stack([cv2.warpAffine(texture, np.float32([[1, 0, dx], [0, 1, dy]]), (96, 96),
                                     flags=cv2.INTER_CUBIC)[32:64, 32:64] for dx, dy in shifts])
    found, clarity = correlate(photo, plate, np.outer(np.hanning(32), np.hanning(32)).astype(np.float32))
    error = np.abs(found - shifts).max(axis=1)
    assert np.all(error[:3] < 0.1) and error[3] < 0.5, found
    assert np.all(clarity > 2.0)


def test_plate_of_another_scene_is_rejected_with_a_readable_message():
    photo, _, _ = make_pair(seed=2)
    _, other_plate, _ = make_pair(seed=3)
    with pytest.raises(AlignmentError) as error:
        align_plate(photo, other_plate)
    message = str(error.value)
    assert "does not show the same backdrop" in message and "plate" in message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_blank_plate_is_rejected(value):
    photo, _, _ = make_pair(seed=4)
    with pytest.raises(AlignmentError, match="plate"):
        align_plate(photo, np.full_like(photo, value))


def test_plain_backdrop_on_a_tripod_is_used_in_place():
    identity = np.eye(3)
    photo, plate, _ = make_pair(seed=5, homography=identity, plain=True, gain=(1.04, 1.0, 0.96), noise=0.004)
    result = align_plate(photo, plate)
    report = result.report
    assert report.method == "in-place"
    assert report.verdict in ("ok", "check")
    assert grid_error(report.homography, identity) < 1.0
    assert np.allclose(report.gain, (1.04, 1.0, 0.96), rtol=0.02), report.gain
    assert result.valid.mean() > 0.97


@pytest.mark.parametrize("level", [1.0, 0.015])
def test_blown_out_white_or_black_velvet_backdrop_is_accepted(level):
    """High-key white seamless and black velvet plates are empty-looking frames, but legitimate."""
    rng = np.random.default_rng(11)
    backdrop = np.full((H, W, 3), level, np.float32)
    photo = np.clip(add_product(backdrop, seed=11, shadow=False) + rng.normal(0, 0.003, backdrop.shape), 0, 1)
    plate = np.clip(backdrop + rng.normal(0, 0.003, backdrop.shape), 0, 1).astype(np.float32)
    result = align_plate(photo.astype(np.float32), plate)
    assert result.report.method == "in-place"
    assert result.report.verdict in ("ok", "check")
    assert grid_error(result.report.homography, np.eye(3)) < 1.0
    assert result.valid.mean() > 0.97


def test_valid_is_false_where_the_plate_does_not_cover_the_photo():
    shift = np.array([[1, 0, 14.0], [0, 1, 0], [0, 0, 1]])  # photo x maps to plate x + 14
    photo, plate, truth = make_pair(seed=6, homography=shift, gain=(1, 1, 1))
    result = align_plate(photo, plate)
    assert grid_error(result.report.homography, truth) < 0.5
    assert not result.valid[:, W - 14:].any()
    assert result.valid[4:-4, 4:W - 20].all()
    assert result.report.coverage == pytest.approx(1 - 16 / W, abs=0.01)


def test_plate_at_half_resolution_aligns():
    photo, plate, truth = make_pair(seed=7)
    half = cv2.resize(plate, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    report = align_plate(photo, half).report
    # full-size plate pixel centres -> half-size plate pixel centres
    to_half = np.array([[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]])
    assert grid_error(report.homography, to_half @ truth) < 0.35
    assert report.verdict in ("ok", "check")


def test_shift_beyond_the_limit_is_rejected():
    photo, plate, _ = make_pair(seed=8)
    with pytest.raises(AlignmentError, match="shifted"):
        align_plate(photo, plate, AlignOptions(max_shift_fraction=0.005))


def test_pre_cancelled_token_raises_cancelled():
    photo, plate, _ = make_pair(seed=9)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        align_plate(photo, plate, cancel=token)


def test_progress_is_reported_in_order():
    photo, plate, _ = make_pair(seed=10)
    calls = []
    align_plate(photo, plate, progress=lambda stage, fraction: calls.append((stage, fraction)))
    fractions = [f for _, f in calls]
    assert {stage for stage, _ in calls} == {"align"}
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("MATTING_STUDIO_DATA", default))


def load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


@pytest.mark.data
@pytest.mark.slow
def test_hand_held_frames_align_to_their_plate():
    folder = data_dir() / "bgm-v1-handheld"
    if not (folder / "plate.png").exists():
        pytest.skip(f"{folder} not present")
    plate = load_rgb(folder / "plate.png")
    for path in sorted(folder.glob("*_img.png")):
        report = align_plate(load_rgb(path), plate).report
        assert report.verdict != "failed", report.message
        assert report.residual_px < 1.5, (path.name, report.message)
        assert report.inliers >= 200 and report.inlier_fraction > 0.5, (path.name, report.message)
