"""GrabCut brush touch-up and its undo history, on tiny synthetic mattes."""
from __future__ import annotations

import numpy as np
import pytest

from core.history import EditHistory, EditRecord, Patch
from core.jobs import CancelToken, Cancelled
from core.touchup import (HINT_BACKGROUND, HINT_FOREGROUND, Stroke, TouchUpSession, apply_strokes,
                          rasterize_strokes)

SIZE = 96


@pytest.fixture
def scene():
    """A red product (square 30..66) on a blue plate; the true alpha and a matte with mistakes."""
    rng = np.random.default_rng(7)
    plate = np.zeros((SIZE, SIZE, 3), np.float32)
    plate[..., 2] = np.linspace(0.6, 0.8, SIZE)[None, :]
    plate[..., 1] = 0.3
    plate += rng.normal(0, 0.01, plate.shape).astype(np.float32)
    truth = np.zeros((SIZE, SIZE), np.float32)
    truth[30:66, 30:66] = 1.0
    product = np.array([0.85, 0.15, 0.1], np.float32)
    photo = truth[..., None] * product + (1 - truth[..., None]) * plate
    photo = np.clip(photo + rng.normal(0, 0.01, photo.shape), 0, 1).astype(np.float32)
    wrong = truth.copy()
    wrong[40:56, 40:56] = 0.0   # a hole cut into the product
    wrong[30:66, 70:80] = 1.0   # backdrop leaking in on the right
    foreground = np.where(wrong[..., None] > 0, photo, 0.0).astype(np.float32)
    return photo, np.clip(plate, 0, 1), truth, wrong, foreground


def test_stroke_validates_its_input():
    with pytest.raises(ValueError, match="kind"):
        Stroke("paint", ((1, 1),), 2)
    with pytest.raises(ValueError, match="radius"):
        Stroke("foreground", ((1, 1),), 0)
    with pytest.raises(ValueError, match="point"):
        Stroke("foreground", (), 2)


def test_rasterize_paints_in_order_and_erase_removes_hints():
    strokes = [Stroke("foreground", ((10, 10), (30, 10)), 3),
               Stroke("background", ((20, 30),), 4),
               Stroke("erase", ((30, 10),), 4)]
    hints = rasterize_strokes(strokes, (40, 40))
    assert hints[10, 12] == HINT_FOREGROUND and hints[10, 30] == 0
    assert hints[30, 20] == HINT_BACKGROUND and hints[0, 0] == 0


def test_foreground_stroke_fills_a_hole(scene):
    photo, plate, truth, wrong, fg = scene
    result = apply_strokes(photo, plate, wrong, fg, [Stroke("foreground", ((46, 48), (50, 48)), 3)])
    hole = np.s_[41:55, 41:55]
    assert wrong[hole].mean() == 0.0
    assert result.alpha[hole].mean() > 0.9
    assert np.abs(result.foreground[hole] - photo[hole]).max() < 0.05


def test_background_stroke_removes_a_leak(scene):
    photo, plate, truth, wrong, fg = scene
    result = apply_strokes(photo, plate, wrong, fg, [Stroke("background", ((75, 40), (75, 56)), 3)])
    leak = np.s_[32:64, 72:79]
    assert wrong[leak].mean() == 1.0
    assert result.alpha[leak].mean() < 0.1
    assert result.alpha[35:60, 35:60].mean() > 0.7  # the product itself stays (apart from its hole)


def test_pixels_outside_the_region_are_unchanged(scene):
    photo, plate, truth, wrong, fg = scene
    strokes = [Stroke("background", ((75, 48),), 2)]
    result = apply_strokes(photo, plate, wrong, fg, strokes)
    x0, y0, x1, y1 = result.region
    assert (x1 - x0) * (y1 - y0) < SIZE * SIZE
    outside = np.ones(wrong.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(result.alpha[outside], wrong[outside])
    assert np.array_equal(result.foreground[outside], fg[outside])
    assert not np.array_equal(result.alpha, wrong)
    assert np.array_equal(wrong, scene[3])  # the input is not modified


def test_soft_edge_follows_the_plate(scene):
    photo, plate, truth, wrong, fg = scene
    mixed = photo.copy()
    mixed[30:66, 66] = 0.5 * photo[40, 40] + 0.5 * plate[30:66, 66]  # a half-covered column
    result = apply_strokes(mixed, plate, wrong, fg, [Stroke("background", ((75, 48),), 2)],
                           valid=np.ones(wrong.shape, bool))
    assert 0.3 < result.alpha[40:56, 66].mean() < 0.7


def test_cancel_stops_the_solve(scene):
    photo, plate, truth, wrong, fg = scene
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        apply_strokes(photo, plate, wrong, fg, [Stroke("foreground", ((48, 48),), 3)], cancel=token)


def test_session_undo_redo_is_exact(scene):
    photo, plate, truth, wrong, fg = scene
    session = TouchUpSession(photo, plate, wrong, fg)
    assert not session.can_undo
    session.add_stroke(Stroke("foreground", ((46, 48), (50, 48)), 3))
    assert session.pending is not None and session.can_undo
    alpha_before, fg_before = session.alpha.copy(), session.foreground.copy()
    region = session.apply()
    assert region is not None and session.pending is None
    alpha_after = session.alpha.copy()
    assert alpha_after[41:55, 41:55].mean() > 0.9

    session.undo()  # the apply
    assert np.array_equal(session.alpha, alpha_before)
    assert np.array_equal(session.foreground, fg_before)
    assert session.pending is not None
    session.undo()  # the stroke
    assert not session.hints.any() and session.pending is None and not session.can_undo
    session.redo()
    session.redo()
    assert np.array_equal(session.alpha, alpha_after)
    assert session.hints.any() and not session.can_redo


def test_new_edit_clears_redo(scene):
    photo, plate, truth, wrong, fg = scene
    session = TouchUpSession(photo, plate, wrong, fg)
    session.add_stroke(Stroke("foreground", ((48, 48),), 3))
    session.undo()
    assert session.can_redo
    session.add_stroke(Stroke("background", ((75, 48),), 3))
    assert not session.can_redo


def test_erase_edits_hints_not_alpha(scene):
    photo, plate, truth, wrong, fg = scene
    session = TouchUpSession(photo, plate, wrong, fg)
    session.add_stroke(Stroke("foreground", ((48, 48),), 3))
    alpha = session.alpha.copy()
    session.add_stroke(Stroke("erase", ((48, 48),), 6))
    assert not session.hints.any()
    assert np.array_equal(session.alpha, alpha)
    assert session.history.undo_steps == 2
    assert session.add_stroke(Stroke("erase", ((5, 5),), 2)) is None  # nothing to erase: no step


def test_history_cap_and_memory_budget():
    layers = {"a": np.zeros((10, 10), np.float32)}
    history = EditHistory(max_steps=3)
    for i in range(5):
        before = layers["a"][0:1, 0:1].copy()
        layers["a"][0, 0] = i + 1
        history.push(EditRecord(f"set {i}", (Patch("a", (0, 0, 1, 1), before, layers["a"][0:1, 0:1].copy()),)))
    assert history.undo_steps == 3
    while history.can_undo:
        history.undo(layers)
    assert layers["a"][0, 0] == 2  # the two oldest steps were dropped

    small = EditHistory(max_steps=50, max_bytes=1000)
    big = np.zeros((10, 10), np.float32)  # 400 bytes before + 400 after per record
    for _ in range(4):
        small.push(EditRecord("big", (Patch("a", (0, 0, 10, 10), big, big),)))
    assert small.undo_steps == 1 and small.nbytes <= 1000


def test_records_store_only_the_changed_region(scene):
    photo, plate, truth, wrong, fg = scene
    session = TouchUpSession(photo, plate, wrong, fg)
    session.add_stroke(Stroke("background", ((75, 48),), 2))
    stroke_bytes = session.history.nbytes
    x0, y0, x1, y1 = session.apply()
    area = (x1 - x0) * (y1 - y0)
    assert area < SIZE * SIZE / 2
    # before + after crops of alpha (4 bytes) and foreground (12 bytes) per pixel of the region
    assert session.history.nbytes - stroke_bytes == 2 * area * 16
