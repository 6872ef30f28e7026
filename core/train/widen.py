"""Grow a trained matting network into a wider one that computes exactly the same thing.

Net2Net-style widening with zero-initialised connections: every convolution of
the wider base keeps the trained filters in its first output channels, reads
the trained inputs at their new positions (the parts of a concatenation move
when an earlier part grows) and gives the new input channels zero weight. New
output channels keep their random initialisation, so they carry signal from
the first step, while nothing reads them until training moves the zero weights
of the layer after. Residual blocks the old network lacks start as the identity
(their last 1x1 convolution is zero, see ``core.models.matting._residual``).
"""
from __future__ import annotations

import torch

from core.models.matting import MattingNetwork


def matting_config(state: dict) -> dict:
    """The MattingNetwork arguments (widths, decoder, full_res_blocks, hidden) a state dict was saved from."""
    widths = tuple(int(state[f"base.enc{i}.0.0.weight"].shape[0]) for i in range(1, 5))
    decoder = tuple(int(state[key].shape[0]) for key in ("base.dec2.0.0.weight", "base.dec1.0.weight", "base.dec0.0.weight"))
    blocks = len({key.split(".")[2] for key in state if key.startswith("base.full_res.")})
    return {"widths": widths, "decoder": decoder, "full_res_blocks": blocks,
            "hidden": int(state["base.head.weight"].shape[0]) - 5}


def _input_positions(old_parts: tuple, new_parts: tuple) -> torch.Tensor:
    """Where each old input channel sits in the new input (parts of a concatenation, in order)."""
    positions, old_start, new_start = [], 0, 0
    for old, new in zip(old_parts, new_parts):
        if old > new:
            raise ValueError(f"cannot narrow an input part from {old} to {new} channels")
        positions.extend(range(new_start, new_start + old))
        old_start, new_start = old_start + old, new_start + new
    return torch.tensor(positions)


def widen_matting(model: MattingNetwork, weights: dict) -> list[str]:
    """Load ``weights`` (a narrower or equal MattingNetwork state dict) into ``model``, widening as described
    above. Returns the names of the tensors that grew. Raises ValueError when a tensor would have to shrink
    or the hidden width differs."""
    old_config = matting_config(weights)
    if old_config["hidden"] != model.base.hidden:
        raise ValueError(f"the weights have {old_config['hidden']} hidden channels, the network {model.base.hidden}")
    old_base = MattingNetwork(hidden=old_config["hidden"], widths=old_config["widths"], decoder=old_config["decoder"],
                              full_res_blocks=old_config["full_res_blocks"]).base
    state = model.state_dict()
    grown = []
    for name, old in weights.items():
        if name not in state:
            raise ValueError(f"{name} is not part of the wider network")
        new = state[name]
        old = old.to(new.dtype)
        if old.shape == new.shape:
            state[name] = old.clone()
            continue
        if old.dim() != new.dim() or any(o > n for o, n in zip(old.shape, new.shape)):
            raise ValueError(f"{name}: cannot go from {tuple(old.shape)} to {tuple(new.shape)}")
        target = new.clone()
        if old.dim() == 4:
            prefix = name[len("base."):-len(".weight")] if name.startswith("base.") else None
            if prefix in old_base.concat_inputs:
                rows = _input_positions(old_base.concat_inputs[prefix], model.base.concat_inputs[prefix])
            else:
                rows = torch.arange(old.shape[1])
            target[: old.shape[0]] = 0  # trained filters read nothing from the new input channels
            target[: old.shape[0], rows] = old
        else:
            target[: old.shape[0]] = old
        state[name] = target
        grown.append(name)
    model.load_state_dict(state)
    return grown
