"""The main window: wires the views, the panels, the actions, the editor and the worker engine.

It holds which pair is open and which result is on screen, and reacts to the
worker's signals; touch-up lives in ``MatteEditor``, pixel work in ``core``
(mostly in the worker thread).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QScrollArea, QToolButton, QVBoxLayout, QWidget)

from core import __version__
from core.pipeline import MatteOptions

from . import actions as actions_module
from . import plate_trust
from .alignment_panel import AlignmentPanel
from .batch_review import BatchReview
from .editor import MatteEditor
from .export_dialog import ask_export
from .files import find_plate_candidate, is_image_path, order_pair
from .result_panel import ResultPanel
from .settings import Settings
from .touchup_panel import TouchUpPanel
from .views import PAGES, DetailTiles, ViewStack
from .worker import PREVIEW_MEGAPIXELS, DetailSource, Engine, RunOutput

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp);;All files (*)"
NUDGE_DEBOUNCE_MS = 350


class MainWindow(QMainWindow):
    """Signals (GUI thread, after the window has updated): resultShown(RunOutput),
    touchUpShown(TouchUpOutput), exportFinished(path), errorShown(message), runCancelled(job),
    progressShown(job, stage, fraction)."""

    resultShown = Signal(object)
    touchUpShown = Signal(object)
    exportFinished = Signal(str)
    errorShown = Signal(str)
    runCancelled = Signal(int)
    progressShown = Signal(int, str, float)

    def __init__(self, settings: Settings, engine: Engine):
        super().__init__()
        self.settings, self.engine = settings, engine
        self.setWindowTitle("Matting Studio")
        self.setAcceptDrops(True)
        self.photo_path: Optional[str] = None
        self.plate_path: Optional[str] = None
        self.options = MatteOptions()
        self.offset = (0, 0)
        self.current: Optional[RunOutput] = None   # the result on screen (preview or final)
        self.run_job: Optional[int] = None
        self.last_error: Optional[str] = None
        self.last_export: Optional[str] = None
        self.preview_megapixels: Optional[float] = PREVIEW_MEGAPIXELS
        self._new_pair = False
        self._pending_plate: Optional[Path] = None  # a dropped plate waiting for its photo
        self._requested_offset = self._shown_offset = (0, 0)

        self.views = ViewStack()
        self.setCentralWidget(self.views)
        self.editor = MatteEditor(engine, self.views, self)
        self.tiles = DetailTiles(self.views.canvases, engine, self)
        self.alignment_panel, self.touchup_panel, self.result_panel = AlignmentPanel(), TouchUpPanel(), ResultPanel()
        self._build_dock()
        self.actions_ = actions_module.build_actions(self)
        self.recent_menu = actions_module.build_menus(self, self.actions_)
        self.toolbar = actions_module.build_toolbar(self, self.actions_)
        self.touchup_panel.bind_history(self.actions_.undo, self.actions_.redo)
        self.plate_trust = plate_trust.PlateTrust(self.actions_.trust_plate, engine.worker, self)
        self.batch = BatchReview(self, self.actions_.review)  # the Batch dialog and the review dock
        self._build_status_bar()
        self._nudge_timer = QTimer(self, singleShot=True, interval=NUDGE_DEBOUNCE_MS)
        self._nudge_timer.timeout.connect(self.rerun)
        self._connect()
        self._restore_settings()
        self.batch.hide_until_run()
        self._refresh_state()

    # ----- construction
    def _build_dock(self) -> None:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(6, 6, 6, 6)
        column.setSpacing(8)
        for box in (self.result_panel, self.alignment_panel, self.touchup_panel):
            column.addWidget(box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock = QDockWidget("Inspector", self)
        self.dock.setObjectName("inspector")
        self.dock.setWidget(scroll)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.dock.setMinimumWidth(300)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.size_label, self.zoom_label, self.verdict_label, self.quality_label = (QLabel() for _ in range(4))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(self.actions_.cancel)
        for widget in (self.progress, self.cancel_button, self.size_label, self.zoom_label,
                       self.verdict_label, self.quality_label):
            bar.addPermanentWidget(widget)
        for label in (self.size_label, self.zoom_label, self.verdict_label, self.quality_label):
            label.setContentsMargins(8, 0, 8, 0)

    def _connect(self) -> None:
        a, w = self.actions_, self.engine.worker
        a.open.triggered.connect(self.choose_files)
        a.open_plate.triggered.connect(self.choose_plate)
        a.export.triggered.connect(self.export)
        a.batch.triggered.connect(self.batch.show_dialog)
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(self.editor.undo)
        a.redo.triggered.connect(self.editor.redo)
        a.rerun.triggered.connect(self.rerun)
        a.cancel.triggered.connect(self.cancel)
        a.fit.triggered.connect(self.views.fit)
        a.actual.triggered.connect(lambda: self.views.set_zoom(1.0))
        a.zoom_in.triggered.connect(lambda: self.views.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: self.views.zoom_by(0.8))
        a.pages.triggered.connect(lambda action: self.show_page(action.data()))
        a.tools.triggered.connect(lambda action: self.touchup_panel.set_tool(action.data()))
        a.brush_smaller.triggered.connect(lambda: self.touchup_panel.step_radius(False))
        a.brush_bigger.triggered.connect(lambda: self.touchup_panel.step_radius(True))
        a.apply.triggered.connect(self.editor.apply)
        for action in a.nudge.values():
            action.triggered.connect(lambda _=False, action=action: self.nudge(*action.data()))
        a.reset_nudge.triggered.connect(self.reset_nudge)
        a.methods.triggered.connect(lambda action: self.set_method(action.data()))
        a.trust_plate.triggered.connect(self.set_trust_plate)
        a.keep_specks.triggered.connect(self.set_keep_specks)
        a.keep_glass.triggered.connect(self.set_keep_glass)
        a.about.triggered.connect(self._about)
        self.views.empty.openRequested.connect(self.choose_files)
        self.editor.changed.connect(self._refresh_state)
        self.editor.applied.connect(self.touchUpShown)
        self.editor.message.connect(self.statusBar().showMessage)
        self.views.viewChanged.connect(self._show_zoom)
        self.alignment_panel.modeChanged.connect(self.views.alignment.set_mode)
        self.alignment_panel.opacityChanged.connect(self.views.alignment.set_opacity)
        self.alignment_panel.nudged.connect(self.nudge)
        self.alignment_panel.offsetReset.connect(self.reset_nudge)
        self.touchup_panel.toolChanged.connect(self._tool_changed)
        self.touchup_panel.radiusChanged.connect(self.views.set_brush_radius)
        self.touchup_panel.applyRequested.connect(self.editor.apply)
        self.views.cutout.backdropChanged.connect(self.settings.set_backdrop)
        # explicit: worker signals are always handled in the GUI thread
        queued = Qt.ConnectionType.QueuedConnection
        w.progress.connect(self._on_progress, queued)
        w.resultReady.connect(self._on_result, queued)
        w.exported.connect(self._on_exported, queued)
        w.failed.connect(self._on_failed, queued)
        w.cancelled.connect(self._on_cancelled, queued)
        w.jobFinished.connect(self._on_job_finished, queued)

    def _restore_settings(self) -> None:
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        if state is not None:
            self.restoreState(state)
        page = self.settings.view_mode()
        self.show_page(page if page in PAGES else "cutout")
        self.touchup_panel.set_radius(self.settings.brush_radius())
        self.views.set_brush_radius(self.touchup_panel.radius())
        self.views.cutout.set_backdrop(self.settings.backdrop() or {"kind": "checker"})
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        pairs = self.settings.recent_pairs()
        for photo, plate in pairs:
            action = self.recent_menu.addAction(f"{Path(photo).name}  +  {Path(plate).name}")
            action.setToolTip(f"{photo}\n{plate}")
            action.triggered.connect(lambda _=False, p=photo, q=plate: self.open_pair(p, q))
        self.recent_menu.setEnabled(bool(pairs))

    # ----- opening
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photo (and plate)", self.settings.last_folder("open"),
                                                IMAGE_FILTER)
        if paths:
            self.open_paths(paths)

    def choose_plate(self) -> None:
        folder = str(Path(self.photo_path).parent) if self.photo_path else self.settings.last_folder("open")
        path, _ = QFileDialog.getOpenFileName(self, "Open plate", folder, IMAGE_FILTER)
        if path and self.photo_path:
            self.open_pair(self.photo_path, path)

    def open_paths(self, paths) -> None:
        """One or two files (menu or drop): find out which is the photo and which the plate."""
        photo, plate = order_pair(paths)
        if photo is None and plate is not None:
            if self.photo_path:
                self.open_pair(self.photo_path, plate)
            else:
                self._pending_plate = plate
                self.statusBar().showMessage(f"{plate.name} looks like a plate; now open the photo.", 5000)
            return
        if photo is None:
            self._warn("Cannot open", "Choose a PNG, JPEG, TIFF or WebP image.")
            return
        if plate is None and self._pending_plate is not None:
            plate, self._pending_plate = self._pending_plate, None
        if plate is None:
            plate = self._ask_for_plate(photo)
            if plate is None:
                return
        self.open_pair(photo, plate)

    def _ask_for_plate(self, photo: Path) -> Optional[Path]:
        candidate = find_plate_candidate(photo)
        if candidate is not None:
            answer = QMessageBox.question(self, "Use this plate?",
                                          f"Use {candidate.name} as the plate for {photo.name}?")
            if answer == QMessageBox.StandardButton.Yes:
                return candidate
        path, _ = QFileDialog.getOpenFileName(self, f"Open the plate for {photo.name}", str(photo.parent),
                                              IMAGE_FILTER)
        return Path(path) if path else None

    def open_pair(self, photo, plate) -> None:
        if not self._confirm_discard_edits():
            return
        self.photo_path, self.plate_path = str(photo), str(plate)
        self.settings.set_last_folder("open", Path(photo).parent)
        self.offset = (0, 0)
        self.alignment_panel.set_offset(0, 0)
        self._new_pair = True
        self.setWindowTitle(f"{Path(photo).name} \u2014 Matting Studio")
        self.rerun()

    # ----- running
    def rerun(self) -> None:
        if not (self.photo_path and self.plate_path):
            return
        self._nudge_timer.stop()
        if self.run_job is not None:
            self.engine.cancel(self.run_job)
        self.options = replace(self.options, plate_offset=(float(self.offset[0]), float(self.offset[1])))
        self.options = self.plate_trust.for_run(self.options, self.plate_path)
        self.run_job = self.engine.run(self.photo_path, self.plate_path, self.options,
                                      self.preview_megapixels)
        self._requested_offset = self.offset
        self._refresh_state()

    def cancel(self) -> None:
        self.engine.cancel()

    def _cut_again_with(self, **changes) -> None:
        """Change the matte options and cut the open pair again (after asking about unapplied edits)."""
        self.options = replace(self.options, **changes)
        if self.current is not None and self._confirm_discard_edits():
            self.rerun()

    def set_method(self, method: str) -> None:
        self._cut_again_with(method=method)

    def set_keep_specks(self, keep: bool) -> None:
        """Keep every piece of the networks' matte (or clear the specks again), and cut again."""
        from core.specks import SPECK_SHARE

        self._cut_again_with(speck_share=0.0 if keep else SPECK_SHARE)

    def set_keep_glass(self, keep: bool) -> None:
        """Keep the networks' opacity for see-through areas (or re-measure it again), and cut again."""
        self._cut_again_with(see_through=not keep)

    def set_trust_plate(self, trusted: bool) -> None:
        """Cut the pair the scene check last refused (else the one open) again, trusting its plate or not."""
        photo, plate = self.plate_trust.refused_pair or (self.photo_path, self.plate_path)
        self.plate_trust.set_trusted(plate if trusted and plate else None)
        if (photo, plate) != (self.photo_path, self.plate_path):
            self.open_pair(photo, plate)
        elif self.current is None or self._confirm_discard_edits():
            self.rerun()

    def nudge(self, dx: int, dy: int) -> None:
        if self.current is None or not self._confirm_discard_edits():
            return
        self.offset = (self.offset[0] + dx, self.offset[1] + dy)
        self.alignment_panel.set_offset(*self.offset)
        shown = self._shown_offset
        self.views.alignment.set_plate_shift(self.offset[0] - shown[0], self.offset[1] - shown[1])
        self._nudge_timer.start()

    def reset_nudge(self) -> None:
        if self.offset != (0, 0):
            self.nudge(-self.offset[0], -self.offset[1])

    def _confirm_discard_edits(self) -> bool:
        if not self.editor.has_edits:
            return True
        answer = QMessageBox.question(self, "Discard touch-ups?",
                                      "Cutting the photo again discards your strokes and touch-ups. Continue?")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.editor.discard_history()
        return True

    # ----- worker signals
    def _on_progress(self, job: int, stage: str, fraction: float) -> None:
        if job in (self.run_job, self.editor.job):
            self.progress.setValue(int(1000 * fraction))
            self.progress.setFormat(f"{stage} %p%")
            self.progressShown.emit(job, stage, fraction)

    def _on_result(self, out: RunOutput) -> None:
        if out.job != self.run_job:
            out.shown.set()
            return  # a cancelled or superseded run
        fit = self._new_pair
        self._new_pair = False
        new_pair = self.current is None or (out.photo_path, out.plate_path) != (self.current.photo_path,
                                                                                self.current.plate_path)
        self.current = out
        self._shown_offset = self._requested_offset
        self.tiles.set_source(DetailSource(out.result, out.session, out.display.size))
        self.views.set_images(out.images, out.display.size, fit=fit)
        out.images.clear()  # the canvases own the QImages now (patches are painted into them in place)
        self.editor.set_session(out.session if out.final else None, out.display.photo.shape[:2])
        # The panels next, once the views have painted: two short event-loop stalls instead of one
        # long one (the first result also pays Qt's first-show costs).
        QTimer.singleShot(0, lambda: self._show_result_details(out, new_pair))

    def _show_result_details(self, out: RunOutput, new_pair: bool) -> None:
        if out is self.current:
            if new_pair:
                self.settings.add_recent_pair(out.photo_path, out.plate_path)
                self._fill_recent()
            self.alignment_panel.set_report(out.result.alignment)
            self.result_panel.set_result(out.result, out.final, out.display.size)
            self._show_status()
            self._refresh_state()
        self.resultShown.emit(out)
        # the worker waits for this after a preview; a zero timer fires after the paint events just posted
        QTimer.singleShot(0, out.shown.set)

    def _on_exported(self, job: int, path: str) -> None:
        self.last_export = path
        self.statusBar().showMessage(f"Exported {path}", 8000)
        self.exportFinished.emit(path)

    def _on_failed(self, job: int, message: str) -> None:
        if self.batch.owns(job):
            return  # the Batch dialog shows it
        refused = job == self.run_job and self.plate_trust.was_refused(job)
        if refused:
            self.plate_trust.refused_pair = (self.photo_path, self.plate_path)
        if job == self.run_job:
            self._restore_shown_pair()
        title = "Could not cut the photo" if job == self.run_job else "Could not finish"
        self._warn(title, message + ("\nThe previous result is kept." if self.current is not None else ""),
                   offer_trust=refused)

    def _restore_shown_pair(self) -> None:
        """After a failed or cancelled run, the window describes the result still on screen."""
        if self.current is not None:
            self.photo_path, self.plate_path = self.current.photo_path, self.current.plate_path
            self.offset = self._shown_offset
            self.alignment_panel.set_offset(*self.offset)
            self.views.alignment.set_plate_shift(0, 0)
            self.setWindowTitle(f"{Path(self.photo_path).name} \u2014 Matting Studio")

    def _on_cancelled(self, job: int) -> None:
        if job == self.run_job:
            self._restore_shown_pair()
            self.statusBar().showMessage("Cancelled; the previous result is kept.", 5000)
            self.runCancelled.emit(job)

    def _on_job_finished(self, job: int) -> None:
        if job == self.run_job:
            self.run_job = None
        self._refresh_state()

    # ----- touch-up
    def _tool_changed(self, kind) -> None:
        action = self.actions_.tool.get(kind)
        if action is not None:
            action.setChecked(True)
        self.views.set_brush(kind)
        if kind is not None and self.views.page == "alignment":
            self.show_page("cutout")

    # ----- export
    def export(self) -> None:
        if self.editor.session is None or self.current is None:
            self._warn("Nothing to export yet", "Wait for the full-resolution result, then export.")
            return
        try:
            target = ask_export(self, self.photo_path, self.settings)
        except (ImportError, ValueError) as err:
            self._warn("Cannot export", str(err))
            return
        if target is not None:
            path, options, force = target
            session = self.editor.session
            self.editor.lock(self.engine.export(str(path), self.current.photo_image, session.alpha,
                                                session.foreground, options, force))

    @property
    def session(self):
        """The touch-up session of the full-resolution result (None while only a preview is shown)."""
        return self.editor.session

    @property
    def edit_job(self) -> Optional[int]:
        """The worker job (touch-up or export) reading the session, if any."""
        return self.editor.job

    # ----- view
    def show_page(self, page: str) -> None:
        self.views.show_page(page)
        self.actions_.page[page].setChecked(True)
        self.settings.set_view_mode(page)
        self._refresh_state()

    def _show_zoom(self) -> None:
        if self.views.has_image:
            self.zoom_label.setText(f"Zoom {self.views.current_canvas().zoom() * 100:.0f}%")

    def _show_status(self) -> None:
        if self.current is None:
            return
        w, h = self.current.display.size
        self.size_label.setText(f"{w} \u00d7 {h} px")
        report, quality = self.current.result.alignment, self.current.result.quality
        self.verdict_label.setText(f"Alignment: {report.verdict}")
        review = " (review)" if quality.needs_review else ""
        self.quality_label.setText(f"Quality: {quality.score:.2f}{review}")
        self._show_zoom()

    def _refresh_state(self) -> None:
        a = self.actions_
        running = self.run_job is not None
        editing = self.editor.busy
        has_session = self.editor.session is not None
        self.progress.setVisible(running or editing)
        self.cancel_button.setVisible(running or editing)
        a.cancel.setEnabled(running or editing)
        a.rerun.setEnabled(bool(self.photo_path and self.plate_path))
        a.open_plate.setEnabled(bool(self.photo_path))
        a.export.setEnabled(has_session and not editing)
        a.undo.setEnabled(self.editor.can_undo)
        a.redo.setEnabled(self.editor.can_redo)
        a.apply.setEnabled(self.editor.can_apply)
        for action in a.tool.values():
            action.setEnabled(has_session)
        on_alignment = self.views.page == "alignment" and self.current is not None
        for action in list(a.nudge.values()) + [a.reset_nudge]:
            action.setEnabled(on_alignment)
        for action in (a.fit, a.actual, a.zoom_in, a.zoom_out):
            action.setEnabled(self.views.has_image)
        self.touchup_panel.set_state(available=has_session,
                                     pending=has_session and self.editor.session.pending is not None,
                                     busy=editing)

    # ----- misc
    def _warn(self, title: str, message: str, offer_trust: bool = False) -> None:
        """Show an error; with ``offer_trust``, offer to cut the refused pair again trusting its plate."""
        self.last_error = message
        if not offer_trust:
            QMessageBox.warning(self, title, message)
        trusted = offer_trust and plate_trust.ask_to_trust_plate(self, title, message)
        self.errorShown.emit(message)
        if trusted:
            self.set_trust_plate(True)

    def _about(self) -> None:
        QMessageBox.about(self, "About Matting Studio",
                          f"Matting Studio {__version__}\nCuts products out of studio photos using a plate.")

    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if urls and any(is_image_path(u.toLocalFile()) for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.open_paths(paths))  # questions must not run inside the drop

    def closeEvent(self, event) -> None:
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.set_brush_radius(self.touchup_panel.radius())
        self.settings.sync()
        self.engine.shutdown()
        super().closeEvent(event)
