"""Batch work the worker thread does: a whole batch (``core.batch.run_batch`` + report) and a re-export.

Requests and outputs are frozen dataclasses of plain data (core dataclasses, numpy arrays, QImages,
which are safe to build off the GUI thread); nothing here touches a widget. ``PipelineWorker`` calls
these functions with its one Pipeline, so a batch loads the models once, like a single photo.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from core.errors import MattingError
from core.jobs import CancelToken

from .qimage import qimage_from_array

#: The least time between two progress signals without a finished photo (the pipeline reports often).
PROGRESS_INTERVAL_S = 0.1
TOUCHED_UP_NOTE = "touched up in the editor and re-exported"


@dataclass(frozen=True)
class BatchRequest:
    """Run ``jobs`` (``core.batch_plan.BatchJob``s) and write report.csv / report.html into ``report_dir``."""

    job: int
    jobs: tuple
    options: Any   # core.pipeline.MatteOptions
    export: Any    # core.export.ExportOptions
    force: bool
    report_dir: str
    token: CancelToken


@dataclass(frozen=True)
class BatchOutput:
    """A finished or cancelled batch.

    result: ``core.batch.BatchResult`` (items in job order). options / export: what it ran with
    (a re-export of one of its photos uses the same export). report_dir: the folder of the report.
    report_html / report_csv: the report files, None when they could not be written (report_error
    says why). thumbnails: one QImage per result item (the cut-out over a checkerboard, else the
    photo; for a photo an earlier run cut, the earlier report's, else read from its files), None without any.
    """

    job: int
    result: Any
    options: Any
    export: Any
    report_dir: str
    report_html: Optional[str]
    report_csv: Optional[str]
    report_error: Optional[str]
    thumbnails: tuple


@dataclass(frozen=True)
class ReexportRequest:
    """Write the touch-up session's matte to a batch output ``path`` (replacing it) and judge it again.

    session: a ``core.touchup.TouchUpSession`` only read here (the editor is locked meanwhile).
    batch: the ``BatchOutput`` the path belongs to, whose report is then rewritten (None: no report).
    """

    job: int
    path: str
    photo_image: Any   # core.imageio.LoadedImage
    session: Any
    alignment_verdict: str
    export: Any
    batch: Optional[BatchOutput] = None


@dataclass(frozen=True)
class ReexportOutput:
    """path: the file written; quality: ``core.quality.QualityScore`` of the touched-up matte.
    result: the batch's ``BatchResult`` with this photo's item updated (its report was rewritten
    from it, unless report_error says why not); None without a batch."""

    job: int
    path: str
    quality: Any
    thumbnail: Optional[Any] = None  # QImage
    result: Any = None
    report_error: Optional[str] = None


def thumbnail_image(thumbnails) -> Optional[Any]:
    """A QImage of a ``core.batch.Thumbnails`` (the cut-out, else the photo), or None."""
    if thumbnails is None:
        return None
    picture = thumbnails.cutout if thumbnails.cutout is not None else thumbnails.photo
    return qimage_from_array(picture) if picture is not None else None


def throttled(send: Callable[[Any], None], interval: float = PROGRESS_INTERVAL_S) -> Callable[[Any], None]:
    """A ``run_batch`` progress callback passing on every finished photo and every photo started, and
    other updates (pipeline stages) at most once per ``interval`` seconds."""
    last = {"time": float("-inf"), "current": None}

    def progress(update) -> None:
        now = time.monotonic()
        started = update.current is not None and update.current != last["current"]
        if update.last is not None or started or now - last["time"] >= interval:
            last["time"] = now
            last["current"] = update.current or last["current"]
            send(update)
    return progress


def run_batch_request(request: BatchRequest, pipeline, send_progress: Callable[[Any], None]) -> BatchOutput:
    """Run the batch with ``pipeline``, write its report (also when cancelled: it lists what was done)."""
    from core.batch import run_batch
    from core.report import with_earlier_results, write_report

    result = run_batch(request.jobs, options=request.options, export=request.export, force=request.force,
                       pipeline=pipeline, progress=throttled(send_progress), cancel=request.token)
    # a resumed batch: the photos it skipped keep their earlier figures, so flagged ones stay in the list,
    # with the earlier report's thumbnails, else read from their files (a Cancel meanwhile stops the reading)
    result = with_earlier_results(result, request.report_dir, cancel=request.token)
    html = csv = error = None
    try:
        csv_path, html_path = write_report(result, request.report_dir)
        html, csv = str(html_path), str(csv_path)
    except MattingError as err:  # the cut-outs are written; say why the report is not
        error = str(err)
    thumbnails = tuple(thumbnail_image(item.thumbnails) for item in result.items)
    return BatchOutput(request.job, result, request.options, request.export, request.report_dir, html, csv, error,
                       thumbnails)


def reexport_matte(request: ReexportRequest) -> ReexportOutput:
    """Export the session's alpha and foreground over the batch output (atomically) and score them."""
    from core.batch import make_thumbnails
    from core.export import export_matte
    from core.quality import score_matte

    session = request.session
    path = export_matte(Path(request.path), request.photo_image, session.alpha, session.foreground,
                        request.export, force=True)
    valid = session.valid if session.valid is not None else np.ones(session.alpha.shape, bool)
    quality = score_matte(session.photo, session.aligned_plate, valid, session.alpha, session.foreground,
                          request.alignment_verdict)
    thumbnails = make_thumbnails(session.photo, session.alpha, session.foreground)
    result = error = None
    if request.batch is not None:
        from core.report import write_report

        result = with_fix(request.batch.result, path, quality, thumbnails)
        try:
            write_report(result, request.batch.report_dir)
        except MattingError as err:
            error = str(err)
    return ReexportOutput(request.job, str(path), quality, thumbnail_image(thumbnails), result, error)


def with_fix(result, output: Path, quality, thumbnails):
    """``result`` (a ``core.batch.BatchResult``) with the item writing ``output`` re-judged after a touch-up."""
    from core.batch import OK, REVIEW

    def fixed(item):
        notes = item.notes if TOUCHED_UP_NOTE in item.notes else (*item.notes, TOUCHED_UP_NOTE)
        return replace(item, status=REVIEW if quality.needs_review else OK, quality=quality, error=None,
                       thumbnails=thumbnails, notes=notes)

    items = tuple(fixed(item) if Path(item.job.output) == Path(output) else item for item in result.items)
    return replace(result, items=items)
