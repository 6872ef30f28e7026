"""Camera side of a shot: plate re-capture motion, exposure drift, sensor noise and JPEG.

Coordinates follow the rest of core: homographies map photo pixel coordinates
(x, y, 1) to plate pixel coordinates; ``warp`` uses OpenCV's inverse-map
convention (dst(p) = src(M p)).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Sensor:
    """Noise model shared by the photo and the plate (same camera): sigma^2 = read^2 + shot^2 * signal.

    grain: std (px) of the spatial correlation demosaicing gives the noise (0 = white).
    """

    read: float
    shot: float
    grain: float


def sample_sensor(rng: np.random.Generator) -> Sensor:
    return Sensor(read=rng.uniform(0.002, 0.01), shot=rng.uniform(0.004, 0.025),
                  grain=rng.uniform(0.5, 0.9) if rng.random() < 0.4 else 0.0)


def sample_motion(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Photo -> plate homography of a tripod nudged between shots.

    About 1 % translation, up to 1 degree rotation, +-1 % scale and a little
    perspective (corner jitter of 0.2 % of the frame). 3x3 float64.
    """
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    c = corners.mean(0)
    a = np.radians(rng.uniform(-1.0, 1.0))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * np.exp(rng.uniform(-0.01, 0.01))
    t = rng.uniform(-0.01, 0.01, 2) * (w, h)
    moved = (corners - c) @ rot.T + c + t + rng.normal(0.0, 0.002 * max(h, w), (4, 2))
    return cv2.getPerspectiveTransform(corners.astype(np.float32), moved.astype(np.float32)).astype(np.float64)


def sample_residual(rng: np.random.Generator, h: int, w: int, max_px: float = 0.45) -> np.ndarray:
    """A sub-pixel homography (corners moved by at most ``max_px``): what a good alignment leaves."""
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    ang = rng.uniform(0, 2 * np.pi, 4)
    d = np.stack([np.cos(ang), np.sin(ang)], 1) * rng.uniform(0.0, max_px, (4, 1))
    return cv2.getPerspectiveTransform(corners.astype(np.float32), (corners + d).astype(np.float32)).astype(
        np.float64)


def sample_gain(rng: np.random.Generator) -> np.ndarray:
    """Per-channel exposure / white-balance drift, correlated across channels, each in [0.85, 1.15]."""
    common = rng.normal(0.0, 0.05)
    return np.exp(np.clip(common + rng.normal(0.0, 0.03, 3), np.log(0.85), np.log(1.15)))


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def warp(image: np.ndarray, inverse_map: np.ndarray, h: int, w: int, cubic: bool = False) -> np.ndarray:
    """dst(p) = image(inverse_map @ p) for p in an hxw frame; mirrored beyond the source's border."""
    flags = (cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(image, inverse_map, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)


_BANK = 1024
_SHARED = 0.4               # share of luminance (channel-common) noise baked into the bank


@functools.lru_cache(maxsize=2)
def _noise_bank(index: int = 0) -> np.ndarray:
    """Fixed 1024x1024x4 block number ``index`` of unit normal noise, made once per process.

    Channels 0-2 are RGB sensor noise with a common (luminance) component;
    channel 3 is independent, for single-plane fields. Drawing fresh normals
    costs more than the rest of a pair; random crops, flips and channel
    shuffles of one bank are as good for training and testing. Photo and plate
    draw from different banks: crops of one bank can coincide at some offset or
    flip, and correlated noise is a false match for alignment.
    """
    rng = np.random.default_rng(20240613 + index)
    bank = rng.standard_normal((_BANK, _BANK, 4), np.float32)
    lum = bank[..., 3].copy()
    bank[..., :3] *= np.float32(np.sqrt(1.0 - _SHARED ** 2))
    bank[..., :3] += np.float32(_SHARED) * lum[..., None]
    bank[..., 3] = rng.standard_normal((_BANK, _BANK), np.float32)
    return bank


def noise_field(rng: np.random.Generator, shape: tuple, bank: int = 0) -> np.ndarray:
    """Unit normal float32 noise of ``shape`` (hxw, or hxwx3 with luminance-correlated channels).

    Cut from the noise bank at a random place with random flips; frames larger
    than the bank get it tiled with a random phase. bank: 0 for photos, 1 for plates.
    """
    h, w = shape[:2]
    bank = _noise_bank(bank)
    flip_y, flip_x = rng.random(2) < 0.5
    src = bank[::-1 if flip_y else 1, ::-1 if flip_x else 1]
    chans = slice(0, 3) if len(shape) == 3 else 3
    if h <= _BANK and w <= _BANK:
        y0, x0 = rng.integers(0, _BANK - h + 1), rng.integers(0, _BANK - w + 1)
        return np.ascontiguousarray(src[y0:y0 + h, x0:x0 + w, chans])
    oy, ox = (int(v) for v in rng.integers(0, _BANK, 2))
    src = np.ascontiguousarray(src[..., chans])
    out = np.empty(tuple(shape), np.float32)
    for y in range(0, h, _BANK):                 # block copies: much faster than fancy indexing
        for x in range(0, w, _BANK):
            for dy, sy, ph in _wrapped(y, oy, min(_BANK, h - y)):
                for dx, sx, pw in _wrapped(x, ox, min(_BANK, w - x)):
                    out[y + dy:y + dy + ph, x + dx:x + dx + pw] = src[sy:sy + ph, sx:sx + pw]
    return out


def _wrapped(start: int, phase: int, length: int) -> list[tuple[int, int, int]]:
    """(offset in block, offset in bank, length) pieces of a block that may wrap around the bank."""
    s = (start + phase) % _BANK
    first = min(length, _BANK - s)
    pieces = [(0, s, first)]
    if length > first:
        pieces.append((first, 0, length - first))
    return pieces


def add_tiled_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, bank: int = 0) -> np.ndarray:
    """Add ``sigma`` times unit normal noise from ``bank``, tiled, to an HxWx3 image in place (huge frames).

    No clipping and no full-frame noise array: the bank is added block by block.
    """
    h, w = image.shape[:2]
    bank = _noise_bank(bank)
    flip_y, flip_x = rng.random(2) < 0.5
    src = np.ascontiguousarray(bank[::-1 if flip_y else 1, ::-1 if flip_x else 1, :3])
    src *= np.float32(sigma)
    oy, ox = (int(v) for v in rng.integers(0, _BANK, 2))
    for y in range(0, h, _BANK):
        for x in range(0, w, _BANK):
            for dy, sy, ph in _wrapped(y, oy, min(_BANK, h - y)):
                for dx, sx, pw in _wrapped(x, ox, min(_BANK, w - x)):
                    image[y + dy:y + dy + ph, x + dx:x + dx + pw] += src[sy:sy + ph, sx:sx + pw]
    return image


def add_noise(image: np.ndarray, sensor: Sensor, rng: np.random.Generator,
              signal_dependent: bool = True, bank: int = 0) -> np.ndarray:
    """Sensor noise on an HxWx3 float32 image; result clipped to [0, 1].

    bank: which noise bank (see ``noise_field``): 0 for photos, 1 for plates.

    signal_dependent=False (benchmark-sized frames) adds, in place, white noise of
    one sigma (the model's at mid-grey) for the whole frame: far fewer passes over memory.
    """
    if not signal_dependent:
        add_tiled_noise(image, float(np.sqrt(sensor.read ** 2 + 0.5 * sensor.shot ** 2)), rng, bank)
        return np.clip(image, 0.0, 1.0, out=image)
    h, w = image.shape[:2]
    noise = noise_field(rng, (h, w, 3), bank)
    if sensor.grain > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), sensor.grain, dst=noise)
        noise *= np.float32(2.0 * np.sqrt(np.pi) * sensor.grain)   # restore unit variance
    sigma = image * np.float32(sensor.shot ** 2)
    sigma += np.float32(sensor.read ** 2)
    noise *= cv2.sqrt(sigma, dst=sigma)
    noise += image
    return np.clip(noise, 0.0, 1.0, out=noise)


def quantize(image: np.ndarray, jpeg_quality: int | None) -> np.ndarray:
    """8-bit quantisation, optionally through a JPEG round trip (cv2.imencode) at ``jpeg_quality``."""
    u8 = cv2.convertScaleAbs(image, alpha=255.0)               # rounds and saturates to uint8
    if jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(u8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY,
                                                                             int(jpeg_quality)])
        if not ok:
            raise ValueError("JPEG encoding of a synthetic image failed.")
        u8 = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.multiply(u8, np.float32(1.0 / 255.0), dtype=np.float32)


def sample_jpeg(rng: np.random.Generator, p: float = 0.7) -> int | None:
    """A JPEG quality in 85-97 with probability ``p``, else None (lossless 8-bit)."""
    return int(rng.integers(85, 98)) if rng.random() < p else None
