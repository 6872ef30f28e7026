"""Screen proxies of a result (core.display): sizes, region re-rendering, hint visibility."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from core.display import (display_shape, make_display_images, render_hints, render_matte_region,
                          resize_to, to_uint8)


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
