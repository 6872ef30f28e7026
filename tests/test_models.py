"""Networks, registry/loader and inference wrappers on tiny random inputs (no trained weights needed)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core.errors import ModelError
from core.models import inference, registry
from core.models.matting import MattingBase, MattingRefiner
from core.models.patches import crop_patches, paste_patches, sample_base, select_tiles, tile_scores
from core.models.u2net import CoarseU2Net
from tests.conftest import render_scene


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def tmp_models(tmp_path, monkeypatch):
    """Seeded random weights for both networks in a temp folder, registered with their checksums."""
    torch.manual_seed(0)
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(tmp_path))
    patched = {}
    for name, spec in registry.REGISTRY.items():
        model = registry.ARCHITECTURES[spec.architecture]()
        if name == "matting":  # base alpha near 0.5 (every tile uncertain); refiner adds a visible +0.3
            with torch.no_grad():
                model.base.head.bias[0] += 0.5
            torch.nn.init.constant_(model.refiner.out.bias, 0.3)
        torch.save(model.state_dict(), tmp_path / spec.filename)
        patched[name] = dataclasses.replace(spec, sha256=registry.file_sha256(tmp_path / spec.filename))
    monkeypatch.setattr(registry, "REGISTRY", patched)
    registry.clear_cache()
    yield tmp_path
    registry.clear_cache()


def test_u2net_outputs_fused_and_six_sides_at_input_size():
    for stride in (1, 4):
        outputs = CoarseU2Net(mid=4, out=8, stem_stride=stride).eval()(torch.rand(2, 6, 48, 72))
        assert len(outputs) == 7
        assert all(o.shape == (2, 1, 48, 72) and torch.isfinite(o).all() for o in outputs)


def test_u2net_rejects_wrong_channel_count_with_a_sentence():
    with pytest.raises(ValueError, match="photo and plate"):
        CoarseU2Net(mid=4, out=8)(torch.rand(1, 3, 32, 32))


def test_matting_base_shapes_and_ranges():
    alpha, residual, error, hidden = MattingBase(hidden=8).eval()(torch.rand(2, 3, 40, 56), torch.rand(2, 3, 40, 56), torch.rand(2, 1, 40, 56))
    assert alpha.shape == (2, 1, 40, 56) and residual.shape == (2, 3, 40, 56)
    assert error.shape == (2, 1, 40, 56) and hidden.shape == (2, 8, 40, 56)
    assert 0 <= alpha.min() and alpha.max() <= 1 and -1 <= residual.min() and residual.max() <= 1
    assert 0 <= error.min() and error.max() <= 1 and hidden.min() >= 0


def test_untrained_refiner_returns_the_sampled_base_centre():
    refiner = MattingRefiner(hidden=8, patch=16)
    base = torch.rand(5, 13, 20, 20)
    alpha, residual = refiner(torch.rand(5, 3, 20, 20), torch.rand(5, 3, 20, 20), base * torch.tensor([1.0] + [2.0] * 3 + [1.0] * 9)[:, None, None] - torch.tensor([0.0] + [1.0] * 3 + [0.0] * 9)[:, None, None])
    assert alpha.shape == (5, 1, 16, 16) and residual.shape == (5, 3, 16, 16)
    np.testing.assert_allclose(alpha.detach().numpy(), base[:, :1, 2:-2, 2:-2].numpy(), atol=1e-6)


def test_sample_base_at_full_resolution_equals_crops():
    image = torch.rand(1, 4, 40, 56)
    ys, xs = torch.tensor([0, 16, 24]), torch.tensor([0, 40, 8])
    sampled = sample_base(image, ys, xs, (40, 56), 16, 2)
    np.testing.assert_allclose(sampled.numpy(), crop_patches(image[0].permute(1, 2, 0), ys, xs, 16, 2).numpy(), atol=1e-5)


def test_tiles_follow_the_edge_and_paste_writes_only_them():
    alpha = np.zeros((30, 40), np.float32)
    alpha[10:20, 10:30] = 1
    scores = tile_scores(alpha, np.zeros_like(alpha), (300, 400), 16)
    ys, xs = select_tiles(scores, (300, 400), 16, max_tiles=10_000)
    interior = (ys >= 128) & (ys <= 144) & (xs >= 128) & (xs <= 256)
    assert len(ys) > 0 and not interior.any()
    target = np.zeros((300, 400, 1), np.float32)
    paste_patches(target, np.ones((len(ys), 16, 16, 1), np.float32), ys, xs, 16)
    assert target.sum() == pytest.approx(len(set(zip(ys.tolist(), xs.tolist()))) * 256)
    assert len(select_tiles(scores, (300, 400), 16, max_tiles=5)[0]) == 5
    assert len(select_tiles(scores, (300, 400), 16, max_tiles=0)[0]) == 0


def test_missing_weights_raise_model_error(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.ENV_MODELS_DIR, str(tmp_path))
    registry.clear_cache()
    assert not registry.is_available("coarse")
    with pytest.raises(ModelError, match="missing or damaged.*--method classical"):
        registry.load_model("coarse", "cpu")


def test_corrupt_weights_raise_model_error(tmp_models):
    path = registry.weights_path("coarse")
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    assert registry.is_available("coarse")
    with pytest.raises(ModelError, match="checksum mismatch"):
        registry.load_model("coarse", "cpu")


def test_unknown_network_is_a_model_error():
    with pytest.raises(ModelError, match="no network called"):
        registry.load_model("nope")


def test_loader_caches_and_sets_eval_mode(tmp_models):
    first = registry.load_model("coarse", "cpu")
    assert registry.load_model("coarse", "cpu") is first
    assert not first.training and not any(p.requires_grad for p in first.parameters())


def test_weights_dir_defaults_to_resources(monkeypatch):
    monkeypatch.delenv(registry.ENV_MODELS_DIR, raising=False)
    assert registry.models_dir().parts[-2:] == ("resources", "models")
    assert registry.default_device() in ("cuda", "mps", "cpu")


def test_predict_coarse_mask_returns_photo_resolution(tmp_models):
    photo, plate, _ = render_scene(50, 70)
    mask = inference.predict_coarse_mask(photo, plate, device="cpu")
    assert mask.shape == (50, 70) and mask.dtype == np.float32
    assert 0 <= mask.min() and mask.max() <= 1


def test_coarse_mirror_consensus_is_the_minimum_of_both_views_and_mirror_symmetric():
    torch.manual_seed(1)
    model = CoarseU2Net(mid=4, out=8, stem_stride=4).eval()
    photo, plate = torch.rand(2, 3, 40, 50), torch.rand(2, 3, 40, 50)  # not a multiple of 32: padded, cropped
    with torch.no_grad():
        direct = inference.coarse_probability(model, photo, plate, mirror=False)
        mirrored = inference.coarse_probability(model, photo.flip(-1), plate.flip(-1), mirror=False).flip(-1)
        both = inference.coarse_probability(model, photo, plate, mirror=True)
        both_of_mirror = inference.coarse_probability(model, photo.flip(-1), plate.flip(-1), mirror=True)
    assert both.shape == (2, 1, 40, 50)
    assert not torch.allclose(direct, mirrored, atol=1e-3)  # a random network is not symmetric: the test can fail
    assert torch.allclose(both, torch.minimum(direct, mirrored), atol=1e-5)
    assert torch.allclose(both_of_mirror, both.flip(-1), atol=1e-5)  # the pair's mirror gets the mirrored mask


def test_predict_coarse_mask_uses_mirror_consensus_by_default(tmp_models, monkeypatch):
    photo, plate, _ = render_scene(50, 70)
    default = inference.predict_coarse_mask(photo, plate, device="cpu")
    monkeypatch.setattr(inference, "MIRROR_CONSENSUS", False)
    single = inference.predict_coarse_mask(photo, plate, device="cpu")
    assert np.all(default <= single + 1e-5) and np.abs(default - single).max() > 1e-4


def test_refine_matte_shapes_and_only_selected_tiles_change(tmp_models, monkeypatch):
    monkeypatch.setattr(inference, "MAX_REFINED_PIXELS", 10 * 16 * 16)
    photo, plate, alpha_true = render_scene(96, 128)
    result = inference.refine_matte(photo, plate, alpha_true, device="cpu")
    assert result.alpha.shape == (96, 128) and result.alpha.dtype == np.float32
    assert result.foreground.shape == (96, 128, 3) and result.error.shape == (96, 128)
    assert 0 <= result.alpha.min() and result.alpha.max() <= 1
    assert 0 <= result.foreground.min() and result.foreground.max() <= 1
    # recompute the base alone: outside the refined tiles alpha is the base's, inside it is raised by 0.3
    net = registry.load_model("matting", "cpu")
    with torch.inference_mode():
        base_alpha, _, error, _ = inference.base_views(net, *(torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None] for a in (photo, plate, alpha_true[..., None])))
    base_alpha = base_alpha[0, 0].numpy()
    ys, xs = select_tiles(tile_scores(base_alpha, error[0, 0].numpy(), (96, 128), 16), (96, 128), 16, 10)
    assert result.refined_tiles == len(ys) == 10
    inside = np.zeros((96, 128), bool)
    for y, x in zip(ys, xs):
        inside[y : y + 16, x : x + 16] = True
    np.testing.assert_allclose(result.alpha[~inside], base_alpha[~inside], atol=1e-5)
    assert (result.alpha[inside] >= np.minimum(base_alpha[inside] + 0.3, 1) - 1e-4).all()


def test_base_views_average_the_pair_and_its_mirror_image():
    torch.manual_seed(2)
    model = registry.ARCHITECTURES["bgm-small-h8-p16"]().eval()
    inputs = [torch.rand(2, 3, 40, 52), torch.rand(2, 3, 40, 52), torch.rand(2, 1, 40, 52)]
    with torch.no_grad():
        direct = inference.base_views(model, *inputs, mirror=False)
        mirrored = [t.flip(-1) for t in inference.base_views(model, *(t.flip(-1) for t in inputs), mirror=False)]
        both = inference.base_views(model, *inputs, mirror=True)
        both_of_mirror = inference.base_views(model, *(t.flip(-1) for t in inputs), mirror=True)
    assert [t.shape for t in both] == [t.shape for t in direct] and both[0].shape == (2, 1, 40, 52)
    assert not torch.allclose(direct[0], mirrored[0], atol=1e-4)  # a random network is not symmetric
    for mean, a, b in zip(both[:3], direct[:3], mirrored[:3]):  # alpha, residual, error
        assert torch.allclose(mean, (a + b) / 2, atol=1e-5)
    assert torch.allclose(both[3], direct[3], atol=1e-5)  # hidden features: the direct view's
    assert torch.allclose(both_of_mirror[0], both[0].flip(-1), atol=1e-5)  # the pair's mirror: the mirrored alpha


def test_refine_matte_uses_both_views_by_default(tmp_models, monkeypatch):
    monkeypatch.setattr(inference, "MAX_REFINED_PIXELS", 0)  # the base's alpha alone
    photo, plate, alpha_true = render_scene(48, 64)
    default = inference.refine_matte(photo, plate, alpha_true, device="cpu").alpha
    monkeypatch.setattr(inference, "MIRROR_BASE", False)
    single = inference.refine_matte(photo, plate, alpha_true, device="cpu").alpha
    flipped = [np.ascontiguousarray(a[:, ::-1]) for a in (photo, plate, alpha_true)]
    mirrored = inference.refine_matte(*flipped, device="cpu").alpha[:, ::-1]  # MIRROR_BASE still off
    assert np.abs(single - mirrored).max() > 1e-4  # a random network is not symmetric: the test can fail
    np.testing.assert_allclose(default, (single + mirrored) / 2, atol=1e-5)


def test_refine_matte_cancels_between_batches(tmp_models):
    from core.jobs import CancelToken, Cancelled

    token = CancelToken()
    token.cancel()
    photo, plate, alpha = render_scene(40, 48)
    with pytest.raises(Cancelled):
        inference.refine_matte(photo, plate, alpha, device="cpu", cancel=token)


def test_refine_matte_rejects_a_plate_of_another_size(tmp_models):
    photo, plate, alpha = render_scene(40, 48)
    from core.errors import MattingError

    with pytest.raises(MattingError, match="align it first"):
        inference.refine_matte(photo, plate[:30], alpha, device="cpu")
