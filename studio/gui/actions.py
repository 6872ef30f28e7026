"""The main window's QActions, menus and toolbar (declared here, handled by the window)."""
from __future__ import annotations

from types import SimpleNamespace

import qtawesome as qta
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

ICON_COLOUR = "#d6d9de"


def _icon(name: str):
    return qta.icon(name, color=ICON_COLOUR, color_disabled="#5c6370")


def build_actions(window: QMainWindow) -> SimpleNamespace:
    """Create every action, parented to ``window`` so their shortcuts work window-wide."""

    def make(text, icon=None, shortcut=None, tip=None, checkable=False, slot=None):
        action = QAction(_icon(icon) if icon else None, text, window) if icon else QAction(text, window)
        if shortcut:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(slot)
        window.addAction(action)
        return action

    a = SimpleNamespace()
    a.open = make("&Open Photo\u2026", "fa5s.folder-open", QKeySequence.StandardKey.Open,
                  "Open a photo (and its plate: select both, or it is found beside the photo)")
    a.open_plate = make("Open &Plate\u2026", "mdi6.image-outline", "Ctrl+Shift+O", "Choose the plate for this photo")
    a.export = make("&Export\u2026", "fa5s.file-export", "Ctrl+E", "Export the cut-out")
    a.batch = make("&Batch\u2026", "mdi6.folder-multiple-image", "Ctrl+B",
                   "Cut a folder of photos against their plates, then review the results")
    a.review = make("Batch &Review", "mdi6.format-list-checks", None, "Show the review list of the last batch",
                    checkable=True)
    a.quit = make("&Quit", None, QKeySequence.StandardKey.Quit)
    a.undo = make("Undo", "fa5s.undo", QKeySequence.StandardKey.Undo, "Undo the last stroke or touch-up")
    a.redo = make("Redo", "fa5s.redo", ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo")
    a.rerun = make("&Re-run", "mdi6.refresh", "F5", "Cut the photo again")
    a.cancel = make("&Cancel", "fa5s.stop-circle", "Esc", "Stop the running job")
    a.fit = make("&Fit to Window", "mdi6.fit-to-screen-outline", "Ctrl+0", "Fit the photo in the view")
    a.actual = make("&Actual Pixels (100%)", "mdi6.numeric-1-box-outline", "Ctrl+1", "One photo pixel per screen pixel")
    a.zoom_in = make("Zoom &In", "fa5s.search-plus", QKeySequence.StandardKey.ZoomIn)
    a.zoom_out = make("Zoom &Out", "fa5s.search-minus", QKeySequence.StandardKey.ZoomOut)

    a.pages = QActionGroup(window)
    a.page = {}
    for key, (page, title, icon) in enumerate((("alignment", "Alignment", "mdi6.layers-outline"),
                                               ("masks", "Masks", "mdi6.select-compare"),
                                               ("cutout", "Cut-out", "mdi6.content-cut")), start=1):
        action = make(title, icon, f"{key}", f"Show the {title.lower()} view ({key})", checkable=True)
        action.setData(page)
        a.pages.addAction(action)
        a.page[page] = action

    a.tools = QActionGroup(window)
    a.tool = {}
    for kind, title, key in ((None, "Pan", "H"), ("foreground", "Keep Brush", "F"),
                             ("background", "Remove Brush", "B"), ("erase", "Erase Hints", "E")):
        action = make(title, None, key, checkable=True)
        action.setData(kind)
        a.tools.addAction(action)
        a.tool[kind] = action
    a.brush_smaller = make("Smaller Brush", None, "[")
    a.brush_bigger = make("Bigger Brush", None, "]")
    a.apply = make("&Apply Touch-up", "mdi6.auto-fix", ["Return", "Enter"], "Re-solve around your strokes")

    a.nudge = {}
    for name, (dx, dy), key in (("left", (-1, 0), "Left"), ("right", (1, 0), "Right"),
                                ("up", (0, -1), "Up"), ("down", (0, 1), "Down")):
        action = make(f"Nudge Plate {name.capitalize()}", None, key)
        action.setData((dx, dy))
        a.nudge[name] = action
    a.reset_nudge = make("Reset Nudge", None, "Ctrl+R")

    a.methods = QActionGroup(window)
    a.method = {}
    for method, title in (("auto", "Automatic"), ("network", "Networks"), ("classical", "Classical (no networks)"),
                          ("hybrid", "Hybrid (network seeds GrabCut)"), ("best", "Best of All (slowest)")):
        action = make(title, None, None, checkable=True)
        action.setData(method)
        a.methods.addAction(action)
        a.method[method] = action
    a.method["auto"].setChecked(True)
    a.trust_plate = make("&Trust the Plate (skip the scene check)", "mdi6.shield-check-outline", None,
                         "Use this plate even if it does not seem to show the photo's backdrop (a product "
                         "filling the frame on plain paper); the alignment is marked \u201ccheck\u201d",
                         checkable=True)
    a.keep_specks = make("&Keep Specks", None, None,
                         "Keep every piece of the networks' matte; by default pieces lying apart from the product "
                         "with under 1% of its alpha are cleared (where the scene changed between photo and plate)",
                         checkable=True)
    a.keep_glass = make("Keep the Network's &Glass Opacity", None, None,
                        "Keep the networks' opacity for see-through areas (glass, film); by default it is "
                        "re-measured from the backdrop texture seen through them where the backdrop has texture",
                        checkable=True)
    a.about = make("&About Matting Studio", None)
    return a


def build_menus(window: QMainWindow, a: SimpleNamespace) -> QMenu:
    """Menus; returns the (initially empty) Open Recent menu for the window to fill."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([a.open, a.open_plate])
    recent = file_menu.addMenu("Open &Recent")
    file_menu.addSeparator()
    file_menu.addActions([a.export, a.batch])
    file_menu.addSeparator()
    file_menu.addAction(a.quit)
    edit = bar.addMenu("&Edit")
    edit.addActions([a.undo, a.redo])
    edit.addSeparator()
    edit.addActions(list(a.tool.values()))
    edit.addActions([a.brush_smaller, a.brush_bigger, a.apply])
    view = bar.addMenu("&View")
    view.addActions(list(a.page.values()))
    view.addSeparator()
    view.addActions([a.fit, a.actual, a.zoom_in, a.zoom_out])
    view.addSeparator()
    view.addAction(a.review)
    matte = bar.addMenu("&Matte")
    matte.addActions([a.rerun, a.cancel])
    matte.addSeparator()
    methods = matte.addMenu("Method")
    methods.addActions(list(a.method.values()))
    matte.addAction(a.trust_plate)
    matte.addAction(a.keep_specks)
    matte.addAction(a.keep_glass)
    align = matte.addMenu("Nudge Plate")
    align.addActions(list(a.nudge.values()) + [a.reset_nudge])
    bar.addMenu("&Help").addAction(a.about)
    return recent


def build_toolbar(window: QMainWindow, a: SimpleNamespace) -> QToolBar:
    bar = QToolBar("Main", window)
    bar.setObjectName("main-toolbar")
    bar.setMovable(False)
    bar.setIconSize(QSize(18, 18))
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    bar.addActions([a.open, a.export, a.batch])
    bar.addSeparator()
    bar.addActions(list(a.page.values()))
    bar.addSeparator()
    for action in (a.fit, a.actual, a.zoom_in, a.zoom_out):
        bar.addAction(action)
        bar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    bar.addSeparator()
    for action in (a.undo, a.redo):
        bar.addAction(action)
        bar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    bar.addSeparator()
    bar.addAction(a.rerun)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    return bar
