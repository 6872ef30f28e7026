"""Export dialog: format, crop with padding, background, alpha only, output folder and name.

The dialog only collects choices (a plain dict, remembered in QSettings); the
main window turns them into ``core.export.ExportOptions`` and asks before
overwriting.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import qtawesome as qta
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QColorDialog, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox,
                               QPushButton, QRadioButton, QToolButton, QVBoxLayout, QWidget)

FORMATS = (("png", "PNG (straight alpha)"), ("webp", "WebP (lossless)"), ("tiff", "TIFF"))
SUFFIX = {"png": ".png", "webp": ".webp", "tiff": ".tif"}
DEFAULTS = {"format": "png", "bit_depth": 8, "crop": False, "padding": "0", "background": "transparent",
            "background_colour": "#ffffff", "background_image": "", "alpha_only": False, "folder": "",
            "name_suffix": "_cutout"}


def export_path(folder: str | Path, name: str, fmt: str) -> Path:
    """The file the choices will write (the format's suffix replaces any typed one)."""
    return Path(folder) / (Path(name).stem + SUFFIX[fmt]) if name else Path(folder)


def to_export_options(choices: dict):
    """``core.export.ExportOptions`` for the dialog's choices."""
    from core.export import ExportOptions
    background = None
    if not choices["alpha_only"]:
        if choices["background"] == "colour":
            background = choices["background_colour"]
        elif choices["background"] == "image" and choices["background_image"]:
            background = choices["background_image"]
    return ExportOptions(format=choices["format"], crop=bool(choices["crop"]),
                         padding=str(choices["padding"] or "0"), background=background,
                         alpha_only=bool(choices["alpha_only"]), bit_depth=int(choices["bit_depth"]))


class ExportDialog(QDialog):
    """Collects export choices; ``choices()`` after ``exec()`` returns them with "path"."""

    def __init__(self, photo_path: str | Path, remembered: dict, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export cut-out")
        self.setMinimumWidth(520)
        state = {**DEFAULTS, **{k: v for k, v in remembered.items() if k in DEFAULTS}}
        photo_path = Path(photo_path)
        self._stem = photo_path.stem
        folder = state["folder"] or str(photo_path.parent)
        self.folder = QLineEdit(folder)
        browse = QToolButton()
        browse.setIcon(qta.icon("fa5s.folder-open", color="#c8ccd2"))
        browse.clicked.connect(self._browse_folder)
        self.name = QLineEdit(photo_path.stem + state["name_suffix"])
        self.format = QComboBox()
        for key, label in FORMATS:
            self.format.addItem(label, key)
        self.format.setCurrentIndex([k for k, _ in FORMATS].index(state["format"]))
        self.bit_depth = QComboBox()
        self.bit_depth.addItem("8 bit", 8)
        self.bit_depth.addItem("16 bit", 16)
        self.bit_depth.setCurrentIndex(1 if int(state["bit_depth"]) == 16 else 0)
        self.crop = QCheckBox("Crop to the product")
        self.crop.setChecked(bool(state["crop"]))
        self.padding = QLineEdit(str(state["padding"]))
        self.padding.setPlaceholderText("pixels, or a percentage such as 5%")
        self.alpha_only = QCheckBox("Alpha only (a greyscale matte)")
        self.alpha_only.setChecked(bool(state["alpha_only"]))

        self.background = QButtonGroup(self)
        self.transparent = QRadioButton("Transparent")
        self.colour = QRadioButton("Colour")
        self.image = QRadioButton("Image")
        for index, button in enumerate((self.transparent, self.colour, self.image)):
            self.background.addButton(button, index)
        chosen = {"colour": self.colour, "image": self.image}.get(state["background"], self.transparent)
        chosen.setChecked(True)
        self.colour_button = QPushButton()
        self._colour = QColor(state["background_colour"])
        self.colour_button.clicked.connect(self._pick_colour)
        self.image_path = QLineEdit(state["background_image"])
        image_browse = QToolButton()
        image_browse.setIcon(qta.icon("fa5s.image", color="#c8ccd2"))
        image_browse.clicked.connect(self._browse_image)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Folder:", self._row(self.folder, browse))
        form.addRow("File name:", self.name)
        form.addRow("Format:", self._row(self.format, self.bit_depth))
        form.addRow("", self.crop)
        form.addRow("Padding:", self.padding)
        form.addRow("Background:", self._row(self.transparent, self.colour, self.colour_button, self.image))
        form.addRow("Background image:", self._row(self.image_path, image_browse))
        form.addRow("", self.alpha_only)
        self.target = QLabel()
        self.target.setStyleSheet("color: #9aa0a6;")
        self.target.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.target)
        layout.addWidget(buttons)
        for signal in (self.folder.textChanged, self.name.textChanged, self.format.currentIndexChanged,
                       self.crop.toggled, self.alpha_only.toggled, self.background.idClicked):
            signal.connect(self._refresh)
        self._refresh()

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            row.addWidget(widget, 1 if isinstance(widget, (QLineEdit, QComboBox)) else 0)
        return box

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _browse_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Background image", self.image_path.text(),
                                              "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp)")
        if path:
            self.image_path.setText(path)
            self.image.setChecked(True)
            self._refresh()

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(self._colour, self, "Background colour")
        if colour.isValid():
            self._colour = colour
            self.colour.setChecked(True)
            self._refresh()

    def _refresh(self, *_) -> None:
        fmt = self.format.currentData()
        self.bit_depth.setEnabled(fmt in ("png", "tiff"))
        if fmt == "webp":
            self.bit_depth.setCurrentIndex(0)
        self.padding.setEnabled(self.crop.isChecked())
        for widget in (self.transparent, self.colour, self.image, self.colour_button, self.image_path):
            widget.setEnabled(not self.alpha_only.isChecked())
        self.colour_button.setStyleSheet(f"background: {self._colour.name()}; min-width: 32px;")
        self.colour_button.setText(self._colour.name())
        self.target.setText(f"Will write {export_path(self.folder.text(), self.name.text(), fmt)}")

    def _name_suffix(self) -> str:
        name = Path(self.name.text()).stem
        return name[len(self._stem):] if name.startswith(self._stem) else DEFAULTS["name_suffix"]

    def choices(self) -> dict:
        """The choices as a plain dict (remembered in settings), with "path" the file to write."""
        fmt = self.format.currentData()
        background = ("transparent", "colour", "image")[max(0, self.background.checkedId())]
        return {"format": fmt, "bit_depth": int(self.bit_depth.currentData()), "crop": self.crop.isChecked(),
                "padding": self.padding.text().strip() or "0", "background": background,
                "background_colour": self._colour.name(), "background_image": self.image_path.text(),
                "alpha_only": self.alpha_only.isChecked(), "folder": self.folder.text(),
                "name_suffix": self._name_suffix(),
                "path": str(export_path(self.folder.text(), self.name.text(), fmt))}


def ask_export(parent, photo_path: str | Path, settings) -> Optional[tuple[Path, object, bool]]:
    """Run the dialog; returns (path, ExportOptions, force) or None when the user backs out.

    Remembers the choices in ``settings`` and asks before replacing an existing file
    (force is True only then). Raises ``ValueError`` for choices core cannot export.
    """
    dialog = ExportDialog(photo_path, settings.export_options(), parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    choices = dialog.choices()
    settings.set_export_options({k: v for k, v in choices.items() if k != "path"})
    path = Path(choices["path"])
    force = False
    if path.exists():
        answer = QMessageBox.question(parent, "Replace file?", f"{path} already exists. Replace it?")
        if answer != QMessageBox.StandardButton.Yes:
            return None
        force = True
    return path, to_export_options(choices), force
