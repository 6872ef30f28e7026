"""`matting-studio cut` end to end: outputs, refusals, errors naming the file, atomicity."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLES, iou, render_scene
from core.export import product_box
from studio.cli import main


def _save(path: Path, rgb: np.ndarray, exif_orientation: int = 0) -> Path:
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(path, quality=95, exif=exif)
    else:
        image.save(path, quality=95) if path.suffix == ".jpg" else image.save(path)
    return path


@pytest.fixture
def pair(tmp_path):
    photo, plate, alpha = render_scene(240, 320, seed=21)
    return _save(tmp_path / "shot.png", photo), _save(tmp_path / "shot_plate.png", plate), alpha


def _rgba(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_cut_writes_straight_rgba_alpha_and_mask(pair, tmp_path, capsys):
    photo, plate, truth = pair
    out, alpha, mask = tmp_path / "cut.png", tmp_path / "alpha.png", tmp_path / "mask.png"
    code = main(["cut", str(photo), "--plate", str(plate), "-o", str(out), "--alpha", str(alpha),
                 "--mask", str(mask), "--method", "classical"])
    assert code == 0, capsys.readouterr().err
    rgba = _rgba(out)
    assert rgba.shape == (240, 320, 4)
    assert iou(rgba[..., 3] / 255.0, truth) > 0.95
    grey = np.asarray(Image.open(alpha))
    assert Image.open(alpha).mode == "L" and grey.shape == (240, 320)
    np.testing.assert_array_equal(grey, rgba[..., 3])
    assert iou(np.asarray(Image.open(mask)) / 255.0, truth) > 0.9
    # Straight alpha: solid product pixels keep the photo's colour exactly-ish.
    solid = truth > 0.999
    shot = np.asarray(Image.open(photo)).astype(int)
    assert np.abs(rgba[..., :3][solid].astype(int) - shot[solid]).mean() < 2
    printed = capsys.readouterr().out
    assert "quality" in printed and "wrote" in printed


def test_cut_refuses_to_overwrite_without_force(pair, tmp_path, capsys):
    photo, plate, _ = pair
    out = tmp_path / "cut.png"
    out.write_bytes(b"precious")
    code = main(["cut", str(photo), "--plate", str(plate), "-o", str(out), "--method", "classical"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert str(out) in err[0] and "--force" in err[0]
    assert out.read_bytes() == b"precious"
    assert main(["cut", str(photo), "--plate", str(plate), "-o", str(out), "--method", "classical",
                 "--force", "-q"]) == 0
    assert _rgba(out).shape[2] == 4


def test_corrupt_photo_is_named(pair, tmp_path, capsys):
    _, plate, _ = pair
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code = main(["cut", str(broken), "--plate", str(plate), "-o", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert code == 1 and str(broken) in err and not (tmp_path / "o.png").exists()


def test_plate_of_another_scene_is_refused_naming_the_plate(pair, tmp_path, capsys):
    photo, _, _ = pair
    rng = np.random.default_rng(5)
    other = cv2.GaussianBlur(rng.random((240, 320, 3)).astype(np.float32), (0, 0), 2)
    other = _save(tmp_path / "other.png", (other - other.min()) / (other.max() - other.min()))
    code = main(["cut", str(photo), "--plate", str(other), "-o", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert code == 1 and str(other) in err and "plate" in err
    assert not (tmp_path / "o.png").exists()


def test_crop_padding_and_background(pair, tmp_path, capsys):
    photo, plate, truth = pair
    cropped = tmp_path / "crop.png"
    assert main(["cut", str(photo), "--plate", str(plate), "-o", str(cropped), "--crop", "--padding", "10",
                 "--method", "classical", "-q"]) == 0
    x0, y0, x1, y1 = product_box(truth, "10")  # the box the true alpha gives
    h, w = _rgba(cropped).shape[:2]
    assert abs(w - (x1 - x0)) <= 4 and abs(h - (y1 - y0)) <= 4 and w < 320
    white = tmp_path / "white.webp"
    assert main(["cut", str(photo), "--plate", str(plate), "-o", str(white), "--background", "#ffffff",
                 "--method", "classical", "-q"]) == 0
    image = Image.open(white)
    assert image.mode == "RGB" and np.asarray(image)[0, 0].min() >= 250


def test_exif_orientation_is_honoured(tmp_path, capsys):
    photo, plate, truth = render_scene(240, 320, seed=22)
    # Stored rotated: orientation 6 means "rotate 90 degrees clockwise to view".
    stored_photo = np.rot90(photo, 1).copy()
    stored_plate = np.rot90(plate, 1).copy()
    p = _save(tmp_path / "p.jpg", stored_photo, exif_orientation=6)
    q = _save(tmp_path / "q.jpg", stored_plate, exif_orientation=6)
    out = tmp_path / "o.png"
    assert main(["cut", str(p), "--plate", str(q), "-o", str(out), "--method", "classical", "-q"]) == 0
    alpha = _rgba(out)[..., 3] / 255.0
    assert alpha.shape == (240, 320)
    assert iou(alpha, truth) > 0.9


def test_interrupted_run_leaves_no_file(pair, tmp_path, monkeypatch, capsys):
    photo, plate, _ = pair
    import core.imageio

    real_write = core.imageio.write_image

    def write_then_interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("core.export.write_image", write_then_interrupt)
    code = main(["cut", str(photo), "--plate", str(plate), "-o", str(tmp_path / "o.png"), "--method", "classical"])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.png", "shot_plate.png"]
    assert real_write is core.imageio.write_image


def test_bundled_sample_end_to_end(tmp_path, capsys):
    photo, plate, truth = SAMPLES / "product.jpg", SAMPLES / "product_plate.jpg", SAMPLES / "product_alpha.png"
    out, alpha = tmp_path / "cut.png", tmp_path / "alpha.png"
    code = main(["cut", str(photo), "--plate", str(plate), "-o", str(out), "--alpha", str(alpha)])
    assert code == 0, capsys.readouterr().err
    got = np.asarray(Image.open(alpha)) / 255.0
    want = np.asarray(Image.open(truth)) / 255.0
    assert got.shape == want.shape
    assert iou(got, want) >= 0.95


def test_sixteen_bit_photo_gives_sixteen_bit_png(tmp_path, capsys):
    photo, plate, truth = render_scene(200, 280, seed=23)
    paths = []
    for name, image in (("p16.png", photo), ("q16.png", plate)):
        path = tmp_path / name
        cv2.imwrite(str(path), cv2.cvtColor((image * 65535 + 0.5).astype(np.uint16), cv2.COLOR_RGB2BGR))
        paths.append(path)
    out = tmp_path / "o.png"
    assert main(["cut", str(paths[0]), "--plate", str(paths[1]), "-o", str(out), "--method", "classical", "-q"]) == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (200, 280, 4)
    # Solid product keeps 16-bit precision: values are not just 8-bit steps scaled up.
    solid = truth > 0.999
    assert (written[..., :3][solid] % 257 != 0).mean() > 0.5
    assert iou(written[..., 3] / 65535.0, truth) > 0.95


def test_eval_scores_the_dev_set_at_the_size_asked_and_writes_the_sheet(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    code = main(["eval", "--data", str(tmp_path / "no-data"), "--count", "2", "--methods", "classical",
                 "--sheet", str(sheet), "--scale", "0.5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no shared data" in out and "2 synthetic at 256x192" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("classical ")]
    assert rows[0][1] == "all" and rows[0][2] == "2"
    sad, iou_all = float(rows[0][3]), float(rows[0][7])
    assert 0 <= sad < 20 and 0.5 < iou_all <= 1  # real figures, not placeholders
    picture = cv2.imread(str(sheet))
    assert picture is not None and picture.shape[0] > 100 and picture.std() > 10
    assert main(["eval", "--data", str(tmp_path), "--count", "1", "--methods", "classical", "--sheet",
                 str(sheet), "--scale", "20"]) == 2


def test_eval_first_seed_draws_fresh_items_and_keeps_clear_of_training_seeds(tmp_path, capsys):
    from core.evaluate import dev_set
    from core.synth import TRAIN_SEED_BASE

    dev = dev_set(None, 2, (96, 128))
    fresh = dev_set(None, 2, (96, 128), first_seed=1000)
    again = dev_set(None, 2, (96, 128), first_seed=1000)
    assert [i.name for i in fresh] == ["synth-000", "synth-001"]
    assert all(np.array_equal(a.photo, b.photo) for a, b in zip(fresh, again))  # deterministic per seed
    assert not any(np.array_equal(a.photo, b.photo) for a, b in zip(dev, fresh))  # other items than the dev set's
    with pytest.raises(ValueError, match="training uses the seeds"):
        dev_set(None, 2, (96, 128), first_seed=TRAIN_SEED_BASE - 1)
    sheet = tmp_path / "sheet.png"
    assert main(["eval", "--data", str(tmp_path / "no-data"), "--count", "1", "--methods", "classical",
                 "--sheet", str(sheet), "--scale", "0.5", "--first-seed", "1000"]) == 0
    assert "1 synthetic at 256x192, seeds 1000-1000" in capsys.readouterr().out
    assert main(["eval", "--data", str(tmp_path / "no-data"), "--count", "2", "--methods", "classical",
                 "--sheet", str(sheet), "--first-seed", str(TRAIN_SEED_BASE - 1)]) == 2
    assert "--first-seed: the first seed must lie in 0..999998" in capsys.readouterr().out
