"""The batch report: ``report.csv`` for spreadsheets and ``report.html``, a contact sheet.

The contact sheet is one self-contained file (thumbnails embedded as base64 JPEG)
that opens in any browser without a server. Both files list the photos that need
review first (lowest quality score first), then the failures, then the rest, and
are written atomically.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote

import cv2
import numpy as np

from .align import AlignmentReport
from .batch import (FAILED, OK, REVIEW, SKIPPED, STATUSES, THUMBNAIL_HEIGHT, BatchItem, BatchJob, BatchResult,
                    Thumbnails, make_thumbnails)
from .errors import ImageWriteError
from .imageio import load_image
from .imagewrite import atomic_output
from .jobs import CancelToken
from .quality import QualityScore

COLUMNS = ("photo", "plate", "output", "status", "quality", "recomposition_error", "leakage", "reasons", "method",
           "alignment", "residual_px", "inliers", "seconds", "error", "notes")
CSV_NAME, HTML_NAME = "report.csv", "report.html"
EARLIER_NOTE = "from an earlier run (its output was kept)"


def order_for_review(items: Sequence[BatchItem]) -> list[BatchItem]:
    """Items needing review first (worst quality score first), then failed, ok and skipped, each in job order."""
    rank = {status: i for i, status in enumerate(STATUSES)}

    def key(pair):
        position, item = pair
        score = item.quality.score if item.status == REVIEW and item.quality is not None else 0.0
        return rank.get(item.status, len(rank)), score, position

    return [item for _, item in sorted(enumerate(items), key=key)]


def _number(value: Optional[float], digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}"


def report_row(item: BatchItem) -> dict:
    """One CSV row (column -> text) for ``item``."""
    q, a = item.quality, item.alignment
    return {
        "photo": str(item.job.photo), "plate": str(item.job.plate), "output": str(item.job.output),
        "status": item.status,
        "quality": _number(q.score if q else None, 3),
        "recomposition_error": _number(q.recomposition_error if q else None, 4),
        "leakage": _number(q.leakage if q else None, 4),
        "reasons": "; ".join(q.reasons) if q else "",
        "method": item.method or "",
        "alignment": a.verdict if a else "",
        "residual_px": _number(a.residual_px if a else None, 2),
        "inliers": str(a.inliers) if a else "",
        "seconds": _number(item.seconds, 2),
        "error": item.error or "",
        "notes": "; ".join(item.notes),
    }


def write_report_csv(items: Sequence[BatchItem], path) -> Path:
    """``COLUMNS`` with a header, one row per item in review order; written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in order_for_review(items):
        writer.writerow(report_row(item))
    return _write_text(Path(path), buffer.getvalue())


def write_report(result: BatchResult, folder) -> tuple[Path, Path]:
    """``report.csv`` and ``report.html`` in ``folder`` (created if needed); returns both paths.

    A photo skipped because its output exists keeps the figures an earlier
    ``report.csv`` in ``folder`` gave it (see ``carry_over``), and thumbnails read from
    its photo and output, so a resumed batch still shows the photos that need review.
    """
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"the report folder cannot be created ({exc.strerror or exc}); "
                              "choose a folder you can write to", folder) from None
    result = with_earlier_results(result, folder)
    return (write_report_csv(result.items, folder / CSV_NAME),
            write_report_html(result, folder / HTML_NAME))


def with_earlier_results(result: BatchResult, folder, cancel: Optional[CancelToken] = None) -> BatchResult:
    """``result`` with its skipped photos' earlier results from ``folder``'s report.csv (see ``carry_over``).

    Their thumbnails are read from their files, unless the batch was cancelled (``result.cancelled``
    or ``cancel``, checked before each photo): a stopped batch reports at once.
    """
    earlier = read_report_csv(Path(folder) / CSV_NAME)
    pictures = read_report_thumbnails(Path(folder) / HTML_NAME) if not result.cancelled else {}
    items = carry_over(result.items, earlier, thumbnails=not result.cancelled, cancel=cancel, pictures=pictures)
    return replace(result, items=tuple(items))


def read_report_csv(path) -> dict:
    """Rows of an earlier ``report.csv`` by output path (column -> text); {} when absent or unreadable."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return {row["output"]: row for row in csv.DictReader(handle) if row.get("output")}
    except (OSError, UnicodeDecodeError, csv.Error, KeyError):
        return {}


def _float(text: str, default: float = math.nan) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def carry_over(items: Sequence[BatchItem], earlier: dict, thumbnails: bool = True,
               cancel: Optional[CancelToken] = None, pictures: Optional[dict] = None) -> list[BatchItem]:
    """``items`` with every skipped one (output exists) replaced by its earlier result, when
    ``earlier`` (see ``read_report_csv``) has one for the same output that was "ok" or "needs review".

    With ``thumbnails``, a replaced item gets the thumbnails the earlier report showed
    (``pictures``, see ``read_report_thumbnails``), or else reads them from its photo and
    output (``read_thumbnails``, about 2 s at 24 MP; only these items are read), unless
    ``cancel`` is cancelled by then.
    """
    earlier_pictures = pictures or {}
    merged = []
    for item in items:
        row = earlier.get(str(item.job.output)) if item.status == SKIPPED else None
        if row is None or row.get("status") not in (OK, REVIEW) or not item.job.output.exists():
            merged.append(item)
            continue
        reasons = tuple(r for r in row.get("reasons", "").split("; ") if r)
        quality = QualityScore(score=_float(row.get("quality"), 0.0),
                               recomposition_error=_float(row.get("recomposition_error"), 0.0),
                               leakage=_float(row.get("leakage"), 0.0), needs_review=row["status"] == REVIEW,
                               reasons=reasons)
        alignment = None
        if row.get("alignment"):
            inliers = int(_float(row.get("inliers"), 0.0))
            alignment = AlignmentReport(homography=np.eye(3), matches=inliers, inliers=inliers,
                                        inlier_fraction=math.nan, residual_px=_float(row.get("residual_px")),
                                        gain=np.ones(3), verdict=row["alignment"], message="")
        notes = tuple(n for n in row.get("notes", "").split("; ") if n and n != EARLIER_NOTE)
        pictures = item.thumbnails
        if pictures is None and thumbnails and not (cancel is not None and cancel.cancelled):
            pictures = earlier_pictures.get(str(item.job.output)) or read_thumbnails(item.job)
        merged.append(replace(item, status=row["status"], seconds=_float(row.get("seconds"), 0.0),
                              quality=quality, method=row.get("method") or None, alignment=alignment,
                              error=None, thumbnails=pictures, notes=notes + (EARLIER_NOTE,), earlier=True))
    return merged


def read_thumbnails(job: BatchJob, height: int = THUMBNAIL_HEIGHT) -> Optional[Thumbnails]:
    """``Thumbnails`` of a photo an earlier run cut, from the files on disk, as ``make_thumbnails``
    makes them for a fresh cut: the photo's from ``job.photo``, the alpha and the cut-out from the
    alpha channel and (straight) colours of ``job.output``.

    Photo only when the output cannot be read or has no alpha channel (a composite over a
    background, an alpha-only export); None when the photo cannot be read; never raises for a bad
    file. A cropped output gives the alpha and cut-out of its crop. Both files are decoded whole, one
    after the other (``load_image`` reads full size; PNG and WebP have no downscaled decoding anyway).
    """
    try:
        thumbnails = make_thumbnails(load_image(job.photo).pixels, height=height)
    except Exception:  # noqa: BLE001 - a photo moved or damaged since only loses its thumbnail
        return None
    try:
        output = load_image(job.output)
        if output.alpha is None:
            return thumbnails
        cut = make_thumbnails(output.pixels, output.alpha, output.pixels, height=height)
    except Exception:  # noqa: BLE001 - as above: the photo's thumbnail is still worth showing
        return thumbnails
    return replace(thumbnails, alpha=cut.alpha, cutout=cut.cutout)


def summarize(result: BatchResult) -> str:
    """"12 photos: 9 ok, 2 need review, 1 failed in 1m40s (7.2 images/min)" (cancelled: "5 of 12 photos")."""
    counts = [(result.count(OK), "ok"), (result.count(REVIEW), "need review"), (result.count(FAILED), "failed"),
              (result.count(SKIPPED), "skipped (output exists)")]
    parts = ", ".join(f"{n} {what}" for n, what in counts if n) or "nothing done"
    earlier = sum(item.earlier for item in result.items)
    if earlier:
        parts += f" ({earlier} of them cut by an earlier run)"
    done = f"{len(result.items)} of {result.total}" if result.cancelled else f"{result.total}"
    rate = ""
    if result.processed and result.seconds > 0:
        rate = f" ({60.0 * result.processed / result.seconds:.1f} images/min)"
    return f"{done} photos: {parts} in {format_duration(result.seconds)}{rate}"


def format_duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


# ---------------------------------------------------------------------------------------------- HTML

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
td, th { border-bottom: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: top; }
td.pic { padding: 4px; }
img { height: 200px; max-width: 320px; object-fit: contain; display: block; background: #eee; }
tr.needs-review td.info { border-left: 4px solid #e0a000; }
tr.failed td.info { border-left: 4px solid #c62828; }
tr.ok td.info { border-left: 4px solid #2e7d32; }
tr.skipped td.info { border-left: 4px solid #999; }
.status { font-weight: bold; text-transform: uppercase; font-size: 12px; }
.error { color: #c62828; }
.muted { color: #666; }
"""


def _data_uri(image: Optional[np.ndarray]) -> Optional[str]:
    """A base64 JPEG data URI of an hxwx3 RGB or hxw grey uint8 image (None passes through)."""
    if image is None:
        return None
    array = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, encoded = cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _picture(image: Optional[np.ndarray], alt: str, kind: str) -> str:
    uri = _data_uri(image)
    if uri is None:
        return '<td class="pic muted">&ndash;</td>'
    return f'<td class="pic"><img data-kind="{kind}" src="{uri}" alt="{html.escape(alt)}"></td>'


_ROW = re.compile(r'<tr class="[^"]*" data-output="([^"]*)" data-output-mtime="(\d*)">(.*?)</tr>', re.S)
_IMAGE = re.compile(r'<img data-kind="(photo|alpha|cutout)" src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"')


def _mtime(path: Path) -> str:
    try:
        return str(path.stat().st_mtime_ns)
    except OSError:
        return ""


def read_report_thumbnails(path) -> dict:
    """{output path (str): Thumbnails} embedded in an earlier ``report.html`` (empty when absent or
    unreadable), for the outputs still as they were then (same modification time); a resumed batch
    shows them for the photos it skips instead of decoding their files."""
    try:
        page = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    found = {}
    for output, mtime, cells in _ROW.findall(page):
        output = html.unescape(output)
        if not mtime or _mtime(Path(output)) != mtime:  # re-exported or touched up since: stale pictures
            continue
        images = {}
        for kind, data in _IMAGE.findall(cells):
            try:
                buffer = np.frombuffer(base64.b64decode(data, validate=True), np.uint8)
            except ValueError:
                continue
            image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE if kind == "alpha" else cv2.IMREAD_COLOR)
            if image is not None:
                images[kind] = image if kind == "alpha" else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if "photo" in images:
            found[output] = Thumbnails(images["photo"], images.get("alpha"), images.get("cutout"))
    return found


def _link(path: Path, folder: Path) -> str:
    try:
        target = os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # another drive on Windows
        target = path.resolve().as_uri()
    return quote(Path(target).as_posix())


def _row(item: BatchItem, folder: Path) -> str:
    thumbs, q, a = item.thumbnails, item.quality, item.alignment
    name = html.escape(item.job.photo.name)
    cells = [_picture(thumbs.photo if thumbs else None, f"photo {item.job.photo.name}", "photo"),
             _picture(thumbs.alpha if thumbs else None, "alpha", "alpha"),
             _picture(thumbs.cutout if thumbs else None, "cut-out", "cutout")]
    lines = [f'<span class="status">{html.escape(item.status)}</span>']
    if item.status in (OK, REVIEW) or (item.status == SKIPPED and item.job.output.exists()):
        lines.append(f'<a href="{_link(item.job.output, folder)}">{name}</a>')
    else:
        lines.append(name)
    if q is not None:
        lines.append(f"quality {q.score:.2f} &middot; recomposition error {q.recomposition_error:.1%} "
                     f"&middot; leakage {q.leakage:.1%}")
    if a is not None:
        residual = "n/a (plain backdrop)" if math.isnan(a.residual_px) else f"{a.residual_px:.2f} px"
        lines.append(f"alignment {html.escape(a.verdict)}, residual {residual}, {a.inliers} inliers")
    if item.method:
        lines.append(f"{html.escape(item.method)} &middot; {item.seconds:.1f} s")
    reasons = list(q.reasons) if q is not None else []
    lines.extend(f"&bull; {html.escape(r)}" for r in reasons)
    lines.extend(f'<span class="muted">note: {html.escape(n)}</span>' for n in item.notes)
    if item.error and item.status == FAILED:
        lines.append(f'<span class="error">{html.escape(item.error)}</span>')
    elif item.error:
        lines.append(f'<span class="muted">{html.escape(item.status)}: {html.escape(item.error)}</span>')
    css = item.status.replace(" ", "-")
    output = html.escape(str(item.job.output))
    return (f'<tr class="{css}" data-output="{output}" data-output-mtime="{_mtime(item.job.output)}">'
            f'{"".join(cells)}<td class="info">{"<br>".join(lines)}</td></tr>')


def write_report_html(result: BatchResult, path) -> Path:
    """The contact sheet for ``result`` (photo, alpha and cut-out thumbnails, figures), written atomically."""
    path = Path(path)
    title = "Matting Studio batch report"
    status = " (interrupted)" if result.cancelled else ""
    summary = summarize(result)
    rows = "\n".join(_row(item, path.parent) for item in order_for_review(result.items))
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{title}{status}</h1>\n"
            f"<p>{html.escape(summary)}. Written {time.strftime('%Y-%m-%d %H:%M')}; photos that "
            "need review come first.</p>\n<table>\n<thead><tr><th>Photo</th><th>Alpha</th><th>Cut-out</th>"
            f"<th>Result</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n</body>\n</html>\n")
    return _write_text(path, page)


def _write_text(path: Path, text: str) -> Path:
    with atomic_output(path, force=True) as temp:
        with open(temp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return path
