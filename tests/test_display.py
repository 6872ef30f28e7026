"""Screen proxies of a result (core.display): sizes, region re-rendering, hint visibility."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.display import (detail_shape, display_shape, make_display_images, render_detail, render_hints,
                          render_matte_region, resize_to, to_uint8)


def _result(h=300, w=500, seed=1):
    rng = np.random.default_rng(seed)
    photo = rng.random((h, w, 3), dtype=np.float32)
    alpha = np.zeros((h, w), np.float32)
    alpha[50:250, 100:400] = 1.0
    return SimpleNamespace(photo=photo, aligned_plate=photo * 0.5, valid=np.ones((h, w), bool),
                           coarse_mask=alpha, alpha=alpha, foreground=photo)


def test_display_shape_caps_the_long_side():
    assert display_shape(4000, 6000, 2048) == (1365, 2048)
    assert display_shape(300, 500, 2048) == (300, 500)


def test_display_images_are_uint8_proxies_of_the_full_size():
    result = _result()
    display = make_display_images(result, size=(1000, 600), max_side=400)
    assert display.photo.shape == (240, 400, 3) and display.photo.dtype == np.uint8
    assert display.cutout.shape == (240, 400, 4) and display.alpha.shape == (240, 400)
    assert display.scale == 0.4
    assert display.cutout[120, 200, 3] == 255 and display.cutout[5, 5, 3] == 0
    assert display.difference.max() > 0


def test_region_render_matches_a_full_render():
    result = _result()
    shape = (150, 250)
    full = to_uint8(resize_to(result.alpha, shape))
    box, alpha_patch, cutout_patch = render_matte_region(result.alpha, result.foreground, (100, 40, 220, 140), shape)
    x0, y0, x1, y1 = box
    assert (x0, y0) == (50, 20) and alpha_patch.shape == (y1 - y0, x1 - x0)
    assert cutout_patch.shape == (y1 - y0, x1 - x0, 4)
    assert np.abs(alpha_patch.astype(int) - full[y0:y1, x0:x1]).max() <= 1


def test_thin_hints_stay_visible_when_shrunk():
    hints = np.zeros((1000, 1000), np.uint8)
    hints[500, 100:900] = 1      # a 1 px foreground line
    hints[700:702, 100:900] = 2  # a background line
    box, patch = render_hints(hints, (100, 100))
    assert box == (0, 0, 100, 100)
    assert (patch[50, 10:90, 3] > 0).all() and patch[50, 50, 1] > patch[50, 50, 0]
    assert patch[70, 50, 0] > patch[70, 50, 1] and patch[10, 10, 3] == 0


def test_detail_shape_is_screen_sized_and_capped():
    assert detail_shape((100, 50, 700, 450), 1.0) == (400, 600)
    assert detail_shape((100, 50, 700, 450), 4.0) == (400, 600)      # never finer than the photo
    assert detail_shape((0, 0, 1000, 800), 0.5) == (400, 500)
    h, w = detail_shape((0, 0, 6000, 4000), 1.0, max_pixels=6_000_000)
    assert h * w <= 6_000_000 * 1.001 and abs(w / h - 1.5) < 0.01


def test_detail_is_the_exact_full_resolution_crop():
    result = _result()
    box, tiles = render_detail(result, ("photo", "alpha", "cutout", "difference"), (90, 40, 290, 160),
                               (500, 300), (120, 200))
    assert box == (90, 40, 290, 160)
    assert np.array_equal(tiles["photo"], to_uint8(result.photo[40:160, 90:290]))
    assert np.array_equal(tiles["alpha"], to_uint8(result.alpha[40:160, 90:290]))
    assert tiles["cutout"].shape == (120, 200, 4) and tiles["difference"].shape == (120, 200, 3)
    assert tiles["cutout"][0, 0, 3] == 0 and tiles["cutout"][100, 100, 3] == 255


def test_detail_uses_the_touched_up_matte_and_shrinks_to_the_screen():
    result = _result()
    alpha = result.alpha.copy()
    alpha[100:120, 200:220] = 0.0  # a touch-up removed a patch
    _, tiles = render_detail(result, ("alpha",), (190, 90, 230, 130), (500, 300), (40, 40), alpha=alpha)
    assert tiles["alpha"][10:30, 10:30].max() == 0 and tiles["alpha"][0:10].min() == 255
    _, small = render_detail(result, ("photo",), (0, 0, 400, 200), (500, 300), (100, 200))
    assert small["photo"].shape == (100, 200, 3)
    assert np.abs(small["photo"].astype(int) - to_uint8(resize_to(result.photo[:200, :400], (100, 200)))).max() <= 1


def test_detail_of_a_reduced_working_resolution_covers_the_box():
    result = _result()  # 500 x 300 working resolution of a 1000 x 600 photo
    box, tiles = render_detail(result, ("coarse_mask",), (101, 51, 301, 151), (1000, 600), (100, 200))
    assert box == (100.0, 50.0, 302.0, 152.0)  # whole working pixels: the tile lands exactly
    assert tiles["coarse_mask"].shape == (51, 101)  # never enlarged beyond the working resolution
    with pytest.raises(ValueError, match="trimap"):
        render_detail(result, ("trimap",), (0, 0, 10, 10), (500, 300), (10, 10))
