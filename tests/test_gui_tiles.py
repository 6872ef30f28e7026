"""Detail tiles: at 100% the views show full-resolution pixels, not the 2048 px screen proxies.

The real main window cuts a seeded 2600 x 900 pair whose product is striped one pixel
wide (the proxy, at 0.79 scale, averages the stripes away); the tests zoom, wait for the
worker's tile and compare what the canvas paints with the full-resolution data.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")
pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from core.display import DISPLAY_MAX_SIDE, to_uint8  # noqa: E402
from studio.gui.app import create_main_window  # noqa: E402
from studio.gui.canvas import ImageCanvas  # noqa: E402
from tests.gui_fixtures import wait_until  # noqa: E402

pytestmark = pytest.mark.gui
WIDTH, HEIGHT = 2600, 900
PRODUCT = (700, 200, 1900, 750)  # x0, y0, x1, y1 of the striped box
RESULT_TIMEOUT_S = 120
TILE_TIMEOUT_MS = 10_000


def write_striped_pair(folder) -> tuple:
    """A photo whose product carries one-pixel stripes (columns and rows), and its plate."""
    import cv2

    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    blotches = cv2.resize(rng.random((9, 26), dtype=np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    plate = np.dstack([0.75 - 0.2 * yy / HEIGHT + 0.08 * blotches, 0.72 - 0.1 * xx / WIDTH + 0.05 * blotches,
                       0.55 + 0.0 * xx]).astype(np.float32)
    x0, y0, x1, y1 = PRODUCT
    photo = plate.copy()
    stripes_x = (xx.astype(int) % 2).astype(np.float32)
    stripes_y = (yy.astype(int) % 2).astype(np.float32)
    product = np.dstack([0.15 + 0.1 * stripes_y, 0.1 + 0.7 * stripes_x, 0.35 + 0.0 * xx])
    photo[y0:y1, x0:x1] = product[y0:y1, x0:x1]
    paths = []
    for name, image in (("striped_photo", photo), ("striped_plate", plate)):
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return tuple(paths)


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """The real main window with the striped pair cut at full resolution (classical method)."""
    pair = write_striped_pair(tmp_path_factory.mktemp("striped"))
    win = create_main_window(tmp_path_factory.mktemp("settings") / "studio.ini")
    win.resize(1200, 760)
    win.show()
    win.actions_.method["classical"].trigger()
    finals = []
    win.resultShown.connect(lambda out: finals.append(out) if out.final else None)
    win.open_pair(*pair)
    wait_until(qapp, lambda: finals, RESULT_TIMEOUT_S, "the full-resolution result")
    yield win
    win.close()


def _pixels(image: QImage) -> np.ndarray:
    """hxwx3 uint8 RGB copy of a QImage."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = image.height(), image.width()
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(h, image.bytesPerLine())
    return rows[:, :3 * w].reshape(h, w, 3).copy()


def _rendered(canvas: ImageCanvas, box: tuple) -> np.ndarray:
    """What the canvas shows of photo-pixel ``box`` (x0, y0, x1, y1) at 100% zoom, hxwx3 uint8,
    one pixel wider on each side (a sub-pixel view offset may shift it by one)."""
    shot = _pixels(canvas.viewport().grab().toImage())
    corner = canvas.mapFromScene(QPointF(box[0], box[1]))
    x, y = corner.x() - 1, corner.y() - 1
    return shot[y:y + box[3] - box[1] + 2, x:x + box[2] - box[0] + 2]


def _error(rendered: np.ndarray, expected: np.ndarray, where=None) -> float:
    """Mean absolute difference (0..255) at the best of the nine one-pixel shifts (where ``where``)."""
    h, w = expected.shape[:2]
    where = np.ones((h, w), bool) if where is None else where
    return min(float(np.abs(rendered[dy:dy + h, dx:dx + w].astype(int) - expected.astype(int))[where].mean())
               for dy in range(3) for dx in range(3))


def _zoom_to_100(window, page: str, centre: tuple) -> ImageCanvas:
    window.actions_.page[page].trigger()
    window.views.fit()
    canvas = window.views.current_canvas()
    window.actions_.actual.trigger()
    canvas.centerOn(QPointF(*centre))  # the other views follow (ViewSync)
    assert canvas.zoom() == pytest.approx(1.0)
    return canvas


def _detail_shown(canvas: ImageCanvas) -> bool:
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect().intersected(canvas.sceneRect())
    items = [canvas.layer(name) for name in canvas.detail_layers()]
    return bool(items) and all(item.detail is not None and not item.has_stale_detail
                               and item.detail_rect.contains(visible) for item in items)


def test_the_pair_is_larger_than_the_proxies(window):
    assert max(WIDTH, HEIGHT) > DISPLAY_MAX_SIDE
    assert window.current.final and window.current.display.alpha.shape[1] == DISPLAY_MAX_SIDE
    assert window.current.shown.is_set()  # the worker's hand-off signal after showing a result
    assert window.session.alpha[PRODUCT[1] + 50:PRODUCT[3] - 50, PRODUCT[0] + 50:PRODUCT[2] - 50].min() > 0.99


def test_100_percent_shows_full_resolution_pixels(window, qtbot):
    centre = (1300, 470)
    canvas = _zoom_to_100(window, "cutout", centre)
    box = (centre[0] - 150, centre[1] - 60, centre[0] + 150, centre[1] + 60)
    expected = to_uint8(window.session.foreground[box[1]:box[3], box[0]:box[2]])
    # before the view settles the stretched 2048 px proxy is on screen: the stripes are lost
    blurred = _error(_rendered(canvas, box), expected)
    with qtbot.waitSignal(canvas.detailChanged, timeout=TILE_TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: _detail_shown(canvas), timeout=TILE_TIMEOUT_MS)
    sharp = _error(_rendered(canvas, box), expected)
    assert blurred > 20 and sharp < 1.0, (blurred, sharp)  # mean over RGB: the stripes are in G (and R)
    # the tile is the viewport plus a margin at full resolution, nothing more
    tile = canvas.layer("cutout").detail
    viewport = canvas.viewport().size()
    assert tile.width() <= viewport.width() + 2 * 128 + 2 and tile.height() <= viewport.height() + 2 * 128 + 2


def test_synchronised_views_each_get_their_own_tile(window, qtbot):
    canvas = _zoom_to_100(window, "masks", (760, 300))
    coarse = window.views.masks.coarse
    assert coarse.zoom() == pytest.approx(1.0)
    for view, name, source in ((canvas, "alpha", window.session.alpha),
                               (coarse, "coarse_mask", window.current.result.coarse_mask)):
        qtbot.waitUntil(lambda view=view: _detail_shown(view), timeout=TILE_TIMEOUT_MS)
        item = view.layer(name)
        r = item.detail_rect
        x0, y0 = int(r.left()), int(r.top())
        assert (r.width(), r.height()) == (item.detail.width(), item.detail.height())  # one tile pixel per photo pixel
        tile = _pixels(item.detail)[..., 0]
        assert np.array_equal(tile, to_uint8(source[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]]))
    # the product's straight left edge (x = 700) is sharp on screen: one pixel from 0 to 255
    edge = _rendered(canvas, (690, 300, 710, 301))[1, :, 0].astype(int)
    assert np.abs(np.diff(edge)).max() > 200


def test_the_alignment_view_gets_tiles_of_the_layers_it_shows(window, qtbot):
    centre = (1300, 470)
    canvas = _zoom_to_100(window, "alignment", centre)
    window.alignment_panel.mode.buttons[0].click()  # overlay: photo under the aligned plate
    window.alignment_panel.opacity.setValue(0)
    qtbot.waitUntil(lambda: _detail_shown(canvas), timeout=TILE_TIMEOUT_MS)
    assert canvas.layer("photo").detail is not None and canvas.layer("difference").detail is None
    box = (centre[0] - 150, centre[1] - 60, centre[0] + 150, centre[1] + 60)
    photo = to_uint8(window.current.result.photo[box[1]:box[3], box[0]:box[2]])
    assert _error(_rendered(canvas, box), photo) < 1.0
    window.alignment_panel.mode.buttons[1].click()  # the difference layer is shown: it gets its tile
    qtbot.waitUntil(lambda: canvas.layer("difference").detail is not None, timeout=TILE_TIMEOUT_MS)
    window.alignment_panel.mode.buttons[0].click()
    window.alignment_panel.opacity.setValue(50)


def test_zooming_out_drops_the_tile_and_stale_answers_are_ignored(window, qtbot):
    canvas = _zoom_to_100(window, "cutout", (1300, 470))
    qtbot.waitUntil(lambda: _detail_shown(canvas), timeout=TILE_TIMEOUT_MS)
    item = canvas.layer("cutout")
    old_rect, old_image = QRectF(item.detail_rect), item.detail
    stale_serial = canvas._detail_serial
    # panning far asks for a new tile; the old one is replaced, not shown for the new place
    canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().value() + 700)
    qtbot.waitUntil(lambda: _detail_shown(canvas) and item.detail_rect != old_rect, timeout=TILE_TIMEOUT_MS)
    assert not canvas.set_detail(stale_serial, (old_rect.left(), old_rect.top(), old_rect.right(), old_rect.bottom()),
                                 {"cutout": old_image})
    assert item.detail_rect != old_rect
    window.actions_.zoom_out.trigger()  # 80%: the proxy (79%) is about as fine as the screen
    qtbot.waitUntil(lambda: not canvas.has_detail(), timeout=TILE_TIMEOUT_MS)
    window.actions_.fit.trigger()
    assert not canvas.has_detail()


def test_a_touch_up_refreshes_the_tile_where_it_changed(window, qtbot):
    centre = (1300, 470)
    canvas = _zoom_to_100(window, "cutout", centre)
    qtbot.waitUntil(lambda: _detail_shown(canvas), timeout=TILE_TIMEOUT_MS)
    item = canvas.layer("cutout")
    window.actions_.tool["background"].trigger()
    window.touchup_panel.set_radius(8)
    at = lambda x, y: canvas.mapFromScene(QPointF(x, y))  # noqa: E731
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(centre[0] - 20, centre[1]))
    qtbot.mouseMove(canvas.viewport(), at(centre[0] + 20, centre[1]))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(centre[0] + 20, centre[1]))
    with qtbot.waitSignal(window.touchUpShown, timeout=60_000):
        window.actions_.apply.trigger()
    window.actions_.tool[None].trigger()  # hides the brush outline
    assert item.has_stale_detail  # the edited box shows the re-rendered proxy until the new tile comes
    qtbot.waitUntil(lambda: _detail_shown(canvas), timeout=TILE_TIMEOUT_MS)
    session = window.session
    assert session.alpha[centre[1], centre[0]] == 0.0
    r = item.detail_rect
    x0, y0 = int(r.left()), int(r.top())
    tile = np.asarray(_pixels(item.detail.convertToFormat(QImage.Format.Format_RGB32)))
    alpha_tile = item.detail.convertToFormat(QImage.Format.Format_Alpha8)
    alpha = np.frombuffer(alpha_tile.constBits(), np.uint8).reshape(alpha_tile.height(), alpha_tile.bytesPerLine())
    alpha = alpha[:, :alpha_tile.width()]
    assert np.array_equal(alpha, to_uint8(session.alpha[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]]))
    assert tile.shape[:2] == alpha.shape
    # on screen: the painted-out spot shows the checkerboard, the product left stays sharp
    box = (centre[0] - 250, centre[1] - 150, centre[0] + 250, centre[1] + 150)
    expected = to_uint8(session.foreground[box[1]:box[3], box[0]:box[2]])
    solid = session.alpha[box[1]:box[3], box[0]:box[2]] == 1.0
    assert solid.mean() > 0.2
    assert _error(_rendered(canvas, box), expected, solid) < 1.0
    spot = _rendered(canvas, (centre[0] - 1, centre[1] - 1, centre[0] + 2, centre[1] + 2))
    # the checkerboard under the red background hint, not the striped product
    assert (spot[..., 1] == spot[..., 2]).all() and np.ptp(spot[..., 1]) < 30 and spot[..., 0].min() > 150
    window.actions_.undo.trigger()  # the apply: the product comes back...
    assert item.has_stale_detail
    window.actions_.undo.trigger()  # ...and the stroke (its hint overlay) goes
    qtbot.waitUntil(lambda: _detail_shown(canvas), timeout=TILE_TIMEOUT_MS)
    assert _error(_rendered(canvas, (centre[0] - 30, centre[1] - 10, centre[0] + 30, centre[1] + 10)),
                  to_uint8(session.foreground[centre[1] - 10:centre[1] + 10, centre[0] - 30:centre[0] + 30])) < 1.0


def test_a_new_image_drops_the_tile_and_ignores_late_answers(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    canvas.set_image_size(4000, 3000)
    proxy = QImage(400, 300, QImage.Format.Format_RGB32)
    proxy.fill(0xff808080)
    canvas.set_layer("photo", proxy, 0, detail=True)
    canvas.set_zoom(1.0)
    with qtbot.waitSignal(canvas.detailWanted, timeout=2000) as asked:
        pass
    serial, box, shape = asked.args
    assert shape == (box[3] - box[1], box[2] - box[0])  # full resolution at 100%
    tile = QImage(shape[1], shape[0], QImage.Format.Format_RGB32)
    tile.fill(0xffff0000)
    canvas.set_layer("photo", proxy.copy(), 0, detail=True)  # a new result arrives first
    assert not canvas.set_detail(serial, box, {"photo": tile}) and not canvas.has_detail()
    with qtbot.waitSignal(canvas.detailWanted, timeout=2000) as asked:
        pass
    assert canvas.set_detail(asked.args[0], asked.args[1], {"photo": tile}) and canvas.has_detail()
