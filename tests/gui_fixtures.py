"""Helpers for the GUI tests: the bundled sample pair and waiting on the worker."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("MATTING_STUDIO_SAMPLES", ROOT / "resources" / "samples"))


def find_sample_pair(folder: Path = SAMPLES) -> Optional[tuple[Path, Path]]:
    """(photo, plate) of the bundled sample, or None when the folder holds none."""
    from studio.gui.files import find_plate_candidate, is_image_path, looks_like_plate

    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    for photo in files:
        if looks_like_plate(photo) or "alpha" in photo.stem.lower() or "matte" in photo.stem.lower():
            continue
        plate = find_plate_candidate(photo, files)
        if plate is not None:
            return photo, plate
    return None


def wait_until(app, condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Process events until ``condition()`` holds (raises TimeoutError after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)
