"""MatteEditor: strokes, Apply, Undo / Redo on the current touch-up session.

The session (``core.touchup.TouchUpSession``, history in core) lives in the GUI
thread; strokes and undo steps touch only their region and refresh only that
part of the proxies. Apply runs the re-solve in the worker; while it, or an
export, reads the session the editor is busy and refuses edits.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal

from core.display import render_hints
from core.touchup import Stroke, TouchUpSession

from .qimage import qimage_from_array
from .views import ViewStack
from .worker import Engine, TouchUpOutput, render_touchup


class MatteEditor(QObject):
    """Signals: changed() when what can be done changed; applied(TouchUpOutput) after the views
    show an applied touch-up; message(text, timeout_ms) for the status bar."""

    changed = Signal()
    applied = Signal(object)
    message = Signal(str, int)

    def __init__(self, engine: Engine, views: ViewStack, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.engine, self.views = engine, views
        self.session: Optional[TouchUpSession] = None
        self.display_shape: tuple = (0, 0)
        self.job: Optional[int] = None  # a touch-up or export reading the session
        queued = Qt.ConnectionType.QueuedConnection
        engine.worker.touchUpReady.connect(self._on_touchup, queued)
        engine.worker.jobFinished.connect(self._on_job_finished, queued)
        views.strokeFinished.connect(self.add_stroke)

    # ----- state
    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def can_edit(self) -> bool:
        return self.session is not None and not self.busy

    @property
    def can_apply(self) -> bool:
        return self.can_edit and self.session.pending is not None

    @property
    def can_undo(self) -> bool:
        return self.can_edit and self.session.can_undo

    @property
    def can_redo(self) -> bool:
        return self.can_edit and self.session.can_redo

    @property
    def has_edits(self) -> bool:
        return self.session is not None and self.session.can_undo

    def set_session(self, session: Optional[TouchUpSession], display_shape: tuple) -> None:
        """Edit ``session`` (None: nothing editable, e.g. while only a preview is shown)."""
        self.session, self.display_shape = session, tuple(display_shape)
        self.changed.emit()

    def lock(self, job: int) -> None:
        """The worker reads the session for ``job`` (an export): no edits until it finishes."""
        self.job = job
        self.changed.emit()

    def discard_history(self) -> None:
        if self.session is not None:
            self.session.history.clear()
            self.changed.emit()

    # ----- edits
    def add_stroke(self, kind: str, points, radius: float) -> None:
        if not self.can_edit:
            return
        region = self.session.add_stroke(Stroke(kind, points, radius))
        if region is not None:
            box, patch = render_hints(self.session.hints, self.display_shape, region)
            self.views.update_hints(box[0], box[1], qimage_from_array(patch))
        self.changed.emit()

    def apply(self) -> None:
        if self.can_apply:
            self.lock(self.engine.touch_up(self.session, self.display_shape))

    def undo(self) -> None:
        if self.can_undo:
            self._show_step(self.session.undo())

    def redo(self) -> None:
        if self.can_redo:
            self._show_step(self.session.redo())

    def _show_step(self, record) -> None:
        if record is not None and record.region is not None:
            self._show(render_touchup(0, self.session, record.region, self.display_shape))
            self.message.emit(record.label, 3000)
        self.changed.emit()

    def _show(self, out: TouchUpOutput) -> None:
        if out.region is not None:
            self.views.update_matte(out.box[0], out.box[1], out.alpha, out.cutout, out.hints)

    # ----- worker
    def _on_touchup(self, out: TouchUpOutput) -> None:
        if out.job != self.job:
            return
        self._show(out)
        self.message.emit("Touch-up applied." if out.region else "Nothing to apply.", 4000)
        self.applied.emit(out)

    def _on_job_finished(self, job: int) -> None:
        if job == self.job:
            self.job = None
            self.changed.emit()
