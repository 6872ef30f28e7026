"""Batch dialog: which photos and plates, how they are cut, where the cut-outs go; runs the batch with progress.

The dialog plans the batch itself (``core.batch_plan.plan_batch`` reads file names only, so a
typo is reported here at once, before any work), hands the jobs to the worker engine and
follows its progress; the worker runs ``core.batch.run_batch`` with its one Pipeline and writes
the report. The export options are the Export dialog's own widgets, embedded, so both dialogs
offer the same choices under the same rules. The choices are remembered in the settings.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QProgressBar, QPushButton,
                               QToolButton, QVBoxLayout, QWidget)

from core.errors import MattingError
from core.report import format_duration, summarize

from .export_dialog import ExportDialog, to_export_options

PAIRINGS = (("plate", "One plate for the whole folder"),
            ("names", "Plates by name (NAME_plate.jpg beside NAME.jpg)"),
            ("csv", "Pairs from a CSV file (photo,plate[,output])"))
METHODS = (("auto", "Automatic"), ("network", "Networks"), ("classical", "Classical (no networks)"),
           ("hybrid", "Hybrid (the network seeds GrabCut)"), ("best", "Best of all (slowest)"))
EXPORT_KEYS = ("format", "bit_depth", "crop", "padding", "background", "background_colour", "background_image",
               "alpha_only")
DEFAULTS = {"input": "", "pairing": "plate", "plate": "", "csv": "", "pattern": "", "output": "",
            "method": "auto", "force": False, "export": {}}
SETTINGS_KEY = "batch/options"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;All files (*)"
ICON_COLOUR = "#c8ccd2"


def remembered_choices(settings) -> dict:
    """The last batch's choices (``DEFAULTS`` where none); the export options start as the Export dialog's."""
    try:
        saved = json.loads(settings.q.value(SETTINGS_KEY, "{}") or "{}")
    except (TypeError, json.JSONDecodeError):
        saved = {}
    choices = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS}} if isinstance(saved, dict) \
        else dict(DEFAULTS)
    if not choices["export"]:
        choices["export"] = settings.export_options()
    return choices


def remember_choices(settings, choices: dict) -> None:
    settings.q.setValue(SETTINGS_KEY, json.dumps({k: choices[k] for k in DEFAULTS}))


def check_export(export) -> None:
    """Reject a padding or background image core could not use, before any photo is cut."""
    from core.export import parse_colour, parse_padding

    if export.crop:
        parse_padding(export.padding, 100)
    if export.background is not None and parse_colour(export.background) is None \
            and not Path(export.background).expanduser().is_file():
        raise MattingError("background image not found; choose another image or a colour", export.background)


def set_label_width(form: QFormLayout, width: int) -> None:
    """Give ``form``'s labels one width, right-aligned, so that stacked forms line up."""
    for row in range(form.rowCount()):
        item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        if item is not None and isinstance(item.widget(), QLabel):
            item.widget().setMinimumWidth(width)
            item.widget().setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ExportOptionsForm(ExportDialog):
    """The Export dialog's options (format, bit depth, crop and padding, background, alpha only) as a
    plain widget, so its own rules keep them consistent. Its rows about one file are hidden (a batch
    names each output after its photo); Enter and Escape belong to the dialog around it."""

    def __init__(self, remembered: dict, parent: Optional[QWidget] = None):
        super().__init__("batch", remembered, parent)
        self.setWindowFlags(Qt.WindowType.Widget)
        self.setMinimumWidth(0)
        self.form = self.findChild(QFormLayout)
        self.form.setRowVisible(self.folder.parentWidget(), False)
        self.form.setRowVisible(self.name, False)
        self.target.hide()
        self.findChild(QDialogButtonBox).hide()
        self.layout().setContentsMargins(0, 0, 0, 0)

    def keyPressEvent(self, event) -> None:
        QWidget.keyPressEvent(self, event)  # not a dialog here: the event goes on to the parent

    def export_choices(self) -> dict:
        """The choices ``export_dialog.to_export_options`` takes."""
        choices = self.choices()
        return {key: choices[key] for key in EXPORT_KEYS}

    def set_label_width(self, width: int) -> None:
        """Line the labels up with the enclosing dialog's (fixed width, right-aligned)."""
        set_label_width(self.form, width)


class BatchDialog(QDialog):
    """Signals: batchStarted(job); batchFinished(BatchOutput), also for a cancelled batch, before the
    dialog goes idle (it then closes itself unless the batch was cancelled)."""

    batchStarted = Signal(int)
    batchFinished = Signal(object)

    def __init__(self, settings, engine, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.settings, self.engine = settings, engine
        self.job: Optional[int] = None
        self._close_when_done = False
        self._current = ""
        self.setWindowTitle("Batch")
        self.setWindowModality(Qt.WindowModality.WindowModal)  # one worker: the editor waits meanwhile
        self.setMinimumWidth(600)
        self._build(remembered_choices(settings))
        queued = Qt.ConnectionType.QueuedConnection
        worker = engine.worker
        worker.batchProgress.connect(self._on_progress, queued)
        worker.batchFinished.connect(self._on_finished, queued)
        worker.failed.connect(self._on_failed, queued)
        worker.jobFinished.connect(self._on_job_finished, queued)
        self._refresh()

    # ----- construction
    def _build(self, state: dict) -> None:
        self.input = QLineEdit(state["input"])
        self.plate = QLineEdit(state["plate"])
        self.csv = QLineEdit(state["csv"])
        self.output = QLineEdit(state["output"])
        self.pattern = QLineEdit(state["pattern"])
        self.pattern.setPlaceholderText("every JPEG, PNG, TIFF, WebP and BMP (or e.g. *.jpg)")
        self.output.setPlaceholderText("a new folder for the cut-outs and the report")
        self.pairing = self._combo(PAIRINGS, state["pairing"])
        self.method = self._combo(METHODS, state["method"])
        self.force = QCheckBox("Overwrite existing outputs (else photos already cut are skipped)")
        self.force.setChecked(bool(state["force"]))
        # not remembered: a plate refused as "another scene" is trusted for one batch at a time, on purpose
        self.trust_plate = QCheckBox("Trust the plates (skip the scene check; such photos are flagged for a look)")
        self.trust_plate.setToolTip("For a product that fills the frame on plain paper, which the scene check "
                                    "can take for a plate of another scene (as --trust-plate does)")
        self.keep_specks = QCheckBox("Keep specks (pieces apart from the product with under 1% of its alpha)")
        self.keep_specks.setToolTip("By default the networks' matte is cleared of them, where the scene changed "
                                    "between photo and plate (as without --keep-specks)")
        self.keep_glass = QCheckBox("Keep the networks' glass opacity (do not re-measure it from the backdrop)")
        self.keep_glass.setToolTip("By default see-through areas are re-levelled from the backdrop texture seen "
                                   "through them, where the backdrop has texture (as without --no-see-through)")
        self.export_form = ExportOptionsForm(state["export"], self)

        photos = QFormLayout()
        photos.addRow("Folder:", self._path_row(self.input, "fa5s.folder-open", self._browse_input))
        photos.addRow("Pairing:", self.pairing)
        photos.addRow("Plate:", self._path_row(self.plate, "mdi6.image-outline", self._browse_plate))
        photos.addRow("Pairs CSV:", self._path_row(self.csv, "mdi6.file-delimited-outline", self._browse_csv))
        photos.addRow("Pattern:", self.pattern)
        cutting = QFormLayout()
        cutting.addRow("Method:", self.method)
        cutting.addRow("", self.force)
        cutting.addRow("", self.trust_plate)
        cutting.addRow("", self.keep_specks)
        cutting.addRow("", self.keep_glass)
        output = QFormLayout()
        output.addRow("Folder:", self._path_row(self.output, "fa5s.folder-open", self._browse_output))
        output.addRow(self.export_form)
        self.groups = []
        layout = QVBoxLayout(self)
        for title, form in (("Photos and plates", photos), ("Cutting", cutting), ("Cut-outs", output)):
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            box = QGroupBox(title)
            box.setLayout(form)
            layout.addWidget(box)
            self.groups.append(box)
        self._align_labels([photos, cutting, output])

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.status = QLabel("Choose the photos, then Run.")
        self.status.setStyleSheet("color: #b8bcc4;")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff7b72;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.run_button = QPushButton(qta.icon("mdi6.play", color="white"), " Run")
        self.run_button.setDefault(True)
        self.run_button.setStyleSheet("QPushButton { background: #3d6fb6; color: white; padding: 5px 16px;"
                                      " border-radius: 3px; font-weight: 600; }"
                                      " QPushButton:disabled { background: #3a3f46; color: #7d8590; }")
        self.cancel_button = QPushButton(qta.icon("mdi6.stop", color=ICON_COLOUR, color_disabled="#5c6370"),
                                         " Cancel")
        self.cancel_button.setToolTip("Stop after the current step; the cut-outs written so far are kept")
        self.close_button = QPushButton("Close")
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel_batch)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.close_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.pairing.currentIndexChanged.connect(self._refresh)

    @staticmethod
    def _combo(entries, current: str) -> QComboBox:
        combo = QComboBox()
        for key, label in entries:
            combo.addItem(label, key)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        return combo

    @staticmethod
    def _path_row(edit: QLineEdit, icon: str, browse) -> QWidget:
        button = QToolButton()
        button.setIcon(qta.icon(icon, color=ICON_COLOUR))
        button.clicked.connect(browse)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return box

    def _align_labels(self, forms) -> None:
        """One label column width for the three groups and the embedded export options."""
        widths = [self.fontMetrics().horizontalAdvance(form.itemAt(row, QFormLayout.ItemRole.LabelRole)
                                                       .widget().text())
                  for form in forms for row in range(form.rowCount())
                  if form.itemAt(row, QFormLayout.ItemRole.LabelRole) is not None]
        width = max(widths + [self.fontMetrics().horizontalAdvance("Background image:")]) + 4
        for form in forms:
            set_label_width(form, width)
        self.export_form.set_label_width(width)

    # ----- browsing
    def _browse_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos", self.input.text())
        if folder:
            self.input.setText(folder)
            if not self.output.text():
                self.output.setText(str(Path(folder) / "cutouts"))

    def _browse_plate(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The plate for every photo", self.plate.text()
                                              or self.input.text(), IMAGE_FILTER)
        if path:
            self.plate.setText(path)

    def _browse_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pairs CSV", self.csv.text() or self.input.text(),
                                              "CSV files (*.csv);;All files (*)")
        if path:
            self.csv.setText(path)

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the cut-outs", self.output.text())
        if folder:
            self.output.setText(folder)

    # ----- choices
    def choices(self) -> dict:
        """The choices as a plain dict: the keys of ``DEFAULTS``, as remembered in the settings, and
        "trust_plate", "keep_specks" and "keep_glass", which are not remembered."""
        return {"input": self.input.text().strip(), "pairing": self.pairing.currentData(),
                "plate": self.plate.text().strip(), "csv": self.csv.text().strip(),
                "pattern": self.pattern.text().strip(), "output": self.output.text().strip(),
                "method": self.method.currentData(), "force": self.force.isChecked(),
                "export": self.export_form.export_choices(), "trust_plate": self.trust_plate.isChecked(),
                "keep_specks": self.keep_specks.isChecked(), "keep_glass": self.keep_glass.isChecked()}

    def plan(self) -> tuple:
        """(jobs, MatteOptions, ExportOptions, force, report folder) for the choices; raises MattingError."""
        from core.align import AlignOptions
        from core.batch_plan import plan_batch
        from core.pipeline import MatteOptions
        from core.specks import SPECK_SHARE

        c = self.choices()
        if not c["output"]:
            raise MattingError("choose the folder for the cut-outs")
        export = to_export_options(c["export"])
        check_export(export)
        if c["pairing"] == "csv":
            if not c["csv"]:
                raise MattingError("choose the pairs CSV, or pair the photos another way")
            jobs = plan_batch(pairs_csv=c["csv"], output_dir=c["output"], export=export)
        else:
            if not c["input"]:
                raise MattingError("choose the folder of photos")
            if c["pairing"] == "plate" and not c["plate"]:
                raise MattingError("choose the plate, or pair plates by name")
            plate = c["plate"] if c["pairing"] == "plate" else None
            jobs = plan_batch(c["input"], plate=plate, pattern=c["pattern"] or None, output_dir=c["output"],
                              export=export)
        options = MatteOptions(method=c["method"], align=AlignOptions(trust_plate=c["trust_plate"]),
                               speck_share=0.0 if c["keep_specks"] else SPECK_SHARE,
                               see_through=not c["keep_glass"])
        return jobs, options, export, c["force"], c["output"]

    # ----- running
    @property
    def running(self) -> bool:
        return self.job is not None

    def run(self) -> None:
        if self.running:
            return
        remember_choices(self.settings, self.choices())
        self._show_error("")
        try:
            jobs, options, export, force, report_dir = self.plan()
        except MattingError as err:
            self._show_error(str(err))
            self.status.setText("Nothing was started.")
            return
        self._close_when_done, self._current = False, ""
        self.job = self.engine.batch(jobs, options, export, force, report_dir)
        self.progress.setValue(0)
        self.progress.setFormat(f"0 of {len(jobs)}")
        self.status.setText(f"Starting {len(jobs)} photo{'s' if len(jobs) != 1 else ''}\u2026")
        self._refresh()
        self.batchStarted.emit(self.job)

    def cancel_batch(self) -> None:
        if self.running:
            self.engine.cancel(self.job)
            self.status.setText("Stopping after the current step\u2026")
            self.cancel_button.setEnabled(False)

    def reject(self) -> None:
        """Close; while a batch runs, offer to stop it (the dialog closes once it has stopped)."""
        if not self.running:
            super().reject()
            return
        answer = QMessageBox.question(self, "Stop the batch?", "Stop the batch after the current step? The "
                                      "cut-outs written so far are kept and listed for review.")
        if answer == QMessageBox.StandardButton.Yes:
            self._close_when_done = True
            self.cancel_batch()

    def done(self, code: int) -> None:
        remember_choices(self.settings, self.choices())
        super().done(code)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _refresh(self) -> None:
        running = self.running
        by_csv = self.pairing.currentData() == "csv"
        for box in self.groups:
            box.setEnabled(not running)
        self.input.parentWidget().setEnabled(not by_csv)
        self.pattern.setEnabled(not by_csv)
        self.plate.parentWidget().setEnabled(self.pairing.currentData() == "plate")
        self.csv.parentWidget().setEnabled(by_csv)
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running or bool(self.progress.format()))

    # ----- worker signals
    def _on_progress(self, job: int, update) -> None:
        if job != self.job:
            return
        self.progress.setValue(int(round(1000 * update.fraction)))
        self.progress.setFormat(f"{update.done} of {update.total}  (%p%)")
        self._current = update.current or self._current
        token = self.engine.tokens.get(job)
        if token is not None and token.cancelled:
            return  # the status keeps saying that the batch is stopping
        eta = f"about {format_duration(update.eta)} left" if update.eta is not None else "estimating the time left"
        stage = f" ({update.stage})" if update.stage and update.current else ""
        self.status.setText(f"Cutting {self._current}{stage} \u00b7 {eta}" if self._current else eta)

    def _on_finished(self, output) -> None:
        if output.job != self.job:
            return
        result = output.result
        self.progress.setValue(int(round(1000 * len(result.items) / max(1, result.total))))
        self.progress.setFormat(f"{len(result.items)} of {result.total}")
        self.status.setText(("Cancelled: " if result.cancelled else "Done: ") + summarize(result))
        if output.report_error:
            self._show_error(f"The report could not be written: {output.report_error}")
        # the review list takes over; stay open to say why the batch stopped or the report is missing
        self._close_when_done = self._close_when_done or not (result.cancelled or output.report_error)
        self.batchFinished.emit(output)

    def _on_failed(self, job: int, message: str) -> None:
        if job == self.job:
            self._show_error(message)
            self.status.setText("The batch did not run.")

    def _on_job_finished(self, job: int) -> None:
        if job != self.job:
            return
        self.job = None
        self._refresh()
        if self._close_when_done:
            self._close_when_done = False
            self.accept()
