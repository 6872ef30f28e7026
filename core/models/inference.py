"""What the pipeline calls: the coarse mask and the refined matte from numpy images.

Inputs follow the project convention: photo and aligned plate HxWx3 float32
RGB in [0, 1], masks HxW float32 [0, 1]. Networks are fetched from the
registry (loaded once, cached); everything runs under ``torch.inference_mode``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.errors import MattingError
from core.jobs import CancelToken, ProgressFn, check, report
from core.models.patches import crop_patches, paste_patches, sample_base, select_tiles, tile_scores
from core.models.registry import get_spec, load_model

#: Upper bound on refined pixels (tiles x patch^2): 1 MP (about 3,900 tiles) keeps a 24 MP refinement near 2 s on 2 cores.
MAX_REFINED_PIXELS = 1_000_000
PATCH_BATCH = 1024
#: The coarse mask is the minimum of the network's masks for the pair and for its mirror image (see
#: :func:`coarse_probability`). Dev set (session 10 measurement, session 9 weights, summed SAD): 105.9 -> 98.9 at
#: 512x384, the real flowers pair 31.0 -> 24.0, MSE at 1536x1152 3.80 -> 3.62 (SAD there 513.0 -> 517.9).
MIRROR_CONSENSUS = True
#: The matting base runs on the pair and on its mirror image as one batch of two; its alpha, foreground residual
#: and predicted error are the mean of the two views (see :func:`base_views`). Session 13, measured on the
#: validation sets and the dev set (model card).
MIRROR_BASE = True


@dataclass(frozen=True)
class RefinedMatte:
    """Output of :func:`refine_matte`.

    alpha: HxW float32 [0, 1] at the photo's resolution.
    foreground: HxWx3 float32 RGB [0, 1], straight (not premultiplied) colours at the photo's resolution.
    error: hxw float32 [0, 1], the base network's predicted alpha error at the BASE resolution
        (long side min(384, max(H, W))), not upsampled: upsample it yourself if you need it per pixel.
    refined_tiles: number of full-resolution patches the refiner re-solved.
    """

    alpha: np.ndarray
    foreground: np.ndarray
    error: np.ndarray
    refined_tiles: int


def _check_image(name: str, image: np.ndarray, shape: tuple[int, int] | None = None, channels: int | None = 3) -> None:
    expected = "HxWx3" if channels else "HxW"
    ok = isinstance(image, np.ndarray) and image.ndim == (3 if channels else 2) and (not channels or image.shape[2] == channels)
    if not ok:
        raise MattingError(f"the {name} must be an {expected} float32 array, got shape {getattr(image, 'shape', None)}.")
    if shape is not None and image.shape[:2] != shape:
        raise MattingError(f"the {name} is {image.shape[1]}x{image.shape[0]} but the photo is {shape[1]}x{shape[0]}; align it first.")


def _resize(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize to (h, w); large reductions first keep every s-th pixel (s = factor // 3), then area-average.

    A full INTER_AREA pass over 24 MP costs about 0.1 s of CPU per image; the pre-stride cuts it
    5-10x and still averages at least 3x3 samples per output pixel (noise stays low, edges stay put).
    """
    h, w = size_hw
    factor = min(image.shape[0] / h, image.shape[1] / w)
    if factor >= 6:
        step = int(factor // 3)
        image = np.ascontiguousarray(image[step // 2 :: step, step // 2 :: step])
    shrinking = h < image.shape[0] or w < image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _to_tensor(image: np.ndarray, device, dtype) -> torch.Tensor:
    array = image if image.ndim == 3 else image[..., None]
    return torch.from_numpy(np.ascontiguousarray(array, np.float32)).permute(2, 0, 1)[None].to(device, dtype)


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def coarse_input_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) at which the coarse network sees a height x width photo: long side at its input size, aspect kept."""
    scale = get_spec("coarse").input_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def coarse_probability(model: torch.nn.Module, photo: torch.Tensor, plate: torch.Tensor,
                       mirror: Optional[bool] = None) -> torch.Tensor:
    """Fused probability (B, 1, h, w) for photos and plates (B, 3, h, w) already at the coarse input size:
    padded by edge replication to a multiple of 32 for the network, cropped back. Call under no_grad.

    With ``mirror`` (default :data:`MIRROR_CONSENSUS`) the pairs and their left-right mirror images run as one
    batch and the result is the elementwise minimum of the two masks, mirrored back: product only where both
    views agree. The network fills some gaps between a product's parts (backdrop shaded by the product reads
    as close-colour product) in one view and not the other; the minimum keeps the gaps open.
    """
    if mirror is None:
        mirror = MIRROR_CONSENSUS
    h, w = photo.shape[-2:]
    x = torch.cat([photo, plate], 1)
    if mirror:
        x = torch.cat([x, x.flip(-1)], 0)
    x = F.pad(x, (0, -(-w // 32) * 32 - w, 0, -(-h // 32) * 32 - h), mode="replicate")
    probability = torch.sigmoid(model(x)[0])[:, :, :h, :w]
    if mirror:
        direct, mirrored = probability.chunk(2, 0)
        probability = torch.minimum(direct, mirrored.flip(-1))
    return probability


def base_views(model: torch.nn.Module, photo: torch.Tensor, plate: torch.Tensor, coarse: torch.Tensor,
               mirror: Optional[bool] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The matting base's (alpha, residual, error, hidden) for inputs (B, C, h, w) at the base resolution.

    With ``mirror`` (default :data:`MIRROR_BASE`) the inputs and their left-right mirror images run as one batch;
    alpha, residual and error are the mean of the two views (mirrored back): test-time augmentation, which
    averages out the part of the base's guess that depends on which way the product faces. The hidden
    features, which the refiner reads as context, are the direct view's. Differentiable (the adversarial
    training stage assembles its mattes with it).
    """
    if mirror is None:
        mirror = MIRROR_BASE
    if not mirror:
        return model.base(photo, plate, coarse)
    *outputs, hidden = model.base(*(torch.cat([t, t.flip(-1)], 0) for t in (photo, plate, coarse)))
    means = [(direct + mirrored.flip(-1)) / 2 for direct, mirrored in (t.chunk(2, 0) for t in outputs)]
    return (*means, hidden.chunk(2, 0)[0])


def predict_coarse_mask(photo: np.ndarray, aligned_plate: np.ndarray, *, device: Optional[str] = None) -> np.ndarray:
    """Coarse mask HxW float32 [0, 1] at the photo's resolution.

    The inputs are resized (aspect kept) so the long side is the network's input
    size (320), padded by edge replication to a multiple of 32, and the fused
    probability is cropped and bilinearly upsampled back.
    """
    _check_image("photo", photo)
    _check_image("aligned plate", aligned_plate, photo.shape[:2])
    model = load_model("coarse", device)
    device = next(model.parameters()).device
    height, width = photo.shape[:2]
    h, w = coarse_input_size(height, width)
    with torch.inference_mode():
        small = (_to_tensor(_resize(im, (h, w)), device, _model_dtype(model)) for im in (photo, aligned_plate))
        probability = coarse_probability(model, *small)[0, 0].float().cpu().numpy()
    return np.clip(cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1).astype(np.float32)


def refine_matte(
    photo: np.ndarray,
    aligned_plate: np.ndarray,
    coarse_mask: np.ndarray,
    *,
    device: Optional[str] = None,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
) -> RefinedMatte:
    """Alpha and foreground at full resolution from the matting network (base + patch refiner).

    photo, aligned_plate: HxWx3 float32 [0, 1]; coarse_mask: HxW float32 [0, 1].
    The base runs with the long side at 384 px (the registry's input size, the
    largest size it trains at; with session 4's weights a base at 512 was 2-6 %
    better on photo-sized pairs, 1 % worse on the dev set and 40 % slower, see
    the model card); the refiner re-solves the
    highest-scoring 16x16 tiles (predicted error plus alpha uncertainty), at most
    ``MAX_REFINED_PIXELS`` pixels, in batches, checking ``cancel`` between them
    and reporting stage "refine" to ``progress``.
    """
    _check_image("photo", photo)
    _check_image("aligned plate", aligned_plate, photo.shape[:2])
    _check_image("coarse mask", coarse_mask, photo.shape[:2], channels=None)
    photo = np.asarray(photo, np.float32)
    aligned_plate = np.asarray(aligned_plate, np.float32)
    model = load_model("matting", device)
    device = next(model.parameters()).device
    dtype = _model_dtype(model)
    height, width = photo.shape[:2]
    scale = min(1.0, get_spec("matting").input_size / max(height, width))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    report(progress, "refine", 0.0)
    with torch.inference_mode():
        alpha_b, residual_b, error_b, hidden_b = base_views(
            model, *(_to_tensor(_resize(im, (h, w)), device, dtype) for im in (photo, aligned_plate, coarse_mask))
        )
        base_out = torch.cat([alpha_b, residual_b, error_b, hidden_b], 1)
        alpha_small = alpha_b[0, 0].float().cpu().numpy()
        error_small = error_b[0, 0].float().cpu().numpy()
        alpha = cv2.resize(alpha_small, (width, height), interpolation=cv2.INTER_LINEAR)
        foreground = cv2.resize(residual_b[0].permute(1, 2, 0).float().cpu().numpy(), (width, height), interpolation=cv2.INTER_LINEAR)
        np.add(foreground, photo, out=foreground)
        np.clip(foreground, 0, 1, out=foreground)
        check(cancel)
        report(progress, "refine", 0.2)

        refiner = model.refiner
        patch, context = refiner.patch, refiner.context
        tiles = 0
        if height >= patch and width >= patch:
            scores = tile_scores(alpha_small, error_small, (height, width), patch)
            ys, xs = select_tiles(scores, (height, width), patch, MAX_REFINED_PIXELS // (patch * patch))
            tiles = len(ys)
            photo_t, plate_t = torch.from_numpy(photo), torch.from_numpy(aligned_plate)
            for start in range(0, tiles, PATCH_BATCH):
                check(cancel)
                by = torch.from_numpy(ys[start : start + PATCH_BATCH])
                bx = torch.from_numpy(xs[start : start + PATCH_BATCH])
                photo_p = crop_patches(photo_t, by, bx, patch, context)
                plate_p = crop_patches(plate_t, by, bx, patch, context)
                base_p = sample_base(base_out, by.to(device), bx.to(device), (height, width), patch, context)
                alpha_p, residual_p = refiner(photo_p.to(device, dtype), plate_p.to(device, dtype), base_p)
                centre = photo_p[:, :, context:-context, context:-context]
                foreground_p = (centre + residual_p.float().cpu()).clamp(0, 1)
                paste_patches(alpha[..., None], alpha_p.float().cpu().permute(0, 2, 3, 1).numpy(), by.numpy(), bx.numpy(), patch)
                paste_patches(foreground, foreground_p.permute(0, 2, 3, 1).numpy(), by.numpy(), bx.numpy(), patch)
                report(progress, "refine", 0.2 + 0.8 * min(tiles, start + PATCH_BATCH) / tiles)
    report(progress, "refine", 1.0)
    return RefinedMatte(
        alpha=np.clip(alpha, 0, 1).astype(np.float32, copy=False),
        foreground=foreground.astype(np.float32, copy=False),
        error=error_small.astype(np.float32, copy=False),
        refined_tiles=tiles,
    )
