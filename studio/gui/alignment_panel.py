"""Alignment check panel: the report, the overlay controls and the manual nudge."""
from __future__ import annotations

import numpy as np
import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QGridLayout, QGroupBox, QLabel, QSlider, QToolButton, QVBoxLayout

from .panels_common import Segmented, pill, value_label

MODES = ("overlay", "difference", "flicker")


class AlignmentPanel(QGroupBox):
    """Shows an ``AlignmentReport``; emits the user's view and nudge choices.

    Signals: modeChanged(mode), opacityChanged(0..1), nudged(dx, dy) in photo pixels, offsetReset().
    """

    modeChanged = Signal(str)
    opacityChanged = Signal(float)
    nudged = Signal(int, int)
    offsetReset = Signal()

    def __init__(self, parent=None):
        super().__init__("Alignment", parent)
        layout = QVBoxLayout(self)
        self.verdict = QLabel(pill("no pair", "none"))
        self.message = value_label("Open a photo and its plate.")
        self.message.setStyleSheet("color: #9aa0a6;")
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.inliers, self.residual, self.gain, self.offset = (value_label() for _ in range(4))
        form.addRow("Inliers:", self.inliers)
        form.addRow("Residual:", self.residual)
        form.addRow("Gain (RGB):", self.gain)
        form.addRow("Nudge:", self.offset)
        self.mode = Segmented(["Overlay", "Difference", "Flicker"])
        self.mode.group.idClicked.connect(lambda i: self.modeChanged.emit(MODES[i]))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setToolTip("Plate opacity over the photo")
        self.opacity.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100.0))
        opacity_form = QFormLayout()
        opacity_form.addRow("Plate opacity:", self.opacity)
        layout.addWidget(self.verdict)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.mode)
        layout.addLayout(opacity_form)
        layout.addLayout(self._nudge_pad())

    def _nudge_pad(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(2)
        arrows = {(-1, 0): ("fa5s.arrow-left", 1, 0), (1, 0): ("fa5s.arrow-right", 1, 2),
                  (0, -1): ("fa5s.arrow-up", 0, 1), (0, 1): ("fa5s.arrow-down", 2, 1)}
        for (dx, dy), (icon, row, col) in arrows.items():
            button = QToolButton()
            button.setIcon(qta.icon(icon, color="#c8ccd2"))
            button.setToolTip("Nudge the plate by 1 px (arrow keys on the Alignment view)")
            button.clicked.connect(lambda _=False, dx=dx, dy=dy: self.nudged.emit(dx, dy))
            grid.addWidget(button, row, col)
        reset = QToolButton()
        reset.setIcon(qta.icon("fa5s.undo-alt", color="#c8ccd2"))
        reset.setToolTip("Reset the nudge")
        reset.clicked.connect(self.offsetReset)
        grid.addWidget(reset, 1, 1)
        hint = QLabel("Nudge the plate\n1 px per click / arrow key")
        hint.setStyleSheet("color: #9aa0a6;")
        grid.addWidget(hint, 0, 3, 3, 1)
        grid.setColumnStretch(3, 1)
        return grid

    def set_offset(self, dx: float, dy: float) -> None:
        self.offset.setText(f"{dx:+.0f}, {dy:+.0f} px")

    def set_report(self, report) -> None:
        """Show a ``core.align.AlignmentReport`` (None clears)."""
        if report is None:
            self.verdict.setText(pill("no pair", "none"))
            self.message.setText("Open a photo and its plate.")
            for label in (self.inliers, self.residual, self.gain):
                label.setText("\u2014")
            return
        self.verdict.setText(pill(report.verdict.upper(), report.verdict))
        self.message.setText(report.message or "")
        fraction = f" ({report.inlier_fraction:.0%})" if report.matches else ""
        self.inliers.setText(f"{report.inliers} of {report.matches}{fraction}")
        self.residual.setText(f"{report.residual_px:.2f} px" if np.isfinite(report.residual_px) else "\u2014")
        gain = np.asarray(report.gain, dtype=float).ravel()
        self.gain.setText(" ".join(f"{g:.3f}" for g in gain[:3]) if gain.size else "\u2014")
