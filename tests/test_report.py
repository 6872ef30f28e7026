"""The batch report: CSV columns and order, a self-contained HTML contact sheet, atomic writes."""
from __future__ import annotations

import base64
import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import render_scene
from core.align import AlignmentReport
from core.batch import FAILED, OK, REVIEW, SKIPPED, BatchItem, BatchJob, BatchResult, make_thumbnails
from core.quality import QualityScore
from core.report import COLUMNS, order_for_review, summarize, write_report


def _alignment(verdict="ok", residual=0.4):
    return AlignmentReport(homography=np.eye(3), matches=200, inliers=150, inlier_fraction=0.75,
                           residual_px=residual, gain=np.ones(3), verdict=verdict, message="fine")


def _item(folder: Path, name: str, status: str, score=None, error=None) -> BatchItem:
    job = BatchJob(folder / f"{name}.jpg", folder / "plate.jpg", folder / "out" / f"{name}.png")
    if status in (OK, REVIEW):
        photo, _, alpha = render_scene(60, 80, seed=len(name))
        reasons = ("9% of the product's area does not recompose the photo",) if status == REVIEW else ()
        quality = QualityScore(score, 0.09 if status == REVIEW else 0.0, 0.01, status == REVIEW, reasons)
        return BatchItem(job, status, 2.5, quality=quality, method="classical", alignment=_alignment(),
                         thumbnails=make_thumbnails(photo, alpha, photo), notes=("a note <b>",))
    return BatchItem(job, status, 0.1, error=error)


@pytest.fixture
def result(tmp_path):
    items = (_item(tmp_path, "IMG_1", OK, 0.95),
             _item(tmp_path, "IMG_2", REVIEW, 0.55),
             _item(tmp_path, "IMG_3", FAILED, error=f"{tmp_path / 'IMG_3.jpg'}: is not a readable image"),
             _item(tmp_path, "IMG_4", SKIPPED, error="exists"),
             _item(tmp_path, "IMG_5", REVIEW, 0.21),
             _item(tmp_path, "IMG_6", OK, 0.90))
    return BatchResult(items=items, cancelled=False, seconds=12.0, total=6)


def test_review_order_puts_attention_first(result):
    names = [i.job.photo.stem for i in order_for_review(result.items)]
    assert names == ["IMG_5", "IMG_2", "IMG_3", "IMG_1", "IMG_6", "IMG_4"]  # worst review first, then failures


def test_csv_columns_and_rows(result, tmp_path):
    csv_path, _ = write_report(result, tmp_path / "reports")
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS
    assert [r["status"] for r in rows] == [REVIEW, REVIEW, FAILED, OK, OK, SKIPPED]
    review = rows[0]
    assert review["photo"].endswith("IMG_5.jpg") and review["output"].endswith("IMG_5.png")
    assert float(review["quality"]) == pytest.approx(0.21) and float(review["recomposition_error"]) > 0
    assert review["alignment"] == "ok" and review["residual_px"] == "0.40" and review["inliers"] == "150"
    assert "recompose" in review["reasons"] and review["method"] == "classical" and float(review["seconds"]) > 0
    assert "not a readable image" in rows[2]["error"] and rows[2]["quality"] == ""
    assert rows[-1]["error"] == "exists"


class _Sheet(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.images, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class"):
            self.rows.append(attrs["class"])
        if tag == "img":
            self.images.append((len(self.rows), attrs["src"]))


def test_html_is_a_self_contained_contact_sheet(result, tmp_path):
    _, html_path = write_report(result, tmp_path / "reports")
    text = html_path.read_text(encoding="utf-8")
    sheet = _Sheet()
    sheet.feed(text)
    sheet.close()
    assert sheet.rows == ["needs-review", "needs-review", "failed", "ok", "ok", "skipped"]
    assert all(src.startswith("data:image/jpeg;base64,") for _, src in sheet.images)
    assert {row for row, _ in sheet.images} == {1, 2, 4, 5}  # three pictures for each cut photo
    assert len(sheet.images) == 12
    picture = Image.open(io.BytesIO(base64.b64decode(sheet.images[0][1].split(",", 1)[1])))
    assert picture.size[1] == 60  # thumbnails of small photos stay at their size
    assert "http" not in text.replace("http-equiv", "")  # nothing to fetch
    assert "quality 0.21" in text and "0.40 px" in text and "a note &lt;b&gt;" in text
    assert "6 photos" in text and "1 failed" in text


def test_summary_and_atomic_rewrite(result, tmp_path):
    folder = tmp_path / "reports"
    write_report(result, folder)
    interrupted = BatchResult(items=result.items[:2], cancelled=True, seconds=90.0, total=6)
    write_report(interrupted, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["report.csv", "report.html"]  # no temporary files left
    assert "(interrupted)" in (folder / "report.html").read_text(encoding="utf-8")
    text = summarize(interrupted)
    assert text.startswith("2 of 6 photos: 1 ok, 1 need review in 1m30s")
    assert "1.3 images/min" in text


def test_a_resumed_batch_lists_the_earlier_results_of_the_photos_it_skipped(result, tmp_path):
    folder = tmp_path / "reports"
    write_report(result, folder)
    for item in result.items:  # the first run wrote these outputs
        item.job.output.parent.mkdir(parents=True, exist_ok=True)
        item.job.output.write_bytes(b"png")
    rerun = BatchResult(items=tuple(_item(tmp_path, i.job.photo.stem, SKIPPED, error="exists") if i.status != FAILED
                                    else i for i in result.items), cancelled=False, seconds=0.5, total=6)
    csv_path, html_path = write_report(rerun, folder)
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = {Path(r["photo"]).stem: r for r in csv.DictReader(f)}
    assert [rows[n]["status"] for n in ("IMG_1", "IMG_2", "IMG_3", "IMG_4", "IMG_5")] == [OK, REVIEW, FAILED, SKIPPED, REVIEW]
    assert rows["IMG_5"]["quality"] == "0.210" and rows["IMG_2"]["residual_px"] == "0.40"
    assert "recompose" in rows["IMG_2"]["reasons"] and "earlier run" in rows["IMG_2"]["notes"]
    page = html_path.read_text(encoding="utf-8")
    assert "2 ok, 2 need review, 1 failed, 1 skipped (output exists) (4 of them cut by an earlier run)" in page
    assert page.index("IMG_5") < page.index("IMG_2") < page.index("IMG_1")  # still the review order
    write_report(rerun, folder)  # a third run: the note is not repeated
    with open(csv_path, newline="", encoding="utf-8") as f:
        notes = [r["notes"] for r in csv.DictReader(f) if Path(r["photo"]).stem == "IMG_1"][0]
    assert notes.count("earlier run") == 1
