"""See-through areas: the matte's level is re-measured from the backdrop texture seen through them."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.pipeline import MatteOptions
from core.transmission import GAIN, MAX_SHIFT, relevel_see_through

COLOUR = np.array([0.62, 0.42, 0.30], np.float32)


def _backdrop(rng, h, w, texture=0.06):
    """A backdrop of one colour with a fine fabric-like texture (0 for plain paper)."""
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    grain *= texture / max(float(grain.std()), 1e-6)
    return np.clip(COLOUR + grain[..., None] * COLOUR / COLOUR.mean(), 0, 1).astype(np.float32)


def _disc(h, w, radius_share=0.3):
    yy, xx = np.mgrid[:h, :w]
    r = radius_share * min(h, w)
    return np.clip(r + 0.5 - np.hypot(yy - h / 2, xx - w / 2), 0, 1).astype(np.float32)


def _shoot(rng, backdrop, noise=0.01):
    return np.clip(backdrop + rng.normal(0, noise, backdrop.shape), 0, 1).astype(np.float32)


def _glass_pair(h=384, w=512, opacity=0.35, texture=0.06, seed=0, through=None):
    """(photo, plate, disc): a clear disc of the backdrop's own colour and ``opacity`` over a textured
    backdrop; ``through`` replaces what the disc shows of the backdrop (refraction)."""
    rng = np.random.default_rng(seed)
    backdrop = _backdrop(rng, h, w, texture)
    disc = _disc(h, w)
    behind = backdrop
    if through is not None:
        inside = (disc > 0)[..., None]
        behind = np.where(inside, through(backdrop), backdrop)
    a = (opacity * disc)[..., None]
    scene = a * COLOUR + (1 - a) * behind
    return _shoot(rng, scene), _shoot(rng, backdrop), disc


def _network_guess(disc, level):
    """A matte as the network draws it: the disc's shape at the wrong level."""
    return (level * disc).astype(np.float32)


def test_a_clear_disc_on_its_own_colour_is_re_levelled_toward_its_opacity():
    photo, plate, disc = _glass_pair(opacity=0.35)
    guess = _network_guess(disc, 0.5)
    alpha, moved = relevel_see_through(photo, plate, guess)
    assert len(moved) == 1
    assert moved[0].measured == pytest.approx(0.35, abs=0.04)
    assert moved[0].before == pytest.approx(0.5, abs=0.01)
    assert moved[0].after == pytest.approx(0.5 + GAIN * (moved[0].measured - 0.5), abs=1e-4)
    inside = disc > 0.99
    assert alpha[inside].mean() == pytest.approx(moved[0].after, abs=0.01)
    assert np.abs(alpha[inside].mean() - 0.35) < np.abs(guess[inside].mean() - 0.35) - 0.08
    assert np.array_equal(alpha[guess == 0], guess[guess == 0])   # the backdrop stays clear
    assert alpha is not guess and guess[inside].mean() == pytest.approx(0.5)  # the input is not changed


def test_a_denser_disc_is_raised_and_a_large_photo_reads_the_same():
    photo, plate, disc = _glass_pair(1536, 2048, opacity=0.7, texture=0.06, seed=3)
    photo = cv2.GaussianBlur(photo, (0, 0), 3.0)   # texture at photo scale is coarser than one pixel
    plate = cv2.GaussianBlur(plate, (0, 0), 3.0)
    alpha, moved = relevel_see_through(photo, plate, _network_guess(disc, 0.55))
    assert len(moved) == 1 and moved[0].measured == pytest.approx(0.7, abs=0.05)
    assert alpha[disc > 0.99].mean() > 0.6


@pytest.mark.parametrize("case", ["plain backdrop", "refraction", "too far", "small area"])
def test_what_the_texture_cannot_tell_is_left_alone(case):
    kwargs, level, radius = {}, 0.5, 0.3
    if case == "plain backdrop":
        kwargs = {"texture": 0.0}
    elif case == "refraction":                     # the disc shows the backdrop mirrored, not what lies behind it
        kwargs = {"through": lambda b: b[::-1, ::-1].copy()}
    elif case == "too far":                        # 0.35 measured against 0.8 drawn: no single level is trusted
        level = 0.8
    photo, plate, disc = _glass_pair(**kwargs)
    if case == "small area":
        disc = _disc(*disc.shape, radius_share=0.02)
    guess = _network_guess(disc, level)
    alpha, moved = relevel_see_through(photo, plate, guess)
    assert moved == () and np.array_equal(alpha, guess)
    assert MAX_SHIFT < 0.8 - 0.35


def test_a_shadow_the_matte_half_took_is_not_raised():
    rng = np.random.default_rng(5)
    backdrop = _backdrop(rng, 384, 512)
    disc = _disc(384, 512)
    shade = 1.0 - 0.45 * disc[..., None]                      # a shadow: the backdrop at 55 %
    photo, plate = _shoot(rng, backdrop * shade), _shoot(rng, backdrop)
    guess = _network_guess(disc, 0.3)                         # texture alone would read 0.45 here
    alpha, moved = relevel_see_through(photo, plate, guess)
    assert moved == () and np.array_equal(alpha, guess)


def test_invalid_plate_areas_do_not_count():
    photo, plate, disc = _glass_pair(opacity=0.35)
    valid = np.zeros(disc.shape, bool)
    valid[:, :40] = True                                      # the plate covers a strip of backdrop only
    alpha, moved = relevel_see_through(photo, plate, _network_guess(disc, 0.5), valid)
    assert moved == ()


def test_the_option_is_on_by_default_and_the_command_line_can_turn_it_off():
    from studio.cli import build_parser, matte_options

    assert MatteOptions().see_through
    args = build_parser().parse_args(["cut", "p.jpg", "--plate", "b.jpg", "-o", "o.png", "--no-see-through"])
    assert not matte_options(args).see_through
    args = build_parser().parse_args(["batch", "photos", "--plate", "b.jpg", "-o", "out"])
    assert matte_options(args).see_through


def test_the_network_path_re_levels_and_says_so(monkeypatch):
    from core.models import inference
    from core.pipeline import Pipeline

    if not Pipeline.networks_available():
        pytest.skip("network weights are not installed")
    photo, plate, disc = _glass_pair(opacity=0.35)
    drawn = inference.RefinedMatte(alpha=_network_guess(disc, 0.5), foreground=photo.copy(),
                                   error=np.zeros((8, 8), np.float32), refined_tiles=0)
    monkeypatch.setattr(inference, "refine_matte", lambda *a, **k: drawn)
    plain = Pipeline().run(photo, plate, MatteOptions(method="network", see_through=False))
    assert np.array_equal(plain.alpha, drawn.alpha)
    assert not any("see-through" in note for note in plain.notes)
    measured = Pipeline().run(photo, plate, MatteOptions(method="network"))
    inside = disc > 0.99
    assert measured.alpha[inside].mean() < 0.45
    assert any("re-levelled see-through areas" in note and "0.50 ->" in note for note in measured.notes)
    assert "see-through" in measured.timings


def test_a_matte_of_many_small_soft_pieces_is_left_alone():
    photo, plate, disc = _glass_pair()
    rng = np.random.default_rng(7)
    speckle = np.where((disc > 0) & (rng.random(disc.shape) < 0.3), 0.5, 0.0).astype(np.float32)
    count = cv2.connectedComponents((speckle > 0).astype(np.uint8), connectivity=8)[0]
    assert count > 1000 and (speckle == 0).mean() > 0.7     # over the glass only: the backdrop calibrates
    alpha, moved = relevel_see_through(photo, plate, speckle)
    assert moved == () and alpha is speckle
