"""numpy uint8 buffers -> QImage (safe in a worker thread: QImage, unlike QPixmap, is thread-safe)."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_from_array(array: np.ndarray) -> QImage:
    """A QImage owning a copy of ``array`` (hxw, hxwx3 or hxwx4 straight RGBA, uint8).

    RGB and RGBA come out as RGB32 / ARGB32_Premultiplied, the formats the raster
    paint engine draws without converting, so building a QPixmap from them is a plain copy.
    """
    if array.dtype != np.uint8:
        raise ValueError(f"Display images must be uint8 (got {array.dtype}).")
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    if array.ndim == 2:
        image = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_Grayscale8)
        return image.convertToFormat(QImage.Format.Format_RGB32)  # a copy: detached from numpy
    channels = array.shape[2]
    if channels == 3:
        image = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888)
        return image.convertToFormat(QImage.Format.Format_RGB32)
    if channels == 4:
        image = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGBA8888)
        return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    raise ValueError(f"Cannot display an image with {channels} channels.")
