"""The quality judge separates good mattes from missing parts and included backdrop."""
import numpy as np

from conftest import render_scene
from core.foreground import estimate_foreground
from core.quality import REVIEW_THRESHOLD, score_matte


def _judge(photo, plate, alpha):
    valid = np.ones(alpha.shape, bool)
    return score_matte(photo, plate, valid, alpha, estimate_foreground(photo, plate, alpha, valid))


def test_true_alpha_scores_high_even_with_a_cast_shadow():
    photo, plate, alpha = render_scene(seed=11, shadow=True)
    q = _judge(photo, plate, alpha)
    assert q.score > 0.9 and not q.needs_review and q.reasons == ()


def test_missing_half_of_the_product_needs_review():
    photo, plate, alpha = render_scene(seed=12)
    cut = alpha * (np.arange(alpha.shape[1]) < alpha.shape[1] // 2)
    q = _judge(photo, plate, cut.astype(np.float32))
    assert q.score < REVIEW_THRESHOLD and q.needs_review
    assert q.recomposition_error > 0.3
    assert any("missing" in r for r in q.reasons)


def test_backdrop_included_needs_review():
    photo, plate, alpha = render_scene(seed=13, shadow=False)
    cut = np.maximum(alpha, (np.arange(alpha.shape[0]) > alpha.shape[0] * 0.8)[:, None]).astype(np.float32)
    q = _judge(photo, plate, cut)
    assert q.needs_review and q.leakage > 0.1
    assert any("backdrop" in r for r in q.reasons)


def test_score_orders_mattes_by_error():
    photo, plate, alpha = render_scene(seed=14)
    scores = []
    for keep in (1.0, 0.9, 0.7, 0.4):
        cut = alpha * (np.arange(alpha.shape[1]) < alpha.shape[1] * keep)
        scores.append(_judge(photo, plate, cut.astype(np.float32)).score)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1] + 0.5


def test_no_product_needs_review():
    photo, plate, alpha = render_scene(seed=15)
    q = _judge(photo, plate, np.zeros_like(alpha))
    assert q.needs_review and q.score == 0.0 and "no product" in q.reasons[0]


def test_alignment_check_forces_review():
    photo, plate, alpha = render_scene(seed=16)
    valid = np.ones(alpha.shape, bool)
    q = score_matte(photo, plate, valid, alpha, estimate_foreground(photo, plate, alpha, valid), "check")
    assert q.needs_review and any("alignment" in r for r in q.reasons)


def test_taking_a_shadow_as_product_does_not_dilute_errors_when_ranking():
    """Against its own area a matte that adds a cast shadow to a miss looks better; on one shared area not."""
    from core.quality import rank_candidates

    photo, plate, alpha = render_scene(seed=17, shadow=True)
    valid = np.ones(alpha.shape, bool)
    cols = np.flatnonzero(alpha.max(axis=0) > 0.5)
    keep = np.arange(alpha.shape[1]) < cols[0] + 0.8 * (cols[-1] - cols[0])  # a fifth of the product missing
    missing = (alpha * keep).astype(np.float32)
    shadow = (np.abs(photo - plate).mean(axis=2) > 0.03) & (alpha < 0.01)
    assert shadow.mean() > 0.01  # the scene has a visible cast shadow
    with_shadow = np.maximum(missing, shadow.astype(np.float32))
    judged = [score_matte(photo, plate, valid, a, None) for a in (missing, with_shadow)]
    assert judged[1].score > judged[0].score  # the flaw rank_candidates exists for
    ranks = rank_candidates(judged)
    assert ranks[0] >= ranks[1]
    assert rank_candidates([]) == []


def test_the_judge_solves_the_foreground_when_none_is_given():
    photo, plate, alpha = render_scene(seed=18)
    valid = np.ones(alpha.shape, bool)
    solved = score_matte(photo, plate, valid, alpha, None)
    given = _judge(photo, plate, alpha)
    assert solved.score > 0.9 and abs(solved.score - given.score) < 0.05
    grey = np.full(photo.shape, 0.5, np.float32)  # a wrong predicted colour is not the alpha's fault
    assert score_matte(photo, plate, valid, alpha, grey).score < solved.score


def test_a_trusted_method_is_kept_unless_another_ranks_clearly_higher():
    from core.quality import TRUST_MARGIN, QualityScore, pick_candidate

    def q(failing):
        return QualityScore(0.5, failing / 1000, 0.0, False, (), failing, 0.0, 1000.0)

    methods = ("classical", "hybrid", "network")
    assert pick_candidate(methods, [q(0), q(0), q(30)]) == 0           # untrusted: the top rank, first on ties
    assert pick_candidate(methods, [q(0), q(0), q(30)], "network") == 2  # exp(-0.3): within the margin
    assert TRUST_MARGIN < 1.0 - float(np.exp(-3.0))
    assert pick_candidate(methods, [q(0), q(0), q(300)], "network") == 0  # the network missed the product
    assert pick_candidate(("classical",), [q(10)], "network") == 0
