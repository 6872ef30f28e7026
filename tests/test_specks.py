"""Specks: small pieces of the network's matte lying apart from the product are cleared."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import MattingError
from core.pipeline import MatteOptions
from core.specks import SPECK_SHARE, drop_specks


def _matte(h=300, w=400):
    alpha = np.zeros((h, w), np.float32)
    alpha[100:250, 150:250] = 1.0          # the product: 15,000 of alpha
    alpha[240:250, 250:330] = 0.9          # its cable, touching it
    alpha[120:200, 300:340] = 1.0          # a second part apart: 3,200 (21 %)
    alpha[20:30, 20:28] = 0.8              # a leaf that moved: 64 (0.4 %)
    alpha[280:284, 380:396] = 0.5          # dust: 32
    return alpha


def test_pieces_apart_with_little_alpha_are_cleared_and_the_rest_is_untouched():
    alpha = _matte()
    before = alpha.copy()
    cleaned, cleared = drop_specks(alpha)
    assert cleared == pytest.approx((alpha[20:30, 20:28].sum() + alpha[280:284, 380:396].sum()) / alpha.sum())
    assert np.array_equal(alpha, before)                       # the input is not changed
    assert cleaned[20:30, 20:28].max() == 0 and cleaned[280:284, 380:396].max() == 0
    kept = np.ones_like(alpha, bool)
    kept[20:30, 20:28] = kept[280:284, 380:396] = False
    assert np.array_equal(cleaned[kept], alpha[kept])           # product, cable and second part as they were


def test_share_zero_keeps_every_piece_and_a_bigger_share_clears_more():
    alpha = _matte()
    kept, cleared = drop_specks(alpha, 0.0)
    assert kept is alpha and cleared == 0.0
    cleaned, cleared = drop_specks(alpha, 0.3)                  # the second part is 21 % of the product
    assert cleaned[120:200, 300:340].max() == 0 and cleared == pytest.approx(
        (alpha[120:200, 300:340].sum() + alpha[20:30, 20:28].sum() + alpha[280:284, 380:396].sum()) / alpha.sum())


def test_a_large_matte_is_cleaned_on_a_reduced_copy_without_eating_the_product():
    alpha = np.zeros((2400, 3000), np.float32)
    alpha[600:2000, 800:2200] = 1.0
    alpha[100:130, 100:140] = 1.0                               # 1,200 of 1.96 M: a speck
    alpha[2000:2010, 1000:1010] = 0.6                           # a soft fringe touching the product
    cleaned, cleared = drop_specks(alpha)
    assert 0 < cleared < 0.001 and cleaned[100:130, 100:140].max() == 0
    assert np.array_equal(cleaned[130:, :], alpha[130:, :])


def test_the_option_is_checked_and_the_command_line_can_keep_specks():
    from studio.cli import build_parser, matte_options

    assert MatteOptions().speck_share == SPECK_SHARE > 0
    with pytest.raises(MattingError, match="speck_share"):
        MatteOptions(speck_share=1.5)
    args = build_parser().parse_args(["cut", "p.jpg", "--plate", "b.jpg", "-o", "o.png", "--keep-specks"])
    assert matte_options(args).speck_share == 0.0
    args = build_parser().parse_args(["cut", "p.jpg", "--plate", "b.jpg", "-o", "o.png"])
    assert matte_options(args).speck_share == SPECK_SHARE


def test_the_network_path_clears_a_moved_leaf_and_says_so():
    from conftest import render_scene
    from core.pipeline import Pipeline

    if not Pipeline.networks_available():
        pytest.skip("network weights are not installed")
    photo, plate, alpha = render_scene(240, 320, shadow=False)
    photo[20:27, 20:28] = (0.1, 0.5, 0.1)                      # a leaf in the photo only (under 1 %)
    kept = Pipeline().run(photo, plate, MatteOptions(method="network", speck_share=0.0))
    assert kept.alpha[20:27, 20:28].mean() > 0.5              # the network takes the leaf for product...
    cleaned = Pipeline().run(photo, plate, MatteOptions(method="network"))
    assert cleaned.alpha[20:27, 20:28].max() == 0            # ...the speck filter does not
    assert np.abs(cleaned.alpha - kept.alpha)[alpha > 0].max() == 0
    assert any("cleared specks" in note for note in cleaned.notes)
    assert not any("specks" in note for note in kept.notes)
