"""Optional adversarial stage of the matting network (Background Matting, Sengupta et al. 2020).

After supervised training, a fixed copy of the network (the teacher) stays as
it is and the network (the student) is fine-tuned on unlabeled real pairs
(photo + plate, no truth). Each step adds, to the usual supervised loss on a
synthetic batch (which keeps its accuracy):

- an LSGAN loss: the student's alpha and foreground are composited over a new
  backdrop (a BSDS500 photo, another scene's plate or a rendered studio
  backdrop) and a small PatchGAN discriminator, trained with MSE to score real
  photos 1 and composites 0, must score the composite 1;
- Background Matting's self-supervision against the teacher's prediction on the
  same crop (:func:`core.train.losses.teacher_loss`), so the student does not drift.

The discriminator takes one Adam step per training step, on the detached
composites, before the student's loss is computed through it. Real pairs are
loaded, aligned (``core.align.align_plate``) and given a coarse mask (the
coarse network, or a difference key without its weights) once at start and
kept in memory as 8-bit images; each sample is a random square crop, resized to
the training size, maybe mirrored. The real-sample stream is a function of the
stage's step count, so ``--resume`` continues it.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from core.errors import AlignmentError, MattingError
from core.models.inference import base_views
from core.models.matting import clamp_st
from core.models.patches import crop_patches, sample_base, select_tiles, tile_scores
from core.train.losses import lsgan_discriminator_loss, lsgan_generator_loss, teacher_loss
from core.train.matting_task import BASE_SCALES, matting_step_loss

STAGE_NAME = "adversarial"
#: Defaults of the stage's options (config keys in brackets); BMv1's lambda is TEACHER_WEIGHT.
STUDENT_LR = 1e-4         # [lr] fine-tuning: 10x below the supervised default
DISCRIMINATOR_LR = 1e-4   # [d_lr] Adam(0.5, 0.999), constant
ADV_WEIGHT = 0.1          # [adv_weight] real-pair loss (adversarial + lambda x teacher) vs the supervised loss
TEACHER_WEIGHT = 0.05     # [teacher_weight] lambda of Sengupta et al. 2020
REAL_BATCH = 2            # [real_batch] real crops per step
MAX_REAL_TILES = 128      # refined tiles per real crop (all above the inference threshold, up to this)
TILE_THRESHOLD = 0.05     # the inference default of select_tiles
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
BACKDROP_WEIGHTS = {"photo": 0.5, "plate": 0.25, "studio": 0.25}
STUDIO_KINDS = ("paper", "fabric", "foam", "tabletop")


@dataclass(frozen=True)
class RealPairFile:
    """A real photo and its plate on disk; ``align`` False for pairs shot without moving the camera."""

    photo: Path
    plate: Path
    align: bool = True


@dataclass(frozen=True, eq=False)
class RealPair:
    """A real pair prepared for training, cropped to where the aligned plate is valid.

    photo, plate (the aligned plate): HxWx3 uint8 RGB; coarse: HxW uint8, the coarse
    mask x 255; plate_file: the plate's file (pairs sharing it show the same scene).
    """

    photo: np.ndarray
    plate: np.ndarray
    coarse: np.ndarray
    plate_file: Path


def list_folder_pairs(folder: Path) -> list[RealPairFile]:
    """Pairs in ``folder``: NAME.ext with NAME_plate.ext, else with a shared ``plate.ext`` (one set-up)."""
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    plates = {p.stem[: -len("_plate")].lower(): p for p in images if p.stem.lower().endswith("_plate")}
    shared = next((p for p in images if p.stem.lower() == "plate"), None)
    pairs = []
    for image in images:
        stem = image.stem.lower()
        if stem == "plate" or stem.endswith("_plate"):
            continue
        plate = plates.get(stem, shared)
        if plate is not None:
            pairs.append(RealPairFile(image, plate))
    return pairs


def find_real_pairs(folders: Sequence[str | Path] | None, data_dir: str | Path | None) -> tuple[RealPairFile, ...]:
    """The real pairs of ``folders`` (``--real``), else the shared data's (bgm-v1-handheld, flowers-triangulation).

    Raises ``MattingError`` naming a folder that is missing or holds no pairs, or
    when neither source gives any pair.
    """
    found: list[RealPairFile] = []
    for folder in folders or ():
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise MattingError("is not a folder; --real needs a folder of real pairs (NAME.jpg with NAME_plate.jpg)", folder)
        pairs = list_folder_pairs(folder)
        if not pairs:
            raise MattingError("holds no real pairs; put each photo beside its plate as NAME.jpg and NAME_plate.jpg "
                               "(or one plate.jpg shared by every photo)", folder)
        found += pairs
    if folders:
        return tuple(found)
    if data_dir is not None and Path(data_dir).is_dir():
        handheld = Path(data_dir) / "bgm-v1-handheld"
        if handheld.is_dir():
            found += list_folder_pairs(handheld)
        flowers = Path(data_dir) / "flowers-triangulation"
        for name in ("A", "B"):  # shot from a tripod: no alignment needed
            photo, plate = flowers / f"flowers-comp{name}.jpg", flowers / f"flowers-back{name}.jpg"
            if photo.is_file() and plate.is_file():
                found.append(RealPairFile(photo, plate, align=False))
    if not found:
        raise MattingError("the adversarial stage found no real pairs: pass --real DIR (NAME.jpg beside NAME_plate.jpg) "
                           "or --data pointing at the shared data folder")
    return tuple(found)


def _resize_short_side(image: np.ndarray, short: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = short / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def valid_box(valid: np.ndarray) -> tuple[slice, slice]:
    """An axis-aligned box (rows, cols) inside which ``valid`` (HxW bool) is all True, by trimming the worst edge."""
    y0, y1, x0, x1 = 0, valid.shape[0], 0, valid.shape[1]
    while y1 - y0 > 1 and x1 - x0 > 1:
        box = ~valid[y0:y1, x0:x1]
        if not box.any():
            break
        bad = [box[0].mean(), box[-1].mean(), box[:, 0].mean(), box[:, -1].mean()]
        side = int(np.argmax(bad))
        y0, y1, x0, x1 = y0 + (side == 0), y1 - (side == 1), x0 + (side == 2), x1 - (side == 3)
    return slice(y0, y1), slice(x0, x1)


def difference_mask(photo: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """A rough coarse mask (HxW float32 [0, 1]) from the photo-plate difference, when the coarse network is missing."""
    difference = cv2.GaussianBlur(np.abs(photo - plate).max(axis=2), (0, 0), 2)
    return cv2.GaussianBlur(np.clip((difference - 0.04) / 0.08, 0, 1), (0, 0), 3).astype(np.float32)


def _coarse_predictor():
    """``predict_coarse_mask`` if the coarse network's weights load, else :func:`difference_mask`."""
    try:
        from core.models.inference import predict_coarse_mask
        from core.models.registry import load_model

        load_model("coarse")
        return predict_coarse_mask, "the coarse network"
    except MattingError as exc:
        return difference_mask, f"a difference key ({exc})"


def load_real_pairs(files: Sequence[RealPairFile], short_side: int, min_side: int) -> tuple[RealPair, ...]:
    """Load, downscale (short side ``short_side``), align and coarse-mask every pair; unusable pairs are skipped.

    Raises ``MattingError`` when no pair is left (the message names the first file's folder).
    """
    from core.align import align_plate
    from core.imageio import load_image

    predict, how = _coarse_predictor()
    pairs, skipped = [], []
    for item in files:
        photo = _resize_short_side(load_image(item.photo).pixels, short_side)
        plate = _resize_short_side(load_image(item.plate).pixels, short_side)
        if item.align:
            try:
                alignment = align_plate(photo, plate)
            except AlignmentError as exc:
                skipped.append(f"{item.photo.name}: {exc}")
                continue
            plate, valid = alignment.aligned_plate, alignment.valid
        else:
            plate = cv2.resize(plate, photo.shape[1::-1], interpolation=cv2.INTER_AREA)
            valid = np.ones(photo.shape[:2], bool)
        rows, cols = valid_box(valid)
        photo, plate = photo[rows, cols], plate[rows, cols]
        if min(photo.shape[:2]) < min_side:
            skipped.append(f"{item.photo.name}: the plate covers too little of the photo")
            continue
        coarse = predict(photo, plate)
        pairs.append(RealPair(*(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8) for a in (photo, plate, coarse)),
                              plate_file=item.plate))
    for message in skipped:
        print(f"real pair skipped: {message}", flush=True)
    if not pairs:
        raise MattingError("none of the real pairs could be used (see the messages above)", files[0].photo.parent)
    size_mb = sum(p.photo.nbytes + p.plate.nbytes + p.coarse.nbytes for p in pairs) / 1e6
    print(f"real pairs: {len(pairs)} of {len(files)} ({size_mb:.0f} MB in memory), coarse masks from {how}", flush=True)
    return tuple(pairs)


def _backdrop(pairs: Sequence[RealPair], subject: RealPair, size: int, rng: np.random.Generator,
              photos: Sequence[Path]) -> np.ndarray:
    """A new backdrop (size x size x 3 float32 [0, 1]): a BSDS500 photo, another scene's plate, or a studio render."""
    from core.synth.backdrops import render_backdrop

    others = [p for p in pairs if p.plate_file != subject.plate_file]
    weights = {k: w for k, w in BACKDROP_WEIGHTS.items() if (k != "photo" or photos) and (k != "plate" or others)}
    kinds = list(weights)
    kind = kinds[rng.choice(len(kinds), p=np.array([weights[k] for k in kinds]) / sum(weights.values()))]
    if kind == "plate":
        plate = others[rng.integers(len(others))].plate
        return _random_crop([plate], size, rng)[0].astype(np.float32) / 255
    if kind == "photo":
        return render_backdrop("photo", rng, size, size, photos=photos).image
    return render_backdrop(STUDIO_KINDS[rng.integers(len(STUDIO_KINDS))], rng, size, size).image


def _random_crop(images: Sequence[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The same random square crop (side between ``size`` and the short side) of each image, resized to size, maybe mirrored."""
    h, w = images[0].shape[:2]
    side = int(rng.integers(min(size, h, w), min(h, w) + 1))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    flip = rng.random() < 0.5
    out = []
    for image in images:
        crop = cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(crop[:, ::-1]) if flip else crop)
    return out


def sample_real_batch(pairs: Sequence[RealPair], size: int, count: int, rng: np.random.Generator,
                      photos: Sequence[Path] = ()) -> dict[str, torch.Tensor]:
    """``count`` random real crops: photo, plate (3, S, S), coarse (1, S, S) and a new backdrop (3, S, S), float32 [0, 1]."""
    items = {"photo": [], "plate": [], "coarse": [], "backdrop": []}
    for _ in range(count):
        pair = pairs[rng.integers(len(pairs))]
        photo, plate, coarse = _random_crop([pair.photo, pair.plate, pair.coarse], size, rng)
        items["photo"].append(torch.from_numpy(photo).permute(2, 0, 1))
        items["plate"].append(torch.from_numpy(plate).permute(2, 0, 1))
        items["coarse"].append(torch.from_numpy(coarse)[None])
        backdrop = _backdrop(pairs, pair, size, rng, photos)
        items["backdrop"].append(torch.from_numpy(np.ascontiguousarray(backdrop, np.float32)).permute(2, 0, 1))
    batch = {k: torch.stack(v).float() for k, v in items.items()}
    for key in ("photo", "plate", "coarse"):
        batch[key] = batch[key] / 255
    return batch


class PatchDiscriminator(nn.Module):
    """PatchGAN-style critic with spectral norm (0.17 M parameters, 78 px receptive field).

    forward(image): (B, 3, H, W) RGB float32 [0, 1] -> (B, 1, ceil(H/16), ceil(W/16)) unbounded
    scores, trained towards 1 on real photos and 0 on composites (LSGAN).
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for width in widths:
            layers += [spectral_norm(nn.Conv2d(cin, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = width
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net((image - 0.5) / 0.25)


def matte_full_resolution(model: nn.Module, photo: torch.Tensor, plate: torch.Tensor, coarse: torch.Tensor,
                          scale: float, tiles: list | None = None):
    """Alpha (B, 1, H, W) and foreground (B, 3, H, W) in [0, 1] as inference assembles them, differentiably.

    The base runs at 1/``scale``; its outputs are upsampled and the refiner's tiles
    pasted in (``tiles``: per image (ys, xs) int64 tensors; None = the tiles above
    the inference threshold, at most ``MAX_REAL_TILES``). Returns (alpha, foreground, tiles).
    """
    full = tuple(photo.shape[-2:])
    small = (max(32, round(full[0] / scale)), max(32, round(full[1] / scale)))

    def down(x):
        return F.interpolate(x, size=small, mode="area")

    # both views, as inference runs the base (MIRROR_BASE): the stage trains the matte users get
    alpha_b, residual_b, error_b, hidden_b = base_views(model, down(photo), down(plate), down(coarse))
    alpha = F.interpolate(alpha_b, size=full, mode="bilinear", align_corners=False)
    foreground = clamp_st(photo + F.interpolate(residual_b, size=full, mode="bilinear", align_corners=False), 0, 1)
    refiner = model.refiner
    patch, context = refiner.patch, refiner.context
    base_out = torch.cat([alpha_b, residual_b, error_b, hidden_b], 1)
    chosen, alphas, foregrounds = [], [], []
    for b in range(photo.shape[0]):
        if tiles is None:
            scores = tile_scores(alpha_b[b, 0].detach().float().numpy(), error_b[b, 0].detach().float().numpy(), full, patch)
            ys, xs = (torch.from_numpy(t) for t in select_tiles(scores, full, patch, MAX_REAL_TILES, TILE_THRESHOLD))
        else:
            ys, xs = tiles[b]
        chosen.append((ys, xs))
        alpha_i, foreground_i = alpha[b], foreground[b]
        if len(ys):
            photo_hwc, plate_hwc = photo[b].permute(1, 2, 0), plate[b].permute(1, 2, 0)
            alpha_r, residual_r = refiner(crop_patches(photo_hwc, ys, xs, patch, context),
                                          crop_patches(plate_hwc, ys, xs, patch, context),
                                          sample_base(base_out[b : b + 1], ys, xs, full, patch, context))
            foreground_r = clamp_st(crop_patches(photo_hwc, ys, xs, patch, 0) + residual_r, 0, 1)
            offsets = torch.arange(patch)
            rows = (ys[:, None] + offsets)[:, :, None]
            cols = (xs[:, None] + offsets)[:, None, :]
            alpha_i, foreground_i = alpha_i.clone(), foreground_i.clone()
            alpha_i[:, rows, cols] = alpha_r.permute(1, 0, 2, 3)
            foreground_i[:, rows, cols] = foreground_r.permute(1, 0, 2, 3)
        alphas.append(alpha_i)
        foregrounds.append(foreground_i)
    return torch.stack(alphas), torch.stack(foregrounds), chosen


def _load_weights(path: str | Path, model: nn.Module) -> None:
    try:
        weights = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    except FileNotFoundError:
        raise MattingError("does not exist; pass exported matting weights (e.g. resources/models/matting_bgm.pt)", path) from None
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: one sentence, not a traceback
        raise MattingError(f"is not a matting weights file this network can load ({type(exc).__name__})", path) from None


class AdversarialStage:
    """The stage the trainer runs with ``--adversarial`` (see :class:`core.train.trainer.Stage`)."""

    name = STAGE_NAME

    def __init__(self):
        self.teacher: nn.Module | None = None
        self.discriminator: PatchDiscriminator | None = None
        self.d_optimizer: torch.optim.Optimizer | None = None
        self.pairs: tuple[RealPair, ...] = ()
        self.photos: tuple[Path, ...] = ()
        self.count = 0  # real batches drawn: the position of the real-sample stream

    def start(self, model: nn.Module, state: dict | None, config: dict) -> None:
        """Set up teacher, discriminator and real pairs; fills the stage's defaults into ``config`` (saved with it).

        Raises ``MattingError`` for a supervised checkpoint, no trained weights to
        start from, unreadable teacher weights or no usable real pairs.
        """
        saved = state.get("stage") if state is not None else None
        if state is not None and saved is None:
            raise MattingError("the checkpoint being resumed comes from supervised training; run the adversarial stage "
                               "in a new --out from exported weights (--init-weights FILE)")
        for key, value in (("adv_weight", ADV_WEIGHT), ("teacher_weight", TEACHER_WEIGHT), ("real_batch", REAL_BATCH),
                           ("d_lr", DISCRIMINATOR_LR)):
            config.setdefault(key, value)
        config["adversarial"] = True
        self.teacher = copy.deepcopy(model)
        if saved is not None:
            self.teacher.load_state_dict(saved["teacher"])
        elif config.get("teacher"):
            _load_weights(config["teacher"], self.teacher)
            if not config.get("init_weights"):
                model.load_state_dict(self.teacher.state_dict())  # as BMv1: the student starts as the teacher
        elif not config.get("init_weights"):
            raise MattingError("the adversarial stage fine-tunes a trained network: pass --init-weights "
                               "(e.g. resources/models/matting_bgm.pt) or --teacher")
        self.teacher.eval().requires_grad_(False)
        with torch.random.fork_rng():  # the trainer's RNG stream stays as it would be without the stage
            torch.manual_seed(config.get("seed", 0) + 1)
            self.discriminator = PatchDiscriminator()
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=config["d_lr"], betas=(0.5, 0.999))
        if saved is not None:
            self.discriminator.load_state_dict(saved["discriminator"])
            self.d_optimizer.load_state_dict(saved["d_optimizer"])
            for group in self.d_optimizer.param_groups:
                group["lr"] = config["d_lr"]
            self.count = int(saved["count"])
        data = config.get("data")
        files = find_real_pairs(config.get("real"), data)
        self.pairs = load_real_pairs(files, short_side=round(1.5 * config["size"]), min_side=config["size"])
        if data is not None and Path(data).is_dir():
            from core.synth.real import list_backdrop_photos

            self.photos = list_backdrop_photos(data)
        print(f"adversarial stage: {len(self.pairs)} real pairs, {len(self.photos)} backdrop photos, "
              f"adv_weight={config['adv_weight']} teacher_weight={config['teacher_weight']} "
              f"real_batch={config['real_batch']} d_lr={config['d_lr']} (real batch {self.count})", flush=True)

    def compute_loss(self, model: nn.Module, batch: dict, config: dict) -> tuple[torch.Tensor, dict]:
        """Supervised loss on ``batch`` + adv_weight x (LSGAN + teacher_weight x teacher) on a real batch.

        Also takes the discriminator's optimiser step. Parts: the supervised ones
        plus adv_d_real, adv_d_fake (the discriminator's MSE terms), adv_g,
        adv_teacher and adv_teacher_alpha (its L1 alpha term: the student's drift).
        """
        supervised, parts = matting_step_loss(model, batch, config)
        rng = np.random.default_rng([config.get("seed", 0), 271_828, self.count])
        self.count += 1
        real = sample_real_batch(self.pairs, config["size"], config["real_batch"], rng, self.photos)
        scale = BASE_SCALES[int(rng.integers(len(BASE_SCALES)))]
        alpha, foreground, tiles = matte_full_resolution(model, real["photo"], real["plate"], real["coarse"], scale)
        with torch.no_grad():
            alpha_t, foreground_t, _ = matte_full_resolution(self.teacher, real["photo"], real["plate"], real["coarse"], scale, tiles)
        composite = alpha * foreground + (1 - alpha) * real["backdrop"]

        discriminator = self.discriminator
        d_loss, d_parts = lsgan_discriminator_loss(discriminator(real["photo"]), discriminator(composite.detach()))
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimizer.step()
        discriminator.requires_grad_(False)  # the student's backward must not leave gradients in D
        try:
            g_loss = lsgan_generator_loss(discriminator(composite))
        finally:
            discriminator.requires_grad_(True)
        t_loss, t_parts = teacher_loss(alpha, foreground, alpha_t, foreground_t, real["photo"], real["plate"])
        total = supervised + config["adv_weight"] * (g_loss + config["teacher_weight"] * t_loss)
        parts.update(d_parts, adv_g=g_loss.detach(), adv_teacher=t_loss.detach(), adv_teacher_alpha=t_parts["alpha"])
        return total, parts

    def state_dict(self) -> dict:
        return {
            "name": STAGE_NAME,
            "teacher": self.teacher.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
            "count": self.count,
        }
