"""The one long-lived worker thread that owns the Pipeline and does all core work.

``PipelineWorker`` (a QObject moved to a QThread) runs requests one at a time:
loading and matting a pair (a quick preview first, then full resolution), a
touch-up re-solve, an export, a whole batch, a re-export into a batch's
output (the batch work itself is in ``batch_jobs``) and full-resolution detail
tiles for views zoomed in past the screen proxies. Requests and results are
plain frozen dataclasses (numpy arrays, core dataclasses, QImages, which are
safe to build off the GUI thread); the worker never touches a widget.
``Engine`` lives in the GUI thread, numbers the jobs and hands them over
through queued signals.
"""
from __future__ import annotations

import logging
import os
import threading
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from core.display import (DisplayImages, make_display_images, render_detail, render_hints,
                          render_matte_region)
from core.errors import AlignmentError, MattingError, SceneCheckError
from core.jobs import CancelToken, Cancelled
from core.pipeline import MatteOptions, MatteResult
from core.touchup import TouchUpSession

from .batch_jobs import BatchRequest, ReexportRequest, reexport_matte, run_batch_request
from .qimage import qimage_from_array

log = logging.getLogger(__name__)
PREVIEW_MEGAPIXELS = 1.0
PREVIEW_HANDOFF_S = 0.5  # at most this long the worker waits for the GUI to show a preview
DISPLAY_LAYERS = ("photo", "aligned_plate", "difference", "coarse_mask", "alpha", "cutout")


@dataclass(frozen=True)
class RunRequest:
    """Cut ``photo_path`` against ``plate_path``; a preview comes first when the photo is large."""

    job: int
    photo_path: str
    plate_path: str
    options: MatteOptions
    token: CancelToken
    preview_megapixels: Optional[float] = PREVIEW_MEGAPIXELS


@dataclass(frozen=True)
class RunOutput:
    """One result of a run. final: full resolution (else the quick preview).

    images: layer name -> QImage proxy (see ``core.display.DisplayImages``).
    session: the touch-up session on the full-resolution matte (final results only).
    shown: set by the GUI once the result is on screen (the worker waits for it after a preview).
    """

    job: int
    final: bool
    result: MatteResult
    display: DisplayImages
    images: dict
    photo_path: str
    plate_path: str
    photo_image: Any = None  # core.imageio.LoadedImage (kept for export: bit depth, ICC profile)
    session: Optional[TouchUpSession] = None
    shown: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)


@dataclass(frozen=True)
class TouchUpRequest:
    job: int
    session: TouchUpSession
    display_shape: tuple
    token: CancelToken


@dataclass(frozen=True)
class TouchUpOutput:
    """Where the applied touch-up changed the matte, and the re-rendered proxy patches."""

    job: int
    region: Optional[tuple]
    box: Optional[tuple] = None
    alpha: Optional[QImage] = None
    cutout: Optional[QImage] = None
    hints: Optional[QImage] = None


@dataclass(frozen=True)
class ExportRequest:
    job: int
    path: str
    photo_image: Any
    alpha: Any
    foreground: Any
    options: Any  # core.export.ExportOptions
    force: bool = False


@dataclass(frozen=True)
class DetailSource:
    """Where detail tiles are cut from: a result on screen and, once final, its touch-up
    session (whose alpha and foreground change with touch-ups). Holds references only.

    size: (W, H) of the full-resolution photo (the views' coordinates).
    """

    result: MatteResult
    session: Optional[TouchUpSession]
    size: tuple

    @property
    def width(self) -> int:
        """Pixels across at the result's working resolution."""
        return int(self.result.alpha.shape[1])


@dataclass(frozen=True)
class DetailRequest:
    """Cut ``layers`` of ``source`` over photo-pixel ``box`` at (h, w) ``shape`` (see ``core.display``)."""

    job: int
    source: DetailSource
    layers: tuple
    box: tuple
    shape: tuple
    token: CancelToken


@dataclass(frozen=True)
class DetailOutput:
    """A detail tile: layer name -> QImage covering photo-pixel ``box`` (floats); images is None
    when the request was cancelled or failed."""

    job: int
    box: Optional[tuple] = None
    images: Optional[dict] = None


def render_detail_output(request: DetailRequest) -> DetailOutput:
    """The tile of ``request`` as QImages (any thread; reads the source's arrays in place)."""
    source = request.source
    session = source.session
    alpha, foreground = (session.alpha, session.foreground) if session is not None else (None, None)
    box, arrays = render_detail(source.result, request.layers, request.box, source.size, request.shape,
                                alpha, foreground)
    return DetailOutput(request.job, box, {name: qimage_from_array(a) for name, a in arrays.items()})


def images_for_display(display: DisplayImages) -> dict:
    """QImages of the proxies, plus two blank hint layers (one per paintable view)."""
    images = {name: qimage_from_array(getattr(display, name)) for name in DISPLAY_LAYERS}
    h, w = display.photo.shape[:2]
    for name in ("hints", "hints_copy"):
        blank = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        blank.fill(0)
        images[name] = blank
    return images


def render_touchup(job: int, session: TouchUpSession, region, shape) -> TouchUpOutput:
    """Proxy patches of alpha, cutout and hints where ``region`` changed (any thread)."""
    if region is None:
        return TouchUpOutput(job, None)
    box, alpha, cutout = render_matte_region(session.alpha, session.foreground, region, shape)
    _, hints = render_hints(session.hints, shape, region)  # same proxy box by construction
    return TouchUpOutput(job, region, box, qimage_from_array(alpha), qimage_from_array(cutout),
                         qimage_from_array(hints))


def _default_pipeline():
    from core.pipeline import Pipeline
    return Pipeline()


def _default_loader(path: str):
    from core.imageio import load_image
    return load_image(path)


class PipelineWorker(QObject):
    """Runs core work in its thread; emits plain data. Owns the Pipeline (and its models)."""

    progress = Signal(int, str, float)   # job, stage, overall fraction
    resultReady = Signal(object)         # RunOutput
    touchUpReady = Signal(object)        # TouchUpOutput
    exported = Signal(int, str)          # job, written path
    failed = Signal(int, str)            # job, message for the user
    sceneRefused = Signal(int)           # job: the plate failed the scene check (just before failed)
    cancelled = Signal(int)
    jobFinished = Signal(int)
    batchProgress = Signal(int, object)  # job, core.batch.BatchProgress
    batchFinished = Signal(object)       # batch_jobs.BatchOutput (also when cancelled)
    reexported = Signal(object)          # batch_jobs.ReexportOutput
    detailReady = Signal(object)         # DetailOutput (no jobFinished: tiles are not user jobs)

    def __init__(self, pipeline_factory: Callable = _default_pipeline, loader: Callable = _default_loader):
        super().__init__()
        self._pipeline_factory = pipeline_factory
        self._loader = loader
        self._pipeline = None
        self._images: dict[tuple, Any] = {}

    def _ensure_pipeline(self):
        if self._pipeline is None:
            self._pipeline = self._pipeline_factory()
        return self._pipeline

    def _load(self, path: str):
        try:
            key = (path, os.stat(path).st_mtime_ns)
        except OSError:
            key = (path, None)
        if key not in self._images:
            if len(self._images) >= 4:  # photo + plate of this and the previous pair
                self._images.pop(next(iter(self._images)))
            self._images[key] = self._loader(path)
        return self._images[key]

    def _guard(self, job: int, work: Callable[[], None]) -> None:
        try:
            work()
        except Cancelled:
            self.cancelled.emit(job)
        except MattingError as err:
            if isinstance(err, SceneCheckError):
                self.sceneRefused.emit(job)  # trusting the plate may get past it
            self.failed.emit(job, str(err))
        except MemoryError:
            self.failed.emit(job, "Not enough memory for this image; close other programs or "
                                  "lower the working resolution.")
        except Exception as err:  # a bug, not bad input: keep the app alive and say what happened
            log.error("worker job %s failed:\n%s", job, traceback.format_exc())
            self.failed.emit(job, f"Unexpected error ({type(err).__name__}: {err}); "
                                  "please report it with the photo and plate.")
        finally:
            self.jobFinished.emit(job)

    @Slot(object)
    def run(self, request: RunRequest) -> None:
        self._guard(request.job, lambda: self._run(request))

    def _run(self, req: RunRequest) -> None:
        req.token.raise_if_cancelled()
        self.progress.emit(req.job, "load", 0.0)
        photo_image = self._load(req.photo_path)
        req.token.raise_if_cancelled()
        plate_image = self._load(req.plate_path)
        self._ensure_pipeline()
        photo, plate = photo_image.pixels, plate_image.pixels
        height, width = photo.shape[:2]
        megapixels = height * width / 1e6
        passes = [req.options]
        if req.preview_megapixels and megapixels > 1.5 * req.preview_megapixels:
            passes.insert(0, replace(req.options, max_megapixels=req.preview_megapixels))
        spans = [(0.05, 0.3), (0.3, 1.0)] if len(passes) == 2 else [(0.05, 1.0)]
        for options, (start, end) in zip(passes, spans):
            final = options is passes[-1]

            def progress(stage: str, fraction: float, start=start, end=end) -> None:
                self.progress.emit(req.job, stage, start + (end - start) * fraction)

            try:
                result = self._pipeline.run(photo, plate, options, progress=progress, cancel=req.token)
            except AlignmentError as err:
                raise err.with_path(req.plate_path) from None
            req.token.raise_if_cancelled()
            display = make_display_images(result, (width, height))
            session = None
            if final:
                session = TouchUpSession(result.photo, result.aligned_plate, result.alpha,
                                         result.foreground, valid=result.valid)
            out = RunOutput(req.job, final, result, display, images_for_display(display),
                            req.photo_path, req.plate_path, photo_image, session)
            self.resultReady.emit(out)
            if not final:
                # Let the GUI show the preview before the full-resolution pass competes with it for
                # the GIL and the cores: that is when the event loop stalled longest.
                out.shown.wait(PREVIEW_HANDOFF_S)
        self.progress.emit(req.job, "done", 1.0)

    @Slot(object)
    def touch_up(self, request: TouchUpRequest) -> None:
        def work() -> None:
            self.progress.emit(request.job, "touch-up", 0.1)
            region = request.session.apply(request.token)
            self.touchUpReady.emit(render_touchup(request.job, request.session, region, request.display_shape))
        self._guard(request.job, work)

    @Slot(object)
    def detail(self, request: DetailRequest) -> None:
        out = DetailOutput(request.job)
        try:
            if not request.token.cancelled:
                out = render_detail_output(request)
        except Exception:  # a missing tile only leaves the proxy on screen: log, do not interrupt the user
            log.error("detail tile %s failed:\n%s", request.job, traceback.format_exc())
        self.detailReady.emit(out if not request.token.cancelled else DetailOutput(request.job))

    @Slot(object)
    def export(self, request: ExportRequest) -> None:
        def work() -> None:
            from core.export import export_matte
            self.progress.emit(request.job, "export", 0.1)
            path = export_matte(Path(request.path), request.photo_image, request.alpha, request.foreground,
                                request.options, force=request.force)
            self.exported.emit(request.job, str(path))
        self._guard(request.job, work)

    @Slot(object)
    def batch(self, request: BatchRequest) -> None:
        def send(update) -> None:
            self.batchProgress.emit(request.job, update)

        def work() -> None:
            self.batchFinished.emit(run_batch_request(request, self._ensure_pipeline(), send))
        self._guard(request.job, work)

    @Slot(object)
    def reexport(self, request: ReexportRequest) -> None:
        def work() -> None:
            self.progress.emit(request.job, "export", 0.1)
            self.reexported.emit(reexport_matte(request))
        self._guard(request.job, work)


class Engine(QObject):
    """The GUI-thread side: starts the worker thread, numbers jobs, cancels them."""

    _runRequested = Signal(object)
    _touchUpRequested = Signal(object)
    _exportRequested = Signal(object)
    _batchRequested = Signal(object)
    _reexportRequested = Signal(object)
    _detailRequested = Signal(object)

    def __init__(self, parent: Optional[QObject] = None, pipeline_factory: Callable = _default_pipeline,
                 loader: Callable = _default_loader):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("matting-worker")
        self.worker = PipelineWorker(pipeline_factory, loader)
        self.worker.moveToThread(self.thread)
        self._runRequested.connect(self.worker.run)
        self._touchUpRequested.connect(self.worker.touch_up)
        self._exportRequested.connect(self.worker.export)
        self._batchRequested.connect(self.worker.batch)
        self._reexportRequested.connect(self.worker.reexport)
        self._detailRequested.connect(self.worker.detail)
        self._next_job = 0
        self.tokens: dict[int, CancelToken] = {}
        self.worker.jobFinished.connect(self._forget)
        self.thread.start()

    def _job(self) -> tuple[int, CancelToken]:
        self._next_job += 1
        token = CancelToken()
        self.tokens[self._next_job] = token
        return self._next_job, token

    @Slot(int)
    def _forget(self, job: int) -> None:
        self.tokens.pop(job, None)

    @property
    def busy(self) -> bool:
        return bool(self.tokens)

    def run(self, photo_path: str, plate_path: str, options: MatteOptions,
            preview_megapixels: Optional[float] = PREVIEW_MEGAPIXELS) -> int:
        job, token = self._job()
        self._runRequested.emit(RunRequest(job, str(photo_path), str(plate_path), options, token,
                                           preview_megapixels))
        return job

    def touch_up(self, session: TouchUpSession, display_shape: tuple) -> int:
        job, token = self._job()
        self._touchUpRequested.emit(TouchUpRequest(job, session, tuple(display_shape), token))
        return job

    def export(self, path: str, photo_image, alpha, foreground, options, force: bool = False) -> int:
        job, _ = self._job()
        self._exportRequested.emit(ExportRequest(job, str(path), photo_image, alpha, foreground, options, force))
        return job

    def batch(self, jobs, options: MatteOptions, export, force: bool, report_dir: str) -> int:
        """Cut ``jobs`` (``core.batch_plan.BatchJob``s) with the worker's Pipeline; report.html goes to ``report_dir``.

        The batch goes on past failing photos; ``cancel(job)`` stops it after the current step.
        """
        job, token = self._job()
        self._batchRequested.emit(BatchRequest(job, tuple(jobs), options, export, bool(force), str(report_dir),
                                               token))
        return job

    def reexport(self, path: str, photo_image, session: TouchUpSession, alignment_verdict: str, batch) -> int:
        """Write ``session``'s matte over the output ``path`` of ``batch`` (a ``BatchOutput``: its export
        options; its report is rewritten), replacing the file as the user asked, and judge it again."""
        job, _ = self._job()
        self._reexportRequested.emit(ReexportRequest(job, str(path), photo_image, session, alignment_verdict,
                                                     batch.export, batch))
        return job

    def detail(self, source: DetailSource, layers, box, shape) -> tuple[int, CancelToken]:
        """Ask for a detail tile (answered by ``worker.detailReady``); the caller cancels it by the
        returned token when the view moves on. Not a user job: ``busy`` and ``cancel`` ignore it."""
        self._next_job += 1
        token = CancelToken()
        self._detailRequested.emit(DetailRequest(self._next_job, source, tuple(layers), tuple(box),
                                                 tuple(shape), token))
        return self._next_job, token

    def cancel(self, job: Optional[int] = None) -> None:
        """Cancel one job, or every queued and running job."""
        for number, token in list(self.tokens.items()):
            if job is None or number == job:
                token.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self.cancel()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            # a stage runs until its next cancel check; destroying a running QThread would crash
            log.warning("the worker did not stop within %s ms; waiting for the current stage", timeout_ms)
            self.thread.wait()
