"""Training step of the matting network: base at a random reduced scale, refiner on chosen full-resolution patches.

Each batch is rendered at ``size`` (the "full" resolution). The base sees it
downsampled by a random factor in ``BASE_SCALES``, so the base trains at
128-384 px, the size it runs at in inference (long side 384; a 24 MP photo is
downsampled about 16x, more than the refiner sees in training), and the
refiner re-solves, per image, the ``TOP_TILES`` highest-scoring tiles (as at
inference) plus ``RANDOM_TILES`` random ones. With ``full_scale`` F (``--full-scale``)
pairs are rendered F times larger and the base still sees 128-384 px, so the
refiner learns the F-3F times upsampling of real photos (about 16x at 24 MP). The coarse mask input is a degraded
true alpha (see ``core.train.data.degrade_mask``), or for a ``coarse_net`` share of the samples (``--coarse-net``)
the shipped coarse network's own mask, so the matting network learns what that mask gets right (the soft
alpha of glass) as well as what it gets wrong.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core.models.matting import clamp_st
from core.models.patches import crop_patches, sample_base, select_tiles, tile_scores
from core.train.data import PairDataset, dataset_shares
from core.train.losses import matting_loss
from core.train.tasks import Task

BASE_SCALES = (1.0, 1.5, 2.0, 3.0)
TOP_TILES = 24
RANDOM_TILES = 8


def _build_matting(config: dict) -> nn.Module:
    from core.models.matting import MattingNetwork
    from core.models.registry import MATTING_ARCHITECTURES
    from core.train.trainer import run_architecture

    shape = MATTING_ARCHITECTURES[run_architecture(config)]
    return MattingNetwork(hidden=config.get("hidden", 8), patch=config.get("patch", 16), **shape)


def _choose_tiles(alpha_b: torch.Tensor, error_b: torch.Tensor, full_size, patch: int, generator: torch.Generator):
    scores = tile_scores(alpha_b.detach().numpy(), error_b.detach().numpy(), full_size, patch)
    ys, xs = select_tiles(scores, full_size, patch, TOP_TILES, threshold=0.0)
    rows, cols = scores.shape
    pick = torch.randint(0, rows * cols, (RANDOM_TILES,), generator=generator).numpy()
    ry = np.minimum((pick // cols) * patch, full_size[0] - patch)
    rx = np.minimum((pick % cols) * patch, full_size[1] - patch)
    return torch.from_numpy(np.concatenate([ys, ry])), torch.from_numpy(np.concatenate([xs, rx]))


def network_coarse(photo: torch.Tensor, plate: torch.Tensor) -> torch.Tensor:
    """The shipped coarse network's mask (B, 1, H, W) for photos and plates (B, 3, H, W), made as
    ``core.models.inference.predict_coarse_mask`` makes it (torch resizing instead of OpenCV's).
    Not trained here (no gradient)."""
    from core.models.inference import coarse_input_size, coarse_probability
    from core.models.registry import load_model

    model = load_model("coarse", "cpu")
    height, width = photo.shape[-2:]
    h, w = coarse_input_size(height, width)
    mode = "area" if h < height else "bilinear"
    with torch.no_grad():
        probability = coarse_probability(model, *(F.interpolate(t.float(), size=(h, w), mode=mode) for t in (photo, plate)))
        return F.interpolate(probability, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 1)


def matting_step_loss(model: nn.Module, batch: dict, config: dict) -> tuple[torch.Tensor, dict]:
    """Base loss at base resolution plus refiner loss on the patches (both :func:`matting_loss`)."""
    photo, plate, alpha, foreground, coarse = (batch[k] for k in ("photo", "plate", "alpha", "foreground", "coarse"))
    full_size = tuple(photo.shape[-2:])
    generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,))))
    share = config.get("coarse_net", 0.0)
    if share > 0:
        pick = torch.rand(photo.shape[0], generator=generator) < share
        if pick.any():
            coarse = coarse.clone()
            coarse[pick] = network_coarse(photo[pick], plate[pick]).to(coarse.dtype)
    scale = BASE_SCALES[int(torch.randint(0, len(BASE_SCALES), (1,), generator=generator))]
    scale *= config.get("full_scale", 1)  # pairs rendered that much larger: the base keeps its size
    small = (max(32, round(full_size[0] / scale)), max(32, round(full_size[1] / scale)))

    def down(x):
        return F.interpolate(x, size=small, mode="area")

    photo_b, plate_b = down(photo), down(plate)
    inputs = [photo_b, plate_b, down(coarse)]
    if config.get("channels_last"):
        inputs = [x.contiguous(memory_format=torch.channels_last) for x in inputs]
    # bfloat16 autocast (--bf16): the wide base trains 2.5x faster on this CPU (AMX); losses stay float32
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(config.get("bf16"))):
        outputs = model.base(*inputs)
    alpha_b, residual_b, error_b, hidden_b = (x.float() for x in outputs)
    foreground_b = clamp_st(photo_b + residual_b, 0, 1)
    base_loss, base_parts = matting_loss(alpha_b, foreground_b, error_b, down(alpha), down(foreground), photo_b, plate_b)

    refiner = model.refiner
    patch, context = refiner.patch, refiner.context
    base_out = torch.cat([alpha_b, residual_b, error_b, hidden_b], 1)
    crops = {"photo": [], "plate": [], "base": [], "alpha": [], "foreground": [], "photo_c": [], "plate_c": []}
    for b in range(photo.shape[0]):
        ys, xs = _choose_tiles(alpha_b[b, 0], error_b[b, 0], full_size, patch, generator)
        for key, image in (("photo", photo), ("plate", plate)):
            crops[key].append(crop_patches(image[b].permute(1, 2, 0), ys, xs, patch, context))
        for key, image in (("alpha", alpha), ("foreground", foreground), ("photo_c", photo), ("plate_c", plate)):
            crops[key].append(crop_patches(image[b].permute(1, 2, 0), ys, xs, patch, 0))
        crops["base"].append(sample_base(base_out[b : b + 1], ys, xs, full_size, patch, context))
    crops = {k: torch.cat(v) for k, v in crops.items()}
    alpha_r, residual_r = refiner(crops["photo"], crops["plate"], crops["base"])
    foreground_r = clamp_st(crops["photo_c"] + residual_r, 0, 1)
    refine_loss, refine_parts = matting_loss(
        alpha_r, foreground_r, None, crops["alpha"], crops["foreground"], crops["photo_c"], crops["plate_c"]
    )
    parts = {**{f"base_{k}": v for k, v in base_parts.items()}, **{f"ref_{k}": v for k, v in refine_parts.items()}}
    return base_loss + refine_loss, parts


MATTING = Task(
    name="matting",
    build_model=_build_matting,
    build_dataset=lambda config, data: PairDataset(config["size"] * config.get("full_scale", 1), data, coarse=True,
                                                   **dataset_shares(config)),
    compute_loss=matting_step_loss,
    default_size=384,
    default_batch=4,
    default_lr=1e-3,
)
