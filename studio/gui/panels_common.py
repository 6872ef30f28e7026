"""Small widgets shared by the side panels."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

VERDICT_COLOURS = {"ok": "#2e7d32", "check": "#b7791f", "failed": "#c62828", "review": "#b7791f",
                   "none": "#5c6370"}


def pill(text: str, tone: str) -> str:
    """Rich-text badge used for verdicts ("ok", "check", "failed", ...)."""
    colour = VERDICT_COLOURS.get(tone, VERDICT_COLOURS["none"])
    return (f'<span style="background:{colour}; color:white; font-weight:600;">'
            f'&nbsp;{text}&nbsp;</span>')


def value_label(text: str = "\u2014") -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(label.textInteractionFlags())
    label.setWordWrap(True)
    return label


class Segmented(QWidget):
    """A row of exclusive checkable tool buttons; ``group.idClicked`` gives the index."""

    def __init__(self, labels: list[str], parent=None, icons=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.group = QButtonGroup(self)
        self.buttons = []
        for index, text in enumerate(labels):
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(False)
            if icons:
                button.setIcon(icons[index])
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setMinimumHeight(26)
            self.group.addButton(button, index)
            row.addWidget(button, 1)
            self.buttons.append(button)
        self.buttons[0].setChecked(True)

    def set_index(self, index: int) -> None:
        self.buttons[index].setChecked(True)

    def index(self) -> int:
        return self.group.checkedId()
