"""Trusting the plate: a product filling the frame on plain paper fails the scene check with the right
plate; the refusal says what was measured and how to get past it, and ``trust_plate`` (core option,
``--trust-plate`` on the command line, the retry in the app) gets past it and flags the result."""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from core.align import AlignOptions, align_plate  # noqa: E402
from core.errors import SceneCheckError  # noqa: E402
from core.errors import AlignmentError  # noqa: E402
from studio.cli import main  # noqa: E402

H, W = 240, 320
PLATE_GAIN = np.float32([1.03, 1.02, 0.99])  # the plate is shot a little brighter and warmer


def paper(h: int, w: int, colour, tilt: float = 0.1) -> np.ndarray:
    """HxWx3 float32: a seamless paper sweep, a smooth light fall-off and no texture."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    falloff = 1.0 - 0.25 * (((xx - w / 2) / w) ** 2 + ((yy - h / 3) / h) ** 2) - tilt * yy / h
    return (falloff[..., None] * np.float32(colour)).astype(np.float32)


def frame_filling_pair(seed: int = 0, shift=(1.2, -0.8)):
    """(photo, plate, true aligned plate): two large pale bodies (~60% of the frame) over the top
    edge and down both sides of a photo on grey paper, like two polar bears; the plate is the same
    paper shot ``shift`` pixels off, brighter by PLATE_GAIN."""
    rng = np.random.default_rng(seed)
    m = 8
    canvas = paper(H + 2 * m, W + 2 * m, (0.62, 0.63, 0.66))
    truth = canvas[m:m + H, m:m + W]
    move = np.float32([[1, 0, m + shift[0]], [0, 1, m + shift[1]]])
    plate = cv2.warpAffine(canvas, move, (W, H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP) * PLATE_GAIN
    mask = np.zeros((H, W), np.float32)
    cv2.ellipse(mask, (int(0.2 * W), int(0.25 * H)), (int(0.25 * W), int(0.42 * H)), 0, 0, 360, 1.0, -1)
    cv2.ellipse(mask, (int(0.8 * W), int(0.25 * H)), (int(0.26 * W), int(0.45 * H)), 0, 0, 360, 1.0, -1)
    cv2.rectangle(mask, (int(0.05 * W), int(0.4 * H)), (int(0.2 * W), int(0.8 * H)), 1.0, -1)
    cv2.rectangle(mask, (int(0.8 * W), int(0.4 * H)), (int(0.92 * W), int(0.82 * H)), 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
    yy = np.mgrid[0:H, 0:W][0].astype(np.float32)
    fur = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.5)
    product = (0.85 + 0.05 * fur / fur.std() - 0.1 * yy / H)[..., None] * np.float32([0.95, 0.93, 0.8])
    photo = mask * product + (1 - mask) * truth + rng.normal(0, 0.006, (H, W, 3))
    plate = plate + rng.normal(0, 0.006, (H, W, 3))
    return np.clip(photo, 0, 1).astype(np.float32), np.clip(plate, 0, 1).astype(np.float32), truth


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """HxWx3 float32: multi-scale coloured noise, like a room or a printed cloth (plenty of features)."""
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), 0.45, np.float32)
    for sigma, amplitude in [(20, 0.12), (4, 0.07), (1.2, 0.04)]:
        noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        image += amplitude * noise / noise.std()
    return np.clip(image, 0.05, 0.9)


def percentages(message: str) -> tuple[int, int]:
    """(edges, frame) from 'matches the photo on only X% of the frame's edges and Y% of the frame'."""
    found = re.search(r"only (\d+)% of the frame's edges and (\d+)% of the frame", message)
    assert found, message
    return int(found.group(1)), int(found.group(2))


def assert_refusal_explains_the_way_out(message: str) -> None:
    assert "used as it is" in message and "backdrop is plain" in message
    assert "wrong plate file" in message and "fills the frame" in message
    assert "--trust-plate" in message and "Matte > Trust the Plate" in message
    assert "\n" not in message and "Traceback" not in message


# ----- core

def test_frame_filling_product_on_plain_paper_is_refused_saying_what_was_measured():
    photo, plate, _ = frame_filling_pair()
    with pytest.raises(SceneCheckError) as error:
        align_plate(photo, plate)
    message = str(error.value)
    assert_refusal_explains_the_way_out(message)
    edges, frame = percentages(message)
    assert edges < 60 and 30 <= frame < 60  # the edges are short of the 60% needed, the frame is not
    assert str(error.value.with_path("shots/bear_plate.png")).startswith("shots/bear_plate.png: the plate, used")


def test_trusted_plate_is_used_in_place_and_flagged_for_a_look():
    photo, plate, truth = frame_filling_pair()
    result = align_plate(photo, plate, AlignOptions(trust_plate=True))
    report = result.report
    assert report.verdict == "check"
    assert report.message.startswith("plate trusted, scene check overridden: the plate, used as it is")
    assert report.method == "in-place"
    assert np.allclose(report.gain, 1 / PLATE_GAIN, rtol=0.02), report.gain
    # the plate is 1.4 px off, which plain paper does not show: the aligned plate is the true one
    assert np.abs(result.aligned_plate - truth).mean() < 0.01
    assert result.valid.mean() > 0.97


def test_trust_changes_nothing_when_the_scene_check_passes():
    rng = np.random.default_rng(4)
    backdrop = paper(H, W, (0.62, 0.63, 0.66))
    photo = backdrop.copy()
    cv2.circle(photo, (W // 2, H // 2), 40, (0.8, 0.3, 0.2), -1)  # a small product
    photo, plate = (np.clip(a + rng.normal(0, 0.006, a.shape), 0, 1).astype(np.float32) for a in (photo, backdrop))
    plain, trusted = (align_plate(photo, plate, AlignOptions(trust_plate=t)).report for t in (False, True))
    assert plain.message == trusted.message and plain.verdict == trusted.verdict
    assert "trusted" not in trusted.message
    np.testing.assert_array_equal(plain.homography, trusted.homography)


def test_plain_plate_of_another_colour_is_refused_and_used_when_trusted():
    photo, _, _ = frame_filling_pair()
    rng = np.random.default_rng(3)
    other = paper(H, W, (0.85, 0.72, 0.5), tilt=-0.3) + rng.normal(0, 0.006, (H, W, 3))
    other = np.clip(other, 0, 1).astype(np.float32)
    with pytest.raises(SceneCheckError) as error:
        align_plate(photo, other)
    assert_refusal_explains_the_way_out(str(error.value))
    # trusting means exactly this: the user says it is the right plate, the report says to look
    report = align_plate(photo, other, AlignOptions(trust_plate=True)).report
    assert report.verdict == "check" and "scene check overridden" in report.message


def test_textured_plate_of_another_scene_is_refused_and_flagged_when_trusted():
    photo, plate = textured(H, W, 1), textured(H, W, 9)
    with pytest.raises(SceneCheckError) as error:
        align_plate(photo, plate)
    message = str(error.value)
    assert "does not show the same backdrop" in message and "--trust-plate" in message
    report = align_plate(photo, plate, AlignOptions(trust_plate=True)).report
    assert report.verdict == "check"
    assert "does not seem to show the same backdrop" in report.message
    assert "plain backdrop" not in report.message  # it is not: nothing matched, that is all


def test_trust_still_refuses_an_impossible_warp_a_blank_plate_and_other_proportions():
    wide = textured(H, W + 160, 1)
    photo, shifted = wide[:, :W].copy(), wide[:, 80:80 + W].copy()  # strong features, 20% shift
    with pytest.raises(AlignmentError, match="shifted") as error:
        align_plate(photo, shifted, AlignOptions(trust_plate=True))
    assert not isinstance(error.value, SceneCheckError)
    bear, plate, _ = frame_filling_pair()
    with pytest.raises(AlignmentError, match="black"):
        align_plate(bear, np.zeros_like(plate), AlignOptions(trust_plate=True))
    stretched = cv2.resize(plate, (W + 80, H), interpolation=cv2.INTER_AREA)
    with pytest.raises(AlignmentError, match="different proportions"):
        align_plate(bear, stretched, AlignOptions(trust_plate=True))


@pytest.mark.data
def test_two_polar_bears_filling_the_frame(data_dir):
    """The case reported: real pair 15, a large object over the top and both sides on grey paper."""
    from core.synth import make_pair

    pair = make_pair(15, (384, 512), data_dir=data_dir, kind="real")
    with pytest.raises(SceneCheckError) as error:
        align_plate(pair.photo, pair.plate)
    assert_refusal_explains_the_way_out(str(error.value))
    assert percentages(str(error.value)) == (59, 50)
    result = align_plate(pair.photo, pair.plate, AlignOptions(trust_plate=True))
    assert result.report.verdict == "check" and "scene check overridden" in result.report.message
    assert np.abs(result.aligned_plate - pair.aligned_plate).mean() < 0.02


# ----- command line

def _save(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def bear_files(tmp_path):
    photo, plate, _ = frame_filling_pair()
    folder = tmp_path / "shots"
    folder.mkdir()
    return _save(folder / "bears.png", photo), _save(folder / "bears_plate.png", plate)


def test_cut_refuses_naming_the_plate_and_the_flag_then_trusts_it(bear_files, tmp_path, capsys):
    photo, plate = bear_files
    out = tmp_path / "cut.png"
    args = ["cut", str(photo), "--plate", str(plate), "-o", str(out), "--method", "classical"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "bears_plate.png: the plate, used as it is" in err
    assert_refusal_explains_the_way_out(err.split("error: ", 1)[1].strip())
    assert not out.exists()
    assert main(args + ["--trust-plate"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "alignment check: plate trusted, scene check overridden" in printed
    assert Image.open(out).mode == "RGBA"


def test_batch_passes_trust_plate_to_every_photo(bear_files, tmp_path, capsys):
    photo, plate = bear_files
    out = tmp_path / "out"
    args = ["batch", str(photo.parent), "--plate", str(plate), "-o", str(out), "--method", "classical", "-q"]
    assert main(args) == 1
    assert "--trust-plate" in capsys.readouterr().err
    assert main(args + ["--trust-plate"]) == 0, capsys.readouterr().err
    assert (out / "bears.png").exists()
    with open(out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["alignment"] for row in rows] == ["check"]
