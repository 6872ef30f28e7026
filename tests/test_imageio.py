"""core.imageio: every format, orientation, bit depth and colour mode loads as a viewer shows it;
broken inputs raise ImageReadError naming the file; writes are atomic and never clobber."""
from __future__ import annotations

import errno
import io
import os
import struct

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from core import imageio, imagewrite
from core.errors import ImageReadError, ImageWriteError
from core.imageio import (LoadedImage, atomic_output, load_image, orient, read_image_size, to_uint8, to_uint16,
                          write_image)

H, W = 12, 17  # odd sizes catch transposed width/height


def random_rgb8(h=H, w=W, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def smooth_rgb8(h=32, w=48) -> np.ndarray:
    """A gradient JPEG reproduces within a few levels."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 255 // (h + w - 2)], -1).astype(np.uint8)


def marked(h=40, w=60) -> np.ndarray:
    """White with a red block in the top-left corner (JPEG-proof)."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[:10, :10] = (255, 0, 0)
    return img


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def as8(array: np.ndarray) -> np.ndarray:
    return to_uint8(array).astype(int)


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------------------------------------- formats

@pytest.mark.parametrize("fmt,suffix,options", [
    ("PNG", ".png", {}), ("TIFF", ".tif", {}), ("WEBP", ".webp", {"lossless": True}), ("BMP", ".bmp", {}),
])
def test_lossless_formats_load_exactly(tmp_path, fmt, suffix, options):
    rgb = random_rgb8()
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(rgb).save(path, fmt, **options)
    image = load_image(path)
    assert isinstance(image, LoadedImage)
    assert image.format == fmt and image.bit_depth == 8 and image.alpha is None and image.path == path
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (H, W, 3)
    assert image.size == (W, H) and image.megapixels == pytest.approx(H * W / 1e6)
    np.testing.assert_array_equal(as8(image.pixels), rgb)
    assert read_image_size(path) == (W, H)


def test_jpeg_loads_close_to_source(tmp_path):
    rgb = smooth_rgb8()
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=95, subsampling=0)
    image = load_image(path)
    assert image.format == "JPEG" and image.bit_depth == 8
    assert np.abs(as8(image.pixels) - rgb).max() <= 4


def test_jpeg_with_trailing_bytes_after_the_end_marker_loads(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.fromarray(smooth_rgb8()).save(path, quality=95)
    path.write_bytes(path.read_bytes() + b"\x00" * 64)  # some cameras pad or append data
    assert load_image(path).pixels.shape == (32, 48, 3)


@pytest.mark.parametrize("suffix,depth,alpha", [
    (".png", 8, False), (".png", 8, True), (".png", 16, False), (".png", 16, True),
    (".tif", 8, False), (".tif", 8, True), (".tif", 16, True), (".webp", 8, True),
])
def test_write_then_load_round_trips(tmp_path, suffix, depth, alpha):
    rng = np.random.default_rng(1)
    pixels = rng.random((H, W, 3)).astype(np.float32)
    matte = rng.random((H, W)).astype(np.float32) if alpha else None
    path = write_image(tmp_path / f"cut{suffix}", pixels, alpha=matte, bit_depth=depth)
    image = load_image(path)
    step = 1 / (255 if depth == 8 else 65535)
    assert image.bit_depth == depth
    np.testing.assert_allclose(image.pixels, pixels, atol=step / 2 + 1e-6)
    if alpha:  # straight alpha: colours under semi-transparent pixels come back unchanged
        np.testing.assert_allclose(image.alpha, matte, atol=step / 2 + 1e-6)
    else:
        assert image.alpha is None


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_lossy_writes_stay_close(tmp_path, suffix):
    pixels = smooth_rgb8().astype(np.float32) / 255
    image = load_image(write_image(tmp_path / f"cut{suffix}", pixels, quality=95, bit_depth=16))
    assert image.bit_depth == 8  # WebP and JPEG are 8-bit whatever was asked
    error = np.abs(image.pixels - pixels)
    assert error.mean() < 2 / 255 and error.max() < (6 if suffix == ".jpg" else 12) / 255  # WebP is 4:2:0


def test_grey_pixels_write_and_load_as_rgb(tmp_path):
    grey = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    for suffix in (".png", ".tif", ".jpg", ".webp"):
        image = load_image(write_image(tmp_path / f"alpha{suffix}", grey, quality=100))
        assert image.pixels.shape == (H, W, 3)
        tolerance = 0.5 / 255 + 1e-6 if suffix in (".png", ".tif", ".webp") else 3 / 255
        np.testing.assert_allclose(image.pixels, np.repeat(grey[..., None], 3, 2), atol=tolerance)


def test_webp_alpha_is_lossless_and_exact(tmp_path):
    rng = np.random.default_rng(2)
    rgb8, alpha8 = random_rgb8(seed=2), rng.integers(0, 256, (H, W), dtype=np.uint8)
    alpha8[:4] = 0  # colour under fully transparent pixels is kept too
    path = write_image(tmp_path / "cut.webp", rgb8 / 255.0, alpha=alpha8 / 255.0)
    image = load_image(path)
    np.testing.assert_array_equal(as8(image.pixels), rgb8)
    np.testing.assert_array_equal(as8(image.alpha), alpha8)


# ---------------------------------------------------------------------------------------------- orientation

@pytest.mark.parametrize("orientation,corner", [(3, "bottom-right"), (6, "top-right"), (8, "bottom-left")])
def test_jpeg_exif_orientation_is_applied(tmp_path, orientation, corner):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.jpg"
    Image.fromarray(marked()).save(path, exif=exif, quality=95)
    pixels = load_image(path).pixels
    assert pixels.shape == ((40, 60, 3) if orientation == 3 else (60, 40, 3))
    assert read_image_size(path) == (pixels.shape[1], pixels.shape[0])
    h, w = pixels.shape[:2]
    y = slice(0, 5) if corner.startswith("top") else slice(h - 5, h)
    x = slice(w - 5, w) if corner.endswith("right") else slice(0, 5)
    red = np.array([1.0, 0.0, 0.0])
    assert np.abs(pixels[y, x] - red).max() < 0.1, "the marked corner moved where a viewer shows it"
    assert np.abs(pixels[:5, :5] - 1.0).max() < 0.1 or corner == "top-left"


@pytest.mark.parametrize("suffix", [".png", ".webp", ".jpg"])
def test_all_eight_orientations_match_pillow(tmp_path, suffix):
    rgb = random_rgb8(5, 7)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}{suffix}"
        extra = {"lossless": True} if suffix == ".webp" else {"quality": 100, "subsampling": 0} if suffix == ".jpg" else {}
        Image.fromarray(rgb).save(path, exif=exif, **extra)
        expected = np.asarray(ImageOps.exif_transpose(Image.open(path))).astype(int)
        got = as8(load_image(path).pixels)
        assert got.shape == expected.shape, orientation
        assert np.abs(got - expected).max() <= (0 if suffix != ".jpg" else 1), orientation
        assert read_image_size(path) == (got.shape[1], got.shape[0])


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "CMYK", "P", "LA", "1"])
def test_tiff_orientation_is_applied_once_for_every_decoder(tmp_path, mode):
    # OpenCV applies a TIFF's orientation itself (and fails on 5-8); Pillow 13 garbles 5-8 for some modes
    rgba = np.random.default_rng(3).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    source = Image.fromarray(rgba[..., :3]).quantize(8) if mode == "P" else Image.fromarray(rgba).convert(mode)
    stored = np.asarray(source.convert("RGBA" if "A" in mode else "RGB")).astype(int)
    for orientation in (2, 6, 7):
        path = tmp_path / f"o{orientation}.tif"
        source.save(path, tiffinfo={0x0112: orientation})
        image = load_image(path)
        expected = orient(stored, orientation)
        np.testing.assert_array_equal(as8(image.pixels), expected[..., :3])
        if "A" in mode:
            np.testing.assert_array_equal(as8(image.alpha), expected[..., 3])
        assert read_image_size(path) == (expected.shape[1], expected.shape[0])


def test_16bit_tiff_orientation(tmp_path):
    values = np.random.default_rng(4).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".tiff", values)
    pieces = imagewrite._tiff_with_tags(memoryview(encoded).cast("B"), {0x0112: (3, 1, struct.pack("<H", 6))})
    path = tmp_path / "turned16.tif"
    path.write_bytes(b"".join(bytes(p) for p in pieces))
    image = load_image(path)
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.pixels * 65535, orient(values[..., ::-1], 6), atol=0.02)


# ---------------------------------------------------------------------------------------------- bit depth and modes

@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_rgb_keeps_values_that_are_not_multiples_of_257(tmp_path, suffix):
    values = np.array([[1, 1000, 40001], [65534, 12345, 257 * 100 + 1]], np.uint16).reshape(1, 2, 3)
    values = np.repeat(values, 3, axis=0)
    path = tmp_path / f"deep{suffix}"
    cv2.imwrite(str(path), np.ascontiguousarray(values[..., ::-1]))
    image = load_image(path)
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.pixels * 65535, values, atol=0.02)
    # and write_image keeps them: re-read the raw 16-bit file with OpenCV
    out = write_image(tmp_path / f"out{suffix}", image.pixels, bit_depth=16)
    raw = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw[..., ::-1], values)


def test_16bit_grey_png(tmp_path):
    values = np.arange(0, 65535, 4099, dtype=np.uint16).reshape(2, 8)
    Image.fromarray(values).save(tmp_path / "g16.png")
    image = load_image(tmp_path / "g16.png")
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.pixels * 65535, np.repeat(values[..., None], 3, 2), atol=0.02)


def test_grey_and_grey_alpha(tmp_path):
    grey = np.random.default_rng(5).integers(0, 256, (H, W), dtype=np.uint8)
    alpha = 255 - grey
    Image.fromarray(grey).save(tmp_path / "l.png")
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(tmp_path / "la.png")
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(tmp_path / "la.tif")
    assert load_image(tmp_path / "l.png").alpha is None
    for name in ("l.png", "la.png", "la.tif"):
        image = load_image(tmp_path / name)
        np.testing.assert_array_equal(as8(image.pixels), np.repeat(grey[..., None], 3, 2))
    for name in ("la.png", "la.tif"):
        np.testing.assert_array_equal(as8(load_image(tmp_path / name).alpha), alpha)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_palette_images(tmp_path, suffix):
    palette_image = Image.fromarray(random_rgb8()).quantize(6)
    expected = np.asarray(palette_image.convert("RGB"))
    palette_image.save(tmp_path / f"p{suffix}")
    image = load_image(tmp_path / f"p{suffix}")
    np.testing.assert_array_equal(as8(image.pixels), expected)
    assert image.alpha is None


def test_palette_png_with_transparency(tmp_path):
    palette_image = Image.fromarray(random_rgb8()).quantize(6)
    index = np.asarray(palette_image)
    palette_image.save(tmp_path / "pt.png", transparency=2)
    image = load_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(as8(image.alpha), np.where(index == 2, 0, 255))
    expected = np.asarray(palette_image.convert("RGB"))
    opaque = index != 2
    np.testing.assert_array_equal(as8(image.pixels)[opaque], expected[opaque])


@pytest.mark.parametrize("depth", [8, 16])
def test_png_transparent_colour_key_becomes_alpha(tmp_path, depth):
    grey = np.random.default_rng(10).integers(0, 256, (H, W), dtype=np.uint8).astype(np.uint16 if depth == 16 else np.uint8)
    grey = grey * 257 + 3 if depth == 16 else grey
    key = int(grey[0, 0])
    Image.fromarray(grey).save(tmp_path / "grey.png", transparency=key)
    image = load_image(tmp_path / "grey.png")
    assert image.bit_depth == depth
    np.testing.assert_allclose(image.pixels[..., 1] * (255 if depth == 8 else 65535), grey, atol=0.02)
    np.testing.assert_array_equal(image.alpha, np.where(grey == key, 0.0, 1.0))
    rgb = random_rgb8(seed=10)
    Image.fromarray(rgb).save(tmp_path / "rgb.png", transparency=tuple(int(v) for v in rgb[0, 0]))
    image = load_image(tmp_path / "rgb.png")
    np.testing.assert_array_equal(image.alpha, np.where((rgb == rgb[0, 0]).all(-1), 0.0, 1.0))
    np.testing.assert_array_equal(as8(image.pixels), rgb)


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_loads_as_rgb(tmp_path, suffix):
    rgb = marked()
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / f"c{suffix}", **({"quality": 95} if suffix == ".jpg" else {}))
    image = load_image(tmp_path / f"c{suffix}")
    assert image.pixels.shape == rgb.shape
    assert np.abs(as8(image.pixels) - rgb).max() <= (6 if suffix == ".jpg" else 0)


def test_1bit_images(tmp_path):
    bits = random_rgb8()[..., 0] > 127
    for suffix in (".png", ".tif", ".bmp"):
        Image.fromarray(bits).save(tmp_path / f"b{suffix}")
        image = load_image(tmp_path / f"b{suffix}")
        np.testing.assert_array_equal(image.pixels, np.repeat(bits[..., None], 3, 2).astype(np.float32))


def test_float_tiffs_are_clipped_and_keep_precision(tmp_path):
    rng = np.random.default_rng(6)
    rgb = (rng.random((H, W, 3)) * 1.4 - 0.2).astype(np.float32)
    rgb[0, 0, 0] = np.nan
    cv2.imwrite(str(tmp_path / "f3.tif"), np.ascontiguousarray(rgb[..., ::-1]))  # Pillow cannot open this one
    image = load_image(tmp_path / "f3.tif")
    expected = np.clip(np.nan_to_num(rgb, nan=0.0), 0, 1)
    assert image.bit_depth == 16 and image.format == "TIFF"
    np.testing.assert_array_equal(image.pixels, expected)
    assert read_image_size(tmp_path / "f3.tif") == (W, H)
    grey = rng.random((H, W)).astype(np.float32) * 0.999 + 1e-6
    Image.fromarray(grey).save(tmp_path / "f1.tif")  # mode F
    np.testing.assert_array_equal(load_image(tmp_path / "f1.tif").pixels, np.repeat(grey[..., None], 3, 2))


def test_rgba_tiff_alpha_is_straight_not_premultiplied(tmp_path):
    rgba = np.random.default_rng(7).integers(0, 256, (H, W, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "straight.tif")  # ExtraSamples = unassociated
    image = load_image(tmp_path / "straight.tif")
    np.testing.assert_array_equal(as8(image.pixels), rgba[..., :3])
    np.testing.assert_array_equal(as8(image.alpha), rgba[..., 3])


def test_written_tiff_declares_straight_alpha(tmp_path):
    alpha = np.full((H, W), 0.5, np.float32)
    for depth in (8, 16):
        path = write_image(tmp_path / f"a{depth}.tif", np.full((H, W, 3), 0.25, np.float32), alpha=alpha,
                           bit_depth=depth)
        with Image.open(path) as im:
            assert im.tag_v2.get(338) == (2,) or im.tag_v2.get(338) == 2  # ExtraSamples: unassociated alpha


# ---------------------------------------------------------------------------------------------- ICC profiles

@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("WEBP", ".webp")])
def test_icc_profile_is_read(tmp_path, fmt, suffix):
    icc = srgb_profile()
    Image.fromarray(random_rgb8()).save(tmp_path / f"icc{suffix}", fmt, icc_profile=icc)
    assert load_image(tmp_path / f"icc{suffix}").icc_profile == icc


@pytest.mark.parametrize("suffix,depth,alpha", [
    (".png", 8, True), (".png", 16, False), (".tif", 8, False), (".tif", 16, True), (".webp", 8, True),
    (".webp", 8, False), (".jpg", 8, False),
])
def test_icc_profile_is_embedded(tmp_path, suffix, depth, alpha):
    icc = srgb_profile()
    pixels = smooth_rgb8(H, W).astype(np.float32) / 255
    matte = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W) if alpha else None
    path = write_image(tmp_path / f"icc{suffix}", pixels, alpha=matte, bit_depth=depth, icc_profile=icc, quality=100)
    with Image.open(path) as im:
        assert im.info.get("icc_profile") == icc
        im.load()  # the file stays valid for other readers
    image = load_image(path)
    assert image.icc_profile == icc
    assert np.abs(image.pixels - pixels).max() < (0.5 / 255 + 1e-6 if suffix in (".png", ".tif") else 4 / 255)
    if alpha:
        np.testing.assert_allclose(image.alpha, matte, atol=0.5 / 255 + 1e-6)


# ---------------------------------------------------------------------------------------------- read errors

def assert_names(err: pytest.ExceptionInfo, path, *words):
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert err.value.path == path
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("cut", ["half", "end-marker"])
def test_truncated_jpeg_is_an_error_not_grey(tmp_path, cut):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(smooth_rgb8(64, 96)).save(whole, quality=90)
    data = whole.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:len(data) // 2] if cut == "half" else data[:-2])
    with pytest.raises(ImageReadError) as err:
        load_image(path)
    assert_names(err, path, "not a readable image", "damaged or incomplete", "re-export")


def test_truncated_jpeg_is_caught_even_if_the_decoder_fills_it_grey(tmp_path, monkeypatch):
    # OpenCV 4.x decodes a cut-off JPEG with a warning and grey rows; our end-marker check catches it
    monkeypatch.setattr(imageio.cv2, "imdecode", lambda buffer, flags: np.full((64, 96, 3), 128, np.uint8))
    path = tmp_path / "cut.jpg"
    buffer = io.BytesIO()
    Image.fromarray(smooth_rgb8(64, 96)).save(buffer, "JPEG", progressive=True)
    path.write_bytes(buffer.getvalue()[:-200])
    with pytest.raises(ImageReadError):
        load_image(path)


def test_truncated_png_and_cmyk_jpeg(tmp_path):
    for name, mode in (("cut.png", "RGB"), ("cut_cmyk.jpg", "CMYK")):
        buffer = io.BytesIO()
        Image.fromarray(random_rgb8(64, 64)).convert(mode).save(buffer, "PNG" if name.endswith("png") else "JPEG")
        path = tmp_path / name
        path.write_bytes(buffer.getvalue()[:buffer.tell() * 2 // 3])
        with pytest.raises(ImageReadError) as err:
            load_image(path)
        assert_names(err, path, "not a readable image")


@pytest.mark.parametrize("name,content", [("noise.jpg", "random"), ("empty.png", b""), ("noise.tif", "random")])
def test_corrupt_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(8).bytes(4096) if content == "random" else content)
    with pytest.raises(ImageReadError) as err:
        load_image(path)
    assert_names(err, path, "not a readable image")


def test_missing_file_and_folder(tmp_path):
    missing = tmp_path / "nope.jpg"
    for read in (load_image, read_image_size):
        with pytest.raises(ImageReadError) as err:
            read(missing)
        assert_names(err, missing, "file not found")
    with pytest.raises(ImageReadError) as err:
        load_image(tmp_path)
    assert_names(err, tmp_path, "folder")


@pytest.mark.parametrize("name,content,kind", [
    ("notes.txt", b"hello, this is text\n" * 20, None),
    ("photo.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "HEIC"),
    ("shot.cr2", b"II*\x00\x10\x00\x00\x00CR" + b"\x00" * 64, "RAW"),
    ("anim.gif", "gif", "GIF"),
])
def test_unsupported_formats_name_the_supported_ones(tmp_path, name, content, kind):
    path = tmp_path / name
    if content == "gif":
        Image.fromarray(random_rgb8()).save(path, "GIF")
    else:
        path.write_bytes(content)
    with pytest.raises(ImageReadError) as err:
        load_image(path)
    assert_names(err, path, "JPEG, PNG, TIFF, WebP or BMP")
    if kind:
        assert kind in str(err.value)


def test_megapixel_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(path)
    with pytest.raises(ImageReadError) as err:
        load_image(path, max_megapixels=0.01)
    assert_names(err, path, "is 0.02 megapixels; the limit is 0.01: downscale it first")
    assert load_image(path, max_megapixels=0.02).size == (200, 100)


def test_megapixel_limit_is_ours_not_pillows(tmp_path, monkeypatch):
    # Pillow would raise its own DecompressionBombError (or warn) before our clearer message
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for name, mode in (("big.png", "RGB"), ("big.tif", "CMYK")):  # OpenCV and Pillow decoding
        extra = {"compression": "tiff_lzw"} if mode == "CMYK" else {}  # Pillow re-checks compressed TIFFs
        Image.fromarray(np.zeros((100, 200, 3), np.uint8)).convert(mode).save(tmp_path / name, **extra)
        assert load_image(tmp_path / name).size == (200, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000


# ---------------------------------------------------------------------------------------------- writing

def test_write_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(b"original")
    with pytest.raises(ImageWriteError) as err:
        write_image(path, np.zeros((H, W, 3), np.float32))
    assert_names(err, path, "already exists; pass --force to overwrite it or choose another name")
    assert path.read_bytes() == b"original" and listing(tmp_path) == ["cut.png"]
    write_image(path, np.zeros((H, W, 3), np.float32), force=True)
    assert load_image(path).size == (W, H) and listing(tmp_path) == ["cut.png"]


@pytest.mark.parametrize("force", [False, True])
def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch, force):
    def interrupted(temp, *args):
        temp.write_bytes(b"\x89PNG half written")
        raise KeyboardInterrupt

    monkeypatch.setitem(imagewrite._WRITERS, "png", interrupted)
    path = tmp_path / "cut.png"
    if force:
        path.write_bytes(b"original")
    with pytest.raises(KeyboardInterrupt):
        write_image(path, np.zeros((H, W, 3), np.float32), force=force)
    assert listing(tmp_path) == (["cut.png"] if force else [])
    if force:
        assert path.read_bytes() == b"original"


def test_atomic_output_commits_only_on_success(tmp_path):
    path = tmp_path / "report.csv"
    with pytest.raises(RuntimeError):
        with atomic_output(path) as temp:
            assert temp.parent == tmp_path and temp.suffix == ".csv" and temp.name.startswith(".report.tmp-")
            temp.write_text("partial")
            raise RuntimeError("boom")
    assert listing(tmp_path) == []
    with atomic_output(path) as temp:
        temp.write_text("done")
    assert path.read_text() == "done" and listing(tmp_path) == ["report.csv"]


def test_os_errors_become_write_errors_with_the_reason(tmp_path, monkeypatch):
    def disk_full(temp, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(imagewrite._WRITERS, "tiff", disk_full)
    path = tmp_path / "cut.tif"
    with pytest.raises(ImageWriteError) as err:
        write_image(path, np.zeros((H, W, 3), np.float32))
    assert_names(err, path, "No space left on device", "free some disk space")
    assert listing(tmp_path) == []


def test_unwritable_folder_gives_the_reason(tmp_path, monkeypatch):
    real_open = os.open

    def refuse_temp(path, *args, **kwargs):
        if ".tmp-" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(imagewrite.os, "open", refuse_temp)
    path = tmp_path / "cut.png"
    with pytest.raises(ImageWriteError) as err:
        write_image(path, np.zeros((H, W, 3), np.float32))
    assert_names(err, path, "Permission denied", "choose a folder you can write to")
    assert listing(tmp_path) == []


def test_jpeg_cannot_hold_alpha(tmp_path):
    path = tmp_path / "cut.jpg"
    with pytest.raises(ImageWriteError) as err:
        write_image(path, np.zeros((H, W, 3), np.float32), alpha=np.ones((H, W), np.float32))
    assert_names(err, path, "JPEG", ".png", ".webp", ".tiff")
    assert listing(tmp_path) == []


def test_missing_output_folder_is_named(tmp_path):
    path = tmp_path / "exports" / "cut.png"
    with pytest.raises(ImageWriteError) as err:
        write_image(path, np.zeros((H, W, 3), np.float32))
    assert_names(err, path, f"{tmp_path / 'exports'} does not exist")


def test_format_and_suffix(tmp_path):
    pixels = np.zeros((H, W, 3), np.float32)
    with pytest.raises(ImageWriteError, match="suffix .jpg"):
        write_image(tmp_path / "cut.jpg", pixels, format="png")
    with pytest.raises(ImageWriteError, match="no image suffix"):
        write_image(tmp_path / "cut.dat", pixels)
    with pytest.raises(ImageWriteError, match="not supported"):
        write_image(tmp_path / "cut.png", pixels, format="gif")
    path = write_image(tmp_path / "cut", pixels, format="webp")
    with Image.open(path) as im:
        assert im.format == "WEBP"
    with pytest.raises(ImageWriteError, match="HxW or HxWx3"):
        write_image(tmp_path / "bad.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(ImageWriteError, match="alpha must be"):
        write_image(tmp_path / "bad.png", pixels, alpha=np.zeros((W, H), np.float32))


def test_to_uint_rounds_clips_and_rejects_integers():
    values = np.array([-0.5, 0.0, 0.5 / 255 - 1e-4, 0.5 / 255 + 1e-4, 0.2, 1.0, 7.0, np.nan], np.float32)
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 0, 1, 51, 255, 255, 0])
    assert to_uint16(np.float32(1000 / 65535)) == 1000
    assert to_uint16(values).dtype == np.uint16 and to_uint16(values)[5] == 65535
    big = np.random.default_rng(9).random((70, 160, 3)).astype(np.float32) * 1.2 - 0.1
    big[0, 0, 0] = np.nan
    expected = np.clip(np.rint(np.nan_to_num(big) * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8(big), expected)  # OpenCV's fast path
    np.testing.assert_array_equal(to_uint8(big[:, ::-1])[:, ::-1], expected)  # numpy's path, same rounding
    with pytest.raises(ValueError, match="float"):
        to_uint8(np.zeros(3, np.uint8))


@pytest.mark.data
def test_real_files_match_pillow(data_dir):
    for path in [next((data_dir / "bsds500" / "images" / "test").glob("*.jpg")),
                 data_dir / "bgm-v1-handheld" / "plate.png"]:
        image = load_image(path)
        with Image.open(path) as im:
            expected = np.asarray(im.convert("RGB")).astype(int)
        assert image.size == (expected.shape[1], expected.shape[0]) == read_image_size(path)
        assert np.abs(as8(image.pixels) - expected).max() <= 2  # two libjpeg-turbo builds
