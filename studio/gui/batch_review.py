"""Batch mode in the main window: the Batch dialog, the review dock, and a photo's round trip from the
review list through the editor back to its batch output.

Opening a row uses the window's normal open/run path (the batch's method); "Re-export" writes the
editor's touch-up session over that row's output with the batch's export options, in the worker
(atomically, replacing the file: the user asked for it), judges it again, rewrites the batch's
report with the new score and marks the row fixed.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget

from .batch_dialog import BatchDialog
from .review_panel import BatchReviewPanel

DOCK_HEIGHT = 250


class BatchReview(QObject):
    """Signals: reexported(path) once a re-export is written and its row shows "fixed"."""

    reexported = Signal(str)

    def __init__(self, window, toggle_action=None):
        super().__init__(window)
        self.window = window
        self.panel = BatchReviewPanel()
        self.dock = QDockWidget("Batch review", window)
        self.dock.setObjectName("batch-review")
        self.dock.setWidget(self.panel)
        self.dock.setMinimumHeight(180)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.toggle_action = toggle_action
        if toggle_action is not None:
            toggle_action.setEnabled(False)
            toggle_action.toggled.connect(self.dock.setVisible)
            self.dock.visibilityChanged.connect(toggle_action.setChecked)
        self.dialog: Optional[BatchDialog] = None
        self.output = None  # the last batch_jobs.BatchOutput
        self.reexport_job: Optional[int] = None
        self.panel.openRequested.connect(self.open_item)
        self.panel.reexportRequested.connect(self.reexport)
        queued = Qt.ConnectionType.QueuedConnection
        window.engine.worker.reexported.connect(self._on_reexported, queued)
        window.engine.worker.jobFinished.connect(self._on_job_finished, queued)
        window.resultShown.connect(self.refresh)
        window.editor.changed.connect(self.refresh)

    def hide_until_run(self) -> None:
        """No list before the first batch (a restored window state may have shown the dock)."""
        if self.output is None:
            self.dock.hide()

    def owns(self, job: int) -> bool:
        """True for the running batch's job (its failures show in the dialog)."""
        return self.dialog is not None and job == self.dialog.job

    # ----- the dialog
    def show_dialog(self) -> None:
        if self.dialog is None:
            self.dialog = BatchDialog(self.window.settings, self.window.engine, self.window)
            self.dialog.batchFinished.connect(self._on_batch_finished)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def _on_batch_finished(self, output) -> None:
        first = self.output is None
        self.output = output
        self.panel.show_batch(output)
        if self.toggle_action is not None:
            self.toggle_action.setEnabled(True)
        self.dock.show()
        self.dock.raise_()
        if first:  # room for a few rows, the photo keeps most of the window
            self.window.resizeDocks([self.dock], [DOCK_HEIGHT], Qt.Orientation.Vertical)
        self.refresh()

    # ----- editor round trip
    def _editor_pair(self) -> tuple:
        """(photo, plate) of the editor's full-resolution result, or (None, None)."""
        current, session = self.window.current, self.window.session
        if current is None or session is None:
            return None, None
        return current.photo_path, current.plate_path

    def _shows(self, item) -> bool:
        return self._editor_pair() == (str(item.job.photo), str(item.job.plate))

    def refresh(self, *_) -> None:
        photo, plate = self._editor_pair()
        self.panel.set_editor(photo, plate, photo is not None and not self.window.editor.busy)

    def open_item(self, item) -> None:
        """Open a row's photo and plate in the editor, cut with the batch's method."""
        window = self.window
        if self._shows(item):
            window.statusBar().showMessage(f"{item.job.photo.name} is open in the editor.", 4000)
            return
        method = self.output.options.method if self.output is not None else window.options.method
        window.options = replace(window.options, method=method)
        if method in window.actions_.method:
            window.actions_.method[method].setChecked(True)
        window.open_pair(item.job.photo, item.job.plate)

    def reexport(self, item) -> None:
        """Write the editor's matte of ``item``'s photo over its batch output, with the batch's export options."""
        window = self.window
        if self.output is None or not self._shows(item) or window.editor.busy:
            window.statusBar().showMessage("Open this photo in the editor first (double-click its row).", 5000)
            return
        current = window.current
        job = window.engine.reexport(item.job.output, current.photo_image, window.session,
                                     current.result.alignment.verdict, self.output)
        window.editor.lock(job)
        self.reexport_job = job
        self.panel.set_busy(str(item.job.output))

    def _on_reexported(self, out) -> None:
        if out.job != self.reexport_job:
            return
        if out.result is not None:  # the report now lists the fix too
            self.output = self.panel.output = replace(self.output, result=out.result)
        self.panel.mark_fixed(out.path, out.quality, out.thumbnail)
        report = f"; the report could not be updated: {out.report_error}" if out.report_error else ""
        self.window.statusBar().showMessage(f"Re-exported {out.path} (quality {out.quality.score:.2f}){report}",
                                            8000)
        self.reexported.emit(out.path)

    def _on_job_finished(self, job: int) -> None:
        if job == self.reexport_job:
            self.reexport_job = None
            self.panel.set_busy(None)
