"""Matting metrics against hand-computed values and a direct reference implementation."""
import numpy as np
from scipy import ndimage

from core.metrics import all_metrics, connectivity_error, gradient_error, iou, mse, sad


def _reference_gradient_error(pred, truth, sigma=1.4):
    # Straight transcription of the benchmark's 2-D kernel and convolution.
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * 1e-2))))
    size = 2 * half + 1
    gauss = lambda x: np.exp(-x ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
    dgauss = lambda x: -x * gauss(x) / sigma ** 2
    hx = np.array([[gauss(i - half) * dgauss(j - half) for j in range(size)] for i in range(size)])
    hx /= np.sqrt((hx * hx).sum())
    mag = lambda im: np.hypot(ndimage.convolve(im, hx, mode="nearest"), ndimage.convolve(im, hx.T, mode="nearest"))
    return ((mag(pred) - mag(truth)) ** 2).sum() / 1000


def test_sad_mse_iou_by_hand():
    truth = np.zeros((10, 10))
    truth[2:8, 2:8] = 1
    pred = truth.copy()
    pred[2, 2:8] = 0.5
    assert np.isclose(sad(pred, truth), 3 / 1000)
    assert np.isclose(mse(pred, truth), 6 * 0.25 / 100 * 1000)
    assert np.isclose(iou(pred, truth), 30 / 36)
    assert iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0


def test_gradient_error_matches_reference():
    rng = np.random.default_rng(0)
    truth = ndimage.gaussian_filter((rng.random((40, 50)) > 0.5).astype(float), 2)
    pred = np.clip(truth + rng.normal(0, 0.05, truth.shape), 0, 1)
    assert np.isclose(gradient_error(pred, truth), _reference_gradient_error(pred, truth), rtol=1e-6)
    assert gradient_error(truth, truth) == 0


def test_connectivity_error_penalises_detached_blobs():
    truth = np.zeros((30, 30))
    truth[5:25, 5:25] = 1
    assert connectivity_error(truth, truth) == 0
    detached = truth.copy()
    detached[0:3, 27:30] = 1  # a speck of backdrop taken for product
    attached = truth.copy()
    attached[25:28, 5:8] = 1   # the same area, but grown on the product
    assert connectivity_error(detached, truth) > 0
    assert set(all_metrics(truth, truth)) == {"SAD", "MSE", "Grad", "Conn", "IoU"}


def test_eval_best_takes_the_candidate_the_judge_ranks_first_per_item():
    from types import SimpleNamespace as NS

    from core.evaluate import pick_best, summarise
    from core.quality import QualityScore

    def row(item, failing, leak, area, sad, secs):
        q = QualityScore(0.5, failing / area, leak / area, False, (), failing, leak, area)
        method = "classical" if secs == 1.0 else "network"
        return (item, NS(quality=q, method=method), {k: sad for k in ("SAD", "MSE", "Grad", "Conn", "IoU")}, secs)

    item_a, item_b = NS(name="a", subsets=("plain",)), NS(name="b", subsets=("shadow",))
    # b: classical took a 1000 px shadow as product; against its own area its larger miss would look smaller
    report = {"classical": {"items": [row(item_a, 10, 0, 1000, 1.0, 1.0), row(item_b, 60, 0, 2000, 9.0, 1.0)],
                            "failed": []},
              "network": {"items": [row(item_a, 50, 0, 1000, 0.5, 2.0), row(item_b, 40, 0, 1000, 2.0, 2.0)],
                          "failed": []}}
    best = pick_best(report, ["classical", "network"])
    assert [(r[0].name, r[2]["SAD"], r[3]) for r in best["items"]] == [("a", 1.0, 3.0), ("b", 2.0, 3.0)]
    # trusted networks keep item a: classical ranks higher there, but not by the trust margin
    trusting = pick_best(report, ["classical", "network"], trusted="network")
    assert [r[2]["SAD"] for r in trusting["items"]] == [0.5, 2.0]
    report["best"] = best
    text = summarise(report)
    assert "best vs classical: SAD -3.500" in text and "best vs network: SAD +0.250" in text
    # the #3 target: the ratio of mean errors against classical
    assert "network vs classical: SAD 4.00x, MSE 4.00x better (target 3x: met; n=2)" in text
    assert "best vs classical: SAD 3.33x, MSE 3.33x better (target 3x: met; n=2)" in text
    report["network"]["items"][1] = row(item_b, 40, 0, 1000, 3.0, 2.0)
    assert "network vs classical: SAD 2.86x, MSE 2.86x better (target 3x: not met; n=2)" in summarise(report)


def _two_backdrop_shots(gain_b=(1.0, 1.0, 1.0)):
    """A half-transparent disc over two backdrops; the empty B backdrop shot with ``gain_b`` less light."""
    rng = np.random.default_rng(0)
    h, w = 96, 128
    yy, xx = np.mgrid[:h, :w]
    alpha = ((yy - 48) ** 2 + (xx - 64) ** 2 < 20 ** 2) * 0.6
    fg = np.array([0.8, 0.3, 0.2])
    back_a = np.clip(np.array([0.2, 0.5, 0.8]) + rng.normal(0, 0.01, (h, w, 3)), 0, 1)
    back_b = np.clip(np.array([0.7, 0.7, 0.3]) + rng.normal(0, 0.01, (h, w, 3)), 0, 1)
    comp = [alpha[..., None] * fg + (1 - alpha[..., None]) * b for b in (back_a, back_b)]
    return alpha, comp[0], comp[1], back_a, back_b / np.array(gain_b)


def test_triangulation_recovers_alpha_and_takes_out_a_backdrop_drift():
    from core.evaluate import triangulate_alpha

    alpha, ca, cb, ba, bb = _two_backdrop_shots()
    assert np.abs(triangulate_alpha(ca, cb, ba, bb) - alpha).mean() < 0.01
    alpha, ca, cb, ba, bb = _two_backdrop_shots(gain_b=(0.9, 1.0, 1.15))  # white balance drifted between shots
    plain = triangulate_alpha(ca, cb, ba, bb)
    matched = triangulate_alpha(ca, cb, ba, bb, match_exposure=True)
    backdrop = alpha == 0
    assert plain[backdrop].mean() > 0.03  # the drift reads as a veil over the whole backdrop
    assert matched[backdrop].mean() < 0.01 and np.abs(matched - alpha).mean() < 0.01


def test_clear_far_backdrop_keeps_the_object_and_its_surroundings_and_clears_the_veil_beyond():
    from core.evaluate import clear_far_backdrop

    alpha = np.full((80, 100), 0.02, np.float32)       # a veil the backdrop's folds left
    alpha[30:50, 40:60] = 1.0                           # the object
    alpha[30:50, 60:64] = 0.2                           # a faint edge beside it (glass, petals)
    cleared = clear_far_backdrop(alpha, radius=10)
    np.testing.assert_array_equal(cleared[30:50, 40:64], alpha[30:50, 40:64])
    assert cleared[25, 50] == np.float32(0.02)          # within 10 px: kept as measured
    assert cleared[5, 5] == 0 and cleared[75, 95] == 0  # far: cleared
    assert alpha[5, 5] == np.float32(0.02)              # the input is not modified
    np.testing.assert_array_equal(clear_far_backdrop(alpha, radius=0), alpha)
