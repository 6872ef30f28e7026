"""Atomic image writing: PNG, TIFF, WebP, JPEG, 8 or 16 bit, straight alpha, ICC profile kept.

``write_image`` never leaves a half-written file: it writes a temporary file in
the target folder and renames it into place (``atomic_output``). PNG is encoded by
``core.pngwrite`` (stripes deflated on every core), TIFF by OpenCV with the ICC
profile spliced into the encoded bytes; WebP and JPEG by Pillow (exact lossless
alpha, profile support).
"""
from __future__ import annotations

import errno
import os
import secrets
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np
from PIL import Image

from .errors import ImageWriteError
from .pngwrite import encode_png

# ---------------------------------------------------------------------------------------------- writing

_SUFFIX_FORMATS = {".png": "png", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg"}
_FORMAT_ALIASES = {"png": "png", "webp": "webp", "tiff": "tiff", "tif": "tiff", "jpeg": "jpeg", "jpg": "jpeg"}
WEBP_LOSSLESS_METHOD = 0  # libwebp effort 0..6: 0 is ~3x faster than 4 for ~15 % larger files
WEBP_LOSSY_METHOD = 2  # 4 (Pillow's default) is 1.5x slower, 6 about 6x, for no smaller files at quality 95
WEBP_MAX_SIDE = 16383


def write_image(path, pixels, *, alpha=None, bit_depth: int = 8, format: Optional[str] = None, force: bool = False,
                icc_profile: Optional[bytes] = None, quality: int = 95) -> Path:
    """Write ``pixels`` (HxW grey or HxWx3 RGB float in [0, 1]) and optional straight ``alpha`` (HxW) atomically.

    format: "png", "webp", "tiff" or "jpeg"; None takes it from the suffix. bit_depth 16 is honoured
    for PNG and TIFF (WebP and JPEG are 8-bit). WebP with alpha is lossless and exact; WebP without
    alpha and JPEG are lossy at ``quality`` (WebP quality 100 is lossless). ``icc_profile`` is embedded.
    An existing file is replaced only with ``force``. Returns the path written.
    """
    path = Path(path).expanduser()
    fmt = _output_format(path, format)
    pixels, alpha = _check_write_arrays(path, pixels, alpha)
    if bit_depth not in (8, 16):
        raise ImageWriteError(f"bit depth {bit_depth} is not supported; use 8 or 16", path)
    if not 1 <= quality <= 100:
        raise ImageWriteError(f"quality {quality} is out of range; use 1 to 100", path)
    if fmt == "jpeg" and alpha is not None:
        raise ImageWriteError("JPEG cannot store transparency; save it as .png, .webp or .tiff instead", path)
    if fmt == "webp" and max(pixels.shape[:2]) > WEBP_MAX_SIDE:
        raise ImageWriteError(f"is too large for WebP (at most {WEBP_MAX_SIDE} pixels a side); "
                              "save it as .png or .tiff instead", path)
    depth = bit_depth if fmt in ("png", "tiff") else 8
    icc = bytes(icc_profile) if icc_profile else None
    with atomic_output(path, force=force) as temp:
        _WRITERS[fmt](temp, pixels, alpha, depth, icc, int(quality))
    return path


@contextmanager
def atomic_output(path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success it is synced and renamed to ``path``.

    On any exception, KeyboardInterrupt included, the temporary file is deleted and the
    exception re-raised (an OSError as ImageWriteError with the system's reason).
    Without ``force`` an existing ``path`` raises ImageWriteError and is left untouched.
    """
    path = Path(path).expanduser()
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ImageWriteError(f"the output folder {folder} {what}; create it or choose another folder", path)
    if path.is_dir():
        raise ImageWriteError("is a folder; choose a file name for the output", path)
    if path.exists() and not force:
        raise _exists_error(path)
    temp = _create_temp(path)
    try:
        try:
            yield temp
            _fsync(temp)
            _commit(temp, path, force)
        except OSError as exc:
            raise _write_error(path, exc) from exc
    except BaseException:
        try:
            temp.unlink()
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _exists_error(path: Path) -> ImageWriteError:
    return ImageWriteError("already exists; pass --force to overwrite it or choose another name", path)


def _write_error(path: Path, exc: OSError) -> ImageWriteError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        advice = "free some disk space or choose another folder"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "choose a folder you can write to"
    else:
        advice = "check the disk and the folder"
    return ImageWriteError(f"could not be written ({reason}); {advice}", path)


def _create_temp(path: Path) -> Path:
    for _ in range(100):
        temp = path.with_name(f".{path.stem}.tmp-{secrets.token_hex(4)}{path.suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temp
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(path, exc) from exc
    raise ImageWriteError("could not create a temporary file beside it; check the folder", path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)  # Windows refuses to flush a read-only handle
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(temp: Path, path: Path, force: bool) -> None:
    if not force:
        try:  # a hard link never replaces a file that appeared meanwhile (another batch worker)
            os.link(temp, path)
        except FileExistsError:
            raise _exists_error(path) from None
        except OSError:  # no hard links here (FAT, some network shares): check, then rename
            if path.exists():
                raise _exists_error(path) from None
        else:
            temp.unlink()
            return
    os.replace(temp, path)


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # the file itself is synced; some file systems cannot sync a folder


def _output_format(path: Path, format: Optional[str]) -> str:
    from_suffix = _SUFFIX_FORMATS.get(path.suffix.lower())
    if format is None:
        if from_suffix is None:
            raise ImageWriteError("has no image suffix I can write; name it .png, .webp, .tif or .jpg", path)
        return from_suffix
    fmt = _FORMAT_ALIASES.get(str(format).lower())
    if fmt is None:
        raise ImageWriteError(f"format {format!r} is not supported; choose png, webp, tiff or jpeg", path)
    if from_suffix is not None and from_suffix != fmt:
        raise ImageWriteError(f"has the suffix {path.suffix} but the format asked is {fmt}; "
                              "make the name and the format agree", path)
    return fmt


def _check_write_arrays(path: Path, pixels, alpha) -> tuple[np.ndarray, Optional[np.ndarray]]:
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.dtype.kind != "f" or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ImageWriteError(f"pixels must be HxW or HxWx3 floats in [0, 1], got {pixels.dtype} "
                              f"{pixels.shape}; this is a bug in the caller", path)
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageWriteError("cannot be written from an empty image", path)
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.dtype.kind != "f" or alpha.shape != pixels.shape[:2]:
            raise ImageWriteError(f"alpha must be HxW floats matching the pixels {pixels.shape[:2]}, got "
                                  f"{alpha.dtype} {alpha.shape}; this is a bug in the caller", path)
    return pixels, alpha


def _interleave(pixels: np.ndarray, alpha: Optional[np.ndarray], depth: int, bgr: bool) -> np.ndarray:
    """Integer HxW (grey), HxWx3 or HxWx4 in OpenCV (BGR) or Pillow (RGB) channel order."""
    from .imageio import _quantize  # imageio re-exports this module: import at use, not at load

    maxval, dtype = (255, np.uint8) if depth == 8 else (65535, np.uint16)
    colour = _quantize(np.ascontiguousarray(pixels), maxval, dtype)
    if colour.ndim == 2:
        if alpha is None:
            return colour
        colour = cv2.cvtColor(colour, cv2.COLOR_GRAY2RGB)
    elif bgr:
        cv2.cvtColor(colour, cv2.COLOR_RGB2BGR, dst=colour)
    if alpha is None:
        return colour
    out = cv2.cvtColor(colour, cv2.COLOR_RGB2RGBA)  # keeps the channel order, adds a 4th
    out[..., 3] = _quantize(np.ascontiguousarray(alpha), maxval, dtype)
    return out


def _write_png(temp: Path, pixels, alpha, depth: int, icc: Optional[bytes], quality: int) -> None:
    _write_chunks(temp, encode_png(_interleave(pixels, alpha, depth, bgr=False), icc))


def _write_tiff(temp: Path, pixels, alpha, depth: int, icc: Optional[bytes], quality: int) -> None:
    array = _interleave(pixels, alpha, depth, bgr=True)
    ok, encoded = cv2.imencode(".tiff", array, [cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_LZW])
    if not ok:
        raise OSError(errno.EIO, "the TIFF encoder failed")
    tags = {}
    if alpha is not None:
        tags[338] = (3, 1, struct.pack("<H", 2))  # ExtraSamples = unassociated (straight) alpha
    if icc:
        tags[34675] = (7, len(icc), icc)  # InterColorProfile
    _write_chunks(temp, _tiff_with_tags(memoryview(encoded).cast("B"), tags))


def _tiff_with_tags(data: memoryview, tags: dict) -> list:
    """Byte pieces of ``data`` (a little-endian classic TIFF) whose first directory gains ``tags``.

    The enlarged directory and the tag values are appended and the header pointed at it;
    every offset in the file stays valid because nothing moves. tags: {tag: (type, count, value bytes)}.
    """
    from .imageio import _tiff_entries

    if not tags:
        return [data]
    endian, found = _tiff_entries(data)
    if endian != "<":
        raise OSError(errno.EIO, "the TIFF encoder wrote an unexpected header")
    entries = {tag: bytes(data[pos:pos + 12]) for tag, (pos, *_rest) in found.items()}
    after = struct.unpack_from("<I", data, 4)[0] + 2 + 12 * len(found)
    next_ifd = bytes(data[after:after + 4])
    tail, end = [], len(data)
    for tag, (kind, n, value) in sorted(tags.items()):
        if len(value) <= 4:
            entries[tag] = struct.pack("<HHI", tag, kind, n) + value.ljust(4, b"\x00")
            continue
        if end % 2:  # values and directories start on a word boundary
            tail.append(b"\x00")
            end += 1
        entries[tag] = struct.pack("<HHII", tag, kind, n, end)
        tail.append(value)
        end += len(value)
    if end % 2:
        tail.append(b"\x00")
        end += 1
    directory = struct.pack("<H", len(entries)) + b"".join(entries[t] for t in sorted(entries)) + next_ifd
    if end + len(directory) >= 1 << 32:
        raise OSError(errno.EFBIG, "the TIFF would exceed 4 GB")
    return [b"II*\x00" + struct.pack("<I", end), data[8:], *tail, directory]


def _write_webp(temp: Path, pixels, alpha, depth: int, icc: Optional[bytes], quality: int) -> None:
    image = Image.fromarray(_interleave(pixels, alpha, 8, bgr=False))
    options = {"icc_profile": icc} if icc else {}
    if alpha is not None or quality >= 100:  # exact: keep the colour under transparent pixels too
        image.save(temp, "WEBP", lossless=True, exact=True, method=WEBP_LOSSLESS_METHOD, quality=0, **options)
    else:
        image.save(temp, "WEBP", quality=quality, method=WEBP_LOSSY_METHOD, **options)


def _write_jpeg(temp: Path, pixels, alpha, depth: int, icc: Optional[bytes], quality: int) -> None:
    image = Image.fromarray(_interleave(pixels, None, 8, bgr=False))
    options = {"icc_profile": icc} if icc else {}
    # 4:4:4 at high quality keeps thin coloured edges (labels, straps) sharp
    image.save(temp, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2, **options)


def _write_chunks(temp: Path, chunks: list) -> None:
    with open(temp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)


_WRITERS = {"png": _write_png, "tiff": _write_tiff, "webp": _write_webp, "jpeg": _write_jpeg}
