"""Result panel: quality score, review flag and reasons, method and timings."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QProgressBar, QVBoxLayout

from .panels_common import pill, value_label


class ResultPanel(QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Result", parent)
        layout = QVBoxLayout(self)
        self.badge = QLabel(pill("no result", "none"))
        self.score_bar = QProgressBar()
        self.score_bar.setRange(0, 100)
        self.score_bar.setFormat("Quality %p%")
        self.score_bar.setTextVisible(True)
        self.reasons = value_label("")
        self.reasons.setStyleSheet("color: #9aa0a6;")
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.recomposition, self.leakage, self.method, self.resolution, self.timing = (
            value_label() for _ in range(5))
        form.addRow("Recomposition:", self.recomposition)
        form.addRow("Leakage:", self.leakage)
        form.addRow("Method:", self.method)
        form.addRow("Resolution:", self.resolution)
        form.addRow("Time:", self.timing)
        layout.addWidget(self.badge)
        layout.addWidget(self.score_bar)
        layout.addWidget(self.reasons)
        layout.addLayout(form)

    def set_result(self, result, final: bool, size: tuple) -> None:
        """Show a ``core.pipeline.MatteResult``; final = full resolution (else preview)."""
        if result is None:
            self.badge.setText(pill("no result", "none"))
            self.score_bar.setValue(0)
            for label in (self.reasons, self.recomposition, self.leakage, self.method, self.resolution,
                          self.timing):
                label.setText("\u2014" if label is not self.reasons else "")
            return
        quality = result.quality
        tone = "review" if quality.needs_review else "ok"
        text = "NEEDS REVIEW" if quality.needs_review else "GOOD"
        self.badge.setText(pill(text, tone) + ("" if final else "&nbsp;" + pill("PREVIEW", "none")))
        self.score_bar.setValue(int(round(100 * quality.score)))
        self.reasons.setText("\n".join(f"\u2022 {r}" for r in quality.reasons))
        self.recomposition.setText(f"{quality.recomposition_error:.4f}")
        self.leakage.setText(f"{quality.leakage:.4f}")
        self.method.setText(result.method)
        h, w = result.alpha.shape
        of_full = "" if (w, h) == tuple(size) else f" of {size[0]} \u00d7 {size[1]}"
        self.resolution.setText(f"{w} \u00d7 {h}{of_full}")
        total = sum(result.timings.values()) if result.timings else 0.0
        self.timing.setText(f"{total:.1f} s")
