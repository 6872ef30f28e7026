"""Trust the Plate: the way past a scene check that refused a plate.

Alignment refuses a plate that does not seem to show the photo's backdrop. On
plain paper with a product filling the frame it can be wrong; the error box then
offers to cut again with ``AlignOptions(trust_plate=True)``, and the Matte menu
toggles the same. Trust belongs to one plate file: opening another plate puts
it through the scene check again.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import qtawesome as qta
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from core.align import TRUST_HINT

from .actions import ICON_COLOUR

TRUST_BUTTON_TEXT = "Use This Plate Anyway"


def make_refusal_box(parent: Optional[QWidget], title: str, message: str) -> QMessageBox:
    """The warning for a refused plate, with a button (``box.trust_button``) to cut again trusting it."""
    message = message.replace(f" (if the plate is right, trust it: {TRUST_HINT})", "")  # the button says it here
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Close, parent)
    box.setInformativeText("If this is the right plate (the product fills the frame), cut again trusting it: "
                           "the scene check is skipped and the alignment is marked \u201ccheck\u201d for a look.")
    box.trust_button = box.addButton(TRUST_BUTTON_TEXT, QMessageBox.ButtonRole.AcceptRole)
    box.trust_button.setIcon(qta.icon("mdi6.shield-check-outline", color=ICON_COLOUR))
    box.trust_button.setToolTip("Same as Matte > Trust the Plate")
    box.setDefaultButton(QMessageBox.StandardButton.Close)  # trusting is a choice, not the Enter key
    return box


def ask_to_trust_plate(parent: Optional[QWidget], title: str, message: str) -> bool:
    """Show the refusal; True when the user chose to trust the plate."""
    box = make_refusal_box(parent, title, message)
    box.exec()
    return box.clickedButton() is box.trust_button


class PlateTrust(QObject):
    """Which plate the next runs trust, and which run the scene check refused.

    action: the checkable Matte > Trust the Plate action (shows the state);
    worker: the ``PipelineWorker``, whose ``sceneRefused(job)`` precedes ``failed(job, message)``.
    """

    def __init__(self, action: QAction, worker, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.action = action
        self.plate: Optional[str] = None                 # the plate file trusted
        self.refused_pair: Optional[tuple] = None        # (photo, plate) of the last refused run
        self._refused_job: Optional[int] = None
        worker.sceneRefused.connect(self._on_refused, Qt.ConnectionType.QueuedConnection)

    def _on_refused(self, job: int) -> None:
        self._refused_job = job

    def was_refused(self, job: int) -> bool:
        """Whether run ``job`` failed on the scene check (so trusting the plate may help)."""
        return job == self._refused_job

    def set_trusted(self, plate: Optional[str]) -> None:
        """Trust ``plate`` (None: trust no plate) and show it in the action."""
        self.plate = None if plate is None else str(plate)
        self.action.setChecked(self.plate is not None)

    def for_run(self, options, plate: Optional[str]):
        """``options`` (``MatteOptions``) for a run on ``plate``: trusted only if it is the trusted
        plate; another plate switches trust off."""
        if self.plate is not None and str(plate) != self.plate:
            self.set_trusted(None)
        self.refused_pair = None
        trusted = self.plate is not None
        if options.align.trust_plate == trusted:
            return options
        return replace(options, align=replace(options.align, trust_plate=trusted))
