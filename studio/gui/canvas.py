"""ImageCanvas: a zoomable, pannable view of image layers with an optional GrabCut brush.

Scene coordinates are full-resolution photo pixels, whatever the resolution of
the proxies shown, so strokes and zoom mean the same in every view. Several
canvases are kept in step by ``ViewSync``.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QTransform,
                           QWheelEvent)
from PySide6.QtWidgets import (QFrame, QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem,
                               QGraphicsScene, QGraphicsView)

MIN_ZOOM, MAX_ZOOM = 0.01, 32.0
STROKE_COLOURS = {"foreground": QColor(40, 220, 90, 170), "background": QColor(235, 60, 60, 170),
                  "erase": QColor(255, 255, 255, 140)}
VIEW_BACKGROUND = QColor(38, 40, 44)


def _checker_brush(size: int = 10) -> QBrush:
    tile = QPixmap(2 * size, 2 * size)
    tile.fill(QColor(204, 204, 204))
    painter = QPainter(tile)
    painter.fillRect(0, 0, size, size, QColor(153, 153, 153))
    painter.fillRect(size, size, size, size, QColor(153, 153, 153))
    painter.end()
    return QBrush(tile)


class ImageLayerItem(QGraphicsItem):
    """A QImage drawn in place (no QPixmap copy): patches are painted straight into it."""

    def __init__(self, image: Optional[QImage] = None):
        super().__init__()
        self.image = image if image is not None else QImage()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_image(self, image: Optional[QImage]) -> None:
        self.prepareGeometryChange()
        self.image = image if image is not None else QImage()
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.image.isNull():
            return
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        painter.drawImage(exposed, self.image, exposed)

    def paint_patch(self, x: int, y: int, patch: QImage) -> None:
        if self.image.isNull():
            return
        painter = QPainter(self.image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(x, y, patch)
        painter.end()
        self.update(QRectF(x, y, patch.width(), patch.height()))


class ImageCanvas(QGraphicsView):
    """A view of named image layers over a backdrop (checkerboard, colour or image).

    Signals: viewChanged() after zoom or pan; strokeFinished(kind, points, radius) when a
    brush stroke ends (points in photo pixels); cursorMoved(x, y) in photo pixels.
    """

    viewChanged = Signal()
    zoomedByUser = Signal()
    resized = Signal()
    strokeFinished = Signal(str, object, float)
    cursorMoved = Signal(float, float)

    def __init__(self, parent=None, paintable: bool = False):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setBackgroundBrush(VIEW_BACKGROUND)
        self.paintable = paintable
        self.size_px: Optional[tuple[int, int]] = None
        self._layers: dict[str, ImageLayerItem] = {}
        self._backdrop = ("checker", QColor(255, 255, 255), None)
        self._checker = _checker_brush()
        self._brush_kind: Optional[str] = None
        self.brush_radius = 12.0
        self._stroke_points: list[tuple[float, float]] = []
        self._stroke_item: Optional[QGraphicsPathItem] = None
        self._pan_origin = None
        self._cursor = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255, 220), 1.5)
        pen.setCosmetic(True)
        self._cursor.setPen(pen)
        self._cursor.setZValue(1000)
        self._cursor.setVisible(False)
        self.scene().addItem(self._cursor)
        self.horizontalScrollBar().valueChanged.connect(self.viewChanged)
        self.verticalScrollBar().valueChanged.connect(self.viewChanged)

    # ----- layers
    def set_image_size(self, width: int, height: int) -> None:
        """Set the photo size (scene rect); layers keep their proxies scaled onto it."""
        self.size_px = (int(width), int(height))
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        for item in self._layers.values():
            self._scale_item(item)

    def _scale_item(self, item: ImageLayerItem) -> None:
        if self.size_px and not item.image.isNull():
            item.setTransform(QTransform.fromScale(self.size_px[0] / item.image.width(),
                                                   self.size_px[1] / item.image.height()))

    def set_layer(self, name: str, image: Optional[QImage], z: float = 0.0) -> ImageLayerItem:
        """Show ``image`` (any proxy size, stretched over the photo) as layer ``name``.

        The canvas keeps the QImage and paints patches into it; pass an image nobody else edits.
        """
        item = self._layers.get(name)
        if item is None:
            item = ImageLayerItem()
            self.scene().addItem(item)
            self._layers[name] = item
        item.setZValue(z)
        item.set_image(image)
        self._scale_item(item)
        return item

    def layer(self, name: str) -> Optional[ImageLayerItem]:
        return self._layers.get(name)

    def update_layer(self, name: str, x: int, y: int, patch: QImage) -> None:
        """Replace the proxy pixels of layer ``name`` at (x, y) by ``patch`` (proxy pixels)."""
        item = self._layers.get(name)
        if item is not None:
            item.paint_patch(x, y, patch)

    def set_backdrop(self, kind: str, colour: QColor | None = None, image: QImage | None = None) -> None:
        """What shows through transparent pixels: "checker", "colour" or "image"."""
        self._backdrop = (kind, colour or QColor(255, 255, 255), QPixmap.fromImage(image) if image else None)
        self.resetCachedContent()
        self.viewport().update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, VIEW_BACKGROUND)
        if self.size_px is None:
            return
        photo_rect = QRectF(0, 0, *self.size_px)
        kind, colour, pixmap = self._backdrop
        if kind == "colour":
            painter.fillRect(photo_rect, colour)
        elif kind == "image" and pixmap is not None:
            painter.drawPixmap(photo_rect, pixmap, QRectF(pixmap.rect()))
        else:
            # checker squares stay the same size on screen at every zoom
            painter.save()
            device_rect = painter.transform().mapRect(photo_rect)
            painter.resetTransform()
            painter.fillRect(device_rect, self._checker)
            painter.restore()

    # ----- zoom and pan
    def zoom(self) -> float:
        """Screen pixels per photo pixel (1.0 = 100%)."""
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: Optional[QPointF] = None) -> None:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        centre = anchor if anchor is not None else self.mapToScene(self.viewport().rect().center())
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.centerOn(centre)
        self.viewChanged.emit()

    def zoom_by(self, factor: float) -> None:
        old = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.set_zoom(self.zoom() * factor)
        self.setTransformationAnchor(old)

    def fit(self) -> None:
        if self.size_px is not None:
            self.fitInView(QRectF(0, 0, *self.size_px), Qt.AspectRatioMode.KeepAspectRatio)
            self.viewChanged.emit()

    def centre(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def copy_view(self, other: "ImageCanvas") -> None:
        """Show the same zoom and centre as ``other``."""
        self.setTransform(QTransform.fromScale(other.zoom(), other.zoom()))
        self.centerOn(other.centre())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            anchor = self.mapToScene(event.position().toPoint())
            before = self.mapFromScene(anchor)
            self.setTransform(QTransform.fromScale(*(2 * [min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * 1.25 ** steps))])))
            # keep the photo pixel under the mouse where it was
            after = self.mapFromScene(anchor)
            delta = after - before
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
            self.viewChanged.emit()
            self.zoomedByUser.emit()
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    # ----- brush
    def set_brush(self, kind: Optional[str]) -> None:
        """Paint "foreground", "background" or "erase" strokes; None turns the brush off (drag pans)."""
        self._brush_kind = kind if self.paintable else None
        self._cursor.setVisible(False)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if self._brush_kind else Qt.CursorShape.OpenHandCursor)

    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = float(radius)
        self._place_cursor(self._cursor.rect().center() if self._cursor.isVisible() else None)

    def _place_cursor(self, scene_pos: Optional[QPointF]) -> None:
        if scene_pos is None or not self._brush_kind:
            self._cursor.setVisible(False)
            return
        r = self.brush_radius
        self._cursor.setRect(scene_pos.x() - r, scene_pos.y() - r, 2 * r, 2 * r)
        self._cursor.setVisible(True)

    def _update_stroke_item(self) -> None:
        path = QPainterPath(QPointF(*self._stroke_points[0]))
        for x, y in self._stroke_points[1:]:
            path.lineTo(x, y)
        if len(self._stroke_points) == 1:
            path.addEllipse(QPointF(*self._stroke_points[0]), 0.01, 0.01)
        self._stroke_item.setPath(path)

    def mousePressEvent(self, event) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and self._brush_kind and self.size_px:
            self._stroke_points = [(pos.x(), pos.y())]
            pen = QPen(STROKE_COLOURS[self._brush_kind], 2 * self.brush_radius,
                       Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            self._stroke_item = self.scene().addPath(QPainterPath(), pen)
            self._stroke_item.setZValue(900)
            self._update_stroke_item()
            event.accept()
            return
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._pan_origin = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        pos = self.mapToScene(event.position().toPoint())
        self.cursorMoved.emit(pos.x(), pos.y())
        self._place_cursor(pos)
        if self._stroke_item is not None:
            last = self._stroke_points[-1]
            if (pos.x() - last[0]) ** 2 + (pos.y() - last[1]) ** 2 >= 0.25:
                self._stroke_points.append((pos.x(), pos.y()))
                self._update_stroke_item()
            event.accept()
            return
        if self._pan_origin is not None:
            delta = event.position() - self._pan_origin
            self._pan_origin = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._stroke_item is not None and event.button() == Qt.MouseButton.LeftButton:
            self.scene().removeItem(self._stroke_item)
            self._stroke_item = None
            points, self._stroke_points = tuple(self._stroke_points), []
            self.strokeFinished.emit(self._brush_kind, points, self.brush_radius)
            event.accept()
            return
        if self._pan_origin is not None:
            self._pan_origin = None
            self.set_brush(self._brush_kind)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self._cursor.setVisible(False)
        super().leaveEvent(event)


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
