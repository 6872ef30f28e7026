"""The three central pages: alignment check, masks side by side, cut-out; plus the empty state.

All pages show the same photo coordinates and share zoom and pan (``ViewSync``).
``DetailTiles`` fetches full-resolution detail from the worker for canvases zoomed
in past their screen proxies.
"""
from __future__ import annotations

from typing import Optional

import qtawesome as qta
from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (QColorDialog, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from .canvas import ImageCanvas

PAGES = ("alignment", "masks", "cutout")
PAGE_TITLES = {"alignment": "Alignment", "masks": "Masks", "cutout": "Cut-out"}
FLICKER_MS = 450


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("caption")
    label.setStyleSheet("QLabel#caption { color: #c8ccd2; background: #2b2e33; padding: 4px 8px;"
                        " font-weight: 600; }")
    return label


class _Page(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(0)


class EmptyPage(QWidget):
    """What the window shows before a pair is opened."""

    openRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setStyleSheet("background: #26282c; color: #c8ccd2;")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        icon = QLabel()
        icon.setPixmap(qta.icon("mdi6.image-filter-center-focus", color="#7d8590").pixmap(QSize(72, 72)))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Open a photo and its plate")
        title.setStyleSheet("font-size: 18px; font-weight: 600;")
        hint = QLabel("Drop one or two images here, or use File \u203a Open.\n"
                      "A file beside the photo with \u201cplate\u201d or \u201cback\u201d in its name "
                      "is offered as the plate.")
        button = QPushButton(qta.icon("fa5s.folder-open", color="#e6e6e6"), "  Open photo\u2026")
        button.setStyleSheet("QPushButton { background: #3d6fb6; color: white; padding: 8px 18px;"
                             " border-radius: 4px; font-weight: 600; }")
        button.clicked.connect(self.openRequested)
        for widget in (title, hint):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(icon)
        layout.addWidget(title)
        layout.addWidget(hint)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)


class AlignmentPage(_Page):
    """Photo and aligned plate overlaid (opacity), their difference, or flickering A/B."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.caption = _caption("Photo and aligned plate")
        self.canvas = ImageCanvas(self)
        self.layout_.addWidget(self.caption)
        self.layout_.addWidget(self.canvas, 1)
        self.mode = "overlay"
        self.opacity = 0.5
        self._flicker = QTimer(self)
        self._flicker.setInterval(FLICKER_MS)
        self._flicker.timeout.connect(self._toggle_flicker)
        self._flicker_on = False

    def set_mode(self, mode: str) -> None:
        """"overlay", "difference" or "flicker"."""
        self.mode = mode
        if mode == "flicker":
            self._flicker.start()
        else:
            self._flicker.stop()
        self.caption.setText({"overlay": "Photo and aligned plate",
                              "difference": "Difference |photo \u2212 aligned plate| \u00d7 4",
                              "flicker": "Flicker: photo / aligned plate"}[mode])
        self._apply()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self._apply()

    def set_plate_shift(self, dx: float, dy: float) -> None:
        """Move the shown plate by a nudge not yet re-run (photo pixels)."""
        item = self.canvas.layer("aligned_plate")
        if item is not None:
            item.setPos(dx, dy)

    def _toggle_flicker(self) -> None:
        self._flicker_on = not self._flicker_on
        self._apply()

    def _apply(self) -> None:
        plate, diff = self.canvas.layer("aligned_plate"), self.canvas.layer("difference")
        if plate is None or diff is None:
            return
        shown = diff.isVisible()
        diff.setVisible(self.mode == "difference")
        plate.setVisible(self.mode != "difference")
        plate.setOpacity(self.opacity if self.mode == "overlay" else float(self._flicker_on))
        if diff.isVisible() != shown:
            self.canvas.schedule_detail(0)  # the layer now shown needs its own tile


class MasksPage(_Page):
    """Coarse mask and refined alpha side by side."""

    def __init__(self, parent=None):
        super().__init__(parent)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.coarse = ImageCanvas(paintable=False)
        self.alpha = ImageCanvas(paintable=True)
        for canvas, title in ((self.coarse, "Coarse mask"), (self.alpha, "Alpha")):
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(_caption(title))
            column.addWidget(canvas, 1)
            splitter.addWidget(box)
        splitter.setHandleWidth(2)
        self.layout_.addWidget(splitter, 1)


class CutoutPage(_Page):
    """The cut-out over a checkerboard, a colour or an image."""

    backdropChanged = Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        bar = QWidget()
        bar.setStyleSheet("background: #2b2e33; color: #c8ccd2;")
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 2, 8, 2)
        title = QLabel("Cut-out")
        title.setStyleSheet("font-weight: 600;")
        row.addWidget(title)
        row.addStretch(1)
        row.addWidget(QLabel("Backdrop:"))
        self.backdrop_combo = QComboBox()
        self.backdrop_combo.addItems(["Checkerboard", "White", "Black", "Colour\u2026", "Image\u2026"])
        self.backdrop_combo.activated.connect(self._choose_backdrop)
        row.addWidget(self.backdrop_combo)
        self.canvas = ImageCanvas(paintable=True)
        self.layout_.addWidget(bar)
        self.layout_.addWidget(self.canvas, 1)
        self.backdrop: dict = {"kind": "checker"}

    def _choose_backdrop(self, index: int) -> None:
        choice = {0: {"kind": "checker"}, 1: {"kind": "colour", "colour": "#ffffff"},
                  2: {"kind": "colour", "colour": "#000000"}}.get(index)
        if index == 3:
            colour = QColorDialog.getColor(QColor(self.backdrop.get("colour", "#ffffff")), self, "Backdrop colour")
            choice = {"kind": "colour", "colour": colour.name()} if colour.isValid() else None
        elif index == 4:
            path, _ = QFileDialog.getOpenFileName(self, "Backdrop image", "",
                                                  "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp)")
            choice = {"kind": "image", "path": path} if path else None
        if choice is not None:
            self.set_backdrop(choice)
            self.backdropChanged.emit(choice)

    def set_backdrop(self, backdrop: dict) -> None:
        kind = backdrop.get("kind", "checker")
        if kind == "image":
            image = QImage(backdrop.get("path", ""))
            if image.isNull():
                kind, backdrop = "checker", {"kind": "checker"}
            else:
                self.canvas.set_backdrop("image", image=image)
        if kind == "colour":
            self.canvas.set_backdrop("colour", QColor(backdrop.get("colour", "#ffffff")))
        elif kind == "checker":
            self.canvas.set_backdrop("checker")
        self.backdrop = dict(backdrop)
        colour = backdrop.get("colour", "").lower()
        index = {"checker": 0, "image": 4}.get(kind, 1 if colour == "#ffffff" else 2 if colour == "#000000" else 3)
        self.backdrop_combo.setCurrentIndex(index)


class ViewSync:
    """Keeps the zoom and centre of several canvases equal."""

    def __init__(self, canvases: list[ImageCanvas]):
        self.canvases = list(canvases)
        self._busy = False
        self.last: Optional[ImageCanvas] = self.canvases[0] if self.canvases else None
        for canvas in self.canvases:
            canvas.viewChanged.connect(lambda c=canvas: self._follow(c))

    def _follow(self, source: ImageCanvas) -> None:
        if self._busy or not source.isVisible():
            return
        self._busy = True
        try:
            self.last = source
            for canvas in self.canvases:
                if canvas is not source:
                    canvas.copy_view(source)
        finally:
            self._busy = False

    def align_to(self, source: ImageCanvas) -> None:
        """Make every canvas show what ``source`` shows (after a page switch)."""
        self._busy = True
        try:
            reference = self.last or source
            for canvas in self.canvases:
                if canvas is not reference:
                    canvas.copy_view(reference)
        finally:
            self._busy = False


class ViewStack(QStackedWidget):
    """The empty state and the three pages; forwards strokes and view changes."""

    strokeFinished = Signal(str, object, float)
    viewChanged = Signal()
    pageChanged = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.empty = EmptyPage()
        self.alignment = AlignmentPage()
        self.masks = MasksPage()
        self.cutout = CutoutPage()
        self.pages = {"alignment": self.alignment, "masks": self.masks, "cutout": self.cutout}
        for widget in (self.empty, self.alignment, self.masks, self.cutout):
            self.addWidget(widget)
        self.canvases = [self.alignment.canvas, self.masks.coarse, self.masks.alpha, self.cutout.canvas]
        self.paintable = [self.masks.alpha, self.cutout.canvas]
        self.sync = ViewSync(self.canvases)
        for canvas in self.canvases:
            canvas.viewChanged.connect(self.viewChanged)
            canvas.zoomedByUser.connect(self._leave_fit_mode)
            canvas.resized.connect(lambda c=canvas: self._canvas_resized(c))
        for canvas in self.paintable:
            canvas.strokeFinished.connect(self.strokeFinished)
        self.page = "cutout"
        self.has_image = False
        self.fit_mode = True  # keep fitting the photo to the window until the user zooms

    def _leave_fit_mode(self) -> None:
        self.fit_mode = False

    def _canvas_resized(self, canvas: ImageCanvas) -> None:
        if self.fit_mode and self.has_image and canvas is self.current_canvas():
            self.fit()

    def show_page(self, page: str) -> None:
        self.page = page
        if self.has_image:
            self.setCurrentWidget(self.pages[page])
            if self.fit_mode:
                self.fit()
            else:
                self.sync.align_to(self.current_canvas())
        self.pageChanged.emit(page)

    def current_canvas(self) -> ImageCanvas:
        """The canvas zoom and fit act on (the alpha view on the masks page)."""
        return {"alignment": self.alignment.canvas, "masks": self.masks.alpha,
                "cutout": self.cutout.canvas}[self.page]

    def set_images(self, images: dict, size: tuple, fit: bool) -> None:
        """Show a result's proxies for a photo of ``size`` (W, H).

        images: layer name -> QImage ("photo", "aligned_plate", "difference", "coarse_mask",
        "alpha", "cutout", and blank "hints" / "hints_copy"); the canvases keep and edit them.
        """
        first = not self.has_image
        for canvas in self.canvases:
            canvas.set_image_size(*size)
        for canvas, name, z in ((self.alignment.canvas, "photo", 0), (self.alignment.canvas, "aligned_plate", 1),
                                (self.alignment.canvas, "difference", 2), (self.masks.coarse, "coarse_mask", 0),
                                (self.masks.alpha, "alpha", 0), (self.cutout.canvas, "cutout", 0)):
            canvas.set_layer(name, images[name], z, detail=True)
        self.alignment.set_plate_shift(0, 0)
        self.alignment.set_mode(self.alignment.mode)
        self.masks.alpha.set_layer("hints", images["hints"], 5)
        self.cutout.canvas.set_layer("hints", images["hints_copy"], 5)
        self.has_image = True
        if first:
            self.setCurrentWidget(self.pages[self.page])
        if fit or first:
            self.fit()

    def update_matte(self, x: int, y: int, alpha: QImage, cutout: QImage, hints: QImage) -> None:
        self.masks.alpha.update_layer("alpha", x, y, alpha)
        self.cutout.canvas.update_layer("cutout", x, y, cutout)
        self.update_hints(x, y, hints)

    def update_hints(self, x: int, y: int, hints: QImage) -> None:
        for canvas in self.paintable:
            canvas.update_layer("hints", x, y, hints)

    def set_brush(self, kind: Optional[str]) -> None:
        for canvas in self.paintable:
            canvas.set_brush(kind)

    def set_brush_radius(self, radius: float) -> None:
        for canvas in self.paintable:
            canvas.set_brush_radius(radius)

    def fit(self) -> None:
        self.fit_mode = True
        canvas = self.current_canvas()
        canvas.fit()
        self.sync.last = canvas
        self.sync.align_to(canvas)

    def set_zoom(self, zoom: float) -> None:
        self.fit_mode = False
        canvas = self.current_canvas()
        canvas.set_zoom(zoom)
        self.sync.last = canvas
        self.sync.align_to(canvas)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.current_canvas().zoom() * factor)


class DetailTiles(QObject):
    """Answers the canvases' ``detailWanted`` with tiles cut by the worker from the result on screen.

    engine: the ``worker.Engine`` (``detail(...)`` and ``worker.detailReady``). A newer request
    of a canvas cancels its older one; the canvas ignores answers to anything but its latest.
    """

    def __init__(self, canvases, engine, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.engine = engine
        self.source = None  # worker.DetailSource of the result on screen
        self._jobs: dict[int, tuple[ImageCanvas, int]] = {}
        self._latest: dict[ImageCanvas, tuple[int, object]] = {}  # canvas -> (job, cancel token)
        for canvas in canvases:
            canvas.detailWanted.connect(lambda serial, box, shape, c=canvas: self._request(c, serial, box, shape))
        engine.worker.detailReady.connect(self._on_detail, Qt.ConnectionType.QueuedConnection)

    def set_source(self, source) -> None:
        """Cut tiles from ``source`` (a ``worker.DetailSource``; None: no tiles)."""
        self.source = source

    def _request(self, canvas: ImageCanvas, serial: int, box: tuple, shape: tuple) -> None:
        previous = self._latest.pop(canvas, None)
        if previous is not None:
            previous[1].cancel()
        source, scale = self.source, canvas.proxy_scale()
        if source is None or scale is None or source.width <= scale * source.size[0] or canvas.size_px != source.size:
            canvas.clear_detail()  # the result itself is no finer than the proxy (a small preview)
            return
        job, token = self.engine.detail(source, canvas.detail_layers(), box, shape)
        self._jobs[job] = (canvas, serial)
        self._latest[canvas] = (job, token)

    def _on_detail(self, out) -> None:
        canvas, serial = self._jobs.pop(out.job, (None, None))
        if canvas is None:
            return
        if self._latest.get(canvas, (None,))[0] == out.job:
            del self._latest[canvas]
        if out.images is not None:
            canvas.set_detail(serial, out.box, out.images)
