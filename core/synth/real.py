"""Real objects from the shared data: DAVIS-2016 and BSDS500 salient-object masks.

The object's own pixels become the foreground colours and its binary mask,
slightly eroded and blurred, the alpha; the original background is dropped.
File lists (never images) are cached per data folder.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .canvas import Layer

_MIN_AREA = 0.01            # masks covering less of their image than this are skipped


@dataclass(frozen=True)
class RealMask:
    """One real object: the photo, its binary mask (same stem) and the data set it comes from."""

    image_path: Path
    mask_path: Path
    source: str             # "davis" or "bsds"


@functools.lru_cache(maxsize=8)
def _list_real_masks(data_dir: str) -> tuple[RealMask, ...]:
    root = Path(data_dir)
    found = []
    davis = root / "davis2016-val-sub"
    for mask in sorted((davis / "masks").glob("*.png")):
        image = davis / "images" / (mask.stem + ".jpg")
        if image.is_file():
            found.append(RealMask(image, mask, "davis"))
    bsds = root / "bsds500"
    for mask in sorted((bsds / "sod-masks").glob("*.png")):
        for split in ("train", "val", "test"):
            image = bsds / "images" / split / (mask.stem + ".jpg")
            if image.is_file():
                found.append(RealMask(image, mask, "bsds"))
                break
    return tuple(found)


@functools.lru_cache(maxsize=8)
def list_backdrop_photos(data_dir: str | Path) -> tuple[Path, ...]:
    """BSDS500 photos usable as real backdrops (sorted), or () when the folder is missing."""
    return tuple(sorted((Path(data_dir) / "bsds500" / "images").glob("*/*.jpg")))


def iter_real_masks(data_dir: str | Path) -> Iterator[RealMask]:
    """Every real object (DAVIS frames, then BSDS ids) found under ``data_dir``, in a fixed order."""
    return iter(_list_real_masks(str(Path(data_dir).resolve())))


def real_masks(data_dir: str | Path) -> tuple[RealMask, ...]:
    """The cached tuple behind ``iter_real_masks``."""
    return _list_real_masks(str(Path(data_dir).resolve()))


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: cannot read this image; check the shared data folder.")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@functools.lru_cache(maxsize=1024)
def _rotation(image_path: Path, mask_path: Path) -> int | None:
    """cv2 rotate code that makes the image match its mask (None: shapes already agree)."""
    img = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    return choose_rotation(img, mask)


def choose_rotation(gray: np.ndarray, mask: np.ndarray) -> int | None:
    """Pick the 90-degree rotation of ``gray`` whose edges agree with the mask boundary.

    BSDS stores some images rotated relative to their masks; the right turn is
    the one with the stronger image gradient along the mask's boundary.
    """
    if gray.shape == mask.shape:
        return None
    if gray.shape != mask.shape[::-1]:
        raise ValueError("Image and mask sizes do not match even after a quarter turn.")
    binary = (mask > 127).astype(np.uint8)
    boundary = cv2.morphologyEx(binary, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    best, best_score = None, -1.0
    for code in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
        g = cv2.rotate(gray, code).astype(np.float32)
        mag = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
        score = float(mag[boundary].mean()) if boundary.any() else 0.0
        if score > best_score:
            best, best_score = code, score
    return best


def load_real_object(entry: RealMask, rng: np.random.Generator) -> Layer | None:
    """Cut the object out of its photo: Layer cropped to the object (with margin), softened alpha.

    Returns None for masks too small to use. ``Layer.tags`` holds "real_mask" and
    "touches:SIDE" for each image border the object is cut by (so it can be placed
    against the same frame border).
    """
    rgb = _read_rgb(entry.image_path)
    mask = cv2.imread(str(entry.mask_path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"{entry.mask_path}: cannot read this mask; check the shared data folder.")
    code = _rotation(entry.image_path, entry.mask_path)
    if code is not None:
        rgb = cv2.rotate(rgb, code)
    binary = (mask > 127).astype(np.uint8)
    if binary.mean() < _MIN_AREA:
        return None
    if rng.random() < 0.5:
        binary = cv2.erode(binary, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(binary.astype(np.float32), (0, 0), rng.uniform(0.5, 1.3))
    ys, xs = np.nonzero(binary)
    h, w = binary.shape
    tags = {"real_mask"}
    for side, hit in (("top", ys.min() == 0), ("bottom", ys.max() == h - 1), ("left", xs.min() == 0),
                      ("right", xs.max() == w - 1)):
        if hit:
            tags.add(f"touches:{side}")
    m = 6
    y0, y1 = max(ys.min() - m, 0), min(ys.max() + m + 1, h)
    x0, x1 = max(xs.min() - m, 0), min(xs.max() + m + 1, w)
    colour = rgb[y0:y1, x0:x1].astype(np.float32) * (1.0 / 255.0)
    a = np.clip(alpha[y0:y1, x0:x1], 0.0, 1.0)
    a[a < 1.0 / 255] = 0.0
    colour[a == 0] = 0.0
    return Layer(colour, a, frozenset(tags))


def pick_real_object(data_dir: str | Path, rng: np.random.Generator) -> Layer | None:
    """A random usable real object from ``data_dir`` (None when there is none)."""
    entries = real_masks(data_dir)
    if not entries:
        return None
    for _ in range(8):
        layer = load_real_object(entries[rng.integers(len(entries))], rng)
        if layer is not None:
            return layer
    return None
