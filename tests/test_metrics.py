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


def test_eval_best_takes_the_highest_quality_candidate_per_item():
    from types import SimpleNamespace as NS

    from core.evaluate import pick_best

    item_a, item_b = NS(name="a"), NS(name="b")
    row = lambda item, score, sad, secs: (item, NS(quality=NS(score=score)), {"SAD": sad}, secs)
    report = {"classical": {"items": [row(item_a, 0.9, 1.0, 1.0), row(item_b, 0.2, 9.0, 1.0)]},
              "network": {"items": [row(item_a, 0.5, 0.5, 2.0), row(item_b, 0.8, 2.0, 2.0)]}}
    best = pick_best(report, ["classical", "network"])["items"]
    assert [(r[0].name, r[2]["SAD"], r[3]) for r in best] == [("a", 1.0, 3.0), ("b", 2.0, 3.0)]
