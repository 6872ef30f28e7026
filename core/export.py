"""Turn a matte into the files a catalogue needs: cut-out, composite, alpha, crop."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from .errors import MattingError
from .imageio import LoadedImage, load_image, write_image

FORMATS = ("png", "webp", "tiff")
_SUFFIX_FORMATS = {".png": "png", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}


@dataclass(frozen=True)
class ExportOptions:
    """format: "png", "webp", "tiff" or None (from the file's suffix, else png).
    crop: trim to the product's bounding box plus ``padding`` ("40" pixels or
    "5%" of the box's longer side). background: None (transparent), a colour
    ("#ffffff", "white", "255,255,255") or an image path (scaled to cover).
    alpha_only: write the alpha as a grey image. bit_depth: 8, 16 or None
    (16 when the photo was 16-bit and the format holds it)."""

    format: Optional[str] = None
    crop: bool = False
    padding: str = "0"
    background: Optional[str] = None
    alpha_only: bool = False
    bit_depth: Optional[int] = None


_NAMED = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128)}


def parse_colour(text: str) -> Optional[tuple]:
    """RGB floats in [0, 1] for "#rrggbb", "#rgb", "r,g,b" or a basic name; None if ``text`` is not a colour."""
    t = text.strip().lower()
    if t in _NAMED:
        return tuple(c / 255 for c in _NAMED[t])
    if re.fullmatch(r"#[0-9a-f]{6}", t):
        return tuple(int(t[i:i + 2], 16) / 255 for i in (1, 3, 5))
    if re.fullmatch(r"#[0-9a-f]{3}", t):
        return tuple(int(c * 2, 16) / 255 for c in t[1:])
    if re.fullmatch(r"\d{1,3},\d{1,3},\d{1,3}", t.replace(" ", "")):
        values = [int(v) for v in t.replace(" ", "").split(",")]
        if all(v <= 255 for v in values):
            return tuple(v / 255 for v in values)
    return None


def parse_padding(text: str, box_size: int) -> int:
    """Padding in pixels from "40" (pixels) or "5%" (of ``box_size``)."""
    t = str(text).strip()
    try:
        if t.endswith("%"):
            value = float(t[:-1]) / 100.0 * box_size
        else:
            value = float(t)
    except ValueError:
        raise MattingError(f"padding {text!r} is not a number of pixels (40) or a percentage (5%)") from None
    if value < 0:
        raise MattingError(f"padding {text!r} must not be negative")
    return int(round(value))


def product_box(alpha: np.ndarray, padding: str = "0", threshold: float = 0.1) -> tuple:
    """(x0, y0, x1, y1) of alpha > threshold plus padding, clipped to the image; the whole image if empty.

    The threshold ignores the faint noise a few pixels off an edge, which would
    otherwise widen the frame; the padding leaves room for soft edges anyway.
    """
    h, w = alpha.shape
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    if rows.size == 0:
        return 0, 0, w, h
    cols = np.flatnonzero((alpha[rows[0]:rows[-1] + 1] > threshold).any(axis=0))
    x0, x1, y0, y1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    pad = parse_padding(padding, max(x1 - x0, y1 - y0))
    return max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)


def cover(image: np.ndarray, size_wh: tuple) -> np.ndarray:
    """``image`` scaled to cover ``size_wh`` and centre-cropped to it."""
    w, h = size_wh
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    nw, nh = max(w, round(iw * scale)), max(h, round(ih * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x0, y0 = (nw - w) // 2, (nh - h) // 2
    return resized[y0:y0 + h, x0:x0 + w]


def output_format(path: Path, options: ExportOptions) -> str:
    if options.format is not None:
        if options.format not in FORMATS:
            raise MattingError(f"format {options.format!r} is not supported; choose {', '.join(FORMATS)}")
        return options.format
    return _SUFFIX_FORMATS.get(path.suffix.lower(), "png")


def compose(alpha: np.ndarray, foreground: np.ndarray, options: ExportOptions,
            background: Optional[np.ndarray] = None) -> tuple:
    """The pixels to write: ``(rgb_or_grey, alpha_or_None)`` after crop and background.

    alpha: HxW float32 [0, 1]; foreground: HxWx3 float32 straight colours.
    background: an RGB image for an image background (scaled to cover).
    """
    if options.crop:
        x0, y0, x1, y1 = product_box(alpha, options.padding)
        alpha, foreground = alpha[y0:y1, x0:x1], foreground[y0:y1, x0:x1]
    if options.alpha_only:
        return alpha, None
    if options.background is None:
        return foreground, alpha
    colour = parse_colour(options.background)
    h, w = alpha.shape
    if colour is not None:
        backdrop = np.empty((h, w, 3), np.float32)
        backdrop[:] = colour
    elif background is not None:
        backdrop = cover(background, (w, h))
    else:
        raise MattingError(f"background {options.background!r} is neither a colour (#ffffff) nor an image")
    a = alpha[..., None]
    return (a * foreground + (1.0 - a) * backdrop).astype(np.float32), None


def export_matte(path, photo_image: Optional[LoadedImage], alpha: np.ndarray, foreground: np.ndarray,
                 options: ExportOptions = ExportOptions(), force: bool = False) -> Path:
    """Write one export of the matte to ``path`` atomically; returns the path written.

    alpha / foreground are brought to the photo's size when they are smaller
    (a preview result). 16-bit photos give 16-bit PNG/TIFF unless
    ``options.bit_depth`` says otherwise; the photo's colour profile is kept.
    """
    path = Path(path)
    fmt = output_format(path, options)
    if photo_image is not None:
        h, w = photo_image.pixels.shape[:2]
        if alpha.shape != (h, w):
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
            foreground = cv2.resize(foreground, (w, h), interpolation=cv2.INTER_LINEAR)
    background = None
    if options.background is not None and parse_colour(options.background) is None:
        background = load_image(options.background).pixels
    pixels, out_alpha = compose(alpha, foreground, options, background)
    source_depth = photo_image.bit_depth if photo_image is not None else 8
    bit_depth = options.bit_depth or (16 if source_depth > 8 and fmt in ("png", "tiff") else 8)
    icc = photo_image.icc_profile if photo_image is not None else None
    return write_image(path, pixels, alpha=out_alpha, bit_depth=bit_depth, format=fmt, force=force,
                       icc_profile=None if options.alpha_only else icc)
