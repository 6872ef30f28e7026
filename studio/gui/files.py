"""Which file is the photo and which the plate (file names only, no Qt, no pixels)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Optional

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
_PLATE_WORDS = ("plate", "back", "backdrop", "background", "empty", "clean")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def looks_like_plate(path: str | Path) -> bool:
    """True when the file name says it is a plate ("IMG_1_plate.jpg", "back.png", "shot-background.tif")."""
    stem = Path(path).stem.lower()
    return any(word in stem for word in _PLATE_WORDS)


def _common_prefix_length(a: str, b: str) -> int:
    return len(os.path.commonprefix([a.lower(), b.lower()]))


def find_plate_candidate(photo: str | Path, siblings: Optional[Iterable[Path]] = None) -> Optional[Path]:
    """The image beside ``photo`` whose name says "plate"/"back" and shares most of the photo's name.

    siblings: the files to consider (default: the photo's folder). None when nothing fits.
    """
    photo = Path(photo)
    if siblings is None:
        try:
            siblings = [p for p in photo.parent.iterdir() if p.is_file()]
        except OSError:
            return None
    candidates = [p for p in siblings
                  if p.name != photo.name and is_image_path(p) and looks_like_plate(p)]
    if not candidates or looks_like_plate(photo):
        return None
    # prefer the plate named after this photo ("IMG_12_plate" for "IMG_12"), then the shortest name
    return max(candidates, key=lambda p: (_common_prefix_length(p.stem, photo.stem), -len(p.name)))


def order_pair(paths: Iterable[str | Path]) -> tuple[Optional[Path], Optional[Path]]:
    """(photo, plate) from one or two dropped/selected files; the plate is the one named like a plate."""
    paths = [Path(p) for p in paths if is_image_path(p)][:2]
    if not paths:
        return None, None
    if len(paths) == 1:
        return (None, paths[0]) if looks_like_plate(paths[0]) else (paths[0], None)
    first, second = paths
    if looks_like_plate(first) and not looks_like_plate(second):
        return second, first
    return first, second
