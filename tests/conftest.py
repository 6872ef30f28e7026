"""Shared fixtures: tiny seeded synthetic scenes and the optional shared data folder."""
from __future__ import annotations

import os
from pathlib import Path

# Qt tests run without a screen; set before any test imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "resources" / "samples"


def shared_data_dir() -> Path:
    return Path(os.environ.get("MATTING_STUDIO_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture
def one_torch_thread():
    """The 2 test cores are shared: two OpenMP threads under load run tiny nets 20x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def render_scene(h: int = 240, w: int = 320, seed: int = 0, shadow: bool = True, hole: bool = True,
                 colour=(0.8, 0.2, 0.2), backdrop=(0.85, 0.8, 0.3), noise: float = 0.01):
    """(photo, plate, alpha): an elliptical product (optionally with a see-through hole)
    on a lit paper backdrop with fine texture, an optional cast shadow, independent noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    back = np.ones((h, w, 3), np.float32) * np.array(backdrop, np.float32)
    back *= (1.0 - 0.25 * yy / h)[..., None]
    texture = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3) * 0.03
    back = np.clip(back + texture[..., None], 0, 1)
    big = np.zeros((h * 4, w * 4), np.float32)
    centre = (w * 2, h * 2 + h // 4)
    cv2.ellipse(big, centre, (w // 2, h), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    if hole:
        cv2.circle(big, centre, h // 3, 0.0, -1, cv2.LINE_AA)
    alpha = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    fg = np.ones((h, w, 3), np.float32) * np.array(colour, np.float32) * (0.7 + 0.3 * xx / w)[..., None]
    darkening = np.ones((h, w), np.float32)
    if shadow:
        s = np.zeros((h, w), np.float32)
        cv2.ellipse(s, (w // 2 + w // 8, h - h // 10), (w // 3, h // 14), 0, 0, 360, 1, -1)
        darkening = 1 - 0.45 * cv2.GaussianBlur(s, (0, 0), w / 40)
    photo = alpha[..., None] * fg + (1 - alpha[..., None]) * back * darkening[..., None]
    photo = np.clip(photo + rng.normal(0, noise, photo.shape), 0, 1).astype(np.float32)
    plate = np.clip(back + rng.normal(0, noise, back.shape), 0, 1).astype(np.float32)
    return photo, plate, alpha.astype(np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))
