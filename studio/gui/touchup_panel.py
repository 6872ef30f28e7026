"""Touch-up panel: brush tool, brush size, Apply, Undo / Redo."""
from __future__ import annotations

from typing import Optional

import qtawesome as qta
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider,
                               QToolButton, QVBoxLayout)

from .panels_common import Segmented

TOOLS = (None, "foreground", "background", "erase")
TOOL_ICONS = (("mdi6.hand-back-right-outline", "#c8ccd2"), ("mdi6.brush", "#3ddc84"),
              ("mdi6.brush", "#ff5f56"), ("mdi6.eraser", "#c8ccd2"))
MIN_RADIUS, MAX_RADIUS = 1, 300


class TouchUpPanel(QGroupBox):
    """Signals: toolChanged(kind or None), radiusChanged(px), applyRequested()."""

    toolChanged = Signal(object)
    radiusChanged = Signal(float)
    applyRequested = Signal()

    def __init__(self, parent=None):
        super().__init__("Touch-up", parent)
        layout = QVBoxLayout(self)
        icons = [qta.icon(name, color=colour) for name, colour in TOOL_ICONS]
        self.tools = Segmented(["Pan", "Keep", "Remove", "Erase"], icons=icons)
        tips = ("Drag to pan (H)", "Paint what belongs to the product (F)",
                "Paint what is backdrop (B)", "Erase your hints (E)")
        for button, tip in zip(self.tools.buttons, tips):
            button.setToolTip(tip)
        self.tools.group.idClicked.connect(lambda i: self.toolChanged.emit(TOOLS[i]))
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("Brush:"))
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(MIN_RADIUS, MAX_RADIUS)
        self.size.setToolTip("Brush radius in photo pixels ([ and ] change it)")
        self.size_label = QLabel()
        self.size_label.setMinimumWidth(48)
        self.size.valueChanged.connect(self._radius_changed)
        size_row.addWidget(self.size, 1)
        size_row.addWidget(self.size_label)
        self.apply_button = QPushButton(qta.icon("mdi6.auto-fix", color="white"), " Apply touch-up")
        self.apply_button.setToolTip("Re-solve the matte around your strokes (Enter)")
        self.apply_button.setStyleSheet("QPushButton { background: #3d6fb6; color: white; padding: 6px;"
                                        " border-radius: 3px; font-weight: 600; }"
                                        "QPushButton:disabled { background: #3a3d42; color: #7d8590; }")
        self.apply_button.clicked.connect(self.applyRequested)
        history_row = QHBoxLayout()
        self.undo_button, self.redo_button = QToolButton(), QToolButton()
        for button in (self.undo_button, self.redo_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setMinimumHeight(26)
            history_row.addWidget(button, 1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #9aa0a6;")
        layout.addWidget(self.tools)
        layout.addLayout(size_row)
        layout.addWidget(self.apply_button)
        layout.addLayout(history_row)
        layout.addWidget(self.status)
        self.set_radius(12)
        self.set_state(available=False)

    def bind_history(self, undo_action, redo_action) -> None:
        self.undo_button.setDefaultAction(undo_action)
        self.redo_button.setDefaultAction(redo_action)

    def _radius_changed(self, value: int) -> None:
        self.size_label.setText(f"{value} px")
        self.radiusChanged.emit(float(value))

    def radius(self) -> float:
        return float(self.size.value())

    def set_radius(self, radius: float) -> None:
        self.size.setValue(int(round(min(MAX_RADIUS, max(MIN_RADIUS, radius)))))
        self.size_label.setText(f"{self.size.value()} px")

    def step_radius(self, bigger: bool) -> None:
        """[ and ]: about 15% per press, at least 1 px."""
        r = self.radius()
        self.set_radius(r + max(1.0, r * 0.15) if bigger else r - max(1.0, r * 0.15))

    def tool(self) -> Optional[str]:
        return TOOLS[max(0, self.tools.index())]

    def set_tool(self, kind: Optional[str]) -> None:
        self.tools.set_index(TOOLS.index(kind))
        self.toolChanged.emit(kind)

    def set_state(self, available: bool, pending: bool = False, busy: bool = False) -> None:
        """available: a full-resolution matte is there to edit; pending: strokes wait for Apply."""
        self.tools.setEnabled(available)
        self.apply_button.setEnabled(available and pending and not busy)
        if not available:
            self.status.setText("Available once the full-resolution matte is ready.")
        elif busy:
            self.status.setText("Re-solving around your strokes\u2026")
        elif pending:
            self.status.setText("Strokes waiting: press Apply (Enter) to re-solve that area.")
        else:
            self.status.setText("Paint Keep / Remove hints where the cut is wrong, then Apply.")
