"""The app's batch mode end to end: the Batch dialog runs a tiny folder in the worker thread, the
review list shows the flagged photos and the failures first, a flagged photo goes through the
editor and its re-export replaces the batch output; a second run is cancelled midway.

One real main window is shared by the module and the tests run in file order. The desktop and
modal dialogs are monkeypatched; QSettings go to a temp ini file.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtGui import QDesktopServices, QImage  # noqa: E402

from conftest import render_scene  # noqa: E402
from core.batch import FAILED, OK, REVIEW, STATUSES, plan_batch  # noqa: E402
from core.export import ExportOptions  # noqa: E402
from core.jobs import CancelToken  # noqa: E402
from core.pipeline import MatteOptions, Pipeline  # noqa: E402
from core.report import order_for_review  # noqa: E402
from studio.gui.app import create_main_window  # noqa: E402
from studio.gui.batch_dialog import BatchDialog, remembered_choices  # noqa: E402
from studio.gui.batch_jobs import BatchRequest, run_batch_request  # noqa: E402
from studio.gui.review_panel import FIXED, THUMBNAIL  # noqa: E402

pytestmark = pytest.mark.gui
TIMEOUT_MS = 60_000
H, W = 150, 200
# the third product has the backdrop's colour: the quality judge flags it
COLOURS = ((0.8, 0.2, 0.2), (0.1, 0.4, 0.9), (0.85, 0.8, 0.3))


def _save(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Three photos on one backdrop, a corrupt "photo" and the plate; an output folder beside them."""
    root = tmp_path_factory.mktemp("batch")
    folder = root / "shots"
    folder.mkdir()
    _, plate, _ = render_scene(H, W, seed=3)
    _save(folder / "plate.png", plate)
    for i, colour in enumerate(COLOURS, start=1):
        photo, _, _ = render_scene(H, W, seed=3, colour=colour)
        _save(folder / f"IMG_{i}.png", photo)
    (folder / "IMG_4.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return SimpleNamespace(folder=folder, plate=folder / "plate.png", out=root / "cutouts")


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    win = create_main_window(tmp_path_factory.mktemp("settings") / "studio.ini")
    win.resize(1280, 860)
    win.show()
    yield win
    win.close()


def _fill(dialog: BatchDialog, shots, force: bool = False) -> None:
    dialog.input.setText(str(shots.folder))
    dialog.pairing.setCurrentIndex(dialog.pairing.findData("plate"))
    dialog.plate.setText(str(shots.plate))
    dialog.output.setText(str(shots.out))
    dialog.method.setCurrentIndex(dialog.method.findData("classical"))
    dialog.force.setChecked(force)


def _alpha(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)[..., 3].copy()


def _rgb(image: QImage) -> np.ndarray:
    """hxwx3 uint8 of a QImage (a thumbnail, or an icon's picture)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_dialog_checks_choices_before_running(window, qtbot, shots):
    window.actions_.batch.trigger()
    dialog = window.batch.dialog
    assert dialog.isVisible() and not window.batch.dock.isVisible()
    _fill(dialog, shots)
    dialog.plate.setText(str(shots.folder / "nope.png"))
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert not dialog.running and "nope.png" in dialog.error.text() and "plate not found" in dialog.error.text()
    # CSV pairing: the folder, pattern and plate do not apply
    dialog.pairing.setCurrentIndex(dialog.pairing.findData("csv"))
    assert not dialog.plate.isEnabled() and not dialog.pattern.isEnabled() and dialog.csv.isEnabled()
    dialog.pairing.setCurrentIndex(dialog.pairing.findData("plate"))
    # the Export dialog's own widgets give the batch's export options
    dialog.plate.setText(str(shots.plate))
    form = dialog.export_form
    form.format.setCurrentIndex(form.format.findData("webp"))
    form.crop.setChecked(True)
    form.padding.setText("5%")
    jobs, options, export, force, report_dir = dialog.plan()
    assert export == ExportOptions(format="webp", crop=True, padding="5%", background=None, alpha_only=False,
                                   bit_depth=8)
    assert [j.output.name for j in jobs] == ["IMG_1.webp", "IMG_2.webp", "IMG_3.webp", "IMG_4.webp"]
    assert options.method == "classical" and report_dir == str(shots.out) and not force
    assert not options.align.trust_plate and not dialog.trust_plate.isChecked()
    dialog.trust_plate.setChecked(True)  # a product filling the frame: the plates are trusted, for this batch
    assert dialog.plan()[1].align.trust_plate
    dialog.trust_plate.setChecked(False)
    assert dialog.plan()[1].speck_share > 0 and not dialog.keep_specks.isChecked()
    dialog.keep_specks.setChecked(True)  # a set with a tiny separate part: keep every piece, for this batch
    assert dialog.plan()[1].speck_share == 0.0
    dialog.keep_specks.setChecked(False)
    assert dialog.plan()[1].see_through and not dialog.keep_glass.isChecked()
    dialog.keep_glass.setChecked(True)  # the networks' own glass opacity, for this batch
    assert not dialog.plan()[1].see_through
    dialog.keep_glass.setChecked(False)
    form.format.setCurrentIndex(form.format.findData("png"))
    form.crop.setChecked(False)
    assert not shots.out.exists()


def test_batch_runs_in_the_worker_and_lists_flagged_and_failed_first(window, qtbot, monkeypatch, shots):
    threads, pipelines = [], []
    real_run = Pipeline.run

    def spy(self, *args, **kwargs):
        threads.append(threading.current_thread())
        pipelines.append(self)
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "run", spy)
    dialog = window.batch.dialog
    _fill(dialog, shots)
    ticks = []  # the event loop's heartbeat while the batch runs, with what the dialog said
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append((time.monotonic(), dialog.status.text())))
    timer.start()
    with qtbot.waitSignal(dialog.batchFinished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
        assert dialog.running and not dialog.run_button.isEnabled() and dialog.cancel_button.isEnabled()
    timer.stop()
    output = blocker.args[0]
    result = output.result

    assert len(threads) == 3 and all(t is not threading.main_thread() for t in threads)
    assert all(p is window.engine.worker._pipeline for p in pipelines)  # models load once, for the app
    assert len(ticks) > 5 and np.diff([t for t, _ in ticks]).max() < 1.5
    assert any(text.startswith("Cutting IMG_") for _, text in ticks)
    assert not result.cancelled and len(result.items) == 4
    for i in (1, 2, 3):
        assert _alpha(shots.out / f"IMG_{i}.png").shape == (H, W)
    assert not (shots.out / "IMG_4.png").exists() and Path(output.report_html).is_file()

    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    panel, tree = window.batch.panel, window.batch.panel.tree
    assert window.batch.dock.isVisible() and window.actions_.review.isChecked()
    names = [row.item.job.photo.name for row in panel.rows]
    assert names == [item.job.photo.name for item in order_for_review(result.items)]
    statuses = [row.status for row in panel.rows]
    assert [STATUSES.index(s) for s in statuses] == sorted(STATUSES.index(s) for s in statuses)
    assert statuses.count(FAILED) == 1 and statuses.index(FAILED) < statuses.index(OK)
    assert names[statuses.index(FAILED)] == "IMG_4.jpg"
    assert REVIEW in statuses and names[0] == "IMG_3.png"  # the product the colour of the backdrop
    for index, row in enumerate(panel.rows):
        widget_item = tree.topLevelItem(index)
        assert not widget_item.icon(0).isNull() and widget_item.text(1) == row.status
        if row.status == FAILED:
            assert widget_item.text(2) == "\u2014" and "not a readable image" in widget_item.text(3)
        else:
            assert widget_item.text(2) == f"{row.quality.score:.2f}"
    assert panel.rows[0].quality.reasons and panel.rows[0].quality.reasons[0] in tree.topLevelItem(0).text(3)
    assert panel.summary.text().startswith("4 photos: 2 ok, 1 need review, 1 failed")
    assert remembered_choices(window.settings)["input"] == str(shots.folder)
    assert "trust_plate" not in remembered_choices(window.settings)  # trusting is never carried to a new batch

    # run again: the cut photos are skipped, yet the flagged one stays first in the review list
    shown = {row.item.job.photo.name: (row.thumbnail, tree.topLevelItem(i).icon(0).pixmap(THUMBNAIL).toImage())
             for i, row in enumerate(panel.rows)}
    window.batch.show_dialog()
    _fill(dialog, shots)
    with qtbot.waitSignal(dialog.batchFinished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert len(threads) == 3  # nothing was cut again (the damaged file fails before the pipeline)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    again = [(row.item.job.photo.name, row.status) for row in panel.rows]
    assert again[0] == ("IMG_3.png", REVIEW) and [s for _, s in again].count(OK) == 2
    assert "cut by an earlier run" in panel.summary.text()
    # ... with the pictures the first run showed: the cut-outs, taken from its report
    for index, row in enumerate(panel.rows):
        if not row.item.earlier:
            continue
        before, icon_before = shown[row.item.job.photo.name]
        assert row.thumbnail is not None and row.thumbnail.size() == before.size()
        assert np.abs(_rgb(row.thumbnail).astype(int) - _rgb(before)).mean() < 2  # through the report's JPEG
        icon = tree.topLevelItem(index).icon(0).pixmap(THUMBNAIL).toImage()
        assert np.abs(_rgb(icon).astype(int) - _rgb(icon_before)).mean() < 2


def test_report_and_output_folder_open_on_the_desktop(window, qtbot, monkeypatch, shots):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    panel = window.batch.panel
    qtbot.mouseClick(panel.report_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.folder_button, Qt.MouseButton.LeftButton)
    assert opened == [str(shots.out / "report.html"), str(shots.out)]


def test_a_flagged_photo_is_touched_up_and_re_exported_over_its_output(window, qtbot, shots):
    panel, tree = window.batch.panel, window.batch.panel.tree
    index = [row.status for row in panel.rows].index(REVIEW)
    row = panel.rows[index]
    rect = tree.visualItemRect(tree.topLevelItem(index))
    assert rect.isValid()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a double-click's press
    with qtbot.waitSignal(window.resultShown, timeout=TIMEOUT_MS, check_params_cb=lambda out: out.final):
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert (window.photo_path, window.plate_path) == (str(row.item.job.photo), str(row.item.job.plate))
    assert window.options.method == "classical" and window.actions_.method["classical"].isChecked()
    panel.select(index)
    qtbot.waitUntil(panel.reexport_button.isEnabled, timeout=5000)
    assert tree.topLevelItem(index).font(0).bold()  # the row open in the editor

    # touch up: paint backdrop over a piece of the cut-out and apply
    session = window.session
    ys, xs = np.nonzero(session.alpha > 0.9)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    window.editor.add_stroke("background", ((cx - 6, cy), (cx + 6, cy)), 5.0)
    with qtbot.waitSignal(window.touchUpShown, timeout=TIMEOUT_MS):
        window.actions_.apply.trigger()
    qtbot.waitUntil(lambda: window.edit_job is None, timeout=5000)
    assert session.alpha[cy, cx] == 0.0

    output = row.item.job.output
    before = _alpha(output)
    old = time.time() - 3600
    os.utime(output, (old, old))
    with qtbot.waitSignal(window.batch.reexported, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.reexport_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == str(output)
    after = _alpha(output)
    assert os.stat(output).st_mtime > old + 60
    assert before[cy, cx] > 128 and after[cy, cx] == 0
    assert np.abs(after / 255.0 - session.alpha).max() < 1.5 / 255
    assert row.status == FIXED and tree.topLevelItem(index).text(1) == FIXED
    assert tree.topLevelItem(index).text(2) == f"{row.quality.score:.2f}"
    assert panel.summary.text().endswith("; 1 fixed since")
    qtbot.waitUntil(lambda: window.edit_job is None and panel.reexport_button.isEnabled(), timeout=5000)
    # the report lists the new score
    with open(shots.out / "report.csv", encoding="utf-8") as f:
        reported = {r["photo"]: r for r in csv.DictReader(f)}[str(row.item.job.photo)]
    assert reported["quality"] == f"{row.quality.score:.3f}" and "re-exported" in reported["notes"]
    assert reported["status"] == (REVIEW if row.quality.needs_review else OK)
    # written atomically: no temporary file is left beside the outputs
    assert sorted(p.name for p in shots.out.iterdir()) == ["IMG_1.png", "IMG_2.png", "IMG_3.png", "report.csv",
                                                           "report.html"]


def test_cancel_midway_keeps_what_was_done(window, qtbot, monkeypatch, shots):
    calls, blocked = [], threading.Event()
    real_run = Pipeline.run

    def stuck_on_the_second(self, photo, plate, options, progress=None, cancel=None):
        """The first photo as usual; the second waits for the cancel, as a long stage would."""
        calls.append(threading.current_thread())
        if len(calls) == 1:
            return real_run(self, photo, plate, options, progress=progress, cancel=cancel)
        blocked.set()
        deadline = time.monotonic() + 30
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        cancel.raise_if_cancelled()
        raise AssertionError("the batch was not cancelled")

    monkeypatch.setattr(Pipeline, "run", stuck_on_the_second)
    mtimes = {p.name: p.stat().st_mtime_ns for p in shots.out.glob("IMG_*.png")}
    window.actions_.batch.trigger()
    dialog = window.batch.dialog
    assert dialog.isVisible() and dialog.input.text() == str(shots.folder)  # the last choices
    dialog.force.setChecked(True)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(blocked.is_set, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "IMG_2.png" in dialog.status.text(), timeout=5000)
    with qtbot.waitSignal(dialog.batchFinished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    result = blocker.args[0].result
    assert result.cancelled and result.total == 4
    assert [item.job.photo.name for item in result.items] == ["IMG_1.png"]
    qtbot.waitUntil(lambda: not dialog.running, timeout=5000)
    assert dialog.isVisible() and dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.status.text().startswith("Cancelled: 1 of 4 photos")
    assert [row.item.job.photo.name for row in window.batch.panel.rows] == ["IMG_1.png"]
    assert window.batch.panel.summary.text().startswith("Cancelled")
    # IMG_1 was cut again (overwrite), the rest untouched; no partial file
    assert (shots.out / "IMG_1.png").stat().st_mtime_ns != mtimes["IMG_1.png"]
    for name in ("IMG_2.png", "IMG_3.png"):
        assert (shots.out / name).stat().st_mtime_ns == mtimes[name]
    assert not [p for p in shots.out.iterdir() if p.name.startswith(".")]
    dialog.close()
    assert not dialog.isVisible()


def test_earlier_results_without_readable_files_keep_what_can_be_shown(qapp, tmp_path):
    """The worker's batch job on its own: a resumed batch shows the earlier report's pictures while
    the outputs are unchanged (even if a photo was moved), and reads a changed output again: a
    damaged one leaves the photo's thumbnail."""
    folder = tmp_path / "shots"
    folder.mkdir()
    _, plate, _ = render_scene(H, W, seed=3)
    _save(folder / "plate.png", plate)
    for i, colour in enumerate(COLOURS[:3], start=1):
        _save(folder / f"IMG_{i}.png", render_scene(H, W, seed=3, colour=colour)[0])
    jobs = tuple(plan_batch(folder, plate=folder / "plate.png", output_dir=tmp_path / "out"))
    pipeline = Pipeline()

    def run() -> tuple:
        request = BatchRequest(1, jobs, MatteOptions(method="classical"), ExportOptions(), False,
                               str(tmp_path / "out"), CancelToken())
        output = run_batch_request(request, pipeline, lambda update: None)
        assert output.report_error is None and output.report_html is not None
        return output.result, {item.job.photo.name: thumb for item, thumb in zip(output.result.items,
                                                                                 output.thumbnails)}

    result, first = run()
    assert all(item.status in (OK, REVIEW) for item in result.items)
    (tmp_path / "out" / "IMG_2.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # damaged since
    (folder / "IMG_3.png").rename(tmp_path / "IMG_3.png")  # moved away after it was cut
    result, again = run()
    assert all(item.earlier and item.status in (OK, REVIEW) for item in result.items)  # none cut again
    assert np.abs(_rgb(again["IMG_1.png"]).astype(int) - _rgb(first["IMG_1.png"])).mean() < 2  # the cut-out
    photo = np.asarray(Image.open(folder / "IMG_2.png"))
    assert np.abs(_rgb(again["IMG_2.png"]).astype(int) - photo).max() <= 1  # the photo instead
    assert np.abs(_rgb(again["IMG_3.png"]).astype(int) - _rgb(first["IMG_3.png"])).mean() < 2  # from the report
    (tmp_path / "out" / "report.html").unlink()  # no report to take pictures from: the files are read
    result, last = run()
    assert last["IMG_3.png"] is None  # the list shows its placeholder, as for any photo without a picture
