"""Training smoke tests: a few steps of each network on 64 px pairs, checkpoint, --resume, export."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from core.models import registry
from core.train.cli import main as train_main
from core.train.data import PairDataset, degrade_mask, render_pair
from core.train.plot import read_log
from core.train.tasks import get_task
from core.train.trainer import learning_rate, train


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(**overrides) -> dict:
    config = {"size": 64, "batch": 2, "lr": 1e-3, "steps": 2, "threads": 1, "workers": 0,
              "checkpoint_every_min": 5.0, "swa": False, "hybrid": True}
    return {**config, **overrides}


@pytest.mark.slow  # the first optimiser import (torch._dynamo) alone takes seconds on a loaded machine
@pytest.mark.parametrize("network", ["coarse", "matting"])
def test_train_checkpoints_and_resumes(network, tmp_path):
    task = get_task(network)
    overrides = {"mid": 4, "width": 8} if network == "coarse" else {}
    assert train(task, _config(**overrides), tmp_path, None, resume=False, log_every=1) == 2
    state = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 2 and state["next_index"] == 4 and state["task"] == network
    log = read_log(tmp_path / "log.csv")
    assert list(log["step"]) == [1, 2] and all(math.isfinite(v) for v in log["loss"])
    assert (tmp_path / "loss.png").exists()

    assert train(task, _config(steps=3, **overrides), tmp_path, None, resume=True, log_every=1) == 3
    state = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 3 and state["next_index"] == 6
    assert list(read_log(tmp_path / "log.csv")["step"]) == [1, 2, 3]


@pytest.mark.slow
def test_cli_trains_and_exports_weights_the_registry_loads(tmp_path, monkeypatch, capsys):
    run, models = tmp_path / "run", tmp_path / "models"
    code = train_main(["matting", "--out", str(run), "--steps", "1", "--batch", "2", "--size", "64", "--workers", "0"])
    assert code == 0 and (run / "last.pt").exists()
    assert train_main(["export", "matting", "--out", str(run), "--models-dir", str(models), "--half"]) == 0
    sha = capsys.readouterr().out.split("sha256 ")[1].split()[0]
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(models))
    monkeypatch.setitem(registry.REGISTRY, "matting", dataclasses.replace(registry.REGISTRY["matting"], sha256=sha))
    registry.clear_cache()
    try:
        model = registry.load_model("matting", "cpu")
        assert next(model.parameters()).dtype == torch.float32
    finally:
        registry.clear_cache()


@pytest.mark.slow
def test_swa_run_exports_the_averaged_weights(tmp_path, capsys):
    config = _config(steps=4, swa=True, mid=4, width=8, data=None)
    train(get_task("coarse"), config, tmp_path / "run", None, resume=False)
    state = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=False)
    assert state["swa_model"] is not None and int(state["swa_model"]["n_averaged"]) == 2
    from core.train.export import export_weights

    with pytest.raises(RuntimeError):  # the registry's architecture is the full U2-Netp, not this tiny one
        export_weights("coarse", tmp_path / "run", tmp_path / "models")


def test_adversarial_is_refused_clearly(tmp_path, capsys):
    assert train_main(["matting", "--out", str(tmp_path), "--adversarial"]) == 2
    assert "not implemented" in capsys.readouterr().err


def test_eval_seeds_are_never_rendered_for_training():
    with pytest.raises(ValueError, match="reserved for evaluation"):
        render_pair(5, 64, None)
    item = PairDataset(48, None, coarse=True)[0]
    assert item["photo"].shape == (3, 48, 48) and item["coarse"].shape == (1, 48, 48)
    assert 0 <= float(item["alpha"].min()) and float(item["alpha"].max()) <= 1


def test_degraded_mask_stays_near_the_true_alpha():
    alpha = np.zeros((64, 64), np.float32)
    alpha[16:48, 16:48] = 1
    mask = degrade_mask(alpha, np.random.default_rng(3))
    assert mask.shape == alpha.shape and 0 <= mask.min() and mask.max() <= 1
    assert np.abs(mask - alpha).mean() < 0.3
    shadow = np.ones_like(alpha)
    shadow[50:60, 8:56] = 0.5
    claimed = [degrade_mask(alpha, np.random.default_rng(seed), shadow)[52:58, 20:44].mean() for seed in range(20)]
    assert 2 <= sum(c > 0.3 for c in claimed) <= 16  # sometimes, not always


def test_learning_rate_warms_up_then_decays():
    config = {"lr": 1e-3, "steps": 10_000}
    assert learning_rate(0, config) < learning_rate(299, config) <= 1e-3
    assert learning_rate(9_999, config) == pytest.approx(5e-5, rel=0.01)
    assert learning_rate(9_999, {**config, "swa": True}) == learning_rate(7_500, config)


def test_resume_keeps_saved_options_unless_given():
    from core.train.trainer import resolve_config

    task = get_task("coarse")
    saved = {"size": 256, "batch": 8, "lr": 1e-3, "steps": 8000, "stem_stride": 4}
    config = resolve_config(task, {"size": None, "steps": 12_000, "stem_stride": 2, "threads": 1}, saved)
    assert config["size"] == 256 and config["steps"] == 12_000 and config["stem_stride"] == 4
    assert resolve_config(task, {"size": None}, None)["size"] == task.default_size


@pytest.mark.slow
def test_resume_grows_new_input_channels_with_zero_weights():
    from core.models.u2net import CoarseU2Net
    from core.train.trainer import load_expanding_inputs

    torch.manual_seed(0)
    model = CoarseU2Net(mid=4, out=8, stem_stride=4)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(2, 6, 32, 32))[0].mean().backward()
    optimizer.step()
    state = {"model": {k: v.clone() for k, v in model.state_dict().items()}, "optimizer": optimizer.state_dict()}
    state["model"]["stem.0.0.weight"] = state["model"]["stem.0.0.weight"][:, :9].clone()  # an older 9-channel stem
    moments = state["optimizer"]["state"][0]
    moments["exp_avg"], moments["exp_avg_sq"] = moments["exp_avg"][:, :9].clone(), moments["exp_avg_sq"][:, :9].clone()

    fresh = CoarseU2Net(mid=4, out=8, stem_stride=4)
    fresh_optimizer = torch.optim.AdamW(fresh.parameters())
    assert load_expanding_inputs(fresh, fresh_optimizer, state) == ["stem.0.0.weight"]
    weight = fresh.state_dict()["stem.0.0.weight"]
    assert weight.shape[1] == 12 and float(weight[:, 9:].abs().sum()) == 0
    fresh(torch.rand(2, 6, 32, 32))[0].mean().backward()
    fresh_optimizer.step()  # the padded Adam moments fit the grown weight


@pytest.mark.slow
def test_resume_falls_back_to_the_mirror_then_to_exported_weights(tmp_path):
    task = get_task("coarse")
    tiny = {"mid": 4, "width": 8}
    mirror = tmp_path / "mirror"
    train(task, _config(mirror=str(mirror), **tiny), tmp_path / "run", None, resume=False, log_every=1)
    assert (mirror / "last.pt").exists() and (mirror / "log.csv").exists()
    # a fresh checkout: the run folder is gone, the mirror is not
    assert train(task, _config(steps=3, mirror=str(mirror), **tiny), tmp_path / "fresh", None, resume=True, log_every=1) == 3
    assert list(read_log(tmp_path / "fresh" / "log.csv")["step"]) == [1, 2, 3]
    # nothing to resume: start from a weights file
    weights = tmp_path / "weights.pt"
    torch.save(torch.load(mirror / "last.pt", weights_only=False)["model"], weights)
    assert train(task, _config(init_weights=str(weights), **tiny), tmp_path / "new", None, resume=True, log_every=1) == 2
