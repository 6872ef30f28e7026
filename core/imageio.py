"""Image loading and atomic writing.

``load_image`` returns float32 RGB in [0, 1] as a viewer shows the file (EXIF
orientation applied), with the file's alpha, bit depth and ICC profile. Pillow
reads the header (format, mode, orientation, profile: cheap and lazy); OpenCV
decodes the pixels where it is faster or more exact (JPEG, PNG, WebP, most
TIFFs: Pillow reduces 16-bit RGB to 8 bits); Pillow decodes the rest (CMYK,
palette, 1-bit, BMP, and TIFFs with 8-bit or grey alpha, which OpenCV
premultiplies or drops). Orientation is always applied here by ``orient``: a
TIFF's tag is reset first, since both decoders would apply it (inconsistently).

Writing lives in ``core.imagewrite`` (``write_image``, ``atomic_output``), re-exported here.
"""
from __future__ import annotations

import dataclasses
import io
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from PIL import Image

from .errors import ImageReadError

SUPPORTED = "JPEG, PNG, TIFF, WebP or BMP"
_FORMATS = {"JPEG", "MPO", "PNG", "TIFF", "WEBP", "BMP"}  # MPO: a camera JPEG with extra pictures
READ_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp"}
_FOREIGN_SUFFIXES = {  # TIFF-based RAW files would otherwise open as their small embedded preview
    **dict.fromkeys([".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf",
                     ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".kdc", ".mrw", ".raw"], "camera RAW"),
    **dict.fromkeys([".heic", ".heif", ".hif"], "HEIC"), ".avif": "AVIF",
}
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"BM")
DAMAGED = "is not a readable image (the file may be damaged or incomplete); re-export it from your camera software"
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.11 decodes JPEG straight to RGB


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image file as a viewer shows it.

    pixels: HxWx3 float32 RGB in [0, 1], EXIF orientation applied.
    alpha: HxW float32 in [0, 1], the file's own alpha channel, or None.
    bit_depth: 8 or 16 bits per channel in the source (16 also for 32-bit float/int TIFF,
    whose precision the float32 pixels keep). path: the file, or None.
    icc_profile: the embedded colour profile (kept so exports can embed it) or None.
    format: the source format name ("JPEG", "PNG", "TIFF", "WEBP", "BMP").
    """

    pixels: np.ndarray
    alpha: Optional[np.ndarray]
    bit_depth: int
    path: Optional[Path]
    icc_profile: Optional[bytes]
    format: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def megapixels(self) -> float:
        return self.pixels.shape[0] * self.pixels.shape[1] / 1e6


@dataclass(frozen=True)
class _Header:
    format: str  # one of _FORMATS, MPO reported as JPEG
    width: int  # as stored, before orientation
    height: int
    orientation: int  # EXIF 1..8
    mode: Optional[str]  # Pillow's mode, None when only OpenCV understands the file
    has_alpha: bool
    icc_profile: Optional[bytes]
    image: Optional[Image.Image]  # the lazily opened Pillow image, for Pillow decoding


# ---------------------------------------------------------------------------------------------- reading

def load_image(path, *, max_megapixels: float = 250.0) -> LoadedImage:
    """Read a JPEG, PNG, TIFF, WebP or BMP file; see ``LoadedImage``.

    Raises ImageReadError (one sentence naming the file) for a missing, damaged,
    unsupported or too large file. Peak memory is about the float32 result plus
    one decoded 8/16-bit buffer.
    """
    path = Path(path).expanduser()
    data = _read_bytes(path)
    head = _read_header(io.BytesIO(data), path, data[:64])
    _check_megapixels(path, head.width * head.height, max_megapixels)
    if head.format == "TIFF" and head.orientation != 1:
        data, head = _without_tiff_orientation(data, head)
    try:
        array, bgr = _decode(data, head, path)
        del data
        head = dataclasses.replace(head, image=None)  # releases the file's bytes before the float copy
        array = orient(array, head.orientation)
        pixels, alpha, bit_depth = _to_float(array, bgr, head.has_alpha)
    except MemoryError:
        raise ImageReadError("is too large to load with the memory available; downscale it first", path) from None
    return LoadedImage(pixels, alpha, bit_depth, path, head.icc_profile, head.format)


def read_image_size(path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), read from the header only."""
    path = Path(path).expanduser()
    _check_readable_file(path)
    try:
        with open(path, "rb") as fp:
            head = _read_header(fp, path, fp.read(64))
    except OSError as exc:
        raise ImageReadError(f"cannot be read ({exc.strerror or exc}); check the file's permissions", path) from None
    swap = head.orientation >= 5
    return (head.height, head.width) if swap else (head.width, head.height)


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` (HxW or HxWxC, any dtype) turned as EXIF ``orientation`` (1..8) asks, like a viewer."""
    if orientation in (2, 3, 4):
        return cv2.flip(array, {2: 1, 3: -1, 4: 0}[orientation])
    if orientation in (5, 6, 7, 8):
        turned = cv2.transpose(array)  # 5; 6, 7, 8 are a transpose plus a flip
        return turned if orientation == 5 else cv2.flip(turned, {6: 1, 7: -1, 8: 0}[orientation])
    return array


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise ImageReadError("file not found; check the path and the file name", path)
    if path.is_dir():
        raise ImageReadError("is a folder, not an image file; choose an image file inside it", path)
    kind = _FOREIGN_SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        raise _unsupported(path, kind)


def _read_bytes(path: Path) -> bytes:
    _check_readable_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot be read ({exc.strerror or exc}); check the file's permissions", path) from None
    if not data:
        raise ImageReadError(DAMAGED, path)
    return data


def _unsupported(path: Path, kind: Optional[str]) -> ImageReadError:
    what = f"is a {kind} file, which Matting Studio cannot read" if kind else "is not an image Matting Studio can read"
    return ImageReadError(f"{what}; convert it to {SUPPORTED} first", path)


class _PillowLimitLifted:
    """Lifts Pillow's decompression-bomb limit while any thread opens or decodes an image: it would
    pre-empt ``max_megapixels`` with a cryptic error (and warn below it); _check_megapixels applies instead."""

    def __init__(self) -> None:
        self._lock, self._users, self._saved = threading.Lock(), 0, None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            self._users += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                Image.MAX_IMAGE_PIXELS = self._saved


_pillow_limit_lifted = _PillowLimitLifted()


def _open_pil(fp) -> Image.Image:
    with _pillow_limit_lifted:
        return Image.open(fp)


def _read_header(fp, path: Path, start: bytes) -> _Header:
    ours = path.suffix.lower() in READ_SUFFIXES or start.startswith(_MAGIC) or start[8:12] == b"WEBP"
    if not start:
        raise ImageReadError(DAMAGED, path)
    try:
        fp.seek(0)
        im = _open_pil(fp)
    except Exception:  # noqa: BLE001 - Pillow raises many types for unidentifiable or broken headers
        if start.startswith(_MAGIC[2:6]):
            return _tiff_header(fp, path)  # float RGB TIFF: OpenCV reads it, Pillow cannot
        if ours:
            raise ImageReadError(DAMAGED, path) from None
        kind = {b"ftyp": "HEIC/AVIF"}.get(start[4:8])
        raise _unsupported(path, kind) from None
    if im.format not in _FORMATS:
        if ours:
            raise ImageReadError(DAMAGED, path)
        raise _unsupported(path, im.format)
    fmt = "JPEG" if im.format == "MPO" else im.format
    has_alpha = "A" in im.mode or "a" in im.mode or "transparency" in im.info
    icc = im.info.get("icc_profile") or None
    # Pillow pre-swaps a TIFF's size for orientations 5-8; the tags give the stored size
    width, height = (im.tag_v2[256], im.tag_v2[257]) if hasattr(im, "tag_v2") else im.size
    return _Header(fmt, width, height, _orientation(im, fp), im.mode, has_alpha, icc, im)


def _orientation(im: Image.Image, fp) -> int:
    try:
        if hasattr(im, "tag_v2"):  # TIFF: the tag lives in the image's own directory
            value = im.tag_v2.get(0x0112, 1)
        elif im.format == "PNG" and "exif" not in im.info:
            raw = _png_exif_after_idat(fp)
            value = 1 if raw is None else _exif_orientation(raw)
        else:  # Pillow's PNG getexif() would decode the pixels; the others read the header
            value = im.getexif().get(0x0112, 1)
        value = int(value)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not stop the image from loading
        return 1
    return value if 1 <= value <= 8 else 1


def _exif_orientation(raw: bytes) -> int:
    exif = Image.Exif()
    exif.load(raw)
    return exif.get(0x0112, 1)


def _png_exif_after_idat(fp) -> Optional[bytes]:
    """The eXIf chunk, which may follow the pixel data; jumps from chunk header to chunk header."""
    position = fp.tell()  # Pillow reads the same stream later
    try:
        fp.seek(8)
        while True:
            head = fp.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return fp.read(length)
            if kind == b"IEND":
                return None
            fp.seek(length + 4, os.SEEK_CUR)
    finally:
        fp.seek(position)


def _tiff_entries(data) -> tuple[str, dict]:
    """(endian, {tag: (entry offset, type, count, first value)}) of a classic TIFF's first directory."""
    endian = {b"II": "<", b"MM": ">"}[bytes(data[:2])]
    magic, ifd = struct.unpack_from(endian + "HI", data, 2)
    if magic != 42:
        raise ValueError("not a classic TIFF")
    (count,) = struct.unpack_from(endian + "H", data, ifd)
    entries = {}
    for pos in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind, n = struct.unpack_from(endian + "HHI", data, pos)
        entries[tag] = (pos, kind, n, struct.unpack_from(endian + ("H" if kind == 3 else "I"), data, pos + 8)[0])
    return endian, entries


def _tiff_header(fp, path: Path) -> _Header:
    """Size and orientation of a TIFF Pillow cannot open (float RGB): OpenCV decodes it."""
    try:
        fp.seek(0)
        _, entries = _tiff_entries(fp.read())
        width, height = entries[256][3], entries[257][3]
    except (KeyError, ValueError, struct.error, OSError):
        raise ImageReadError(DAMAGED, path) from None
    orientation = entries.get(0x0112, (0, 3, 1, 1))[3]
    has_alpha = entries.get(277, (0, 3, 1, 3))[3] in (2, 4)
    return _Header("TIFF", width, height, orientation if 1 <= orientation <= 8 else 1, None, has_alpha, None, None)


def _without_tiff_orientation(data: bytes, head: _Header) -> tuple[bytes, _Header]:
    """A copy of the file with orientation 1, so that both decoders return the stored pixels for
    ``orient`` to turn: OpenCV applies the tag itself (and fails on 5-8), Pillow 13 garbles 5-8 for some modes."""
    try:
        endian, entries = _tiff_entries(data)
        pos, kind = entries[0x0112][:2]
    except (KeyError, ValueError, struct.error):
        return data, head  # BigTIFF: left to the decoders
    copy = bytearray(data)
    struct.pack_into(endian + ("H" if kind == 3 else "I"), copy, pos + 8, 1)
    image = _open_pil(io.BytesIO(copy)) if head.image is not None else None
    return bytes(copy), dataclasses.replace(head, image=image)


def _check_megapixels(path: Path, pixels: int, limit: float) -> None:
    if pixels > limit * 1e6:
        mp = pixels / 1e6
        shown = f"{mp:.0f}" if mp >= 10 else f"{mp:.3g}"
        raise ImageReadError(f"is {shown} megapixels; the limit is {limit:g}: downscale it first", path)
    if pixels <= 0:
        raise ImageReadError(DAMAGED, path)


def _decode(data: bytes, head: _Header, path: Path) -> tuple[np.ndarray, bool]:
    """The stored pixels as (array, is_bgr): HxW, HxWx2 (grey, alpha), HxWx3 or HxWx4; uint8, uint16 or float."""
    fmt, mode = head.format, head.mode
    if fmt == "JPEG" and not _jpeg_is_complete(data):
        raise ImageReadError(DAMAGED, path)  # libjpeg would fill the missing rows with grey
    if _opencv_decodes(head):
        buffer = np.frombuffer(data, np.uint8)
        if fmt != "JPEG":
            flags, bgr = cv2.IMREAD_UNCHANGED, True  # ignores EXIF orientation (a TIFF tag was reset to 1)
        elif mode == "L":
            flags, bgr = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION, False
        elif _IMREAD_RGB is not None:
            flags, bgr = _IMREAD_RGB | cv2.IMREAD_IGNORE_ORIENTATION, False
        else:
            flags, bgr = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION, True
        try:
            array = cv2.imdecode(buffer, flags)
        except cv2.error:
            array = None
        if array is not None:
            key = head.image.info.get("transparency") if head.image is not None else None
            if array.ndim == 2 and isinstance(key, int):  # a grey PNG's transparent level: OpenCV drops it
                array = np.dstack([array, np.where(array == key, 0, np.iinfo(array.dtype).max).astype(array.dtype)])
            return array, bgr
        if head.image is None:
            raise ImageReadError(DAMAGED, path)
    return _decode_pil(head.image, path), False


def _opencv_decodes(head: _Header) -> bool:
    """OpenCV is faster and keeps 16 bits, but mishandles CMYK/palette JPEG and TIFF, drops a
    TIFF's grey+alpha and premultiplies an 8-bit TIFF's alpha."""
    if head.format in ("PNG", "WEBP"):
        return True
    if head.format == "JPEG":
        return head.mode in ("RGB", "L")
    if head.format != "TIFF":
        return False
    if head.mode == "RGBA":
        bits = head.image.tag_v2.get(258, 8)
        return (bits[0] if isinstance(bits, tuple) else bits) == 16
    return head.mode in (None, "RGB", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _decode_pil(im: Image.Image, path: Path) -> np.ndarray:
    try:
        with _pillow_limit_lifted:  # Pillow checks a TIFF's size again here
            im.load()  # LOAD_TRUNCATED_IMAGES stays False: a cut-off file raises here
        mode = im.mode
        if mode in ("P", "PA"):
            im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
        elif mode == "1":
            im = im.convert("L")
        elif mode in ("La", "LA"):
            im = im.convert("LA")
        elif mode in ("RGBa", "RGBA") or (mode in ("L", "RGB") and "transparency" in im.info):
            im = im.convert("RGBA")
        elif mode not in ("L", "RGB", "I", "F") and not mode.startswith("I;16"):
            im = im.convert("RGB")  # CMYK (Adobe inversion handled by Pillow), YCbCr, LAB, RGBX...
        array = np.asarray(im)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - truncated or corrupt data surfaces as many exception types
        raise ImageReadError(DAMAGED, path) from None
    return array.astype(array.dtype.newbyteorder("=")) if not array.dtype.isnative else array


def _jpeg_is_complete(data: bytes) -> bool:
    """True when the main image's end marker follows its first scan (a cut-off file has none)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xDA:  # start of scan: entropy-coded data escapes 0xFF, so EOI is unambiguous
            return data.find(b"\xff\xd9", pos) != -1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def _to_float(array: np.ndarray, bgr: bool, has_alpha: bool) -> tuple[np.ndarray, Optional[np.ndarray], int]:
    """(HxWx3 float32 RGB, HxW float32 alpha or None, bit depth) from a decoded array."""
    if array.dtype == np.uint8:
        scale, depth = 1 / 255, 8
    elif array.dtype == np.uint16:
        scale, depth = 1 / 65535, 16
    else:  # float or 32-bit integer TIFF: OpenCV's colour conversions take float32
        if array.dtype.kind in "iu":
            array = array.astype(np.float32) * np.float32(1 / np.iinfo(array.dtype).max)
        scale, depth = None, 16
        array = array.astype(np.float32, copy=False)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    channels = 1 if array.ndim == 2 else array.shape[2]
    alpha = None
    if channels in (2, 4) or channels > 4:
        if has_alpha:
            alpha = _scaled(array[..., 1 if channels == 2 else 3], scale, copy=True)
        array = array[..., 0] if channels == 2 else array[..., :3] if channels > 4 else array
    if array.ndim == 2:
        rgb = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_GRAY2RGB)
    elif array.shape[2] == 4:
        rgb = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    elif bgr:
        array = np.ascontiguousarray(array)
        rgb = cv2.cvtColor(array, cv2.COLOR_BGR2RGB, dst=array if array.flags.writeable else None)
    else:
        rgb = array
    del array
    return _scaled(rgb, scale, copy=False), alpha, depth


def _scaled(array: np.ndarray, scale: Optional[float], copy: bool) -> np.ndarray:
    if scale is not None:
        out = np.empty(array.shape, np.float32)
        np.multiply(array, np.float32(scale), out=out)
        return out
    out = np.array(array, np.float32, copy=True) if copy or not array.flags.writeable else array
    np.fmax(out, 0.0, out=out)  # fmax/fmin also turn NaN into 0
    np.fmin(out, 1.0, out=out)
    return out


# ---------------------------------------------------------------------------------------------- conversion

def to_uint8(array) -> np.ndarray:
    """Float values in [0, 1] -> uint8 0..255, rounded to nearest, clipped (NaN -> 0); same shape."""
    return _quantize(array, 255, np.uint8)


def to_uint16(array) -> np.ndarray:
    """Float values in [0, 1] -> uint16 0..65535, rounded to nearest, clipped (NaN -> 0); same shape."""
    return _quantize(array, 65535, np.uint16)


def _quantize(array, maxval: int, dtype) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind != "f":
        raise ValueError(f"expected float values in [0, 1], got an array of {array.dtype}; convert it to float first")
    if (array.dtype in (np.float32, np.float64) and array.flags.c_contiguous
            and (array.ndim == 2 or (array.ndim == 3 and 2 <= array.shape[2] <= 4))
            and not np.isnan(array.sum())):
        # OpenCV rounds half to even and saturates in one threaded pass, ~3x numpy; NaN goes to numpy's
        # path (OpenCV 4 saturated it to 0, OpenCV 5 to the maximum: an opaque pixel)
        return cv2.addWeighted(array, float(maxval), array, 0.0, 0.0,
                               dtype=cv2.CV_8U if dtype == np.uint8 else cv2.CV_16U)
    block = np.multiply(np.atleast_1d(array), np.float32(maxval), dtype=np.float32)
    np.rint(block, out=block)
    np.fmax(block, 0.0, out=block)  # fmax/fmin also turn NaN into 0
    np.fmin(block, float(maxval), out=block)
    return block.astype(dtype).reshape(array.shape)


from .imagewrite import atomic_output, write_image  # noqa: E402,F401  (re-exported; imagewrite imports this module)
