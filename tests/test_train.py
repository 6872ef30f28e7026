"""Training smoke tests: a few steps of each network on 64 px pairs, checkpoint, --resume, export; the adversarial stage."""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest
import torch

from conftest import render_scene
from core.errors import MattingError
from core.models import registry
from core.models.matting import MattingNetwork
from core.synth import make_pair
from core.train.adversarial import AdversarialStage, find_real_pairs, matte_full_resolution
from core.train.cli import main as train_main
from core.train.data import TRAIN_SEED_BASE, PairDataset, degrade_mask, fill_gaps, hard_tags, render_pair
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


@pytest.mark.slow
def test_ema_run_resumes_its_average_and_exports_it(tmp_path, capsys):
    run, models = tmp_path / "run", tmp_path / "models"
    assert train_main(["matting", "--out", str(run), "--steps", "2", "--batch", "1", "--size", "48",
                       "--workers", "0", "--ema", "0.5"]) == 0
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert int(state["ema_model"]["n_averaged"]) == 2
    assert train_main(["matting", "--out", str(run), "--steps", "3", "--resume", "--workers", "0"]) == 0
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert state["config"]["ema"] == 0.5 and int(state["ema_model"]["n_averaged"]) == 3  # the average went on
    name = "head.weight"
    averaged, last = state["ema_model"][f"module.base.{name}"], state["model"][f"base.{name}"]
    assert not torch.equal(averaged, last)

    capsys.readouterr()
    assert train_main(["export", "matting", "--out", str(run), "--models-dir", str(models)]) == 0
    assert "moving average" in capsys.readouterr().out
    exported = torch.load(models / registry.get_spec("matting").filename, weights_only=True)
    assert torch.equal(exported[f"base.{name}"], averaged)
    assert train_main(["export", "matting", "--out", str(run), "--models-dir", str(models), "--raw"]) == 0
    assert "last weights" in capsys.readouterr().out
    exported = torch.load(models / registry.get_spec("matting").filename, weights_only=True)
    assert torch.equal(exported[f"base.{name}"], last)
    assert train_main(["matting", "--out", str(run), "--ema", "1.5"]) == 2


@pytest.mark.slow
def _shipped_matting():
    """A matting network of the registry's shape: a new run takes that shape (a start of another one is widened)."""
    return registry.ARCHITECTURES[registry.get_spec("matting").architecture]()


def test_export_averages_a_fine_tuned_run_with_the_weights_it_started_from(tmp_path, capsys):
    run, start, models = tmp_path / "run", tmp_path / "start", tmp_path / "models"
    torch.manual_seed(0)
    start.mkdir()
    start_file = start / registry.get_spec("matting").filename
    torch.save(_shipped_matting().state_dict(), start_file)
    assert train_main(["matting", "--out", str(run), "--steps", "2", "--batch", "1", "--size", "48", "--workers", "0",
                       "--lr", "1e-2", "--init-weights", str(start_file)]) == 0
    assert train_main(["export", "matting", "--out", str(run), "--models-dir", str(models), "--raw",
                       "--average-with", str(start_file)]) == 0
    assert "averaged with" in capsys.readouterr().out
    exported = torch.load(models / start_file.name, weights_only=True)
    trained = torch.load(run / "last.pt", map_location="cpu", weights_only=False)["model"]
    initial = torch.load(start_file, weights_only=True)
    name = "base.head.weight"
    assert not torch.equal(trained[name], initial[name])  # the run moved, so the mean differs from both
    assert torch.allclose(exported[name], (trained[name] + initial[name]) / 2)
    assert exported["refiner.out.bias"].dtype == torch.float32

    other = tmp_path / "coarse.pt"
    torch.save(registry.ARCHITECTURES[registry.get_spec("coarse").architecture]().state_dict(), other)
    with pytest.raises(SystemExit, match="not the same network"):
        train_main(["export", "matting", "--out", str(run), "--models-dir", str(models), "--average-with", str(other)])


def _real_pair_folder(folder, seeds=(3, 4), size=(80, 96)):
    """A studio's folder of real pairs, NAME.png beside NAME_plate.png (the plate not aligned), from make_pair."""
    folder.mkdir()
    for seed in seeds:
        pair = make_pair(seed, size=size)
        for name, image in ((f"shot{seed}.png", pair.photo), (f"shot{seed}_plate.png", pair.plate)):
            cv2.imwrite(str(folder / name), cv2.cvtColor(np.round(image * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return folder


@pytest.mark.slow  # the optimiser import, a coarse-network load and two alignments: about 5 s
def test_adversarial_stage_trains_checkpoints_and_resumes(tmp_path, capsys):
    real = _real_pair_folder(tmp_path / "real")
    torch.manual_seed(0)
    init = tmp_path / "init.pt"
    torch.save(_shipped_matting().state_dict(), init)
    config = _config(batch=1, real=[str(real)], init_weights=str(init), real_batch=1)
    task, run = get_task("matting"), tmp_path / "run"
    assert train(task, dict(config), run, None, resume=False, log_every=1, stage=AdversarialStage()) == 2
    first = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    log = read_log(run / "log.csv")
    for key in ("adv_d_real", "adv_d_fake", "adv_g", "adv_teacher", "base_alpha", "ref_alpha"):
        assert len(log[key]) == 2 and np.isfinite(log[key]).all(), key
    assert first["stage"]["count"] == 2 and first["config"]["adversarial"] is True

    assert train(task, dict(config, steps=3), run, None, resume=True, log_every=1, stage=AdversarialStage()) == 3
    second = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert second["step"] == 3 and second["next_index"] == 3 and second["stage"]["count"] == 3
    assert list(read_log(run / "log.csv")["step"]) == [1, 2, 3]
    assert int(second["stage"]["d_optimizer"]["state"][0]["step"]) == 3  # the discriminator's Adam continued
    before, after = first["stage"]["discriminator"], second["stage"]["discriminator"]
    assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith("original"))
    weights = torch.load(init, weights_only=True)
    for state in (first, second):
        assert all(torch.equal(state["stage"]["teacher"][k], weights[k]) for k in weights)
    assert any(not torch.equal(second["model"][k], weights[k]) for k in weights if k.endswith("weight"))

    capsys.readouterr()  # a plain --resume must not silently drop the stage
    assert train_main(["matting", "--out", str(run), "--resume", "--steps", "4", "--workers", "0"]) == 2
    assert "--adversarial" in capsys.readouterr().err


@pytest.mark.parametrize("empty", [False, True])
def test_adversarial_needs_a_folder_of_real_pairs(tmp_path, capsys, empty):
    folder = tmp_path / "studio set"
    if empty:
        folder.mkdir()
        (folder / "notes.txt").write_text("no images here")
    code = train_main(["matting", "--adversarial", "--real", str(folder), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and str(folder) in err
    assert ("holds no real pairs" if empty else "is not a folder") in err
    assert not (tmp_path / "run").exists()


def test_real_pair_folders_pair_photos_with_their_plates(tmp_path, capsys):
    for name in ("a.jpg", "a_plate.png", "b.png", "plate.jpg", "c.tif", "c_PLATE.tif", "readme.txt"):
        (tmp_path / name).touch()
    pairs = {(p.photo.name, p.plate.name) for p in find_real_pairs([tmp_path], None)}
    assert pairs == {("a.jpg", "a_plate.png"), ("b.png", "plate.jpg"), ("c.tif", "c_PLATE.tif")}
    with pytest.raises(MattingError, match="no real pairs"):
        find_real_pairs(None, tmp_path / "no-data")
    assert train_main(["matting", "--out", str(tmp_path / "run"), "--adv-weight", "0.5"]) == 2
    assert "add --adversarial" in capsys.readouterr().err


def test_real_matte_is_assembled_as_inference_assembles_it(monkeypatch):
    from core.models import inference

    torch.manual_seed(1)
    model = MattingNetwork().eval()
    torch.nn.init.normal_(model.refiner.out.weight, std=0.1)  # a refiner that changes its tiles
    monkeypatch.setattr(inference, "load_model", lambda name, device=None: model)
    photo, plate, alpha = render_scene(96, 96, seed=2)
    coarse = cv2.GaussianBlur(alpha, (0, 0), 2)
    expected = inference.refine_matte(photo, plate, coarse, device="cpu")
    with torch.no_grad():
        tensors = [torch.from_numpy(np.atleast_3d(x).transpose(2, 0, 1).copy())[None] for x in (photo, plate, coarse)]
        alpha_full, foreground_full, tiles = matte_full_resolution(model, *tensors, scale=1.0)
    assert len(tiles[0][0]) == expected.refined_tiles > 0
    np.testing.assert_allclose(alpha_full[0, 0].numpy(), expected.alpha, atol=1e-5)
    np.testing.assert_allclose(foreground_full[0].permute(1, 2, 0).numpy(), expected.foreground, atol=1e-5)


def test_eval_seeds_are_never_rendered_for_training():
    for seed in (5, 1000, 20_200, TRAIN_SEED_BASE - 1):  # dev set, fresh eval items, validation sets, the last one
        with pytest.raises(ValueError, match="reserved for evaluation"):
            render_pair(seed, 64, None)
    item = PairDataset(48, None, coarse=True)[0]
    assert item["photo"].shape == (3, 48, 48) and item["coarse"].shape == (1, 48, 48)
    assert 0 <= float(item["alpha"].min()) and float(item["alpha"].max()) <= 1


def test_hard_fraction_forces_the_hard_subsets():
    from core.synth import make_pair
    from core.train.data import HARD_TAGS, hard_tags

    seeds = range(TRAIN_SEED_BASE, TRAIN_SEED_BASE + 200)
    assert all(not hard_tags(s, 0.0) for s in seeds)
    forced = [hard_tags(s, 1.0) for s in seeds]
    assert all(len(t) == 1 and t <= set(HARD_TAGS) for t in forced)
    assert {t for f in forced for t in f} == set(HARD_TAGS)  # every subset is drawn
    half = sum(bool(hard_tags(s, 0.5)) for s in seeds)
    assert 70 <= half <= 130
    # the rendered pair belongs to the forced subset; with no subset it is the plain "mixed" pair
    seed = next(s for s in seeds if hard_tags(s, 1.0) == {"transparent"})
    pair, _ = render_pair(seed, 64, None, hard_fraction=1.0)
    assert "transparent" in pair.tags
    plain, _ = render_pair(seed, 64, None, hard_fraction=0.0)
    np.testing.assert_array_equal(plain.alpha, make_pair(seed, size=(64, 64), kind="mixed").alpha)
    with pytest.raises(ValueError, match="hard_fraction"):
        PairDataset(48, None, hard_fraction=1.5)


def test_full_scale_renders_larger_pairs_while_the_base_keeps_its_size():
    from core.train.matting_task import matting_step_loss

    task = get_task("matting")
    config = {**_config(size=32, batch=2), "full_scale": 3}
    dataset = task.build_dataset(config, None)
    item = dataset[0]
    assert item["photo"].shape == (3, 96, 96) and item["coarse"].shape == (1, 96, 96)
    batch = {k: torch.stack([dataset[i][k] for i in range(2)]) for k in item}
    model = task.build_model(config)
    seen = []
    base = model.base.forward
    model.base.forward = lambda photo, plate, coarse: seen.append(photo.shape[-2:]) or base(photo, plate, coarse)
    for _ in range(4):
        loss, parts = matting_step_loss(model, batch, config)
        assert torch.isfinite(loss) and parts["ref_alpha"] >= 0
    assert all(max(shape) <= 32 for shape in seen)  # the base at --size or less, the refiner on 96 px pairs
    assert train_main(["matting", "--out", "unused", "--full-scale", "0"]) == 2


def test_coarse_net_share_feeds_the_matting_network_the_coarse_networks_mask(monkeypatch):
    from core.models.inference import predict_coarse_mask
    from core.train import matting_task

    pair = make_pair(1_000_123, size=(96, 128))
    as_batch = lambda image: torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]  # noqa: E731
    made = matting_task.network_coarse(as_batch(pair.photo), as_batch(pair.aligned_plate))[0, 0].numpy()
    assert np.abs(made - predict_coarse_mask(pair.photo, pair.aligned_plate)).mean() < 0.01  # as at inference

    task = get_task("matting")
    config = _config(size=32, batch=2)
    dataset = task.build_dataset(config, None)
    batch = {k: torch.stack([dataset[i][k] for i in range(2)]) for k in dataset[0]}
    network_mask = torch.full((2, 1, 32, 32), 0.25)
    monkeypatch.setattr(matting_task, "network_coarse", lambda photo, plate: network_mask[: len(photo)])
    model = task.build_model(config)
    fed = []
    base = model.base.forward
    model.base.forward = lambda photo, plate, coarse: fed.append(coarse) or base(photo, plate, coarse)
    matting_task.matting_step_loss(model, batch, {**config, "coarse_net": 1.0})
    matting_task.matting_step_loss(model, batch, {**config, "coarse_net": 0.0})
    assert torch.allclose(fed[0], torch.tensor(0.25))  # the base saw the network's mask (downsampled)
    assert not torch.allclose(fed[1], torch.tensor(0.25))  # and otherwise the degraded truth
    assert train_main(["matting", "--out", "unused", "--coarse-net", "-0.1"]) == 2


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


def test_filled_masks_close_the_gaps_and_holes_a_coarse_network_misses():
    ring = np.zeros((96, 96), np.float32)
    cv2.circle(ring, (48, 48), 30, 1.0, 6)  # a handle: the backdrop shows through its middle
    ring[80:92, 10:86] = 1.0
    ring[80:92, 44:47] = 0.0  # a 3 px gap between two feet
    hole, gap = (slice(40, 56), slice(40, 56)), (slice(82, 90), slice(44, 47))
    filled = fill_gaps(ring, np.random.default_rng(0))
    assert filled[hole].min() == 1.0 and filled[gap].min() == 1.0
    assert filled[:8].max() == 0.0  # far outside stays empty
    assert np.array_equal(filled[ring == 1], ring[ring == 1])  # and the product stays
    always = [degrade_mask(ring, np.random.default_rng(seed), None, filled=1.0)[hole].mean() for seed in range(10)]
    never = [degrade_mask(ring, np.random.default_rng(seed), None, filled=0.0)[hole].mean() for seed in range(10)]
    assert min(always) > 0.5 and sum(v > 0.5 for v in never) <= 3
    with pytest.raises(ValueError, match="filled_masks"):
        PairDataset(48, None, coarse=True, filled_masks=1.5)
    assert get_task("matting").build_dataset({"size": 48, "filled_masks": 0.7}, None).filled_masks == 0.7
    assert train_main(["matting", "--out", "unused", "--filled-masks", "2"]) == 2


def test_binary_masks_do_not_tell_the_matting_network_how_transparent_glass_is():
    glass = np.zeros((96, 96), np.float32)
    glass[16:80, 24:72] = 0.3  # a tumbler: 30 % opaque all over
    inside = (slice(30, 66), slice(36, 60))
    soft = [degrade_mask(glass, np.random.default_rng(seed), None, binary=0.0)[inside] for seed in range(12)]
    binary = [degrade_mask(glass, np.random.default_rng(seed), None, binary=1.0)[inside] for seed in range(12)]
    assert max(np.median(m) for m in soft) < 0.45  # the soft alpha leaks into the mask...
    assert sum(np.median(m) > 0.9 for m in binary) >= 8  # ...the thresholded one says "product" (holes aside)
    assert np.median([np.abs(m - 0.3).mean() for m in binary]) > 0.5
    with pytest.raises(ValueError, match="binary_masks"):
        PairDataset(48, None, coarse=True, binary_masks=-0.1)
    assert get_task("matting").build_dataset({"size": 48, "binary_masks": 0.4}, None).binary_masks == 0.4
    assert train_main(["matting", "--out", "unused", "--binary-masks", "1.2"]) == 2


def test_refraction_share_reaches_the_generator_and_bad_shares_are_refused():
    with pytest.raises(ValueError, match="refraction"):
        PairDataset(48, None, coarse=True, refraction=1.5)
    for task in ("matting", "coarse"):
        assert get_task(task).build_dataset({"size": 48, "refraction": 1.0}, None).refraction == 1.0
    assert train_main(["matting", "--out", "unused", "--refraction", "-0.2"]) == 2
    glass = next(seed for seed in range(1_000_000, 1_000_400) if hard_tags(seed, 1.0) == {"transparent"})
    pair, _ = render_pair(glass, 64, None, 1.0, refraction=1.0)
    assert "refraction" in pair.tags
    assert "refraction" not in render_pair(glass, 64, None, 1.0)[0].tags


def test_occlusion_and_plant_shares_reach_the_generator_for_both_networks_and_bad_shares_are_refused():
    with pytest.raises(ValueError, match="occlusion"):
        PairDataset(48, None, occlusion=2.0)
    for task in ("matting", "coarse"):
        assert get_task(task).build_dataset({"size": 48, "occlusion": 0.4}, None).occlusion == 0.4
    assert train_main(["coarse", "--out", "unused", "--occlusion", "1.5"]) == 2
    seed = 1_000_000
    assert "occlusion" in render_pair(seed, 64, None, 0.0, occlusion=1.0)[0].tags
    assert "occlusion" not in render_pair(seed, 64, None, 0.0)[0].tags
    assert get_task("coarse").build_dataset({"size": 48, "plants": 0.3}, None).plants == 0.3
    assert train_main(["matting", "--out", "unused", "--plants", "-1"]) == 2
    assert "product:plant" in render_pair(seed, 64, None, 0.0, plants=1.0)[0].tags
    assert "product:plant" not in render_pair(seed, 64, None, 0.0)[0].tags
    shaded = PairDataset(64, None, occlusion=1.0)[0]
    plain = PairDataset(64, None)[0]
    assert torch.equal(shaded["alpha"], plain["alpha"]) and not torch.equal(shaded["photo"], plain["photo"])


def test_glass_close_forces_part_of_the_glass_onto_a_backdrop_of_its_own_colour():
    seeds = range(1_000_000, 1_000_400)
    plain = [hard_tags(s, 1.0) for s in seeds]
    mixed = [hard_tags(s, 1.0, glass_close=0.6) for s in seeds]
    glass = [i for i, t in enumerate(plain) if t == {"transparent"}]
    both = [i for i in glass if mixed[i] == {"transparent", "close_colour"}]
    assert 0.4 * len(glass) <= len(both) <= 0.8 * len(glass)
    # only glass samples change, and off (0) keeps the earlier draw
    assert all(mixed[i] == plain[i] for i in range(len(plain)) if i not in both)
    assert [hard_tags(s, 1.0, glass_close=0.0) for s in seeds] == plain
    pair, _ = render_pair(seeds[both[0]], 64, None, 1.0, glass_close=1.0)
    assert {"transparent", "close_colour"} <= pair.tags
    for task in ("matting", "coarse"):
        assert get_task(task).build_dataset({"size": 48, "glass_close": 0.6}, None).glass_close == 0.6
    with pytest.raises(ValueError, match="glass_close"):
        PairDataset(48, None, coarse=True, glass_close=1.1)
    assert train_main(["matting", "--out", "unused", "--glass-close", "-0.5"]) == 2


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
    assert config["hard_fraction"] == 0.5  # runs saved before the option resume with the default
    assert resolve_config(task, {"hard_fraction": 0.2}, {**saved, "hard_fraction": 0.5})["hard_fraction"] == 0.2
    assert resolve_config(task, {}, None)["filled_masks"] == 0.3  # new runs fill some coarse masks
    assert config["filled_masks"] == 0.0  # runs saved before the option go on as they were trained
    assert resolve_config(task, {}, None)["coarse_net"] == 0.5 and config["coarse_net"] == 0.0
    assert resolve_config(task, {"binary_masks": 0.7}, saved)["binary_masks"] == 0.7 and config["binary_masks"] == 0.0


def test_matting_runs_take_the_shipped_shape_when_new_and_keep_their_own_when_resumed(monkeypatch):
    import dataclasses

    import core.models.registry as registry
    from core.train.trainer import resolve_config

    task = get_task("matting")
    for shipped in ("bgm-small-h8-p16", "bgm-wide-h8-p16"):
        monkeypatch.setitem(registry.REGISTRY, "matting",
                            dataclasses.replace(registry.REGISTRY["matting"], architecture=shipped))
        assert resolve_config(task, {"architecture": None}, None)["architecture"] == shipped
        assert resolve_config(task, {"architecture": "bgm-small-h8-p16"}, None)["architecture"] == "bgm-small-h8-p16"
        # runs saved without a shape (before the option, or started without it) were the small network
        for saved in ({"size": 384}, {"size": 384, "architecture": None}):
            assert resolve_config(task, {"architecture": None}, saved)["architecture"] == "bgm-small-h8-p16"
        wide = {"size": 384, "architecture": "bgm-wide-h8-p16"}
        assert resolve_config(task, {"architecture": "bgm-small-h8-p16"}, wide)["architecture"] == "bgm-wide-h8-p16"
    assert "architecture" not in resolve_config(get_task("coarse"), {}, None)


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
