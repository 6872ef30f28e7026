"""Export composition: crop with padding, colour / image backgrounds, alpha only."""
import numpy as np
import pytest

from core.errors import MattingError
from core.export import ExportOptions, compose, cover, parse_colour, parse_padding, product_box


def _matte():
    alpha = np.zeros((100, 200), np.float32)
    alpha[30:70, 50:90] = 1.0
    alpha[29, 50:90] = 0.5
    fg = np.zeros((100, 200, 3), np.float32)
    fg[..., 0] = 1.0
    return alpha, fg


def test_parse_colour_forms():
    assert parse_colour("#ffffff") == (1.0, 1.0, 1.0)
    assert parse_colour("#f00") == (1.0, 0.0, 0.0)
    assert parse_colour("0, 128, 255") == (0.0, 128 / 255, 1.0)
    assert parse_colour("white") == (1.0, 1.0, 1.0)
    assert parse_colour("backdrop.jpg") is None
    assert parse_colour("300,0,0") is None


def test_parse_padding_pixels_and_percent():
    assert parse_padding("40", 1000) == 40
    assert parse_padding("5%", 1000) == 50
    with pytest.raises(MattingError, match="padding"):
        parse_padding("lots", 10)
    with pytest.raises(MattingError, match="negative"):
        parse_padding("-3", 10)


def test_product_box_with_padding_is_clipped():
    alpha, _ = _matte()
    assert product_box(alpha) == (50, 29, 90, 70)
    assert product_box(alpha, "10") == (40, 19, 100, 80)
    assert product_box(alpha, "100") == (0, 0, 190, 100)
    assert product_box(np.zeros((5, 7), np.float32)) == (0, 0, 7, 5)


def test_compose_transparent_crop_and_alpha_only():
    alpha, fg = _matte()
    rgb, a = compose(alpha, fg, ExportOptions(crop=True, padding="5"))
    assert rgb.shape == (51, 50, 3) and a.shape == (51, 50)
    assert a[0].max() == 0 and a[5, 10] == 0.5 and a[6, 10] == 1.0
    grey, none = compose(alpha, fg, ExportOptions(alpha_only=True))
    assert none is None and grey is alpha


def test_compose_over_colour_and_image():
    alpha, fg = _matte()
    rgb, a = compose(alpha, fg, ExportOptions(background="#0000ff"))
    assert a is None
    np.testing.assert_allclose(rgb[0, 0], (0, 0, 1))
    np.testing.assert_allclose(rgb[50, 60], (1, 0, 0))
    np.testing.assert_allclose(rgb[29, 60], (0.5, 0, 0.5))
    image = np.zeros((10, 10, 3), np.float32)
    image[..., 1] = 1.0
    rgb, _ = compose(alpha, fg, ExportOptions(background="green.png"), background=image)
    np.testing.assert_allclose(rgb[0, 0], (0, 1, 0))


def test_cover_fills_and_centres():
    image = np.zeros((10, 40, 3), np.float32)
    image[:, 18:22] = 1.0
    out = cover(image, (20, 20))
    assert out.shape == (20, 20, 3)
    assert out[10, 10].min() > 0.9 and out[10, 0].max() < 0.1
