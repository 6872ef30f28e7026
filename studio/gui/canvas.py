"""ImageCanvas: a zoomable, pannable view of image layers with an optional GrabCut brush.

Scene coordinates are full-resolution photo pixels, whatever the resolution of
the proxies shown, so strokes and zoom mean the same in every view (kept in
step by ``views.ViewSync``). Zoomed in past its proxies, a canvas asks for detail
tiles (``detailWanted``) and draws them over the proxies.
"""
from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QRegion, QTransform,
                           QWheelEvent)
from PySide6.QtWidgets import (QFrame, QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem,
                               QGraphicsScene, QGraphicsView)

from core.display import detail_shape

MIN_ZOOM, MAX_ZOOM = 0.01, 32.0
STROKE_COLOURS = {"foreground": QColor(40, 220, 90, 170), "background": QColor(235, 60, 60, 170),
                  "erase": QColor(255, 255, 255, 140)}
VIEW_BACKGROUND = QColor(38, 40, 44)
DETAIL_DEBOUNCE_MS = 120  # ask for a detail tile once zoom and pan have settled this long
DETAIL_MARGIN_PX = 128    # screen pixels cut beyond each side of the view, so small pans stay sharp


def _checker_brush(size: int = 10) -> QBrush:
    tile = QPixmap(2 * size, 2 * size)
    tile.fill(QColor(204, 204, 204))
    painter = QPainter(tile)
    painter.fillRect(0, 0, size, size, QColor(153, 153, 153))
    painter.fillRect(size, size, size, size, QColor(153, 153, 153))
    painter.end()
    return QBrush(tile)


class ImageLayerItem(QGraphicsItem):
    """A QImage proxy drawn in place (no QPixmap copy; patches are painted straight into it),
    optionally with a detail tile: full-resolution pixels of part of the photo drawn instead
    of the proxy there. The item's transform stretches the proxy over the photo.
    """

    def __init__(self, image: Optional[QImage] = None):
        super().__init__()
        self.image = image if image is not None else QImage()
        self.detailed = False          # whether the canvas asks for detail tiles of this layer
        self.detail: Optional[QImage] = None
        self.detail_rect = QRectF()    # photo pixels the detail covers
        self._stale = QRegion()        # proxy pixels edited since the detail was cut: shown from the proxy
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_image(self, image: Optional[QImage]) -> None:
        self.prepareGeometryChange()
        self.image = image if image is not None else QImage()
        self.clear_detail()
        self.update()

    def set_detail(self, rect: QRectF, image: QImage) -> None:
        self.detail, self.detail_rect, self._stale = image, QRectF(rect), QRegion()
        self.update()

    def clear_detail(self) -> None:
        if self.detail is not None:
            self.detail, self._stale = None, QRegion()
            self.update()

    def mark_stale(self, box: QRect) -> bool:
        """Show the proxy again over proxy box ``box`` (edited); True if the detail overlapped it."""
        if self.detail is None or not self._detail_box(outer=True).intersects(box):
            return False
        self._stale += QRegion(box)
        self.update()
        return True

    @property
    def has_stale_detail(self) -> bool:
        return not self._stale.isEmpty()

    def _detail_box(self, outer: bool) -> QRect:
        """The detail's rect in proxy pixels: covering it (outer) or covered by it (inner)."""
        k = self.transform().m11(), self.transform().m22()
        r = self.detail_rect
        edges = (r.left() / k[0], r.top() / k[1], r.right() / k[0], r.bottom() / k[1])
        lo, hi = (math.floor, math.ceil) if outer else (math.ceil, math.floor)
        x0, y0, x1, y1 = lo(edges[0]), lo(edges[1]), hi(edges[2]), hi(edges[3])
        return QRect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.image.isNull():
            return
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if self.detail is None:
            painter.drawImage(exposed, self.image, exposed)
            return
        proxy_part = QRegion(exposed) - QRegion(self._detail_box(outer=False)) + (self._stale & QRegion(exposed))
        if not proxy_part.isEmpty():
            painter.save()
            painter.setClipRegion(proxy_part)
            painter.drawImage(exposed, self.image, exposed)
            painter.restore()
        painter.save()
        painter.setClipRegion((QRegion(self._detail_box(outer=True)) - self._stale) & QRegion(exposed))
        k, r, d = self.transform(), self.detail_rect, self.detail
        # detail pixels -> proxy pixels; at 1:1 on screen this is a pure translation (a blit)
        painter.setTransform(QTransform(r.width() / d.width() / k.m11(), 0, 0, r.height() / d.height() / k.m22(),
                                        r.left() / k.m11(), r.top() / k.m22()), True)
        # above 100% show photo pixels as crisp squares, as image editors do
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, painter.transform().m11() < 0.999)
        painter.drawImage(0, 0, d)
        painter.restore()

    def paint_patch(self, x: int, y: int, patch: QImage) -> None:
        if self.image.isNull():
            return
        painter = QPainter(self.image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(x, y, patch)
        painter.end()
        self.mark_stale(QRect(x, y, patch.width(), patch.height()))
        self.update(QRectF(x, y, patch.width(), patch.height()))


class ImageCanvas(QGraphicsView):
    """A view of named image layers over a backdrop (checkerboard, colour or image).

    Signals: viewChanged() after zoom or pan; strokeFinished(kind, points, radius) when a
    brush stroke ends (points in photo pixels); cursorMoved(x, y) in photo pixels;
    detailWanted(serial, box, shape) when the view, settled, shows photo pixels finer than the
    proxies: answer with ``set_detail(serial, ...)``, a full-resolution tile of the detailed
    layers over photo-pixel box (x0, y0, x1, y1) at (h, w) ``shape``; detailChanged() when a
    tile is shown or dropped.
    """

    viewChanged = Signal()
    zoomedByUser = Signal()
    resized = Signal()
    strokeFinished = Signal(str, object, float)
    cursorMoved = Signal(float, float)
    detailWanted = Signal(int, object, object)
    detailChanged = Signal()

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
        self._awaiting_detail = False
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
        self._detail_timer = QTimer(self, singleShot=True, interval=DETAIL_DEBOUNCE_MS)
        self._detail_timer.timeout.connect(self._request_detail)
        self._detail_serial = 0        # only the answer to the latest request is shown
        self._detail_density = 0.0     # tile pixels per photo pixel of the tile on screen
        self.viewChanged.connect(self.schedule_detail)

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

    def set_layer(self, name: str, image: Optional[QImage], z: float = 0.0, detail: bool = False) -> ImageLayerItem:
        """Show ``image`` (any proxy size, stretched over the photo) as layer ``name``.

        The canvas keeps the QImage and paints patches into it; pass an image nobody else edits.
        detail: ask for full-resolution tiles of this layer when zoomed in (``detailWanted``).
        Tiles of the previous image are dropped, and answers to earlier requests ignored.
        """
        item = self._layers.get(name)
        if item is None:
            item = ImageLayerItem()
            self.scene().addItem(item)
            self._layers[name] = item
        item.setZValue(z)
        item.detailed = detail
        item.set_image(image)
        self._scale_item(item)
        self.clear_detail()
        self.schedule_detail()
        return item

    def layer(self, name: str) -> Optional[ImageLayerItem]:
        return self._layers.get(name)

    def update_layer(self, name: str, x: int, y: int, patch: QImage) -> None:
        """Replace the proxy pixels of layer ``name`` at (x, y) by ``patch`` (proxy pixels)."""
        item = self._layers.get(name)
        if item is not None:
            item.paint_patch(x, y, patch)
            if item.detailed and (item.has_stale_detail or self._awaiting_detail):
                # a tile cut before this edit must not be shown (nor one on its way): ask again at once
                self._detail_serial += 1
                self._awaiting_detail = False
                self.schedule_detail(0)

    # ----- detail tiles
    def detail_layers(self) -> tuple[str, ...]:
        """The detailed layers a tile should hold: those shown (the alignment view hides some)."""
        return tuple(name for name, item in self._layers.items()
                     if item.detailed and not item.image.isNull() and item.isVisible())

    def proxy_scale(self) -> Optional[float]:
        """Proxy pixels per photo pixel of the detailed layers (None without any)."""
        for item in self._layers.values():
            if item.detailed and not item.image.isNull() and self.size_px:
                return item.image.width() / self.size_px[0]
        return None

    def has_detail(self) -> bool:
        return any(item.detail is not None for item in self._layers.values())

    def schedule_detail(self, delay_ms: int = DETAIL_DEBOUNCE_MS) -> None:
        """Look again, ``delay_ms`` after the view last changed, whether a tile is wanted."""
        self._detail_timer.start(delay_ms)

    def _visible_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect().intersected(self.sceneRect())

    def _wanted_density(self) -> Optional[float]:
        """Tile pixels per photo pixel the view would show; None when the proxy is fine enough."""
        scale = self.proxy_scale()
        density = self.zoom() * self.devicePixelRatioF()
        if scale is None or density <= scale * 1.05 or not self.isVisible():
            return None
        return min(1.0, density)

    def _request_detail(self) -> None:
        density = self._wanted_density()
        if density is None:
            self.clear_detail()
            return
        visible = self._visible_rect()
        layers = self.detail_layers()
        if visible.isEmpty() or not layers:
            return
        items = [self._layers[name] for name in layers]
        margin = DETAIL_MARGIN_PX / self.zoom()
        rect = visible.adjusted(-margin, -margin, margin, margin).intersected(self.sceneRect())
        box = (math.floor(rect.left()), math.floor(rect.top()), math.ceil(rect.right()), math.ceil(rect.bottom()))
        shape = detail_shape(box, density)  # capped in pixels: memory stays bounded on any screen
        if (self._detail_density >= 0.98 * shape[1] / (box[2] - box[0])
                and all(item.detail is not None and not item.has_stale_detail
                        and item.detail_rect.contains(visible) for item in items)):
            return  # the tile on screen already covers the view finely enough
        self._detail_serial += 1
        self._awaiting_detail = True
        self.detailWanted.emit(self._detail_serial, box, shape)

    def set_detail(self, serial: int, box: tuple, images: dict) -> bool:
        """Show the tile answering request ``serial`` (photo-pixel float ``box``, layer -> QImage);
        False, and nothing shown, when a later request, new images or an edit made it stale."""
        if serial != self._detail_serial:
            return False
        self._awaiting_detail = False
        rect = QRectF(box[0], box[1], box[2] - box[0], box[3] - box[1])
        for name, image in images.items():
            item = self._layers.get(name)
            if item is not None:
                item.set_detail(rect, image)
        if images:
            self._detail_density = next(iter(images.values())).width() / max(rect.width(), 1e-6)
        self.detailChanged.emit()
        return True

    def clear_detail(self) -> None:
        """Drop the tiles (back to the proxies) and ignore answers on their way."""
        self._detail_serial += 1
        self._awaiting_detail = False
        had = self.has_detail()
        for item in self._layers.values():
            item.clear_detail()
        if had:
            self.detailChanged.emit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.schedule_detail()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.clear_detail()  # hidden pages keep no tiles: memory stays bounded by what is on screen

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
        self.schedule_detail()

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
