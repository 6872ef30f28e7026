"""Batch cutting: pair a folder of photos with plates, cut each with one Pipeline, report every one.

``plan_batch`` turns a folder (one plate for all, or plates named after their
photos) or a pairs CSV into ``BatchJob``s; ``run_batch`` runs them and returns a
``BatchResult`` of plain ``BatchItem``s (status, quality score, alignment,
seconds, small thumbnails) that the CLI and the app's Batch dialog both show.

Throughput on a 2-core machine: the calling thread runs the pipeline while one
loader thread decodes the next photo and one writer thread encodes the previous
cut-out (OpenCV, numpy and Pillow release the GIL there). Memory stays bounded:
at most one photo is decoded ahead and one write is pending. A failed image is
reported and skipped; cancelling (the token, or Ctrl+C) abandons the current
image, lets the pending write finish (outputs are written atomically, so no
partial file is ever left) and returns what was done.
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from .align import AlignmentReport
from .batch_plan import BatchJob, is_plate_name, natural_key, plan_batch  # noqa: F401  (re-exported)
from .errors import ImageWriteError, MattingError
from .export import ExportOptions, export_matte
from .imageio import LoadedImage, load_image, to_uint8
from .jobs import CancelToken, Cancelled
from .pipeline import MatteOptions, Pipeline
from .quality import QualityScore

OK, REVIEW, FAILED, SKIPPED = "ok", "needs review", "failed", "skipped"
STATUSES = (REVIEW, FAILED, OK, SKIPPED)  # the order a reviewer wants to see them in
THUMBNAIL_HEIGHT = 200


@dataclass(frozen=True)
class Thumbnails:
    """Small previews (about ``THUMBNAIL_HEIGHT`` pixels high) for reports and the app's batch list.

    photo: hxwx3 uint8 RGB. alpha: hxw uint8 (0 backdrop .. 255 product), or None without a matte.
    cutout: hxwx3 uint8 RGB, the cut-out over a grey checkerboard, or None without a matte.
    """

    photo: np.ndarray
    alpha: Optional[np.ndarray] = None
    cutout: Optional[np.ndarray] = None


@dataclass(frozen=True)
class BatchItem:
    """What happened to one job.

    status: "ok", "needs review", "failed" or "skipped". seconds: work spent on this
    photo (loading, pipeline, writing; they overlap with neighbouring photos).
    quality, method, alignment, notes: from the pipeline (None / () when it did not run).
    error: for "failed" the message naming the file, for "skipped" why (e.g. "exists").
    earlier: the figures come from an earlier run's report (the photo was skipped this time,
    its output kept; see ``core.report.carry_over``).
    """

    job: BatchJob
    status: str
    seconds: float
    quality: Optional[QualityScore] = None
    method: Optional[str] = None
    alignment: Optional[AlignmentReport] = None
    error: Optional[str] = None
    thumbnails: Optional[Thumbnails] = None
    notes: tuple = ()
    earlier: bool = False


@dataclass(frozen=True)
class BatchProgress:
    """One progress update, always sent from the thread that called ``run_batch``.

    done / total: finished jobs (skipped ones included) of all jobs. current: the name of
    the photo being cut, or None. stage / fraction: the pipeline stage and the overall
    completion in [0, 1]. elapsed / eta: seconds (eta None until a photo has finished).
    last: the item finished with this update (each item is sent exactly once), else None.
    """

    done: int
    total: int
    current: Optional[str]
    elapsed: float
    eta: Optional[float]
    last: Optional[BatchItem] = None
    stage: str = ""
    fraction: float = 0.0


@dataclass(frozen=True)
class BatchResult:
    """items: one per job reached, in job order (a cancelled batch lacks the rest);
    cancelled: stopped early; seconds: wall time; total: the number of jobs planned."""

    items: tuple
    cancelled: bool
    seconds: float
    total: int = 0

    def count(self, status: str) -> int:
        return sum(item.status == status for item in self.items)

    @property
    def processed(self) -> int:
        """Jobs the pipeline ran on (everything but the skipped and the earlier results)."""
        return sum(item.status != SKIPPED and not item.earlier for item in self.items)


# ---------------------------------------------------------------------------------------------- running

ProgressCallback = Callable[[BatchProgress], None]


def run_batch(jobs: Sequence[BatchJob], *, options: MatteOptions = MatteOptions(),
              export: ExportOptions = ExportOptions(), force: bool = False, pipeline: Optional[Pipeline] = None,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> BatchResult:
    """Cut every job's photo, write its output atomically and judge it; see the module docstring.

    A job whose output exists is skipped unless ``force``. A failing photo (MattingError
    or any other exception) becomes a "failed" item and the batch goes on. ``cancel`` (or
    KeyboardInterrupt) stops the batch cleanly: the result has ``cancelled=True`` and the
    items done so far. ``progress`` is called from this thread only (an exception it raises
    stops the batch and propagates). Raises ModelError before any work when
    ``options.method`` asks for networks that are not installed.
    """
    pipeline = pipeline if pipeline is not None else Pipeline()
    pipeline.candidate_methods(options.method)  # missing weights: one error, not one per photo
    return _BatchRun(list(jobs), options, export, force, pipeline, progress, cancel).run()


def make_thumbnails(photo: np.ndarray, alpha: Optional[np.ndarray] = None,
                    foreground: Optional[np.ndarray] = None, height: int = THUMBNAIL_HEIGHT) -> Thumbnails:
    """``Thumbnails`` of a photo (HxWx3 float32 [0, 1]) and, when given, its alpha (HxW float32
    [0, 1]) and foreground (HxWx3 float32, straight), at most ``height`` pixels high."""
    h, w = photo.shape[:2]
    scale = min(1.0, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    if alpha is None or foreground is None:
        return Thumbnails(photo=to_uint8(small))
    a = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)[..., None]
    f = cv2.resize(foreground, size, interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    checker = np.where(((yy // 8 + xx // 8) % 2 == 0)[..., None], np.float32(0.82), np.float32(0.62))
    cutout = a * f + (1.0 - a) * checker
    return Thumbnails(photo=to_uint8(small), alpha=to_uint8(a[..., 0]), cutout=to_uint8(cutout.astype(np.float32)))


def _failure(job: BatchJob, err: BaseException) -> str:
    if isinstance(err, MattingError):
        return str(err.with_path(job.photo))
    return f"{job.photo}: {type(err).__name__}: {err}"


@dataclass(frozen=True)
class _Matte:
    """What the writer thread needs of a MatteResult (so the rest of it can be freed)."""

    photo: LoadedImage
    alpha: np.ndarray
    foreground: np.ndarray
    quality: QualityScore
    method: str
    alignment: AlignmentReport
    notes: tuple
    seconds: float


class _BatchRun:
    def __init__(self, jobs, options, export, force, pipeline, progress, cancel):
        self.jobs, self.options, self.export, self.force = jobs, options, export, force
        self.pipeline, self.progress, self.cancel = pipeline, progress, cancel
        self.items: dict[int, BatchItem] = {}
        self.started = time.perf_counter()
        self.work_started: Optional[float] = None
        self.processed = 0
        self.to_process = 0
        self.fraction = 0.0
        self.writing: Optional[tuple] = None  # the pending write, for the progress fraction
        self._plate: Optional[tuple] = None  # (key, LoadedImage): the loader thread's one-plate cache

    # -- progress --------------------------------------------------------------------------
    def emit(self, current: Optional[str], stage: str = "", image_fraction: float = 0.0,
             last: Optional[BatchItem] = None) -> None:
        if self.progress is None:
            return
        now = time.perf_counter()
        eta = None
        if self.processed and self.work_started is not None:
            per_image = (now - self.work_started) / self.processed
            eta = max(0.0, per_image * (self.to_process - self.processed - image_fraction))
        done = len(self.items)
        cut = done + (self.writing is not None and self.writing[0] not in self.items)  # being written: cut
        self.fraction = max(self.fraction, min(1.0, (cut + image_fraction) / max(1, len(self.jobs))))
        self.progress(BatchProgress(done=done, total=len(self.jobs), current=current, elapsed=now - self.started,
                                    eta=eta, last=last, stage=stage, fraction=self.fraction))

    def finish(self, index: int, item: BatchItem, worked: bool = True) -> None:
        self.items[index] = item
        self.processed += worked
        self.emit(None, last=item)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> BatchResult:
        work = []
        for index, job in enumerate(self.jobs):
            if job.output.resolve() in (job.photo.resolve(), job.plate.resolve()):
                error = f"{job.output}: would overwrite an input; choose another output folder or name"
                self.finish(index, BatchItem(job, FAILED, 0.0, error=error), worked=False)
            elif not self.force and job.output.exists():
                self.finish(index, BatchItem(job, SKIPPED, 0.0, error="exists"), worked=False)
            else:
                work.append((index, job))
        self.to_process = len(work)
        cancelled = False
        loader = ThreadPoolExecutor(1, thread_name_prefix="batch-load")
        writer = ThreadPoolExecutor(1, thread_name_prefix="batch-write")
        next_load: Optional[Future] = None
        pending: Optional[tuple] = None  # (index, Future[BatchItem]): at most one write in flight
        try:
            self.work_started = time.perf_counter()
            if work:
                next_load = loader.submit(self._load, work[0][1])
            for k, (index, job) in enumerate(work):
                if self.cancel is not None and self.cancel.cancelled:
                    cancelled = True
                    break
                self.emit(job.photo.name, "load")
                loading, next_load = next_load, None
                try:
                    photo, plate, load_seconds = loading.result()
                except Exception as err:  # noqa: BLE001 - any failure of one photo is reported, not fatal
                    photo, failure = None, err
                del loading  # the future would keep the decoded photo alive
                # decode the next photo while this one is cut (at most one ahead)
                if k + 1 < len(work):
                    next_load = loader.submit(self._load, work[k + 1][1])
                if photo is None:
                    self.finish(index, BatchItem(job, FAILED, 0.0, error=_failure(job, failure)))
                    continue
                matte = self._cut(index, job, photo, plate, load_seconds)
                del photo, plate
                if matte is None:
                    continue
                self._collect(pending)
                pending = self.writing = (index, writer.submit(self._write, job, matte))
                del matte
        except Cancelled:
            cancelled = True
        except KeyboardInterrupt:
            cancelled = True
        finally:
            if next_load is not None:
                next_load.cancel()
            try:
                self._collect(pending)  # a finished cut-out is worth its few seconds of writing
            except KeyboardInterrupt:  # a second Ctrl+C: stop waiting here, the thread still finishes
                cancelled = True
            finally:
                loader.shutdown(wait=True, cancel_futures=True)
                writer.shutdown(wait=True, cancel_futures=True)
                self._plate = None
                self._record_quietly(pending)
        items = tuple(self.items[i] for i in sorted(self.items))
        return BatchResult(items=items, cancelled=cancelled, seconds=time.perf_counter() - self.started,
                           total=len(self.jobs))

    def _cut(self, index: int, job: BatchJob, photo: LoadedImage, plate: LoadedImage,
             load_seconds: float) -> Optional[_Matte]:
        """The pipeline on one photo; None (and a failed item) when it fails. Cancelled propagates."""
        start = time.perf_counter()

        def stage_progress(stage: str, fraction: float) -> None:
            self.emit(job.photo.name, stage, fraction)

        try:
            result = self.pipeline.run(photo.pixels, plate.pixels, self.options, progress=stage_progress,
                                       cancel=self.cancel)
        except Cancelled:
            raise
        except Exception as err:  # noqa: BLE001 - reported with its type, the batch goes on
            seconds = load_seconds + time.perf_counter() - start
            thumbnails = make_thumbnails(photo.pixels)
            self.finish(index, BatchItem(job, FAILED, seconds, error=_failure(job, err), thumbnails=thumbnails))
            return None
        return _Matte(photo=photo, alpha=result.alpha, foreground=result.foreground, quality=result.quality,
                      method=result.method, alignment=result.alignment, notes=tuple(result.notes),
                      seconds=load_seconds + time.perf_counter() - start)

    def _collect(self, pending: Optional[tuple]) -> None:
        """Wait for the pending write and record its item (once)."""
        if pending is not None and pending[0] not in self.items:
            index, future = pending
            self.finish(index, future.result())

    def _record_quietly(self, pending: Optional[tuple]) -> None:
        """Record a write that finished after the wait for it was interrupted, so the report lists its file."""
        if pending is None or pending[0] in self.items:
            return
        index, future = pending
        if future.done() and not future.cancelled() and future.exception() is None:
            self.items[index] = future.result()

    # -- worker threads ------------------------------------------------------------------------
    def _load(self, job: BatchJob) -> tuple:
        start = time.perf_counter()
        photo = load_image(job.photo)
        try:
            stat = job.plate.stat()
            key = (job.plate.resolve(), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None
        if key is not None and self._plate is not None and self._plate[0] == key:
            plate = self._plate[1]  # one plate for the whole folder: decoded once
        else:
            self._plate = None  # free the old plate before decoding the new one
            plate = load_image(job.plate)
            self._plate = (key, plate) if key is not None else None
        return photo, plate, time.perf_counter() - start

    def _write(self, job: BatchJob, matte: _Matte) -> BatchItem:
        start = time.perf_counter()
        status, error, thumbnails = (REVIEW if matte.quality.needs_review else OK), None, None
        try:
            thumbnails = make_thumbnails(matte.photo.pixels, matte.alpha, matte.foreground)
            try:
                job.output.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ImageWriteError(f"the output folder cannot be created ({exc.strerror or exc}); "
                                      "choose a folder you can write to", job.output) from None
            export_matte(job.output, matte.photo, matte.alpha, matte.foreground, self.export, force=self.force)
        except Exception as err:  # noqa: BLE001 - a failed write fails this photo only
            if isinstance(err, ImageWriteError) and not self.force and job.output.exists():
                status, error = SKIPPED, "exists"  # written meanwhile by another batch
            else:
                status, error = FAILED, _failure(job, err)
        return BatchItem(job, status, matte.seconds + time.perf_counter() - start, quality=matte.quality,
                         method=matte.method, alignment=matte.alignment, error=error, thumbnails=thumbnails,
                         notes=matte.notes)
