"""The network-free path: shadow-aware difference, coarse mask, GrabCut, soft edge, foreground."""
import cv2
import numpy as np

from conftest import iou, render_scene
from core.classical import ClassicalOptions, coarse_mask_from_difference, fill_product_holes, matte_classical
from core.difference import measure_difference
from core.foreground import estimate_foreground, fill_from_confident


def _valid(shape):
    return np.ones(shape[:2], bool)


def test_known_alpha_recovered_within_tolerance():
    photo, plate, alpha = render_scene(seed=1)
    coarse, estimate = matte_classical(photo, plate, _valid(photo.shape))
    assert iou(estimate, alpha) > 0.98
    # SAD over the whole image, in pixels: a few pixels' worth along the edge only.
    assert np.abs(estimate - alpha).mean() < 0.01
    assert estimate.dtype == np.float32 and estimate.min() >= 0 and estimate.max() <= 1


def test_soft_edge_is_fractional_and_close_to_truth():
    photo, plate, alpha = render_scene(seed=2, hole=False, shadow=False, noise=0.004)
    _, estimate = matte_classical(photo, plate, _valid(photo.shape))
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert edge.sum() > 50
    assert np.abs(estimate[edge] - alpha[edge]).mean() < 0.12
    assert ((estimate[edge] > 0.05) & (estimate[edge] < 0.95)).mean() > 0.5


def test_cast_shadow_is_not_taken_for_product():
    photo, plate, alpha = render_scene(seed=3, shadow=True)
    diff = measure_difference(photo, plate, _valid(photo.shape))
    near_product = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    shadow_only = ~near_product
    shadow_only[: photo.shape[0] * 3 // 4] = False  # the shadow lies along the bottom
    assert diff.shadow[shadow_only].max() > 0.9
    _, estimate = matte_classical(photo, plate, _valid(photo.shape))
    assert estimate[shadow_only].max() < 0.05


def test_see_through_hole_stays_open_but_colour_match_inside_is_filled():
    photo, plate, alpha = render_scene(seed=4, hole=True, shadow=False)
    _, estimate = matte_classical(photo, plate, _valid(photo.shape))
    hole = alpha == 0
    hole[: photo.shape[0] // 3] = False
    hole[:, : photo.shape[1] // 3] = False
    hole[:, 2 * photo.shape[1] // 3:] = False
    hole[photo.shape[0] * 3 // 4:] = False
    assert hole.sum() > 100
    assert estimate[hole].mean() < 0.05

    # An enclosed gap whose pixels differ from the plate a little (a colour match) is filled.
    mask = np.zeros((60, 60), np.uint8)
    mask[10:50, 10:50] = 1
    mask[25:35, 25:35] = 0
    score = np.full((60, 60), 0.8, np.float32)
    assert fill_product_holes(mask, score, 1.8)[30, 30] == 0
    score[25:35, 25:35] = 2.5
    assert fill_product_holes(mask, score, 1.8)[30, 30] == 1


def test_empty_scene_gives_empty_mask():
    _, plate, _ = render_scene(seed=5)
    rng = np.random.default_rng(0)
    photo = np.clip(plate + rng.normal(0, 0.01, plate.shape), 0, 1).astype(np.float32)
    diff = measure_difference(photo, plate, _valid(photo.shape))
    assert coarse_mask_from_difference(diff).sum() == 0


def test_invalid_border_does_not_create_product():
    photo, plate, alpha = render_scene(seed=6, shadow=False)
    plate = plate.copy()
    plate[:, :12] = 0  # what a warp leaves where the plate does not cover the photo
    valid = _valid(photo.shape)
    valid[:, :12] = False
    _, estimate = matte_classical(photo, plate, valid)
    assert estimate[:, :12].max() < 0.05
    assert iou(estimate, alpha) > 0.97


def test_fill_from_confident_extrapolates_and_keeps_confident_values():
    values = np.zeros((32, 32, 3), np.float32)
    values[:, :16] = (0.2, 0.4, 0.6)
    weights = np.zeros((32, 32), np.float32)
    weights[:, :16] = 1
    filled = fill_from_confident(values, weights)
    np.testing.assert_allclose(filled[:, :8], 0.2 * np.array([1, 2, 3]) * np.ones((32, 8, 3)), atol=1e-5)
    np.testing.assert_allclose(filled[:, 24:], filled[:, :8], atol=0.02)


def test_foreground_is_decontaminated_at_soft_edges():
    rng = np.random.default_rng(7)
    h, w = 40, 60
    alpha = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
    true_fg = np.empty((h, w, 3), np.float32)
    true_fg[:] = (0.9, 0.1, 0.1)
    plate = np.empty((h, w, 3), np.float32)
    plate[:] = (0.1, 0.2, 0.9)
    photo = alpha[..., None] * true_fg + (1 - alpha[..., None]) * plate
    photo = np.clip(photo + rng.normal(0, 0.003, photo.shape), 0, 1).astype(np.float32)
    fg = estimate_foreground(photo, plate, alpha, np.ones((h, w), bool))
    soft = (alpha > 0.1) & (alpha < 0.95)
    # No backdrop blue bleeds into the foreground, unlike the raw photo.
    assert np.abs(fg[soft] - true_fg[soft]).max() < 0.1
    assert np.abs(photo[soft] - true_fg[soft]).mean() > 0.2


def test_hysteresis_thresholds_are_options():
    photo, plate, alpha = render_scene(seed=8)
    strict = ClassicalOptions(seed_threshold=1e9)
    coarse, _ = matte_classical(photo, plate, _valid(photo.shape), strict)
    assert coarse.sum() == 0


def test_network_prior_fills_a_colour_match_the_difference_cannot_see():
    photo, plate, alpha = render_scene(seed=9, hole=False, shadow=False)
    h, w = alpha.shape
    # Paint a patch of the product in the backdrop's own colours: invisible to the difference.
    patch = (slice(h // 2 - 10, h // 2 + 10), slice(w // 2 - 10, w // 2 + 10))
    photo = photo.copy()
    photo[patch] = plate[patch]
    _, plain = matte_classical(photo, plate, _valid(photo.shape))
    assert plain[patch].mean() < 0.5
    prior = cv2.GaussianBlur(alpha, (0, 0), 1.0)  # a network that knows the shape
    _, helped = matte_classical(photo, plate, _valid(photo.shape), prior=prior)
    assert helped[patch].mean() > 0.95
    # ...and a confident prior detached from the product does not add backdrop.
    stray = prior.copy()
    stray[5:25, 5:25] = 1.0
    _, guarded = matte_classical(photo, plate, _valid(photo.shape), prior=stray)
    assert guarded[5:25, 5:25].max() < 0.05


def test_network_backdrop_drops_a_deep_shadow_but_keeps_a_thin_cable():
    """Where the network is sure of backdrop over a wide area (a shadow too deep for the shadow
    test) the hybrid trusts it; a cable too thin for the network stays."""
    photo, plate, alpha = render_scene(seed=12, hole=False, shadow=False)
    h, w = alpha.shape
    photo, alpha = photo.copy(), alpha.copy()
    shadow = np.zeros((h, w), np.float32)
    cv2.ellipse(shadow, (w // 2, h - 12), (w // 3, 10), 0, 0, 360, 1.0, -1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 3.0) * (alpha < 0.01)
    photo *= (1.0 - 0.85 * shadow)[..., None]  # 15% of the light left: deeper than SHADOW_MIN_RATIO
    cable = np.zeros((h, w), np.float32)
    cv2.line(cable, (8, 10), (w // 4, 40), 1.0, 2, cv2.LINE_AA)
    photo = cable[..., None] * 0.05 + (1.0 - cable[..., None]) * photo
    deep = shadow > 0.5
    prior = cv2.GaussianBlur(alpha, (0, 0), 1.5)  # the network sees the body, not the cable
    alpha = np.maximum(alpha, cable)
    _, plain = matte_classical(photo, plate, _valid(photo.shape))
    assert plain[deep].mean() > 0.5  # the failure this is for: the plate difference takes it as product
    _, hybrid = matte_classical(photo, plate, _valid(photo.shape), prior=prior)
    assert hybrid[deep].mean() < 0.05
    assert hybrid[cable > 0.9].mean() > 0.8
    assert iou(hybrid, alpha) > 0.95


def test_thin_cable_survives_grabcut():
    photo, plate, alpha = render_scene(seed=10, hole=False, shadow=False)
    h, w = alpha.shape
    cable = np.zeros((h * 4, w * 4), np.float32)
    cv2.line(cable, (w * 2, h * 3), (w * 3, h * 4 - 8), 1.0, 6, cv2.LINE_AA)  # 1.5 px wide, hanging off
    cable = cv2.resize(cable, (w, h), interpolation=cv2.INTER_AREA)
    black = np.zeros(3, np.float32)
    photo = (cable[..., None] * black + (1 - cable[..., None]) * photo).astype(np.float32)
    _, estimate = matte_classical(photo, plate, _valid(photo.shape))
    on_cable = cable > 0.9
    on_cable[: int(h * 0.85)] = False  # the part away from the product body
    assert on_cable.sum() > 10
    assert estimate[on_cable].mean() > 0.7
