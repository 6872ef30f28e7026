"""The training log: a CSV appended as training runs, and a PNG of the loss curves drawn with OpenCV."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def append_log(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV at ``path``, writing the header first if the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_log(path: Path) -> dict[str, np.ndarray]:
    """Columns of the CSV as float arrays (rows whose header differs from the first are skipped)."""
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if "step" in r and r["step"] not in (None, "step")]
    if not rows:
        return {}
    keys = [k for k in rows[0] if k is not None]
    return {k: np.array([float(r.get(k) or "nan") for r in rows]) for k in keys}


def plot_losses(log_path: Path, png_path: Path, skip: tuple[str, ...] = ("step", "time_s", "samples", "lr", "synth", "samples_per_s")) -> None:
    """Draw every loss column of the log against step, log10 y axis, EMA-smoothed, to ``png_path`` (RGB PNG)."""
    if not log_path.exists():
        return
    columns = read_log(log_path)
    if "step" not in columns or len(columns["step"]) < 2:
        return
    width, height, margin = 900, 500, 60
    canvas = np.full((height, width, 3), 255, np.uint8)
    steps = columns["step"]
    series = {k: v for k, v in columns.items() if k not in skip and np.isfinite(v).any() and (v[np.isfinite(v)] > 0).all()}
    if not series:
        return
    smoothed = {}
    for key, values in series.items():
        out, ema = np.empty_like(values), None
        for i, value in enumerate(values):
            ema = value if ema is None or not math.isfinite(ema) else 0.9 * ema + 0.1 * value
            out[i] = ema
        smoothed[key] = np.log10(np.maximum(out, 1e-6))
    lo = min(np.nanmin(v) for v in smoothed.values())
    hi = max(np.nanmax(v) for v in smoothed.values())
    lo, hi = math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2 + 1e-6
    x0, x1 = steps.min(), max(steps.max(), steps.min() + 1)

    def to_px(step, value):
        x = margin + (step - x0) / (x1 - x0) * (width - 2 * margin)
        y = height - margin - (value - lo) / (hi - lo) * (height - 2 * margin)
        return int(x), int(y)

    cv2.rectangle(canvas, (margin, margin), (width - margin, height - margin), (0, 0, 0), 1)
    for tick in np.arange(lo, hi, 0.5):
        _, y = to_px(x0, tick)
        cv2.line(canvas, (margin, y), (width - margin, y), (220, 220, 220), 1)
        cv2.putText(canvas, f"{10 ** tick:.3g}", (2, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(canvas, f"step {int(x0)}", (margin, height - margin + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(canvas, f"step {int(x1)}", (width - margin - 90, height - margin + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for i, (key, values) in enumerate(smoothed.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        points = np.array([to_px(s, v) for s, v in zip(steps, values) if np.isfinite(v)], np.int32)
        cv2.polylines(canvas, [points], False, colour, 1, cv2.LINE_AA)
        cv2.putText(canvas, key, (width - margin + 4 - 170, margin + 16 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    cv2.putText(canvas, f"{log_path.parent.name}: losses (EMA 0.9, log scale)", (margin, margin - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    tmp = png_path.with_suffix(".tmp.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    tmp.replace(png_path)
