"""The training loop: checkpoints on a timer and at exit, --resume, CSV log and PNG plot, optional SWA.

A checkpoint (``OUT/last.pt``) holds the model, the optimiser, the SWA model if
any, the step, the next sample index (the data stream's position: sample ``i``
is rendered from seed ``TRAIN_SEED_BASE + i``), torch's RNG state and the
config; the previous one is kept as ``OUT/previous.pt``. SIGTERM and SIGINT
finish the current step, save, and exit 0.

An optional training *stage* (e.g. :class:`core.train.adversarial.AdversarialStage`)
replaces the task's loss and adds its own state to the checkpoint under
``"stage"``; without one, the loop and the checkpoint are exactly the plain ones.
"""
from __future__ import annotations

import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Protocol

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from core.errors import MattingError
from core.models.registry import get_spec
from core.train.data import iterate_batches
from core.train.plot import append_log, plot_losses
from core.train.tasks import Task

WARMUP_STEPS = 300
SWA_START_FRACTION = 0.75


def learning_rate(step: int, config: dict) -> float:
    """Linear warm-up, then cosine decay to 5 % at ``config['steps']``; constant (SWA) after ``swa_start``."""
    base, total = config["lr"], max(1, config["steps"])
    if step < WARMUP_STEPS:
        return base * (step + 1) / WARMUP_STEPS
    if config.get("swa") and step >= SWA_START_FRACTION * total:
        step = int(SWA_START_FRACTION * total)
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a killed job never leaves a half-written ``last.pt``."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    if path.exists():
        os.replace(path, path.with_name("previous.pt"))
    os.replace(tmp, path)


def mirror_run(out: Path, mirror: str | None) -> None:
    """Copy last.pt, log.csv and loss.png to ``mirror`` (a folder outside the work tree survives a fresh checkout)."""
    if not mirror:
        return
    target = Path(mirror)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("last.pt", "log.csv", "loss.png"):
            if (out / name).exists():
                shutil.copyfile(out / name, target / (name + ".tmp"))
                os.replace(target / (name + ".tmp"), target / name)
    except OSError as exc:  # a full or missing mirror must not stop training
        print(f"could not mirror the run to {target}: {exc}", flush=True)


def load_checkpoint(out: Path) -> dict | None:
    for name in ("last.pt", "previous.pt"):
        path = out / name
        if path.exists():
            try:
                return torch.load(path, map_location="cpu", weights_only=False)
            except Exception as exc:  # noqa: BLE001 - a damaged last.pt falls back to previous.pt
                print(f"could not read {path}: {exc!r}", flush=True)
    return None


DEFAULT_STEPS = 30_000


def given_mirror(config: dict) -> bool:
    return bool(config.get("mirror")) and (Path(config["mirror"]) / "last.pt").exists()


DEFAULT_HARD_FRACTION = 0.5  # runs saved without the key resume with it too
DEFAULT_FILLED_MASKS = 0.3  # new runs; runs saved without the key resume without (as they were trained)
DEFAULT_COARSE_NET = 0.5  # the same


def ema_model(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model``'s weights and batch-norm buffers (decay per step)."""
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def resolve_config(task: Task, given: dict, saved: dict | None) -> dict:
    """Options given as None take the checkpoint's value when resuming, else the task's default.

    Architecture keys (mid, width, stem_stride, hidden) always come from the checkpoint.
    """
    defaults = {"size": task.default_size, "batch": task.default_batch, "lr": task.default_lr,
                "steps": DEFAULT_STEPS, "swa": False, "hybrid": True, "bf16": False, "channels_last": True,
                "hard_fraction": DEFAULT_HARD_FRACTION, "ema": 0.0,
                "full_scale": 1, "filled_masks": 0.0 if saved else DEFAULT_FILLED_MASKS,
                "coarse_net": 0.0 if saved else DEFAULT_COARSE_NET,
                "binary_masks": 0.0,  # off: session 5 measured no gain (see the model card)
                "refraction": 0.0, "glass_close": 0.0, "occlusion": 0.0, "plants": 0.0}
    config = {**defaults, **(saved or {})}
    config.update({k: v for k, v in given.items() if v is not None})
    for key in ("mid", "width", "stem_stride", "hidden", "architecture"):
        if saved and key in saved:
            config[key] = saved[key]
    if task.name == "matting":
        config["architecture"] = run_architecture(config) if saved else (config.get("architecture")
                                                                          or get_spec("matting").architecture)
    return config


#: the matting shape of runs saved without one (before --architecture existed, or started without the option
#: while the registry shipped it): a new run without the option takes the registry's, and saves it
LEGACY_MATTING_ARCHITECTURE = "bgm-small-h8-p16"


def run_architecture(config: dict) -> str:
    """The matting architecture a run's saved configuration names."""
    return config.get("architecture") or LEGACY_MATTING_ARCHITECTURE


def load_expanding_inputs(model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> list[str]:
    """Load a checkpoint whose convolutions may have fewer INPUT channels than ``model``'s.

    New input channels are appended last, so the old weights go to ``[:, :old]``
    and the new columns start at zero: the network computes exactly what it did,
    and training learns to use the new inputs. Adam's moments are padded the same
    way. Returns the names of the expanded parameters.
    """
    saved, expanded = state["model"], []
    current = model.state_dict()
    for name, tensor in list(saved.items()):
        target = current.get(name)
        if target is not None and tensor.dim() == 4 and target.shape[1] > tensor.shape[1] and target.shape[0] == tensor.shape[0]:
            grown = torch.zeros_like(target)
            grown[:, : tensor.shape[1]] = tensor
            saved[name] = grown
            expanded.append(name)
    model.load_state_dict(saved)
    optim_state = state["optimizer"]
    if expanded:
        index = {name: i for i, (name, _) in enumerate(model.named_parameters())}
        for name in expanded:
            moments = optim_state["state"].get(index[name], {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in moments:
                    grown = torch.zeros_like(current[name])
                    grown[:, : moments[key].shape[1]] = moments[key]
                    moments[key] = grown
    optimizer.load_state_dict(optim_state)
    return expanded


class Stage(Protocol):
    """A training stage that owns more than the task's loss (extra networks, optimisers, data).

    ``start`` runs once after the model is built and loaded (``state`` is the
    checkpoint being resumed, or None); ``compute_loss`` replaces the task's;
    ``state_dict`` is saved in the checkpoint under ``"stage"`` and handed back
    to ``start`` (as ``state["stage"]``) on resume.
    """

    name: str

    def start(self, model: torch.nn.Module, state: dict | None, config: dict) -> None: ...

    def compute_loss(self, model: torch.nn.Module, batch: dict, config: dict) -> tuple[torch.Tensor, dict]: ...

    def state_dict(self) -> dict: ...


def train(task: Task, config: dict, out: Path, data_dir: str | None, resume: bool, log_every: int = 10,
          stage: Stage | None = None) -> int:
    """Train ``task`` until ``config['steps']`` or a signal; returns the step reached.

    ``config`` values that are None are filled by :func:`resolve_config`. ``stage``,
    when given, computes the loss instead of the task and checkpoints its own state.
    """
    out.mkdir(parents=True, exist_ok=True)
    state = load_checkpoint(out) if resume else None
    if state is None and resume and given_mirror(config):
        state = load_checkpoint(Path(config["mirror"]))  # the work tree was laid anew: continue from the mirror
        if not (out / "log.csv").exists() and (Path(config["mirror"]) / "log.csv").exists():
            shutil.copyfile(Path(config["mirror"]) / "log.csv", out / "log.csv")
    config = resolve_config(task, config, state["config"] if state is not None else None)
    torch.set_num_threads(config["threads"])
    print("config " + " ".join(f"{k}={v}" for k, v in sorted(config.items())), flush=True)
    model = task.build_model(config)
    if config.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)  # about 1.2x faster convolutions on this CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=1e-4)
    swa_model = ema = None
    step, next_index = 0, 0
    if state is not None:
        expanded = load_expanding_inputs(model, optimizer, state)
        if expanded:
            print(f"grew the input channels of {', '.join(expanded)} (new inputs start at zero weight)", flush=True)
        step, next_index = state["step"], state["next_index"]
        torch.set_rng_state(state["rng"])
        if state.get("swa_model") is not None:
            swa_model = AveragedModel(model)
            swa_model.load_state_dict(state["swa_model"])
        if config["ema"] and state.get("ema_model") is not None:
            ema = ema_model(model, config["ema"])
            ema.load_state_dict(state["ema_model"])
        print(f"resumed from step {step} (sample {next_index})", flush=True)
    else:
        torch.manual_seed(config.get("seed", 0))
        if config.get("init_weights"):
            # no checkpoint anywhere: start from exported weights (e.g. resources/models/<file>), fresh optimiser
            weights = torch.load(config["init_weights"], map_location="cpu", weights_only=True)
            weights = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
            current = model.state_dict()
            if task.name == "matting" and any(k in current and current[k].shape != v.shape for k, v in weights.items()):
                from core.train.widen import widen_matting

                try:
                    grown = widen_matting(model, weights)
                except ValueError as exc:
                    raise MattingError(f"--init-weights does not fit the {config.get('architecture')} network: {exc}",
                                       config["init_weights"]) from exc
                print(f"initialised from {config['init_weights']}, widened ({len(grown)} tensors grew; "
                      "the network computes what the weights computed)", flush=True)
            else:
                model.load_state_dict(weights)
                print(f"initialised from {config['init_weights']}", flush=True)
    if stage is None and state is not None and state.get("stage") is not None:
        raise MattingError(f"this run was trained with the {state['stage'].get('name', 'extra')} stage; "
                           "resume it with that stage's option (--adversarial), or start a new --out", out)
    if stage is not None:
        stage.start(model, state, config)
    compute_loss = stage.compute_loss if stage is not None else task.compute_loss
    if config["ema"] and ema is None:
        ema = ema_model(model, config["ema"])  # starts at the current weights (a resumed run gets one here)
    model.train()

    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def snapshot() -> dict:
        extra = {"stage": stage.state_dict()} if stage is not None else {}
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "swa_model": swa_model.state_dict() if swa_model is not None else None,
            "ema_model": ema.state_dict() if ema is not None else None,
            "step": step,
            "next_index": next_index,
            "rng": torch.get_rng_state(),
            "config": config,
            "task": task.name,
            **extra,
        }

    dataset = task.build_dataset(config, data_dir)
    sums: dict[str, float] = {}
    count, synth = 0, 0.0
    window_start = time.monotonic()
    last_save = time.monotonic()
    every = config["checkpoint_every_min"] * 60
    try:
        batches = iterate_batches(dataset, next_index, config["batch"], config["workers"])
        while step < config["steps"] and stop["signal"] is None:
            next_index, batch = next(batches)
            lr = learning_rate(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, parts = compute_loss(model, batch, config)
            if not torch.isfinite(loss):
                print(f"step {step}: non-finite loss {loss.item()}, batch skipped", flush=True)
                optimizer.zero_grad(set_to_none=True)
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            if ema is not None:
                ema.update_parameters(model)
            swa_every = max(1, min(10, config["steps"] // 100))
            if config.get("swa") and step >= SWA_START_FRACTION * config["steps"] and step % swa_every == 0:
                if swa_model is None:
                    swa_model = AveragedModel(model)
                swa_model.update_parameters(model)
            sums["loss"] = sums.get("loss", 0.0) + loss.item()
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            synth += float(batch["synth"].float().mean())
            count += 1
            if step % log_every == 0:
                elapsed = time.monotonic() - window_start
                row = {"step": step, "time_s": round(time.time(), 1), "samples": next_index,
                       **{k: round(v / count, 6) for k, v in sums.items()}, "lr": lr,
                       "samples_per_s": round(count * config["batch"] / elapsed, 3), "synth": round(synth / count, 2)}
                append_log(out / "log.csv", row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                sums, count, synth, window_start = {}, 0, 0.0, time.monotonic()
            if time.monotonic() - last_save > every:
                save_checkpoint(out / "last.pt", snapshot())
                plot_losses(out / "log.csv", out / "loss.png")
                mirror_run(out, config.get("mirror"))
                last_save = time.monotonic()
    finally:
        save_checkpoint(out / "last.pt", snapshot())
        if (out / "log.csv").exists():
            plot_losses(out / "log.csv", out / "loss.png")
        mirror_run(out, config.get("mirror"))
        for s, handler in previous.items():
            signal.signal(s, handler)
        reason = f"signal {stop['signal']}" if stop["signal"] is not None else f"step {step}"
        print(f"saved {out / 'last.pt'} at step {step} ({reason})", flush=True)
    return step
