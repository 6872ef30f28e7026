"""Pipeline: stages, progress, cancellation, method choice and the judge's pick among candidates."""
import numpy as np
import pytest

from conftest import iou, render_scene
from core.errors import MattingError, ModelError
from core.jobs import Cancelled, CancelToken
from core.pipeline import MatteOptions, Pipeline


@pytest.fixture
def scene():
    return render_scene(240, 320, seed=31)


def test_run_returns_consistent_result(scene):
    photo, plate, alpha = scene
    seen = []
    result = Pipeline().run(photo, plate, MatteOptions(method="classical"), progress=lambda s, f: seen.append((s, f)))
    assert result.alpha.shape == alpha.shape and result.foreground.shape == photo.shape
    assert result.coarse_mask.shape == alpha.shape and result.valid.dtype == bool
    assert iou(result.alpha, alpha) > 0.97
    assert result.method == "classical" and result.candidates == (("classical", result.quality.score),)
    assert {"align", "prepare", "matte", "foreground", "quality"} <= set(result.timings)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_cancel_between_stages(scene):
    photo, plate, _ = scene
    token = CancelToken()

    def cancel_after_alignment(stage, fraction):
        if fraction >= 0.3:
            token.cancel()

    with pytest.raises(Cancelled):
        Pipeline().run(photo, plate, MatteOptions(method="classical"), progress=cancel_after_alignment, cancel=token)


def test_preview_resolution(scene):
    photo, plate, _ = scene
    result = Pipeline().run(photo, plate, MatteOptions(method="classical", max_megapixels=0.02))
    assert result.alpha.size <= 0.02e6 * 1.05 and result.photo.shape[:2] == result.alpha.shape


def test_bad_inputs_are_refused_with_a_sentence():
    with pytest.raises(MattingError, match="RGB"):
        Pipeline().run(np.zeros((20, 20), np.float32), np.zeros((20, 20, 3), np.float32))
    with pytest.raises(MattingError, match="float32"):
        Pipeline().run(np.zeros((20, 20, 3), np.uint8), np.zeros((20, 20, 3), np.float32))
    with pytest.raises(MattingError, match="unknown method"):
        MatteOptions(method="magic")


def test_network_methods_need_weights(scene, monkeypatch):
    photo, plate, _ = scene
    monkeypatch.setattr(Pipeline, "networks_available", staticmethod(lambda: False))
    with pytest.raises(ModelError, match="classical"):
        Pipeline().run(photo, plate, MatteOptions(method="network"))
    # auto and best fall back to the classical candidate alone.
    assert Pipeline().run(photo, plate, MatteOptions(method="auto")).method == "classical"
    assert Pipeline().run(photo, plate, MatteOptions(method="best")).candidates[0][0] == "classical"


def test_best_picks_the_candidate_the_judge_scores_highest(scene, monkeypatch):
    photo, plate, alpha = scene
    pipeline = Pipeline()
    monkeypatch.setattr(Pipeline, "networks_available", staticmethod(lambda: True))
    real = Pipeline._candidate

    def fake_candidate(self, method, photo_, plate_, valid, small, options, progress, cancel, timer, shared):
        if method == "classical":
            return real(self, method, photo_, plate_, valid, small, options, progress, cancel, timer, shared)
        # A poor "network" result (half the product) and a good "hybrid" one (the truth).
        cut = alpha * (np.arange(alpha.shape[1]) < alpha.shape[1] // 2) if method == "network" else alpha
        cut = cut.astype(np.float32)
        from core.foreground import estimate_foreground

        return cut, cut, estimate_foreground(photo_, plate_, cut, valid)

    monkeypatch.setattr(Pipeline, "_candidate", fake_candidate)
    result = pipeline.run(photo, plate, MatteOptions(method="best"))
    scores = dict(result.candidates)
    assert set(scores) == {"classical", "hybrid", "network"}
    assert scores["network"] < scores["classical"]
    assert result.method == max(scores, key=scores.get) and result.method != "network"
    assert any("picked" in n for n in result.notes)


def test_best_predicts_the_coarse_mask_once_for_both_network_candidates(scene, monkeypatch):
    if not Pipeline.networks_available():
        pytest.skip("no network weights in resources/models")
    from core.models import inference

    calls = []
    real = inference.predict_coarse_mask
    monkeypatch.setattr(inference, "predict_coarse_mask", lambda *a, **k: calls.append(1) or real(*a, **k))
    photo, plate, _ = scene
    result = Pipeline().run(photo, plate, MatteOptions(method="best"))
    assert {m for m, _ in result.candidates} == {"classical", "hybrid", "network"} and len(calls) == 1


def test_plate_offset_nudges_the_aligned_plate(scene):
    photo, plate, _ = scene
    pipeline = Pipeline()
    options = MatteOptions(method="classical")
    alignment = pipeline.align(photo, plate, options)
    moved = pipeline.matte(photo, alignment, MatteOptions(method="classical", plate_offset=(3, 0)))
    np.testing.assert_allclose(moved.aligned_plate[:, 10:-10], alignment.aligned_plate[:, 7:-13], atol=1e-5)
    assert not moved.valid[:, :3].any()


def test_same_input_gives_the_same_matte(scene):
    photo, plate, _ = scene
    first = Pipeline().run(photo, plate, MatteOptions(method="classical"))
    other_photo, other_plate, _ = render_scene(200, 260, seed=77)
    Pipeline().run(other_photo, other_plate, MatteOptions(method="classical"))  # disturbs OpenCV's RNG
    again = Pipeline().run(photo, plate, MatteOptions(method="classical"))
    np.testing.assert_array_equal(first.alpha, again.alpha)
    assert first.quality == again.quality
