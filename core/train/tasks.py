"""What each network trains on: model factory, dataset, loss per batch.

A task is plain data plus three functions so the trainer stays generic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from core.train.data import PairDataset, dataset_shares
from core.train.losses import coarse_loss


@dataclass(frozen=True)
class Task:
    name: str  # registry name the export writes ("coarse" or "matting")
    build_model: Callable[[dict], nn.Module]
    build_dataset: Callable[[dict, str | None], PairDataset]
    compute_loss: Callable[[nn.Module, dict, dict], tuple[torch.Tensor, dict]]
    default_size: int
    default_batch: int
    default_lr: float


def _build_coarse(config: dict) -> nn.Module:
    from core.models.u2net import CoarseU2Net

    return CoarseU2Net(mid=config.get("mid", 16), out=config.get("width", 64), stem_stride=config.get("stem_stride", 4))


def _coarse_loss(model: nn.Module, batch: dict, config: dict) -> tuple[torch.Tensor, dict]:
    x = torch.cat([batch["photo"], batch["plate"]], 1)
    if config.get("channels_last"):
        x = x.contiguous(memory_format=torch.channels_last)
    # bfloat16 autocast: about 1.2x on this CPU (AMX), 1.45x with channels-last; the loss stays float32
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(config.get("bf16"))):
        logits = model(x)
    return coarse_loss([t.float() for t in logits], batch["alpha"], hybrid=config.get("hybrid", True))


COARSE = Task(
    name="coarse",
    build_model=_build_coarse,
    build_dataset=lambda config, data: PairDataset(config["size"], data, coarse=False, **dataset_shares(config)),
    compute_loss=_coarse_loss,
    default_size=288,
    default_batch=8,
    default_lr=1e-3,
)


def get_task(name: str) -> Task:
    if name == "coarse":
        return COARSE
    if name == "matting":
        from core.train.matting_task import MATTING

        return MATTING
    raise ValueError(f"unknown network {name!r}: choose 'coarse' or 'matting'.")
