"""The striped PNG encoder: every colour type and depth decodes to the same pixels in two decoders."""
import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from core import pngwrite
from core.pngwrite import adler32_combine, encode_png


def _decode(parts) -> tuple:
    data = b"".join(parts)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        icc = im.info.get("icc_profile")
    by_opencv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return by_opencv, icc, data


def _photo_like(shape, dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    ramp = np.linspace(0, top, shape[1])[None, :, None] * np.ones((shape[0], 1, 1))
    noisy = ramp + rng.normal(0, top * 0.02, shape[:2] + (1,))
    return np.clip(noisy * np.ones(shape[2:] or (1,)), 0, top).astype(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_every_colour_type_and_depth_decodes_to_the_same_pixels(monkeypatch, dtype, channels):
    monkeypatch.setattr(pngwrite, "STRIPE_BYTES", 1000)  # many stripes, deflated in threads
    shape = (37, 53) if channels == 1 else (37, 53, channels)
    pixels = _photo_like(shape, dtype)
    if channels == 4:
        pixels[5:20, 10:30, 3] = 0  # transparent, with colour kept (straight alpha)
    parts = encode_png(pixels, threads=2)
    by_opencv, _, data = _decode(parts)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (53, 37)
        if dtype == np.uint8:
            np.testing.assert_array_equal(np.asarray(im), pixels)
    if channels == 2:  # OpenCV decodes grey + alpha as BGRA
        np.testing.assert_array_equal(by_opencv[..., 0], pixels[..., 0])
        np.testing.assert_array_equal(by_opencv[..., 3], pixels[..., 1])
    elif channels >= 3:
        np.testing.assert_array_equal(by_opencv, pixels[..., [2, 1, 0, 3][:channels]])
    else:
        np.testing.assert_array_equal(by_opencv, pixels)


def test_one_stripe_or_many_give_the_same_image_and_the_profile_is_kept(monkeypatch):
    pixels = _photo_like((64, 80, 4), np.uint8, seed=3)
    whole, icc, _ = _decode(encode_png(pixels, icc_profile=b"not a real profile", threads=1))
    assert icc == b"not a real profile"
    monkeypatch.setattr(pngwrite, "STRIPE_BYTES", 321 * 7)  # stripes of 6 rows and a short last one
    striped, _, _ = _decode(encode_png(pixels, threads=3))
    np.testing.assert_array_equal(whole, striped)


def test_adler32_combine_matches_zlib():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 256, 70_001, np.uint8).tobytes(), rng.integers(0, 256, 131_071, np.uint8).tobytes()
    assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    assert adler32_combine(1, zlib.adler32(b), len(b)) == zlib.adler32(b)
    assert adler32_combine(zlib.adler32(a), 1, 0) == zlib.adler32(a)


def test_a_photo_compresses_about_as_well_as_libpng():
    pixels = _photo_like((256, 384, 4), np.uint8, seed=5)
    ours = sum(map(len, encode_png(pixels)))
    ok, theirs = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    assert ok and ours < 1.15 * len(theirs)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 5), np.uint8), np.zeros((4, 4), np.float32), np.zeros((0, 4), np.uint8)])
def test_what_a_png_cannot_hold_is_refused(bad):
    with pytest.raises(ValueError, match="PNG"):
        encode_png(bad)
