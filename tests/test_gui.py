"""The desktop app end to end: the real main window, worker thread and pipeline on the sample pair.

One processed window is shared by the module (a pipeline run is the slow part);
the tests run in file order and each leaves the window usable for the next.
Modal dialogs are monkeypatched; QSettings go to a temp ini file.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox  # noqa: E402

from studio.gui.app import create_main_window  # noqa: E402
from studio.gui.export_dialog import ExportDialog  # noqa: E402
from studio.gui.files import find_plate_candidate, order_pair  # noqa: E402
from tests.gui_fixtures import find_sample_pair, wait_until, write_synthetic_pair  # noqa: E402

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The bundled sample pair; a seeded synthetic pair if resources/samples holds none."""
    pair = find_sample_pair()
    return pair if pair is not None else write_synthetic_pair(tmp_path_factory.mktemp("pair"))


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory):
    return tmp_path_factory.mktemp("settings") / "studio.ini"


@pytest.fixture(scope="module")
def window(qapp, sample, settings_file):
    """The real main window with the sample pair cut (classical method, preview then final)."""
    win = create_main_window(settings_file)
    win.resize(1280, 800)
    win.show()
    win.actions_.method["classical"].trigger()
    win.preview_megapixels = 0.05  # force the quick preview pass even on the small sample
    finals = []
    previews = []
    win.resultShown.connect(lambda out: (finals if out.final else previews).append(out))
    win.open_pair(*sample)
    wait_until(qapp, lambda: finals, RESULT_TIMEOUT_MS / 1000, "the full-resolution result")
    win._test_previews, win._test_finals = previews, finals
    yield win
    win.close()


def _canvas_point(canvas, x: float, y: float) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


# ----- file names (no Qt needed)

def test_plate_is_found_beside_the_photo(tmp_path):
    for name in ("IMG_12.jpg", "IMG_12_plate.jpg", "IMG_13_plate.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert find_plate_candidate(tmp_path / "IMG_12.jpg") == tmp_path / "IMG_12_plate.jpg"
    assert order_pair([tmp_path / "IMG_12_plate.jpg", tmp_path / "IMG_12.jpg"]) == (
        tmp_path / "IMG_12.jpg", tmp_path / "IMG_12_plate.jpg")
    assert find_plate_candidate(tmp_path / "IMG_12_plate.jpg") is None


# ----- the running app

def test_open_shows_preview_then_full_result(window, sample):
    previews, finals = window._test_previews, window._test_finals
    assert previews and finals
    preview, final = previews[-1], finals[-1]
    assert preview.result.alpha.size < final.result.alpha.size
    h, w = final.result.alpha.shape
    assert final.display.size == (w, h)
    assert window.session is not None and window.current is final
    assert window.size_label.text().startswith(f"{w} \u00d7 {h}")
    assert "Alignment:" in window.verdict_label.text() and "Quality:" in window.quality_label.text()
    # the product is cut out: the alpha is neither empty nor everything
    assert 0.01 < final.result.alpha.mean() < 0.9
    assert not window.last_error


def test_views_switch_and_zoom_stays_in_sync(window, qtbot):
    views = window.views
    for page in ("alignment", "masks", "cutout"):
        window.actions_.page[page].trigger()
        assert views.currentWidget() is views.pages[page]
    window.actions_.page["masks"].trigger()
    window.actions_.actual.trigger()
    assert views.masks.alpha.zoom() == pytest.approx(1.0)
    assert views.masks.coarse.zoom() == pytest.approx(1.0)
    centre = views.masks.alpha.centre()
    assert views.masks.coarse.centre().x() == pytest.approx(centre.x(), abs=2)
    window.actions_.zoom_in.trigger()
    assert views.masks.coarse.zoom() == pytest.approx(1.25)
    # alignment check: difference and flicker modes
    window.actions_.page["alignment"].trigger()
    window.alignment_panel.mode.buttons[1].click()
    assert views.alignment.canvas.layer("difference").isVisible()
    window.alignment_panel.mode.buttons[2].click()
    qtbot.waitUntil(lambda: views.alignment.canvas.layer("aligned_plate").opacity() == 1.0, timeout=2000)
    window.alignment_panel.mode.buttons[0].click()
    window.alignment_panel.opacity.setValue(30)
    assert views.alignment.canvas.layer("aligned_plate").opacity() == pytest.approx(0.3)
    window.actions_.page["cutout"].trigger()
    window.actions_.fit.trigger()
    assert views.fit_mode


def test_brush_stroke_changes_alpha_locally_and_undoes(window, qtbot):
    session = window.session
    alpha0, fg0 = session.alpha.copy(), session.foreground.copy()
    ys, xs = np.nonzero(alpha0 > 0.99)
    assert ys.size, "the sample's alpha has no solid product"
    cy, cx = int(np.median(ys)), int(np.median(xs))
    canvas = window.views.cutout.canvas
    window.actions_.tool["background"].trigger()
    window.touchup_panel.set_radius(6)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=_canvas_point(canvas, cx - 10, cy))
    for dx in (-5, 0, 5, 10):
        qtbot.mouseMove(canvas.viewport(), _canvas_point(canvas, cx + dx, cy))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=_canvas_point(canvas, cx + 10, cy))
    assert session.pending is not None and session.hints.any()
    assert window.actions_.apply.isEnabled()

    with qtbot.waitSignal(window.touchUpShown, timeout=RESULT_TIMEOUT_MS) as blocker:
        window.actions_.apply.trigger()
    x0, y0, x1, y1 = blocker.args[0].region
    qtbot.waitUntil(lambda: window.edit_job is None, timeout=5000)
    assert session.alpha[cy, cx] == 0.0  # painted as backdrop
    changed = np.argwhere(session.alpha != alpha0)
    assert changed.size
    assert changed[:, 0].min() >= y0 and changed[:, 0].max() < y1
    assert changed[:, 1].min() >= x0 and changed[:, 1].max() < x1
    outside = np.ones(alpha0.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(session.alpha[outside], alpha0[outside])

    window.actions_.undo.trigger()   # the apply
    assert np.array_equal(session.alpha, alpha0) and np.array_equal(session.foreground, fg0)
    window.actions_.undo.trigger()   # the stroke
    assert not session.hints.any() and not window.actions_.undo.isEnabled()
    window.actions_.redo.trigger()
    assert session.hints.any()
    window.actions_.undo.trigger()
    window.actions_.tool[None].trigger()


def test_brush_size_keys(window, qtbot):
    window.touchup_panel.set_radius(20)
    window.actions_.brush_bigger.trigger()
    assert window.touchup_panel.radius() > 20
    assert window.views.cutout.canvas.brush_radius == window.touchup_panel.radius()
    window.actions_.brush_smaller.trigger()
    window.actions_.brush_smaller.trigger()
    assert window.touchup_panel.radius() < 20


def _accept_export(monkeypatch, folder, **choices):
    def fake_exec(dialog):
        dialog.folder.setText(str(folder))
        for key, value in choices.items():
            getattr(dialog, key).setChecked(value)
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(ExportDialog, "exec", fake_exec)


def test_export_writes_png_and_asks_before_overwriting(window, qtbot, monkeypatch, tmp_path, sample):
    from PIL import Image

    _accept_export(monkeypatch, tmp_path)
    with qtbot.waitSignal(window.exportFinished, timeout=RESULT_TIMEOUT_MS) as blocker:
        window.actions_.export.trigger()
    path = blocker.args[0]
    qtbot.waitUntil(lambda: window.edit_job is None, timeout=5000)
    assert path.endswith(".png") and sample[0].stem in path
    with Image.open(path) as image:
        assert image.mode == "RGBA"
        h, w = window.session.alpha.shape
        assert image.size == (w, h)
        written_alpha = np.asarray(image)[..., 3] / 255.0
    assert np.abs(written_alpha - window.session.alpha).max() < 1.5 / 255
    assert window.settings.export_options()["folder"] == str(tmp_path)

    before = os.stat(path).st_mtime_ns
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    window.actions_.export.trigger()
    assert asked and "already exists" in asked[0]
    assert window.edit_job is None and os.stat(path).st_mtime_ns == before

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    _accept_export(monkeypatch, tmp_path, crop=True, alpha_only=True)
    with qtbot.waitSignal(window.exportFinished, timeout=RESULT_TIMEOUT_MS):
        window.actions_.export.trigger()
    with Image.open(path) as image:
        assert image.mode in ("L", "I;16", "LA") and image.size[0] <= w and image.size[1] <= h


def test_cancel_a_run_midway_keeps_the_result(window, qtbot):
    kept = window.current
    window.actions_.page["alignment"].trigger()
    assert window.actions_.nudge["right"].isEnabled()
    canvas = window.views.alignment.canvas
    canvas.setFocus()
    qtbot.keyClick(canvas.viewport(), Qt.Key.Key_Right)
    assert window.offset == (1, 0) and window.alignment_panel.offset.text().startswith("+1")
    with qtbot.waitSignal(window.progressShown, timeout=RESULT_TIMEOUT_MS,
                          check_params_cb=lambda job, stage, f: job == window.run_job):
        window._nudge_timer.timeout.emit()  # skip the debounce
    job = window.run_job
    assert window.options.plate_offset == (1.0, 0.0)
    with qtbot.waitSignal(window.runCancelled, timeout=RESULT_TIMEOUT_MS, check_params_cb=lambda j: j == job):
        window.actions_.cancel.trigger()
    qtbot.waitUntil(lambda: window.run_job is None, timeout=5000)
    assert window.current is kept and window.session is not None
    assert not window.progress.isVisible() and window.offset == (0, 0)
    window.actions_.page["cutout"].trigger()


def test_keep_specks_cuts_again_keeping_every_piece_and_can_be_undone(window, qtbot):
    assert window.options.speck_share > 0 and not window.actions_.keep_specks.isChecked()
    for keep in (True, False):
        with qtbot.waitSignal(window.resultShown, timeout=RESULT_TIMEOUT_MS,
                              check_params_cb=lambda out: out.final):
            window.actions_.keep_specks.trigger()
        assert window.actions_.keep_specks.isChecked() == keep
        assert (window.options.speck_share == 0.0) == keep
    qtbot.waitUntil(lambda: window.run_job is None, timeout=5000)


def test_keep_glass_cuts_again_with_the_networks_opacity(window, qtbot):
    assert window.options.see_through and not window.actions_.keep_glass.isChecked()
    for keep in (True, False):
        with qtbot.waitSignal(window.resultShown, timeout=RESULT_TIMEOUT_MS,
                              check_params_cb=lambda out: out.final):
            window.actions_.keep_glass.trigger()
        assert window.actions_.keep_glass.isChecked() == keep
        assert window.options.see_through != keep
    qtbot.waitUntil(lambda: window.run_job is None, timeout=5000)


def test_a_failed_run_names_the_file_and_keeps_the_result(window, qtbot, monkeypatch, tmp_path, sample):
    kept = window.current
    broken = tmp_path / "broken_plate.png"
    broken.write_bytes(b"this is not a PNG")
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    with qtbot.waitSignal(window.errorShown, timeout=RESULT_TIMEOUT_MS):
        window.open_pair(sample[0], broken)
    qtbot.waitUntil(lambda: window.run_job is None, timeout=5000)
    assert warnings and "broken_plate.png" in warnings[0]
    assert window.current is kept and window.plate_path == str(sample[1])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dropping_a_photo_offers_the_plate_beside_it(window, qtbot, monkeypatch, sample):
    asked, opened = [], []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(window, "open_pair", lambda photo, plate: opened.append((photo, plate)))
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(sample[0]))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    qtbot.waitUntil(lambda: bool(opened), timeout=2000)
    assert opened[0] == (sample[0], sample[1]) and sample[1].name in asked[0]


def test_open_dialog_with_two_files(window, qtbot, monkeypatch, sample):
    opened = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda *a, **k: ([str(sample[1]), str(sample[0])], ""))
    monkeypatch.setattr(window, "open_pair", lambda photo, plate: opened.append((photo, plate)))
    window.actions_.open.trigger()
    assert opened == [(sample[0], sample[1])]


def test_settings_are_remembered(window, qapp, settings_file, sample):
    window.actions_.page["masks"].trigger()
    window.close()
    again = create_main_window(settings_file)
    try:
        assert again.views.page == "masks"
        assert again.settings.recent_pairs()[0] == (str(sample[0]), str(sample[1]))
        assert again.recent_menu.actions()
        assert again.settings.export_options().get("folder")
    finally:
        again.close()


def test_export_dialog_choices_map_to_core_options(qtbot, tmp_path, sample):
    from studio.gui.export_dialog import to_export_options

    dialog = ExportDialog(sample[0], {"format": "webp", "background": "colour", "background_colour": "#336699",
                                      "crop": True, "padding": "5%"})
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path))
    choices = dialog.choices()
    assert choices["path"] == str(tmp_path / f"{sample[0].stem}_cutout.webp")
    options = to_export_options(choices)
    assert (options.format, options.background, options.crop, options.padding) == ("webp", "#336699", True, "5%")
    assert not dialog.bit_depth.isEnabled()
    dialog.alpha_only.setChecked(True)
    assert to_export_options(dialog.choices()).background is None and not dialog.colour.isEnabled()


def test_main_runs_the_event_loop_and_returns(qapp, tmp_path):
    from PySide6.QtCore import QSettings, QTimer

    from studio.gui.app import main

    # the default (user) settings store is redirected to the temp folder
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    # Kept as objects so they can be stopped: a quit() left pending after main()
    # returns would make every later test's event loop exit at once.
    closer, backstop = QTimer(), QTimer()
    for timer, slot, ms in ((closer, QApplication.closeAllWindows, 300), (backstop, qapp.quit, 10000)):
        timer.setSingleShot(True)
        timer.timeout.connect(slot)
        timer.start(ms)
    try:
        assert main([]) == 0
    finally:
        closer.stop()
        backstop.stop()
    assert any(tmp_path.rglob("*.ini"))
