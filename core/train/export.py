"""Export a run's weights to ``resources/models/<file>`` (state dict only) and print the sha256 for the registry."""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from core.models.registry import ARCHITECTURES, file_sha256, get_spec, models_dir
from core.train.trainer import run_architecture


def _swa_state(state: dict, task_name: str) -> dict | None:
    """The SWA model's weights with batch-norm statistics recomputed on fresh training batches, or None."""
    swa = state.get("swa_model")
    if not swa:
        return None
    from torch.optim.swa_utils import AveragedModel

    from core.train.data import iterate_batches
    from core.train.tasks import get_task

    task = get_task(task_name)
    config = state["config"]
    model = task.build_model(config)
    averaged = AveragedModel(model)
    averaged.load_state_dict(swa)
    # BN statistics: forward 20 batches from a seed range after the run's position
    batches = iterate_batches(task.build_dataset(config, config.get("data")), state["next_index"] + 10_000_000, config["batch"], 0)
    for module in averaged.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    averaged.train()
    with torch.no_grad():
        for _ in range(20):
            _, batch = next(batches)
            task.compute_loss(averaged.module, batch, config)
    return averaged.module.state_dict()


def _ema_state(state: dict) -> dict | None:
    """The weights' exponential moving average (with its batch-norm buffers) of a run trained with --ema, or None."""
    ema = state.get("ema_model")
    if not ema:
        return None
    return {k[len("module."):]: v for k, v in ema.items() if k.startswith("module.")}


def register_checksum(name: str, sha256: str, architecture: str | None = None) -> None:
    """Rewrite the sha256 (and the architecture, if given) of ``name``'s ModelSpec in core/models/registry.py
    (a developer step after an export)."""
    import core.models.registry as registry

    source = Path(registry.__file__)
    text = source.read_text()
    filename = re.escape(get_spec(name).filename)
    pattern = re.compile(rf'(filename="{filename}",\s*sha256=")[0-9a-f]*(",\s*architecture=")([^"]*)(")')
    updated, count = pattern.subn(lambda m: f"{m[1]}{sha256}{m[2]}{architecture or m[3]}{m[4]}", text)
    if count != 1:
        raise SystemExit(f"could not find the sha256 of {name!r} in {source}; update it by hand.")
    source.write_text(updated)
    print(f"registered in {source}")


def average_weights(state: dict, other_path: str | Path) -> dict:
    """The mean of ``state`` and the weights file at ``other_path``, tensor by tensor (float32; integer buffers
    such as batch-norm step counts are ``state``'s).

    For a run fine-tuned from that file this is WiSE-FT's weight-space ensemble (Wortsman et al. 2022): the two
    lie in one basin, and their mean keeps what each does better. Session 10's matting run, trained on pairs at
    twice the size, was better at photo size and worse at 512x384 than its start; the mean was better at both.
    """
    other = torch.load(other_path, map_location="cpu", weights_only=True)
    if set(other) != set(state):
        missing, extra = sorted(set(state) - set(other)), sorted(set(other) - set(state))
        raise SystemExit(f"{other_path} is not the same network: missing {missing[:3]}, extra {extra[:3]}.")
    averaged = {}
    for key, value in state.items():
        if value.shape != other[key].shape:
            raise SystemExit(f"{other_path} is not the same network: {key} is {tuple(other[key].shape)}, "
                             f"the run's is {tuple(value.shape)}.")
        averaged[key] = (value.float() + other[key].float()) / 2 if value.is_floating_point() else value
    return averaged


def export_weights(name: str, run: Path, destination: str | Path | None = None, half: bool = False,
                   register: bool = False, raw: bool = False, average_with: str | Path | None = None) -> Path:
    """Write ``run/last.pt``'s model as the registry's file for ``name``.

    The SWA average if the run has one, else the moving average of a run trained
    with ``--ema`` (unless ``raw``), else the last weights; with ``average_with``
    (a weights file of the same network) the mean of those and that file's (:func:`average_weights`).
    """
    spec = get_spec(name)
    checkpoint = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    if checkpoint.get("task") != name:
        raise SystemExit(f"{run / 'last.pt'} is a {checkpoint.get('task')!r} run, not {name!r}.")
    weights, state = "SWA average", _swa_state(checkpoint, name)
    if state is None and not raw:
        weights, state = "moving average", _ema_state(checkpoint)
    if state is None:
        weights, state = "last weights", checkpoint["model"]
    architecture = run_architecture(checkpoint["config"]) if name == "matting" else spec.architecture
    if architecture not in ARCHITECTURES:
        raise SystemExit(f"{run / 'last.pt'} was trained as {architecture!r}, which the registry does not know.")
    if average_with is not None:
        state = average_weights(state, average_with)
        weights += f", averaged with {average_with}"
    ARCHITECTURES[architecture]().load_state_dict(state)  # fails loudly if the run's architecture is wrong
    if architecture != spec.architecture and not register:
        print(f"note: this run is {architecture!r}; the registry loads {name!r} as {spec.architecture!r}. "
              "Use --register to switch it, or load the file with that architecture yourself.")
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    folder = Path(destination) if destination else models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.filename
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    params = sum(v.numel() for k, v in state.items() if v.is_floating_point() and "running" not in k)
    print(f"{name}: step {checkpoint['step']} ({weights}), {params} parameters -> {path}")
    sha256 = file_sha256(path)
    print(f"sha256 {sha256}  size {path.stat().st_size} bytes")
    if register:
        register_checksum(name, sha256, architecture)
    return path
