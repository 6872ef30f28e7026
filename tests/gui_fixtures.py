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


def write_synthetic_pair(folder: Path, width: int = 640, height: int = 480, seed: int = 5) -> tuple[Path, Path]:
    """A seeded photo/plate pair (a two-part product on a textured paper backdrop, the plate
    shot 3 px off and 3% brighter), written as PNG; used when no bundled sample exists."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    backdrop = np.dstack([0.85 - 0.2 * yy / height, 0.8 - 0.15 * yy / height, 0.55 + 0.1 * xx / width])
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3) * 0.15
    backdrop = np.clip(backdrop + texture[..., None], 0, 1).astype(np.float32)
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (width // 6, height // 3), 0, 0, 360, 1.0, -1)
    cv2.rectangle(alpha, (width // 2 - width // 5, height // 2 + height // 6),
                  (width // 2 + width // 5, height // 2 + height // 3), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.2)
    product = np.dstack([np.full((height, width), 0.7), 0.2 + 0.3 * xx / width,
                         np.full((height, width), 0.25)]).astype(np.float32)
    photo = alpha[..., None] * product + (1 - alpha[..., None]) * backdrop
    shifted = cv2.warpAffine(backdrop, np.float32([[1, 0, 3], [0, 1, -2]]), (width, height),
                             borderMode=cv2.BORDER_REFLECT)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in (("synthetic_photo", photo), ("synthetic_plate", shifted * 1.03)):
        noisy = np.clip(image + rng.normal(0, 0.01, image.shape), 0, 1)
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor((noisy * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths[0], paths[1]
