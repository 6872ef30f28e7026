"""Entry point of the desktop app: ``main(argv)`` runs it, ``create_main_window`` builds it (tests)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .main_window import MainWindow
from .settings import APPLICATION, ORGANISATION, Settings, open_settings
from .worker import Engine, _default_loader, _default_pipeline


def apply_dark_theme(app: QApplication) -> None:
    """Fusion with a neutral dark palette: images read truer on grey than on white chrome."""
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2f3237", QPalette.ColorRole.WindowText: "#dcdfe4",
        QPalette.ColorRole.Base: "#25282c", QPalette.ColorRole.AlternateBase: "#2b2e33",
        QPalette.ColorRole.ToolTipBase: "#25282c", QPalette.ColorRole.ToolTipText: "#dcdfe4",
        QPalette.ColorRole.Text: "#dcdfe4", QPalette.ColorRole.Button: "#383c42",
        QPalette.ColorRole.ButtonText: "#dcdfe4", QPalette.ColorRole.BrightText: "#ff5f56",
        QPalette.ColorRole.Highlight: "#3d6fb6", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6ea8fe", QPalette.ColorRole.PlaceholderText: "#7d8590",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7079"))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)


STYLE_SHEET = """
QToolButton:checked { background-color: #3d6fb6; color: white; border: 1px solid #5b8bd0; border-radius: 3px; }
QGroupBox { border: 1px solid #3e4248; border-radius: 4px; margin-top: 14px; padding-top: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #e8eaed; }
QDockWidget::title { padding: 4px 8px; background: #2b2e33; }
QStatusBar QLabel { color: #b8bcc4; }
"""


def ensure_application(argv: Optional[list[str]] = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "matting-studio", *(argv or [])])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    apply_dark_theme(app)
    return app


def create_main_window(settings_path: Optional[str | Path] = None, pipeline_factory: Callable = _default_pipeline,
                       loader: Callable = _default_loader) -> MainWindow:
    """The main window with its worker thread (an explicit ini ``settings_path`` keeps tests isolated).

    Needs a QApplication; closing the window stops the worker.
    """
    ensure_application()
    engine = Engine(pipeline_factory=pipeline_factory, loader=loader)
    window = MainWindow(Settings(open_settings(settings_path)), engine)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    return window


def main(argv: Optional[list[str]] = None) -> int:
    """Run the app. ``argv``: optional photo and plate paths to open at start. Returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    app = ensure_application()
    window = create_main_window()
    window.show()
    paths = [a for a in argv if not a.startswith("-")]
    if paths:
        window.open_paths(paths)
    code = app.exec()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
