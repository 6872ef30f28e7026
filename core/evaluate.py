"""``matting-studio eval``: the dev set, metrics per method and subset, and a contact sheet.

The dev set is deterministic: synthetic pairs from eval seeds (never used for
training), stratified over the hard subsets, plus real masks from the shared
data composited by the generator, plus the real pairs in the shared data
(flowers with an approximate truth from triangulation matting; the hand-held
frames with none, shown on the contact sheet only).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from .metrics import all_metrics
from .quality import pick_candidate

SUBSETS = ("plain", "shadow", "close_colour", "transparent", "thin")
EVAL_SEED_BASE = 0


@dataclass(frozen=True)
class DevItem:
    """photo, plate: HxWx3 float32 [0, 1]; alpha: HxW float32 truth or None; subsets: names it counts in."""

    name: str
    photo: np.ndarray
    plate: np.ndarray
    alpha: Optional[np.ndarray]
    subsets: tuple


def _read_rgb(path: Path, max_side: int = 0) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    if max_side and max(image.shape[:2]) > max_side:
        s = max_side / max(image.shape[:2])
        image = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def triangulate_alpha(comp_a, comp_b, back_a, back_b, match_exposure: bool = False) -> np.ndarray:
    """Smith & Blinn triangulation: alpha from one object over two known backdrops (HxW float32).

    The method assumes each empty backdrop was shot exactly as it lies behind the
    object. With ``match_exposure`` a drift of exposure or white balance between
    the two shots is measured (per channel, median over the pixels a first
    triangulation calls backdrop) and taken out first: uncorrected, the flowers'
    backdrops drift by up to 19 % in a channel, and the whole backdrop came out
    3 % opaque.
    """
    if match_exposure:
        alpha = triangulate_alpha(comp_a, comp_b, back_a, back_b)
        backdrop = cv2.dilate((alpha > 0.3).astype(np.uint8), np.ones((31, 31), np.uint8)) == 0
        if backdrop.sum() >= 100:
            back_a, back_b = (back * np.median(comp[backdrop] / np.maximum(back[backdrop], 1e-3), axis=0)
                              for comp, back in ((comp_a, back_a), (comp_b, back_b)))
    d_back = back_a - back_b
    num = ((comp_a - comp_b) * d_back).sum(axis=2)
    den = np.maximum((d_back * d_back).sum(axis=2), 1e-4)
    return np.clip(1.0 - num / den, 0.0, 1.0).astype(np.float32)


def clear_far_backdrop(alpha: np.ndarray, radius: int = 15, opaque: float = 0.3) -> np.ndarray:
    """``alpha`` (HxW float32 [0, 1]) set to 0 farther than ``radius`` pixels from any pixel above ``opaque``.

    For a triangulated truth: far from the object the estimate measures only what
    changed between the shots of the same backdrop (a fabric's folds shifting, the
    light drifting), not coverage. On the flowers pair that is a veil of 0.02 over
    half the frame, 10 SAD (x1000) that no matte can match, added to every method
    alike. Near the object (the see-through vase, its rims, faint petals) the
    truth is kept as measured.
    """
    if radius <= 0:
        return alpha
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate((alpha > opaque).astype(np.uint8), kernel) > 0
    return np.where(near, alpha, 0).astype(np.float32)


def real_pairs(data_dir: Optional[Path], max_side: int = 1024) -> list:
    """The real pairs of the shared data folder that exist (none when it is absent)."""
    items = []
    if data_dir is None:
        return items
    flowers = data_dir / "flowers-triangulation"
    if flowers.is_dir():
        ca, cb, ba, bb = (_read_rgb(flowers / f"flowers-{n}.jpg", max_side) for n in
                          ("compA", "compB", "backA", "backB"))
        truth = clear_far_backdrop(triangulate_alpha(ca, cb, ba, bb, match_exposure=True))
        items.append(DevItem("flowers-A", ca, ba, truth, ("real",)))
    handheld = data_dir / "bgm-v1-handheld"
    if handheld.is_dir():
        plate = _read_rgb(handheld / "plate.png", max_side)
        for frame in sorted(handheld.glob("*_img.png")):
            items.append(DevItem(f"handheld-{frame.stem}", _read_rgb(frame, max_side), plate, None, ("real",)))
    return items


def dev_set(data_dir: Optional[Path], count: int = 40, size=(384, 512),  # (height, width)
            first_seed: int = EVAL_SEED_BASE) -> list:
    """``count`` synthetic items over SUBSETS (a third with real object masks when data exists) + real pairs.

    The synthetic items use seeds ``first_seed`` ... ``first_seed + count - 1``; the
    dev set is seed 0 on, and another start draws fresh items of the same kind
    (a check that a choice made on the dev set holds beyond its items).
    """
    from .synth import TRAIN_SEED_BASE, make_pair

    if first_seed < 0 or first_seed + count > TRAIN_SEED_BASE:
        raise ValueError(f"the first seed must lie in 0..{TRAIN_SEED_BASE - count}: training uses the seeds "
                         f"from {TRAIN_SEED_BASE:,} on, got {first_seed}")
    items = []
    for i in range(count):
        subset = SUBSETS[i % len(SUBSETS)]
        real = data_dir is not None and i % 3 == 2
        pair = make_pair(first_seed + i, size, data_dir=data_dir if real else None,
                         kind="real" if real else "product",
                         tags=None if subset == "plain" else {subset})
        names = tuple(sorted({subset, *(t for t in pair.tags if t in SUBSETS)}))
        items.append(DevItem(f"synth-{i:03d}", pair.photo, pair.plate, pair.alpha, names))
    return items + real_pairs(data_dir)


def evaluate(items: Sequence[DevItem], methods: Sequence[str], progress=None) -> dict:
    """{method: {"items": [(item, result, metrics|None, seconds)], "failed": [(name, message)]}}.

    "best" is not run again: for each item it takes, among the candidates run
    here, the result the quality judge keeps (the pipeline's own rule), and
    counts the time of all of them.
    """
    from .errors import MattingError
    from .pipeline import MatteOptions, Pipeline

    pipeline = Pipeline()
    report = {}
    for method in [m for m in methods if m != "best"]:
        rows, failed = [], []
        for k, item in enumerate(items):
            start = time.perf_counter()
            try:
                result = pipeline.run(item.photo, item.plate, MatteOptions(method=method))
            except MattingError as err:
                failed.append((item.name, str(err)))
                continue
            seconds = time.perf_counter() - start
            metrics = all_metrics(result.alpha, item.alpha) if item.alpha is not None else None
            rows.append((item, result, metrics, seconds))
            if progress:
                progress(method, (k + 1) / len(items))
        report[method] = {"items": rows, "failed": failed}
    if "best" in methods:
        trusted = "network" if "network" in report and pipeline.networks_recommended() else None
        report["best"] = pick_best(report, [m for m in ("classical", "hybrid", "network") if m in report], trusted)
    return report


def pick_best(report: dict, candidates: Sequence[str], trusted: Optional[str] = None) -> dict:
    """Per item, the candidate row the judge keeps (``core.quality.pick_candidate``, with
    ``trusted`` as the pipeline sets it; see ``evaluate``)."""
    by_item = {}
    for method in candidates:
        for row in report[method]["items"]:
            by_item.setdefault(row[0].name, []).append(row)
    rows = []
    for name, options in by_item.items():
        chosen = options[pick_candidate([row[1].method for row in options], [row[1].quality for row in options],
                                        trusted)]
        rows.append((chosen[0], chosen[1], chosen[2], sum(row[3] for row in options)))
    return {"items": rows, "failed": []}


def summarise(report: dict) -> str:
    """A plain-text table: mean metrics per method, overall and per subset."""
    lines = []
    keys = ("SAD", "MSE", "Grad", "Conn", "IoU")
    header = f"{'method':<10} {'subset':<13} {'n':>3} " + " ".join(f"{k:>8}" for k in keys) + f" {'s/img':>6}"
    lines.append(header)
    for method, data in report.items():
        scored = [(item, m, s) for item, _, m, s in data["items"] if m is not None]
        groups = {"all": scored}
        for name in (*SUBSETS, "real"):
            groups[name] = [row for row in scored if name in row[0].subsets]
        for name, rows in groups.items():
            if not rows:
                continue
            means = [np.mean([m[k] for _, m, _ in rows]) for k in keys]
            secs = np.mean([s for _, _, s in rows])
            lines.append(f"{method:<10} {name:<13} {len(rows):>3} " + " ".join(f"{v:8.3f}" for v in means)
                         + f" {secs:6.2f}")
        for name, message in data["failed"]:
            lines.append(f"{method:<10} FAILED {name}: {message}")
    lines += compare_pick(report, keys)
    lines += target_lines(report)
    return "\n".join(lines)


TARGET_RATIO = 3.0  # issue #3: the networks beat the classical path by 3x in SAD and in MSE on the dev set


def target_lines(report: dict, baseline: str = "classical") -> list:
    """Lines "METHOD vs classical: SAD 1.44x, MSE 2.05x better (target 3x: not met)" for the
    learned methods, on the items both scored (the ratio of mean errors)."""
    if baseline not in report:
        return []
    base = {item.name: m for item, _, m, _ in report[baseline]["items"] if m is not None}
    lines = []
    for method in ("network", "best"):
        pairs = [(base[item.name], m) for item, _, m, _ in report.get(method, {}).get("items", [])
                 if m is not None and item.name in base]
        if not pairs:
            continue
        ratios = {k: np.mean([b[k] for b, _ in pairs]) / max(np.mean([m[k] for _, m in pairs]), 1e-9)
                  for k in ("SAD", "MSE")}
        met = all(r >= TARGET_RATIO for r in ratios.values())
        lines.append(f"{method} vs {baseline}: SAD {ratios['SAD']:.2f}x, MSE {ratios['MSE']:.2f}x better "
                     f"(target {TARGET_RATIO:g}x: {'met' if met else 'not met'}; n={len(pairs)})")
    return lines


def compare_pick(report: dict, keys: Sequence[str]) -> list:
    """Lines "best vs METHOD: SAD -0.123 ..." (mean differences over the items both scored; negative
    is better for SAD/MSE/Grad/Conn, positive for IoU); none without a "best" entry."""
    if "best" not in report:
        return []
    picked = {item.name: m for item, _, m, _ in report["best"]["items"] if m is not None}
    lines = []
    for method, data in report.items():
        pairs = [(picked[item.name], m) for item, _, m, _ in data["items"]
                 if method != "best" and m is not None and item.name in picked]
        if pairs:
            diffs = " ".join(f"{k} {np.mean([p[k] - c[k] for p, c in pairs]):+.3f}" for k in keys)
            lines.append(f"best vs {method}: {diffs} (n={len(pairs)})")
    return lines


def _checkerboard(h: int, w: int, cell: int = 12) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 0.8, 0.55).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=2)


def contact_sheet(report: dict, thumb_height: int = 160, max_rows: int = 24) -> np.ndarray:
    """RGB uint8 sheet: per item, photo | truth, then per method coarse mask | alpha | cut-out on a checkerboard."""
    methods = list(report)
    by_name = {}
    for method in methods:
        for item, result, _, _ in report[method]["items"]:
            by_name.setdefault(item.name, {"item": item})[method] = result
    names = [n for n in by_name if by_name[n]["item"].subsets == ("real",)]
    names += [n for n in by_name if n not in names][: max(0, max_rows - len(names))]
    rows = []
    for name in names:
        entry = by_name[name]
        item = entry["item"]
        h, w = item.photo.shape[:2]
        tw = max(1, int(round(w * thumb_height / h)))
        thumb = lambda img: cv2.resize(img, (tw, thumb_height), interpolation=cv2.INTER_AREA)
        grey = lambda a: np.repeat(thumb(a.astype(np.float32))[..., None], 3, axis=2)
        cells = [thumb(item.photo), grey(item.alpha) if item.alpha is not None else np.zeros((thumb_height, tw, 3), np.float32)]
        for method in methods:
            result = entry.get(method)
            if result is None:
                cells += [np.zeros((thumb_height, tw, 3), np.float32)] * 3
                continue
            a = thumb(result.alpha)[..., None]
            cut = a * thumb(result.foreground) + (1 - a) * _checkerboard(thumb_height, tw)
            cells += [grey(result.coarse_mask), grey(result.alpha), cut]
        row = np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=1.0) for c in cells], axis=1)
        row = (np.clip(row, 0, 1) * 255 + 0.5).astype(np.uint8)  # putText draws on 8-bit images only
        cv2.putText(row, name, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 50, 50), 1, cv2.LINE_AA)
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    title = np.full((28, width, 3), 255, np.uint8)
    cv2.putText(title, "photo | truth | " + " | ".join(f"{m}: coarse, alpha, cut-out" for m in methods),
                (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([title, *rows], axis=0)


DEV_SIZE = (384, 512)  # the synthetic items' size at scale 1


def run_eval(data_dir: Optional[Path], count: int, methods: Sequence[str], sheet: Optional[Path],
             scale: float = 1.0, first_seed: int = EVAL_SEED_BASE) -> int:
    """The ``eval`` command: print the table, write the contact sheet; returns an exit code.

    scale: the synthetic items are rendered at ``scale`` x 384x512 (the real pairs keep their size);
    first_seed: the first synthetic item's seed (0, the default, is the dev set).
    """
    from .imageio import write_image
    from .pipeline import Pipeline

    if data_dir is not None and not data_dir.is_dir():
        print(f"note: no shared data at {data_dir}; evaluating on synthetic products only")
        data_dir = None
    if not Pipeline.networks_available():
        print("note: network weights are not installed; evaluating the classical method only")
        methods = [m for m in methods if m not in ("network", "hybrid")]
    if not 0.25 <= scale <= 8:
        print(f"--scale must be between 0.25 and 8, got {scale:g}")
        return 2
    size = (round(DEV_SIZE[0] * scale), round(DEV_SIZE[1] * scale))
    try:
        items = dev_set(data_dir, count, size, first_seed)
    except ValueError as error:
        print(f"--first-seed: {error}")
        return 2
    seeds = "" if first_seed == EVAL_SEED_BASE else f", seeds {first_seed}-{first_seed + count - 1}"
    print(f"dev set: {len(items)} items ({count} synthetic at {size[1]}x{size[0]}{seeds}, {len(items) - count} real pairs); "
          f"methods: {', '.join(methods)}")
    report = evaluate(items, methods)
    print(summarise(report))
    if sheet is not None:
        write_image(sheet, contact_sheet(report).astype(np.float32) / 255.0, force=True)
        print(f"contact sheet: {sheet}")
    return 0
