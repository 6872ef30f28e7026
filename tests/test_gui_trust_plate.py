"""The app's way past a refused plate: the error offers "Use This Plate Anyway", the retry trusts that
plate (Matte > Trust the Plate shows it), another plate is checked again. The real window, worker and
pipeline on a small frame-filling pair; message boxes are driven by patching ``QMessageBox.exec``."""
from __future__ import annotations

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMessageBox  # noqa: E402

from studio.gui.app import create_main_window  # noqa: E402
from core.align import TRUST_HINT  # noqa: E402
from studio.gui.plate_trust import TRUST_BUTTON_TEXT, make_refusal_box  # noqa: E402
from tests.test_trust_plate import _save, frame_filling_pair  # noqa: E402

pytestmark = pytest.mark.gui
TIMEOUT_MS = 60_000


@pytest.fixture
def window(qapp, tmp_path):
    win = create_main_window(tmp_path / "studio.ini")
    win.show()
    win.actions_.method["classical"].trigger()
    win.preview_megapixels = None  # one pass: the pair is small anyway
    yield win
    win.close()


def test_refusal_box_offers_the_retry_but_defaults_to_close(qapp):
    box = make_refusal_box(None, "Could not cut the photo", "plate.png: the plate, used as it is, ...")
    assert box.trust_button.text() == TRUST_BUTTON_TEXT
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Close)
    assert "marked \u201ccheck\u201d" in box.informativeText()
    hinted = "plate.png: the plate matches on 50% of the edges (if the plate is right, trust it: " + TRUST_HINT + ")."
    box = make_refusal_box(None, "Could not cut the photo", hinted)
    assert box.text() == "plate.png: the plate matches on 50% of the edges."  # the button, not a CLI flag, in the app


def test_refused_plate_is_cut_again_trusted_from_the_error(window, qtbot, monkeypatch, tmp_path):
    photo_rgb, plate_rgb, _ = frame_filling_pair()
    photo, plate = _save(tmp_path / "bears.png", photo_rgb), _save(tmp_path / "bears_plate.png", plate_rgb)
    boxes = []

    def use_plate_anyway(box):
        boxes.append(box.text())
        box.trust_button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", use_plate_anyway)
    with qtbot.waitSignal(window.resultShown, timeout=TIMEOUT_MS) as shown:
        window.open_pair(photo, plate)
    assert len(boxes) == 1
    assert "bears_plate.png: the plate, used as it is" in boxes[0] and "--trust-plate" not in boxes[0]
    out = shown.args[0]
    report = out.result.alignment
    assert out.final and out.plate_path == str(plate)
    assert report.verdict == "check" and report.message.startswith("plate trusted, scene check overridden")
    assert window.actions_.trust_plate.isChecked() and window.options.align.trust_plate
    qtbot.waitUntil(lambda: window.verdict_label.text() == "Alignment: check", timeout=5000)

    # another plate file goes through the scene check again; closing the error keeps the result
    other = tmp_path / "other_plate.png"
    shutil.copy(plate, other)
    monkeypatch.setattr(QMessageBox, "exec", lambda box: boxes.append(box.text()) or 0)
    with qtbot.waitSignal(window.errorShown, timeout=TIMEOUT_MS):
        window.open_pair(photo, other)
    qtbot.waitUntil(lambda: window.run_job is None, timeout=5000)
    assert "other_plate.png" in boxes[-1] and not window.actions_.trust_plate.isChecked()
    assert window.current is out and window.plate_path == str(plate)

    # Matte > Trust the Plate cuts the refused pair again, trusting its plate
    with qtbot.waitSignal(window.resultShown, timeout=TIMEOUT_MS) as shown:
        window.actions_.trust_plate.trigger()
    assert shown.args[0].plate_path == str(other) and shown.args[0].result.alignment.verdict == "check"
    assert window.actions_.trust_plate.isChecked() and len(boxes) == 2
