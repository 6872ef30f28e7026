"""The batch report: CSV columns and order, a self-contained HTML contact sheet, atomic writes."""
from __future__ import annotations

import base64
import csv
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import render_scene
from core.align import AlignmentReport
from core.batch import FAILED, OK, REVIEW, SKIPPED, BatchItem, BatchJob, BatchResult, make_thumbnails
from core.imageio import load_image, write_image
from core.jobs import CancelToken
from core.quality import QualityScore
from core.report import COLUMNS, order_for_review, read_thumbnails, summarize, with_earlier_results, write_report


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


# ---------------------------------------------------------------------------------------- earlier results' pictures

def _pictures(html_path: Path) -> dict:
    """{photo name: [decoded pictures of its row]} of a contact sheet (uint8 arrays, grey or RGB)."""
    text = html_path.read_text(encoding="utf-8")
    sheet = _Sheet()
    sheet.feed(text)
    sheet.close()
    # each row's info cell: the status, then the photo's name (a link to the output when it exists)
    names = re.findall(r'<td class="info"><span class="status">[^<]*</span><br>(?:<a [^>]*>)?([^<]+?)\.jpg', text)
    assert len(names) == len(sheet.rows)
    found = {name: [] for name in names}
    for row, src in sheet.images:
        found[names[row - 1]].append(np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))))
    return found


def _report_then_resume(folder: Path, jobs, fresh) -> dict:
    """Write the report of a first run that cut ``jobs`` (with ``fresh`` thumbnails), then of a run
    that skipped them all; returns the resumed contact sheet's pictures."""
    quality = QualityScore(0.4, 0.09, 0.01, True, ("9% of the product's area does not recompose the photo",))
    first = tuple(BatchItem(job, REVIEW, 2.0, quality=quality, method="classical", thumbnails=t)
                  for job, t in zip(jobs, fresh))
    write_report(BatchResult(items=first, cancelled=False, seconds=4.0, total=len(jobs)), folder)
    resumed = tuple(BatchItem(job, SKIPPED, 0.0, error="exists") for job in jobs)
    _, html_path = write_report(BatchResult(items=resumed, cancelled=False, seconds=0.1, total=len(jobs)), folder)
    return _pictures(html_path)


@pytest.fixture
def cut_earlier(tmp_path):
    """A 300x400 photo (thumbnails are 200x267) and the transparent PNG an earlier run wrote for it."""
    photo, _, alpha = render_scene(300, 400, seed=7, colour=(0.1, 0.3, 0.9))
    foreground = np.empty_like(photo)
    foreground[:] = (0.1, 0.3, 0.9)
    job = BatchJob(tmp_path / "IMG_7.jpg", tmp_path / "plate.jpg", tmp_path / "out" / "IMG_7.png")
    Image.fromarray((photo * 255 + 0.5).astype(np.uint8)).save(job.photo, quality=95)
    job.output.parent.mkdir()
    write_image(job.output, foreground, alpha=alpha)
    return job, make_thumbnails(photo, alpha, foreground), alpha


def test_carried_over_rows_show_thumbnails_read_from_their_photo_and_output(cut_earlier, tmp_path):
    job, fresh, alpha = cut_earlier
    thumbs = read_thumbnails(job)
    for name in ("photo", "alpha", "cutout"):  # as the run that cut it made them
        made, expected = getattr(thumbs, name), getattr(fresh, name)
        assert made.shape == expected.shape and made.dtype == np.uint8
        assert np.abs(made.astype(int) - expected).mean() < 1.5, name  # the photo is a JPEG now
    assert thumbs.alpha.shape == (200, 267) and thumbs.alpha.min() == 0 and thumbs.alpha.max() == 255
    small = cv2.resize(alpha, (267, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(thumbs.alpha / 255.0 - small).max() < 2 / 255

    pictures = _report_then_resume(tmp_path / "reports", [job], [None])["IMG_7"]  # no pictures to reuse
    assert [p.shape for p in pictures] == [(200, 267, 3), (200, 267), (200, 267, 3)]  # photo, alpha, cut-out
    for shown, expected in zip(pictures, (fresh.photo, fresh.alpha, fresh.cutout)):
        assert np.abs(shown.astype(int) - expected).mean() < 3  # JPEG in the page
    inside = small > 0.99
    assert pictures[1][inside].min() > 240 and pictures[1][small < 0.01].max() < 15
    assert np.abs(pictures[2][inside].mean(axis=0) - np.array([0.1, 0.3, 0.9]) * 255).max() < 6  # the product


def test_thumbnails_follow_the_photo_s_orientation_and_a_cropped_output(tmp_path):
    photo, _, alpha = render_scene(120, 90, seed=2)  # displayed 90 wide, 120 high
    job = BatchJob(tmp_path / "turned.jpg", tmp_path / "plate.jpg", tmp_path / "turned.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored lying on its side: a viewer turns it 90 degrees clockwise
    stored = np.rot90((photo * 255 + 0.5).astype(np.uint8), 1)
    Image.fromarray(np.ascontiguousarray(stored)).save(job.photo, quality=95, exif=exif.tobytes())
    assert load_image(job.photo).pixels.shape == (120, 90, 3)
    write_image(job.output, photo, alpha=alpha)
    thumbs = read_thumbnails(job)
    assert thumbs.photo.shape == (120, 90, 3) and thumbs.alpha.shape == (120, 90)
    assert np.abs(thumbs.photo.astype(int) - (photo * 255)).mean() < 4  # JPEG: turned, not only resized
    # a cropped export: the alpha and the cut-out show the crop
    rows, cols = np.nonzero(alpha > 0.1)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    write_image(job.output, photo[box], alpha=alpha[box], force=True)
    cropped = read_thumbnails(job)
    assert cropped.photo.shape == (120, 90, 3) and cropped.alpha.shape == alpha[box].shape
    assert cropped.cutout.shape == (*alpha[box].shape, 3)


def test_unreadable_earlier_files_fall_back_to_the_photo_or_nothing(cut_earlier, tmp_path):
    job, fresh, _ = cut_earlier
    damaged = BatchJob(tmp_path / "IMG_8.jpg", job.plate, tmp_path / "out" / "IMG_8.png")
    damaged.output.write_bytes(b"\x89PNG\r\n\x1a\n cut off")
    composite = BatchJob(tmp_path / "IMG_9.jpg", job.plate, tmp_path / "out" / "IMG_9.png")
    for other in (damaged, composite):
        shutil.copyfile(job.photo, other.photo)
    write_image(composite.output, load_image(job.photo).pixels)  # over a background colour: no alpha channel
    moved = BatchJob(tmp_path / "gone.jpg", job.plate, tmp_path / "out" / "gone.png")  # the photo was moved away
    shutil.copyfile(job.output, moved.output)
    for only_photo in (damaged, composite):
        thumbs = read_thumbnails(only_photo)
        assert thumbs.alpha is None and thumbs.cutout is None
        assert np.abs(thumbs.photo.astype(int) - fresh.photo).mean() < 1.5
    assert read_thumbnails(moved) is None
    # the report is written all the same, with what could be read
    # the report is written all the same, with what could be read (the first run's report had no pictures)
    pictures = _report_then_resume(tmp_path / "reports", [job, damaged, composite, moved], [None] * 4)
    assert [len(pictures[n]) for n in ("IMG_7", "IMG_8", "IMG_9", "gone")] == [3, 1, 1, 0]


def test_a_resumed_report_reuses_the_pictures_of_the_earlier_report(cut_earlier, tmp_path, monkeypatch):
    job, fresh, _ = cut_earlier
    folder = tmp_path / "reports"
    _report_then_resume(folder, [job], [fresh])
    job.photo.unlink()  # not read again: the earlier report.html has them (decoding a 24 MP pair takes ~2 s)
    monkeypatch.setattr("core.report.read_thumbnails", lambda job: pytest.fail("read the files again"))
    for _ in range(2):  # and they survive any number of resumes
        resumed = (BatchItem(job, SKIPPED, 0.0, error="exists"),)
        _, html_path = write_report(BatchResult(items=resumed, cancelled=False, seconds=0.1, total=1), folder)
        pictures = _pictures(html_path)["IMG_7"]
        assert [p.shape for p in pictures] == [(200, 267, 3), (200, 267), (200, 267, 3)]
        for shown, expected in zip(pictures, (fresh.photo, fresh.alpha, fresh.cutout)):
            assert np.abs(shown.astype(int) - expected).mean() < 4  # JPEG in the page, twice


def test_a_stopped_batch_reports_its_earlier_results_without_reading_their_files(cut_earlier, tmp_path):
    job, fresh, _ = cut_earlier
    folder = tmp_path / "reports"
    _report_then_resume(folder, [job], [fresh])
    skipped = (BatchItem(job, SKIPPED, 0.0, error="exists"),)
    cancel = CancelToken()
    cancel.cancel()
    for result, token in ((BatchResult(skipped, cancelled=False, seconds=0.1, total=1), cancel),
                          (BatchResult(skipped, cancelled=True, seconds=0.1, total=2), None)):
        item = with_earlier_results(result, folder, cancel=token).items[0]
        assert item.earlier and item.status == REVIEW and item.thumbnails is None
    item = with_earlier_results(BatchResult(skipped, cancelled=False, seconds=0.1, total=1), folder).items[0]
    assert item.earlier and item.thumbnails is not None and item.thumbnails.cutout is not None
