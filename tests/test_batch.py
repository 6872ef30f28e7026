"""Batch cutting: planning (three pairing modes), failures, resume, cancellation, the CLI end to end."""
from __future__ import annotations

import base64
import csv
import io
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import iou, render_scene
from core.batch import (FAILED, OK, REVIEW, SKIPPED, BatchJob, BatchProgress, make_thumbnails, natural_key,
                        plan_batch, run_batch)
from core.errors import MattingError
from core.export import ExportOptions
from core.jobs import CancelToken
from core.pipeline import MatteOptions, Pipeline
from core.quality import QualityScore
from core.report import write_report
from studio.cli import main

H, W = 120, 160
CLASSICAL = MatteOptions(method="classical")


def _save(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, quality=95)
    return path


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"x")


@pytest.fixture
def tripod(tmp_path):
    """A folder of photos shot on one backdrop: 3 products, a corrupt file and a photo of another scene."""
    folder = tmp_path / "shots"
    folder.mkdir()
    _, plate, _ = render_scene(H, W, seed=3)
    _save(folder / "plate.jpg", plate)
    truths = {}
    for i, colour in enumerate([(0.8, 0.2, 0.2), (0.1, 0.4, 0.9), (0.2, 0.7, 0.3)], start=1):
        photo, _, alpha = render_scene(H, W, seed=3, colour=colour)
        _save(folder / f"IMG_{i}.jpg", photo)
        truths[f"IMG_{i}"] = alpha
    (folder / "IMG_4.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rng = np.random.default_rng(5)
    other = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 2)
    _save(folder / "IMG_10.jpg", (other - other.min()) / (other.max() - other.min()))
    return SimpleNamespace(folder=folder, plate=folder / "plate.jpg", out=tmp_path / "out", truths=truths)


# ---------------------------------------------------------------------------------------------- planning

def test_natural_order():
    names = ["IMG_10.jpg", "img_2.JPG", "IMG_1.jpg", "a.png"]
    assert sorted(names, key=natural_key) == ["a.png", "IMG_1.jpg", "img_2.JPG", "IMG_10.jpg"]


def test_plan_with_one_plate_for_the_folder(tmp_path):
    _touch(tmp_path, "IMG_10.JPG", "IMG_2.jpg", "IMG_1.jpeg", "plate.jpg", "IMG_1_plate.jpg", "notes.txt",
           ".IMG_3.tmp-1234.jpg")
    jobs = plan_batch(tmp_path, plate=tmp_path / "plate.jpg", output_dir=tmp_path / "out")
    assert [j.photo.name for j in jobs] == ["IMG_1.jpeg", "IMG_2.jpg", "IMG_10.JPG"]
    assert {j.plate for j in jobs} == {tmp_path / "plate.jpg"}
    assert [j.output for j in jobs] == [tmp_path / "out" / n for n in ("IMG_1.png", "IMG_2.png", "IMG_10.png")]
    only_jpg = plan_batch(tmp_path, plate=tmp_path / "plate.jpg", pattern="*.JPG", output_dir=tmp_path / "o",
                          export=ExportOptions(format="webp"))
    assert [j.output.name for j in only_jpg] == ["IMG_2.webp", "IMG_10.webp"]
    tiff = plan_batch(tmp_path, plate=tmp_path / "plate.jpg", output_dir=tmp_path / "o",
                      export=ExportOptions(format="tiff"))
    assert tiff[0].output.suffix == ".tif"


def test_plan_pairs_by_name(tmp_path):
    _touch(tmp_path, "a.jpg", "a_plate.jpg", "b.png", "B-Plate.PNG", "c.jpg", "c_back.tif", "d.jpg", "e_plate.jpg")
    jobs = plan_batch(tmp_path, output_dir=tmp_path / "out")
    plates = {j.photo.name: j.plate.name for j in jobs}
    # plates are never photos; d has no plate: it fails on its own at run time, naming the plate it expected
    assert plates == {"a.jpg": "a_plate.jpg", "b.png": "B-Plate.PNG", "c.jpg": "c_back.tif", "d.jpg": "d_plate.jpg"}
    assert not (tmp_path / "d_plate.jpg").exists()


def test_plan_from_a_csv(tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    _touch(shots, "one.jpg", "two.jpg", "plate.jpg")
    mapping = tmp_path / "map.csv"
    mapping.write_text("photo,plate,output\nshots/one.jpg,shots/plate.jpg,sku-1\n"
                       "shots/two.jpg,shots/plate.jpg,\n\n", encoding="utf-8")
    jobs = plan_batch(pairs_csv=mapping, output_dir=tmp_path / "out", export=ExportOptions(format="webp"))
    assert jobs == [BatchJob(shots / "one.jpg", shots / "plate.jpg", tmp_path / "out" / "sku-1.webp"),
                    BatchJob(shots / "two.jpg", shots / "plate.jpg", tmp_path / "out" / "two.webp")]
    mapping.write_text("plate,photo\nshots/plate.jpg,shots/one.jpg\n", encoding="utf-8")  # any column order
    assert plan_batch(pairs_csv=mapping, output_dir=tmp_path / "out")[0].output.name == "one.png"


@pytest.mark.parametrize("make, words", [
    (lambda t: dict(input_dir=t / "missing", plate=t / "plate.jpg"), ["missing", "not found"]),
    (lambda t: dict(input_dir=t, plate=t / "nope.jpg"), ["nope.jpg", "plate not found"]),
    (lambda t: dict(input_dir=t, plate=t / "plate.jpg", pattern="*.tif"), ["no photos", "*.tif"]),
    (lambda t: dict(input_dir=t), ["no plates found", "NAME_plate"]),
    (lambda t: dict(input_dir=t, plate=t / "plate.jpg", output_dir=t), ["photo folder"]),
    (lambda t: dict(input_dir=t, plate=t / "plate.jpg", pairs_csv=t / "m.csv"), ["not both"]),
])
def test_plan_errors_are_one_clear_sentence(tmp_path, make, words):
    _touch(tmp_path, "a.jpg", "b.jpg", "plate.jpg")
    kwargs = {"output_dir": tmp_path / "out", **make(tmp_path)}
    with pytest.raises(MattingError) as err:
        plan_batch(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_plan_refuses_clashing_or_overwriting_outputs(tmp_path):
    _touch(tmp_path, "a.jpg", "a.png", "plate.jpg")
    with pytest.raises(MattingError, match="a.jpg and a.png would both be written"):
        plan_batch(tmp_path, plate=tmp_path / "plate.jpg", output_dir=tmp_path / "out")
    mapping = tmp_path / "map.csv"
    mapping.write_text("photo,plate,output\na.png,plate.jpg,../a.png\n", encoding="utf-8")
    with pytest.raises(MattingError, match="would overwrite an input"):
        plan_batch(pairs_csv=mapping, output_dir=tmp_path / "out")
    mapping.write_text("photo,plate\na.jpg,missing.jpg\n", encoding="utf-8")
    with pytest.raises(MattingError, match="line 2: the plate .*missing.jpg was not found"):
        plan_batch(pairs_csv=mapping, output_dir=tmp_path / "out")
    mapping.write_text("image;background\na.jpg;plate.jpg\n", encoding="utf-8")
    with pytest.raises(MattingError, match="photo,plate"):
        plan_batch(pairs_csv=mapping, output_dir=tmp_path / "out")


# ---------------------------------------------------------------------------------------------- running

def test_batch_goes_on_past_failures(tripod):
    jobs = plan_batch(tripod.folder, plate=tripod.plate, output_dir=tripod.out)
    updates = []
    result = run_batch(jobs, options=CLASSICAL, progress=updates.append)
    assert [i.job.photo.name for i in result.items] == ["IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg", "IMG_4.jpg",
                                                        "IMG_10.jpg"]
    status = {i.job.photo.stem: i for i in result.items}
    for name, truth in tripod.truths.items():
        item = status[name]
        assert item.status in (OK, REVIEW) and item.error is None
        assert item.method == "classical" and item.alignment.verdict == "ok" and 0 <= item.quality.score <= 1
        assert item.thumbnails.cutout.shape == (H, W, 3) and item.thumbnails.alpha.dtype == np.uint8
        alpha = np.asarray(Image.open(item.job.output))[..., 3] / 255.0
        assert iou(alpha, truth) > 0.9
    corrupt, other = status["IMG_4"], status["IMG_10"]
    assert corrupt.status == other.status == FAILED
    assert "IMG_4.jpg" in corrupt.error and "not a readable image" in corrupt.error
    assert "IMG_10.jpg" in other.error and "plate" in other.error
    assert other.thumbnails is not None and other.thumbnails.alpha is None  # the photo, for the report
    assert sorted(p.name for p in tripod.out.iterdir()) == ["IMG_1.png", "IMG_2.png", "IMG_3.png"]
    finished = [u.last for u in updates if u.last is not None]
    assert sorted(i.job.photo.name for i in finished) == sorted(i.job.photo.name for i in result.items)
    assert updates[-1].done == updates[-1].total == 5 and updates[-1].fraction == 1.0
    assert [u.fraction for u in updates] == sorted(u.fraction for u in updates)  # the bar never goes back
    assert all(isinstance(u, BatchProgress) for u in updates) and not result.cancelled


def test_unexpected_exception_is_reported_with_its_type(tripod):
    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[12].jpg", output_dir=tripod.out)

    class Flaky(Pipeline):
        calls = 0

        def run(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 1:
                raise ZeroDivisionError("boom")
            return super().run(*args, **kwargs)

    pipeline = Flaky()
    result = run_batch(jobs, options=CLASSICAL, pipeline=pipeline)
    assert [i.status for i in result.items][0] == FAILED
    assert "ZeroDivisionError: boom" in result.items[0].error and "IMG_1.jpg" in result.items[0].error
    assert result.items[1].status in (OK, REVIEW)


def test_resume_skips_existing_outputs_and_force_redoes_them(tripod):
    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[123].jpg", output_dir=tripod.out)
    first = run_batch(jobs, options=CLASSICAL)
    assert [i.status for i in first.items].count(SKIPPED) == 0
    (tripod.out / "IMG_2.png").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in tripod.out.iterdir()}
    again = run_batch(jobs, options=CLASSICAL)
    assert [(i.status, i.error) for i in again.items][0] == (SKIPPED, "exists")
    assert again.items[1].status in (OK, REVIEW) and again.items[2].status == SKIPPED
    assert all((tripod.out / n).stat().st_mtime_ns == t for n, t in stamps.items())
    forced = run_batch(jobs, options=CLASSICAL, force=True)
    assert SKIPPED not in [i.status for i in forced.items]
    assert (tripod.out / "IMG_1.png").stat().st_mtime_ns != stamps["IMG_1.png"]


def _contact_sheet_pictures(html_path: Path) -> dict:
    """{photo stem: [pictures of its row, decoded: uint8 grey or RGB]} of a report.html."""
    pictures = {}
    for row in html_path.read_text(encoding="utf-8").split("<tr class=")[1:]:
        name = re.search(r'<span class="status">[^<]*</span><br>(?:<a [^>]*>)?([^<.]+)\.', row).group(1)
        sources = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', row)
        pictures[name] = [np.asarray(Image.open(io.BytesIO(base64.b64decode(s)))) for s in sources]
    return pictures


def test_a_resumed_batch_report_shows_the_earlier_cut_outs(tripod):
    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[12].jpg", output_dir=tripod.out)
    first = run_batch(jobs, options=CLASSICAL)
    _, html_path = write_report(first, tripod.out)
    fresh = _contact_sheet_pictures(html_path)
    again = run_batch(jobs, options=CLASSICAL)
    assert [i.status for i in again.items] == [SKIPPED, SKIPPED]
    _, html_path = write_report(again, tripod.out)
    carried = _contact_sheet_pictures(html_path)
    assert "2 of them cut by an earlier run" in html_path.read_text(encoding="utf-8")
    for name in ("IMG_1", "IMG_2"):
        alpha = carried[name][1]
        assert [p.shape for p in carried[name]] == [p.shape for p in fresh[name]] == [(H, W, 3), (H, W), (H, W, 3)]
        written = np.asarray(Image.open(tripod.out / f"{name}.png"))[..., 3]
        assert np.abs(alpha.astype(int) - written).mean() < 2  # the output's alpha (through JPEG)
        assert iou(alpha / 255.0, tripod.truths[name]) > 0.8  # the product, not a blank picture
        for shown, before in zip(carried[name], fresh[name]):  # as the first run showed them
            assert np.abs(shown.astype(int) - before).mean() < 2
    # a damaged output keeps its figures and the photo's picture, and the report is written all the same
    (tripod.out / "IMG_2.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _, html_path = write_report(run_batch(jobs, options=CLASSICAL), tripod.out)
    third = _contact_sheet_pictures(html_path)
    assert len(third["IMG_1"]) == 3 and len(third["IMG_2"]) == 1
    assert np.abs(third["IMG_2"][0].astype(int) - fresh["IMG_2"][0]).mean() < 2  # the photo


def test_cancel_after_the_first_image_leaves_no_partial_files(tripod):
    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[123].jpg", output_dir=tripod.out)
    cancel = CancelToken()

    def progress(update):
        if update.last is not None:
            cancel.cancel()

    result = run_batch(jobs, options=CLASSICAL, progress=progress, cancel=cancel)
    assert result.cancelled and result.total == 3
    assert 1 <= len(result.items) < 3 and all(i.status in (OK, REVIEW) for i in result.items)
    written = sorted(p.name for p in tripod.out.iterdir())
    assert written == [i.job.output.name for i in result.items]  # no temporary files, nothing half-written


class _FakePipeline:
    """Instant 'pipeline' whose results are plausible enough for the writer."""

    def __init__(self):
        self.runs = 0

    def candidate_methods(self, method):
        return ("classical",)

    def run(self, photo, plate, options=None, progress=None, cancel=None):
        self.runs += 1
        alpha = np.full(photo.shape[:2], 0.5, np.float32)
        alignment = SimpleNamespace(verdict="ok", residual_px=float("nan"), inliers=0)
        return SimpleNamespace(alpha=alpha, foreground=photo, method="classical", alignment=alignment, notes=(),
                               quality=QualityScore(1.0, 0.0, 0.0, False))


def test_memory_is_bounded_one_photo_ahead_one_write_pending(tripod, monkeypatch):
    import core.batch

    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[123].jpg", output_dir=tripod.out)
    jobs = jobs + [BatchJob(j.photo, j.plate, j.output.with_name(j.output.stem + "b.png")) for j in jobs]
    lock, live, peak = threading.Lock(), [0], [0]
    real_load, real_export = core.batch.load_image, core.batch.export_matte

    def counting_load(path, **kwargs):
        image = real_load(path, **kwargs)
        if path != tripod.plate:
            with lock:
                live[0] += 1
                peak[0] = max(peak[0], live[0])
        return image

    def slow_export(*args, **kwargs):
        time.sleep(0.05)
        try:
            return real_export(*args, **kwargs)
        finally:
            with lock:
                live[0] -= 1

    monkeypatch.setattr(core.batch, "load_image", counting_load)
    monkeypatch.setattr(core.batch, "export_matte", slow_export)
    pipeline = _FakePipeline()
    result = run_batch(jobs, pipeline=pipeline)
    assert [i.status for i in result.items] == [OK] * 6 and pipeline.runs == 6
    # the photo being cut, the one decoded ahead, and the one being written
    assert peak[0] <= 3 and live[0] == 0


def test_keyboard_interrupt_stops_cleanly(tripod, monkeypatch):

    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[123].jpg", output_dir=tripod.out)
    pipeline = _FakePipeline()
    real_run = pipeline.run

    def run_then_interrupt(*args, **kwargs):
        if pipeline.runs == 2:
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run", run_then_interrupt)
    result = run_batch(jobs, pipeline=pipeline)
    assert result.cancelled and [i.job.photo.name for i in result.items] == ["IMG_1.jpg", "IMG_2.jpg"]
    assert sorted(p.name for p in tripod.out.iterdir()) == ["IMG_1.png", "IMG_2.png"]


def test_second_interrupt_during_the_last_write_still_reports_it(tripod, monkeypatch):
    import core.batch

    jobs = plan_batch(tripod.folder, plate=tripod.plate, pattern="IMG_[123].jpg", output_dir=tripod.out)
    pipeline = _FakePipeline()
    real_run, real_collect = pipeline.run, core.batch._BatchRun._collect

    def run_then_interrupt(*args, **kwargs):
        if pipeline.runs == 2:
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    def impatient_collect(self, pending):
        if pending is not None and pipeline.runs == 2:  # Ctrl+C while waiting for IMG_1's write, and again
            raise KeyboardInterrupt
        return real_collect(self, pending)

    monkeypatch.setattr(pipeline, "run", run_then_interrupt)
    monkeypatch.setattr(core.batch._BatchRun, "_collect", impatient_collect)
    result = run_batch(jobs, pipeline=pipeline)
    # the writer thread finished IMG_1 regardless; the report must list the file that exists
    assert result.cancelled and [i.job.photo.name for i in result.items] == ["IMG_1.jpg"]
    assert sorted(p.name for p in tripod.out.iterdir()) == ["IMG_1.png"]


def test_run_batch_never_overwrites_an_input_even_with_force(tripod):
    photo = tripod.folder / "IMG_1.jpg"
    before = photo.read_bytes()
    result = run_batch([BatchJob(photo, tripod.plate, photo)], pipeline=_FakePipeline(), force=True)
    assert result.items[0].status == FAILED and "would overwrite an input" in result.items[0].error
    assert photo.read_bytes() == before


def test_thumbnails_are_small_uint8():
    photo, _, alpha = render_scene(600, 900, seed=1)
    thumbs = make_thumbnails(photo, alpha, photo)
    assert thumbs.photo.shape == (200, 300, 3) and thumbs.alpha.shape == (200, 300)
    assert thumbs.cutout.dtype == np.uint8 and thumbs.cutout.shape == (200, 300, 3)
    assert make_thumbnails(photo).alpha is None


# ---------------------------------------------------------------------------------------------- the command

def test_cli_batch_end_to_end(tripod, capsys):
    args = ["batch", str(tripod.folder), "--plate", str(tripod.plate), "-o", str(tripod.out), "--method",
            "classical"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    errors = err.strip().splitlines()
    assert len(errors) == 2 and "IMG_4.jpg" in errors[0] and "IMG_10.jpg" in errors[1]
    summary = out.strip().splitlines()[-1]
    assert "5 photos" in summary and "2 failed" in summary and "report.html" in summary
    assert (tripod.out / "report.html").is_file() and (tripod.out / "report.csv").is_file()
    # re-run, quietly: the good ones are skipped, the failures retried; only errors and the summary print
    assert main(args + ["-q"]) == 1
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 1 and "3 skipped" in out and len(err.strip().splitlines()) == 2
    with open(tripod.out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # the report still lists the skipped photos with the figures of the run that cut them
    kept = [r for r in rows if "earlier run" in r["notes"]]
    assert len(kept) == 3 and all(r["status"] in ("ok", "needs review") and r["quality"] for r in kept)
    assert [r["status"] for r in rows].count("failed") == 2


def test_cli_batch_all_good_exits_zero_with_pairs_by_name(tmp_path, capsys):
    photo, plate, _ = render_scene(H, W, seed=4)
    _save(tmp_path / "cup.jpg", photo)
    _save(tmp_path / "cup_plate.jpg", plate)
    reports = tmp_path / "reports"
    code = main(["batch", str(tmp_path), "-o", str(tmp_path / "out"), "--method", "classical", "--format", "webp",
                 "--report-dir", str(reports), "--crop", "--padding", "5%"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (tmp_path / "out" / "cup.webp").is_file() and (reports / "report.csv").is_file()
    assert Image.open(tmp_path / "out" / "cup.webp").size[0] < W  # cropped
    assert "cup.jpg" in out and "1 photos" in out


def test_cli_batch_errors_before_any_work(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "none"), "--plate", "p.jpg", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none" in err[0] and "not found" in err[0]
    _touch(tmp_path, "a.jpg", "plate.jpg")
    assert main(["batch", str(tmp_path), "--plate", str(tmp_path / "plate.jpg"), "-o", str(tmp_path / "out"),
                 "--padding", "lots"]) == 1
    assert "padding" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_ctrl_c_writes_the_report_of_what_was_done(tripod, monkeypatch, capsys):
    import core.pipeline

    real_run = core.pipeline.Pipeline.run
    calls = []

    def run_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(core.pipeline.Pipeline, "run", run_then_interrupt)
    code = main(["batch", str(tripod.folder), "--plate", str(tripod.plate), "-o", str(tripod.out), "--method",
                 "classical", "--pattern", "IMG_[123].jpg"])
    out, err = capsys.readouterr()
    assert code == 130 and "interrupted" in err and "1 of 3 photos" in out
    assert sorted(p.name for p in tripod.out.iterdir()) == ["IMG_1.png", "report.csv", "report.html"]
    with open(tripod.out / "report.csv", newline="") as f:
        assert [r["photo"] for r in csv.DictReader(f)] == [str(tripod.folder / "IMG_1.jpg")]
