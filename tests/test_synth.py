"""Synthetic pair generator: determinism, fields, compositing consistency, subsets, real masks."""
from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.synth import (KNOWN_TAGS, SyntheticPair, backdrop_kinds, iter_real_masks, make_large_pair, make_pair,
                        product_kinds)
from core.synth import plants
from core.synth.backdrops import render_backdrop
from core.synth.lathe import random_light
from core.synth.products import render_product
from core.synth.real import choose_rotation

SIZE = (96, 128)
DATA = Path(os.environ.get("MATTING_STUDIO_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_data = pytest.mark.skipif(not (DATA / "bsds500").is_dir(), reason="shared data folder not present")
ARRAYS = ("photo", "plate", "aligned_plate", "alpha", "foreground", "shadow", "homography", "gain")


def _background(pair: SyntheticPair, grow: int = 7) -> np.ndarray:
    """Pixels well away from the object and its shadow (bool HxW)."""
    obj = (pair.alpha > 0).astype(np.uint8)
    obj = cv2.dilate(obj, np.ones((grow, grow), np.uint8)) > 0
    return ~obj & (pair.shadow >= 0.999)


def test_same_seed_gives_identical_pairs_and_different_seeds_differ():
    a, b = make_pair(3, SIZE), make_pair(3, SIZE)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.tags == b.tags
    c = make_pair(4, SIZE)
    assert not np.array_equal(a.photo, c.photo)
    assert not np.array_equal(a.alpha, c.alpha)


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_fields_have_documented_shapes_dtypes_and_ranges(seed):
    pair = make_pair(seed, SIZE, kind="product")
    h, w = SIZE
    for name in ("photo", "plate", "aligned_plate", "foreground", "backdrop"):
        arr = getattr(pair, name)
        assert arr.shape == (h, w, 3) and arr.dtype == np.float32, name
        assert arr.min() >= 0.0 and arr.max() <= 1.0, name
    for name in ("alpha", "shadow"):
        arr = getattr(pair, name)
        assert arr.shape == (h, w) and arr.dtype == np.float32, name
    assert pair.alpha.min() >= 0.0 and pair.alpha.max() <= 1.0
    assert pair.shadow.min() > 0.0 and pair.shadow.max() <= 1.0
    assert pair.homography.shape == (3, 3) and pair.homography.dtype == np.float64
    assert pair.gain.shape == (3,) and pair.gain.dtype == np.float64
    assert np.all((pair.gain >= 0.85) & (pair.gain <= 1.15))
    assert isinstance(pair.tags, frozenset)
    assert {t for t in pair.tags if ":" not in t} <= KNOWN_TAGS
    assert any(t.startswith("product:") for t in pair.tags)
    assert 0.02 < (pair.alpha > 0.5).mean() < 0.8          # a catalogue-sized product


def test_products_sit_low_in_the_frame_like_a_catalogue_shot():
    bottoms = []
    for seed in range(8):
        rows = np.nonzero(make_pair(seed, SIZE, kind="product").alpha.max(1) > 0.5)[0]
        bottoms.append(rows.max() / SIZE[0])
    assert np.median(bottoms) > 0.7


def test_alpha_is_fractional_along_edges():
    pair = make_pair(11, SIZE, kind="product")
    soft = (pair.alpha > 0.02) & (pair.alpha < 0.98)
    edge = cv2.morphologyEx((pair.alpha > 0.5).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    assert soft.sum() > 20
    assert (soft & (edge > 0)).sum() / max(soft.sum(), 1) > 0.5     # mostly on the boundary
    assert len(np.unique(np.round(pair.alpha[soft], 2))) > 20        # many levels, not a few


@pytest.mark.parametrize("kind", product_kinds())
def test_every_product_kind_renders_an_antialiased_layer(kind):
    rng = np.random.default_rng(7)
    layer = render_product(kind, rng, 60, np.array([0.8, 0.3, 0.2], np.float32), random_light(rng))
    assert layer.colour.dtype == np.float32 and layer.alpha.dtype == np.float32
    assert layer.colour.shape == layer.alpha.shape + (3,)
    assert 55 <= layer.alpha.shape[0] <= 90
    assert ((layer.alpha > 0.02) & (layer.alpha < 0.98)).any()
    assert layer.alpha.max() > 0.6


@pytest.mark.parametrize("kind", ["bottle", "box", "can", "jar", "tube", "mug", "headphones"])
def test_opaque_products_have_no_seams_inside(kind):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        layer = render_product(kind, rng, 120, np.array([0.5, 0.5, 0.5], np.float32), random_light(rng))
        deep = cv2.erode((layer.alpha > 0.01).astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2) > 0
        assert (layer.alpha[deep] >= 0.98).all()


@pytest.mark.parametrize("kind", [k for k in backdrop_kinds() if k != "photo"])
def test_every_plain_backdrop_kind_renders(kind):
    backdrop = render_backdrop(kind, np.random.default_rng(2), 64, 80)
    assert backdrop.image.shape == (64, 80, 3) and backdrop.image.dtype == np.float32
    assert 0.0 <= backdrop.image.min() and backdrop.image.max() <= 1.0
    assert backdrop.image.std() > 0.0


def test_photo_recomposes_from_alpha_foreground_and_shadowed_backdrop():
    for seed in (0, 3, 8):
        pair = make_pair(seed, SIZE, kind="product", tags={"shadow"})
        a = pair.alpha[..., None]
        clean = a * pair.foreground + (1 - a) * pair.backdrop * pair.shadow[..., None]
        assert np.abs(pair.photo - clean).mean() < 0.03              # noise + JPEG only
        via_plate = a * pair.foreground + (1 - a) * pair.aligned_plate * pair.shadow[..., None]
        assert np.abs(pair.photo - via_plate).mean() < 0.05


def test_plate_maps_back_through_homography_and_gain():
    h, w = SIZE
    for seed in (0, 1, 2, 3):
        pair = make_pair(seed, SIZE, kind="product")
        back = cv2.warpPerspective(pair.plate, pair.homography, (w, h),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=(-1, -1, -1))
        back /= pair.gain.astype(np.float32)
        mask = _background(pair) & (back.min(2) >= 0)
        mask[:4], mask[-4:], mask[:, :4], mask[:, -4:] = False, False, False, False
        assert mask.sum() > 0.2 * h * w
        assert np.abs(back - pair.photo)[mask].mean() < 0.03
        # without the homography the plate is visibly off (it did move)
        assert not np.allclose(pair.homography, np.eye(3), atol=1e-4)


def test_aligned_plate_is_close_to_backdrop_but_has_its_own_noise():
    pair = make_pair(5, (128, 160), kind="product")
    mask = _background(pair)
    err = np.abs(pair.aligned_plate - pair.backdrop)[mask].mean()
    assert err < 0.03
    photo_noise = (pair.photo - pair.backdrop)[mask].ravel()
    plate_noise = (pair.aligned_plate - pair.backdrop)[mask].ravel()
    photo_noise -= photo_noise.mean()
    plate_noise -= plate_noise.mean()
    corr = float(np.dot(photo_noise, plate_noise) / (np.linalg.norm(photo_noise) * np.linalg.norm(plate_noise)))
    assert abs(corr) < 0.5


def test_photo_and_plate_noise_come_from_independent_banks():
    """The same draw from the two banks is uncorrelated under every flip (a shared bank fooled alignment)."""
    from core.synth.capture import noise_field

    photo = noise_field(np.random.default_rng(3), (256, 256, 3), bank=0)
    plate = noise_field(np.random.default_rng(3), (256, 256, 3), bank=1)
    again = noise_field(np.random.default_rng(3), (256, 256, 3), bank=0)
    np.testing.assert_array_equal(photo, again)
    for flipped in (plate, plate[::-1], plate[:, ::-1], plate[::-1, ::-1]):
        corr = np.corrcoef(photo.ravel(), flipped.ravel())[0, 1]
        assert abs(corr) < 0.02


def test_shadow_subset_darkens_the_backdrop_where_alpha_is_zero():
    for seed in range(4):
        pair = make_pair(seed, SIZE, kind="product", tags={"shadow"})
        assert "shadow" in pair.tags
        assert (pair.shadow[pair.alpha == 0] < 0.9).any()
        assert pair.shadow.min() >= 0.35


def test_transparent_subset_has_large_semi_transparent_areas():
    for seed in range(3):
        pair = make_pair(seed, SIZE, kind="product", tags={"transparent"})
        assert "transparent" in pair.tags
        inside = pair.alpha > 0.02
        semi = (pair.alpha > 0.1) & (pair.alpha < 0.8)
        assert semi.sum() > 0.3 * inside.sum() and semi.sum() > 0.01 * pair.alpha.size


def test_thin_subset_has_structures_a_few_pixels_wide():
    for seed in range(3):
        pair = make_pair(seed, (128, 160), kind="product", tags={"thin"})
        assert "thin" in pair.tags
        mask = (pair.alpha > 0.3).astype(np.uint8)
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        assert ((mask > 0) & (opened == 0)).sum() > 30


def _soft_band_width(alpha: np.ndarray) -> float:
    """Mean distance (px) of the fractional-alpha pixels from the opaque core."""
    dist = cv2.distanceTransform((alpha < 0.98).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[(alpha > 0.02) & (alpha < 0.98)].mean())


def test_fuzzy_subset_has_wide_soft_boundaries():
    for seed in (2, 4):
        fuzzy = make_pair(seed, (128, 160), kind="product", tags={"fuzzy"})
        assert "fuzzy" in fuzzy.tags
        assert _soft_band_width(fuzzy.alpha) > 1.8          # strands reach well beyond a crisp edge
    crisp = make_pair(2, (128, 160), kind="product")
    assert not crisp.tags & {"fuzzy", "blur"}
    assert _soft_band_width(crisp.alpha) < 1.5


def test_close_colour_subset_matches_product_and_backdrop():
    diffs = []
    for seed in range(4):
        pair = make_pair(seed, SIZE, kind="product", tags={"close_colour"})
        assert "close_colour" in pair.tags
        body = pair.alpha > 0.9
        diffs.append(np.median(np.abs(pair.foreground - pair.backdrop).mean(2)[body]))
    assert np.median(diffs) < 0.12


def test_several_forced_tags_at_once():
    pair = make_pair(9, (128, 160), kind="product", tags={"thin", "fuzzy", "shadow"})
    assert {"thin", "fuzzy", "shadow"} <= pair.tags


def test_bad_requests_raise_value_errors_with_a_sentence(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        make_pair(0, SIZE, kind="bottle")
    with pytest.raises(ValueError, match="tags"):
        make_pair(0, SIZE, tags={"sparkly"})
    with pytest.raises(ValueError, match="data"):
        make_pair(0, SIZE, kind="real", data_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="32x32"):
        make_pair(0, (16, 16))


def test_choose_rotation_follows_the_mask_edges():
    mask = np.zeros((60, 40), np.uint8)
    mask[10:30, 5:25] = 255
    upright = np.zeros((60, 40), np.uint8)
    upright[10:30, 5:25] = 200
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)     # as BSDS stores some images
    code = choose_rotation(stored, mask)
    np.testing.assert_array_equal(cv2.rotate(stored, code), upright)
    assert choose_rotation(upright, mask) is None


def test_small_large_pair_has_3_to_2_aspect():
    pair = make_large_pair(0, 0.3)
    h, w = pair.alpha.shape
    assert abs(w / h - 1.5) < 0.01 and abs(h * w / 0.3e6 - 1) < 0.02
    assert pair.photo.dtype == np.float32 and pair.plate.shape == (h, w, 3)
    assert pair.backdrop is None


@pytest.mark.slow
def test_large_pair_12_megapixels_is_fast():
    start = time.perf_counter()
    pair = make_large_pair(1, 12)
    elapsed = time.perf_counter() - start
    h, w = pair.photo.shape[:2]
    assert abs(h * w / 12e6 - 1) < 0.02 and abs(w / h - 1.5) < 0.01
    assert pair.photo.dtype == np.float32 and pair.aligned_plate.dtype == np.float32
    assert elapsed < 15.0


@pytest.mark.data
@needs_data
def test_real_masks_are_listed_from_the_shared_data():
    entries = list(iter_real_masks(DATA))
    assert len(entries) > 300
    assert {e.source for e in entries} == {"davis", "bsds"}
    assert all(e.image_path.is_file() and e.mask_path.is_file() for e in entries[:: 25])


@pytest.mark.data
@needs_data
def test_real_kind_uses_a_real_mask_with_softened_edges():
    for seed in range(2):
        pair = make_pair(seed, SIZE, kind="real", data_dir=DATA)
        assert "real_mask" in pair.tags
        assert pair.alpha.max() > 0.99 and ((pair.alpha > 0.05) & (pair.alpha < 0.95)).sum() > 10
        a = pair.alpha[..., None]
        clean = a * pair.foreground + (1 - a) * pair.backdrop * pair.shadow[..., None]
        assert np.abs(pair.photo - clean).mean() < 0.03
    mixed = make_pair(3, SIZE, kind="real", data_dir=DATA, tags={"transparent"})
    assert {"real_mask", "transparent"} <= mixed.tags                # a glass product joins the real object
    again = make_pair(0, SIZE, kind="real", data_dir=DATA)
    np.testing.assert_array_equal(again.photo, make_pair(0, SIZE, kind="real", data_dir=DATA).photo)


def test_refracting_glass_keeps_its_alpha_and_leaves_other_seeds_alone():
    for seed in range(4):
        flat = make_pair(seed, SIZE, kind="product", tags={"transparent"})
        assert np.array_equal(flat.photo, make_pair(seed, SIZE, kind="product", tags={"transparent"},
                                                    refraction=0.0).photo)      # off: the pairs of earlier versions
        bent = make_pair(seed, SIZE, kind="product", tags={"transparent"}, refraction=1.0)
        assert "refraction" in bent.tags and "refraction" not in flat.tags
        assert np.array_equal(flat.alpha, bent.alpha)                 # the truth is the glass's opacity
        a = bent.alpha[..., None]
        clean = a * bent.foreground + (1 - a) * bent.backdrop * bent.shadow[..., None]
        assert np.abs(bent.photo - clean).mean() < 0.03               # and the equation holds with the plate's backdrop
    for seed in range(4):                                             # nothing opaque refracts
        assert "refraction" not in make_pair(seed, SIZE, kind="product", tags={"thin"}, refraction=1.0).tags
    with pytest.raises(ValueError, match="refraction"):
        make_pair(0, SIZE, refraction=1.5)


def test_ambient_occlusion_darkens_the_gap_between_parts_most_and_an_empty_frame_not_at_all():
    from core.synth.shadows import ambient_occlusion

    bars = np.zeros((160, 160), np.float32)
    bars[20:140, 50:70] = 1.0                                         # two stems with a gap between them
    bars[20:140, 90:110] = 1.0
    shades = [ambient_occlusion([bars], np.random.default_rng(seed)) for seed in range(6)]
    for shade in shades:
        assert shade.shape == bars.shape and shade.dtype == np.float32
        assert 0.65 <= shade.min() and shade.max() <= 1.0
        assert shade[80, 80] < shade[80, 150] and shade[80, 80] < shade[5, 5]   # the gap, not the far backdrop
        assert 1.0 - shade[5, 5] < 0.5 * (1.0 - shade[80, 80])
    assert max(1.0 - s[80, 80] for s in shades) > 0.08                 # strong enough to see, a few percent and up
    assert np.array_equal(ambient_occlusion([np.zeros((64, 64), np.float32)], np.random.default_rng(0)),
                          np.ones((64, 64), np.float32))


def test_occluded_pairs_shade_only_the_backdrop_and_leave_other_seeds_alone():
    for seed in range(3):
        plain = make_pair(seed, SIZE, kind="product", tags={"thin"})
        assert np.array_equal(plain.photo, make_pair(seed, SIZE, kind="product", tags={"thin"}, occlusion=0.0).photo)
        shaded = make_pair(seed, SIZE, kind="product", tags={"thin"}, occlusion=1.0)
        assert "occlusion" in shaded.tags and "occlusion" not in plain.tags
        assert np.array_equal(plain.alpha, shaded.alpha)               # the truth stays: shade is backdrop
        assert (shaded.shadow <= plain.shadow + 1e-6).all()
        near = cv2.dilate((plain.alpha > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        darkening = plain.shadow - shaded.shadow
        assert darkening[near & (plain.alpha <= 0)].mean() > 2 * darkening[~near].mean() > 0
        a = shaded.alpha[..., None]
        clean = a * shaded.foreground + (1 - a) * shaded.backdrop * shaded.shadow[..., None]
        assert np.abs(shaded.photo - clean).mean() < 0.03
    with pytest.raises(ValueError, match="occlusion"):
        make_pair(0, SIZE, occlusion=-0.1)


def _enclosed_holes(solid: np.ndarray) -> int:
    """How many separate patches of backdrop the solid (uint8 0/1) mask encloses."""
    count, _ = cv2.connectedComponents(np.pad(1 - solid, 1, constant_values=1), connectivity=4)
    return count - 2                                                  # minus the solid label and the outside


def test_plants_are_thin_stems_and_leaves_with_backdrop_between_them_and_leave_other_seeds_alone(monkeypatch):
    def render_plant(rng, height, colour, light):
        return render_product("plant", rng, height, np.asarray(colour, np.float32), light)

    light = np.array([0.3, -0.5, 0.8])
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (21, 21))
    holes = {}
    for dense in (0.0, 1.0):
        monkeypatch.setattr(plants, "DENSE_SHARE", dense)
        for seed in range(4):
            layer = render_plant(np.random.default_rng(seed), 240.0, (0.9, 0.3, 0.4), light)
            assert {"thin", "product:plant"} <= layer.tags
            assert layer.alpha.shape[0] >= 240 and layer.colour.shape == layer.alpha.shape + (3,)
            solid = (layer.alpha > 0.5).astype(np.uint8)
            gaps = cv2.morphologyEx(solid, cv2.MORPH_CLOSE, disk) - solid  # backdrop a 10 px closing fills
            holes[dense, seed] = _enclosed_holes(solid)
            if dense:                             # a bouquet: fuller, the backdrop only in narrow enclosed gaps
                assert gaps.sum() > 0.1 * solid.sum() and holes[dense, seed] >= 50
                assert 0.2 < solid.mean() < 0.8
            else:
                assert gaps.sum() > 0.2 * solid.sum()
                assert 0.02 < solid.mean() < 0.5
    assert sum(holes[1.0, seed] for seed in range(4)) > sum(holes[0.0, seed] for seed in range(4))
    monkeypatch.setattr(plants, "DENSE_SHARE", 0.5)
    vased = [render_plant(np.random.default_rng(seed), 120.0, (0.9, 0.3, 0.4), light) for seed in range(12)]
    vased = [layer for layer in vased if "transparent" in layer.tags]
    assert 2 <= len(vased) <= 10                                      # some bunches stand in a clear vase
    for layer in vased:
        bottom = layer.alpha[-layer.alpha.shape[0] // 5:]
        covered = bottom > 0.1
        assert ((bottom < 0.8) & covered).sum() > 0.5 * covered.sum()  # what covers the foot is see-through glass
    for seed in range(3):
        plain = make_pair(seed, SIZE, kind="product")
        assert np.array_equal(plain.photo, make_pair(seed, SIZE, kind="product", plants=0.0).photo)
        plant = make_pair(seed, SIZE, kind="product", plants=1.0)
        assert "product:plant" in plant.tags and "product:plant" not in plain.tags
        a = plant.alpha[..., None]
        clean = a * plant.foreground + (1 - a) * plant.backdrop * plant.shadow[..., None]
        assert np.abs(plant.photo - clean).mean() < 0.03
    glass = make_pair(0, SIZE, kind="product", tags={"transparent"}, plants=1.0)
    assert "product:plant" not in glass.tags                          # asked-for glass stays glass
    with pytest.raises(ValueError, match="plants"):
        make_pair(0, SIZE, plants=2.0)


def test_refraction_shows_the_backdrop_from_beside_the_pixel_and_the_foreground_takes_the_change():
    from core.synth.pairs import Scene, refract

    h, w, m = 40, 60, 8
    canvas = np.zeros((h + 2 * m, w + 2 * m, 3), np.float32)
    canvas[..., 0] = (np.arange(w + 2 * m) % 10 < 5)                  # vertical stripes: refraction shows
    canvas[..., 1] = 0.5
    alpha = np.zeros((h, w), np.float32)
    alpha[10:30, 20:40] = 0.4
    lens = np.zeros((h, w), np.float32)
    lens[10:30, 20:40] = -1.5 * (np.arange(20, 40, dtype=np.float32) + 0.5 - 30)   # a mirroring filled glass
    foreground = np.full((h, w, 3), 0.5, np.float32)
    scene = Scene(canvas, m, foreground, alpha, np.ones((h, w), np.float32), set(), lens)
    fg, seen = refract(scene, h, w)
    backdrop = canvas[m:m + h, m:m + w]
    for y, x in ((15, 22), (20, 37), (25, 30)):
        source = x + m + lens[y, x]
        lo = int(np.floor(source))
        expected = canvas[y + m, lo] * (lo + 1 - source) + canvas[y + m, lo + 1] * (source - lo)
        assert np.allclose(seen[y, x], expected, atol=1e-3)
    outside = alpha == 0
    assert np.array_equal(seen[outside], backdrop[outside]) and np.array_equal(fg[outside], foreground[outside])
    assert np.abs(seen - backdrop)[~outside].mean() > 0.1
    a = alpha[..., None]
    unclipped = np.all((fg > 0) & (fg < 1), axis=2) & ~outside
    assert unclipped.sum() > 100
    lhs = a * fg + (1 - a) * backdrop
    rhs = a * foreground + (1 - a) * seen
    assert np.abs(lhs - rhs)[unclipped].max() < 1e-4
