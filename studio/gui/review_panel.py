"""The review list of a batch: the photos that need review and the failures first, then the rest.

Each row shows the cut-out's thumbnail, the photo's name, its status, quality score and the
reasons or the error. Buttons open the selected photo in the editor, re-export its touched-up
cut-out over the batch output, and open the report or the output folder with the desktop. The
panel shows and asks (signals); ``batch_review.BatchReview`` does the work.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from core.batch import FAILED, OK, REVIEW, SKIPPED
from core.report import order_for_review, summarize

FIXED = "fixed"
TONES = {REVIEW: "#e0a000", FAILED: "#ff6b6b", OK: "#5cb85c", SKIPPED: "#8a9099", FIXED: "#6ea8fe"}
THUMBNAIL = QSize(64, 48)
COLUMNS = ("Photo", "Status", "Quality", "Reasons / error")
ICON_COLOUR = "#c8ccd2"


@dataclass
class ReviewRow:
    """One photo of the batch as listed. item: its ``core.batch.BatchItem``; status, quality and
    thumbnail (QImage or None) start as the batch left them and change when the photo is fixed."""

    item: Any
    status: str
    quality: Any
    thumbnail: Any = None

    @property
    def details(self) -> str:
        if self.status == SKIPPED:
            return f"skipped: {self.item.error}" if self.item.error != "exists" else "the output already existed"
        if self.status == FAILED:
            return self.item.error or ""
        reasons = list(self.quality.reasons) if self.quality is not None else []
        if self.status == FIXED:
            return "; ".join(reasons) or "touched up in the editor and re-exported"
        return "; ".join(reasons + list(self.item.notes))


def _thumbnail_icon(row: ReviewRow) -> QIcon:
    """The thumbnail centred on a fixed-size transparent canvas, so the names line up."""
    canvas = QPixmap(THUMBNAIL)
    canvas.fill(Qt.GlobalColor.transparent)
    if row.thumbnail is not None and not row.thumbnail.isNull():
        picture = QPixmap.fromImage(row.thumbnail).scaled(THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio,
                                                          Qt.TransformationMode.SmoothTransformation)
    else:
        picture = qta.icon("mdi6.image-broken-variant", color=TONES[FAILED]).pixmap(QSize(32, 32))
    painter = QPainter(canvas)
    painter.drawPixmap((THUMBNAIL.width() - picture.width()) // 2, (THUMBNAIL.height() - picture.height()) // 2,
                       picture)
    painter.end()
    return QIcon(canvas)


class BatchReviewPanel(QWidget):
    """Signals: openRequested(BatchItem) to open its photo and plate in the editor;
    reexportRequested(BatchItem) to write the editor's matte over its output."""

    openRequested = Signal(object)
    reexportRequested = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.output = None           # the batch_jobs.BatchOutput shown
        self.rows: list[ReviewRow] = []  # in review order, as listed
        self._editor: tuple = (None, None)  # (photo, plate) of the editor's full result, if any
        self._editor_ready = False
        self._busy: Optional[str] = None  # the output being re-exported
        self._summary = ""

        self.summary = QLabel("No batch yet: File \u203a Batch\u2026")
        self.summary.setStyleSheet("font-weight: 600;")
        self.open_button = self._button("Open in editor", "mdi6.brush",
                                        "Open this photo and its plate in the editor to touch it up (double-click)")
        self.reexport_button = self._button("Re-export", "mdi6.content-save-edit-outline",
                                            "Write the editor's cut-out over this photo's batch output, "
                                            "with the batch's export options")
        self.report_button = self._button("Report", "mdi6.file-chart-outline", "Open report.html in the browser")
        self.folder_button = self._button("Output folder", "mdi6.folder-open-outline",
                                          "Open the folder of the cut-outs")
        self.open_button.clicked.connect(lambda: self._request(self.openRequested))
        self.reexport_button.clicked.connect(lambda: self._request(self.reexportRequested))
        self.report_button.clicked.connect(self.open_report)
        self.folder_button.clicked.connect(self.open_folder)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setIconSize(THUMBNAIL)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setWordWrap(False)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.resizeSection(0, 260)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemDoubleClicked.connect(lambda item, _column: self.openRequested.emit(self._row(item).item))
        self.tree.currentItemChanged.connect(self._refresh)

        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        for button in (self.open_button, self.reexport_button, self.report_button, self.folder_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        self._refresh()

    @staticmethod
    def _button(text: str, icon: str, tip: str) -> QPushButton:
        button = QPushButton(qta.icon(icon, color=ICON_COLOUR, color_disabled="#5c6370"), f" {text}")
        button.setToolTip(tip)
        return button

    # ----- content
    def show_batch(self, output) -> None:
        """List a ``batch_jobs.BatchOutput``: needs review (worst first), failed, ok, skipped."""
        self.output = output
        result = output.result
        thumbnails = {id(item): thumb for item, thumb in zip(result.items, output.thumbnails, strict=True)}
        self.rows = [ReviewRow(item, item.status, item.quality, thumbnails.get(id(item)))
                     for item in order_for_review(result.items)]
        self._summary = ("Cancelled: " if result.cancelled else "") + summarize(result)
        self.summary.setText(self._summary)
        self.summary.setToolTip(output.report_error or output.report_html or "")
        self.tree.clear()
        for index, row in enumerate(self.rows):
            item = QTreeWidgetItem()
            item.setData(0, Qt.ItemDataRole.UserRole, index)
            self.tree.addTopLevelItem(item)
            self._fill(item, row)
        if self.rows:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self._refresh()

    def _fill(self, widget_item: QTreeWidgetItem, row: ReviewRow) -> None:
        job = row.item.job
        widget_item.setIcon(0, _thumbnail_icon(row))
        widget_item.setText(0, job.photo.name)
        widget_item.setToolTip(0, f"photo: {job.photo}\nplate: {job.plate}\noutput: {job.output}")
        widget_item.setText(1, row.status)
        widget_item.setForeground(1, QBrush(QColor(TONES.get(row.status, ICON_COLOUR))))
        widget_item.setText(2, f"{row.quality.score:.2f}" if row.quality is not None else "\u2014")
        widget_item.setTextAlignment(2, Qt.AlignmentFlag.AlignCenter)
        widget_item.setText(3, row.details)
        widget_item.setToolTip(3, row.details.replace("; ", "\n"))
        font = widget_item.font(0)
        font.setBold((str(job.photo), str(job.plate)) == self._editor)
        widget_item.setFont(0, font)

    def _row(self, widget_item: Optional[QTreeWidgetItem]) -> Optional[ReviewRow]:
        if widget_item is None:
            return None
        return self.rows[widget_item.data(0, Qt.ItemDataRole.UserRole)]

    def selected_row(self) -> Optional[ReviewRow]:
        return self._row(self.tree.currentItem())

    def select(self, index: int) -> None:
        self.tree.setCurrentItem(self.tree.topLevelItem(index))

    def mark_fixed(self, path: str, quality, thumbnail=None) -> None:
        """The row whose output is ``path`` was re-exported from the editor with ``quality``."""
        for index, row in enumerate(self.rows):
            if Path(row.item.job.output) == Path(path):
                row.status, row.quality = FIXED, quality
                row.thumbnail = thumbnail if thumbnail is not None else row.thumbnail
                self._fill(self.tree.topLevelItem(index), row)
        fixed = sum(row.status == FIXED for row in self.rows)
        self.summary.setText(f"{self._summary}; {fixed} fixed since" if fixed else self._summary)
        self._refresh()

    # ----- state from the editor
    def set_editor(self, photo: Optional[str], plate: Optional[str], ready: bool) -> None:
        """Which pair the editor shows at full resolution (None: none), and whether it can export now."""
        pair = (photo, plate)
        if pair != self._editor:
            self._editor = pair
            for index, row in enumerate(self.rows):
                self._fill(self.tree.topLevelItem(index), row)
        self._editor_ready = ready
        self._refresh()

    def set_busy(self, output: Optional[str]) -> None:
        self._busy = output
        self._refresh()

    def _refresh(self, *_) -> None:
        row = self.selected_row()
        in_editor = row is not None and (str(row.item.job.photo), str(row.item.job.plate)) == self._editor
        self.open_button.setEnabled(row is not None and self._busy is None)
        self.reexport_button.setEnabled(in_editor and self._editor_ready and self._busy is None)
        if row is not None and not in_editor:
            self.reexport_button.setToolTip("Open this photo in the editor first, touch it up, then re-export")
        else:
            self.reexport_button.setToolTip("Write the editor's cut-out over this photo's batch output, "
                                            "with the batch's export options")
        html = self.output.report_html if self.output is not None else None
        self.report_button.setEnabled(bool(html) and Path(html).is_file())
        self.folder_button.setEnabled(self.output is not None and Path(self.output.report_dir).is_dir())

    # ----- actions
    def _request(self, signal) -> None:
        row = self.selected_row()
        if row is not None:
            signal.emit(row.item)

    def open_report(self) -> None:
        if self.output is not None and self.output.report_html:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.output.report_html))

    def open_folder(self) -> None:
        if self.output is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.output.report_dir))
