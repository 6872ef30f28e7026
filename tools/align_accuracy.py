"""Measure plate alignment against the synthetic generator's ground truth.

    python tools/align_accuracy.py [--count 60] [--size 768 1152] [--data /work/shared/data]
                                   [--kinds fabric paper] [--verbose]

Renders ``count`` pairs (seeds 0..count-1), the backdrop kind cycling through
every kind the generator has ("photo" only when the data folder is present) and
every other round forced to cast a shadow, aligns each with ``align_plate`` and
prints, per backdrop kind and overall: the method used, the median and 90th
percentile corner error (the largest of the 4 photo corners' distances between
the estimated and the true plate position, in plate pixels), the median gain
error (largest per-channel relative error), verdict counts, failures
(exceptions) and the mean CPU seconds of ``align_plate`` (process time: the
machine may be shared, wall time says little).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.align import align_plate  # noqa: E402
from core.synth import backdrop_kinds, make_pair  # noqa: E402
from core.synth import pairs as synth_pairs  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"


@contextmanager
def forced_backdrop(kind: str):
    """Make the generator pick backdrop ``kind``: ``make_pair`` has no parameter for it.

    The random draw is still made, so everything else a seed renders stays the same.
    """
    pick = synth_pairs.pick_backdrop_kind

    def pick_forced(rng, photos_available, plain=False):
        pick(rng, photos_available, plain)
        return kind

    with mock.patch.object(synth_pairs, "pick_backdrop_kind", pick_forced):
        yield


def corner_error(estimated: np.ndarray, truth: np.ndarray, shape) -> float:
    """Largest distance (plate pixels) between where the two homographies put the photo's corners."""
    h, w = shape[:2]
    corners = np.array([[[0, 0]], [[w - 1, 0]], [[w - 1, h - 1]], [[0, h - 1]]], np.float64)
    a = cv2.perspectiveTransform(corners, estimated)
    b = cv2.perspectiveTransform(corners, truth)
    return float(np.linalg.norm(a - b, axis=2).max())


def measure(seed: int, kind: str, size, data: Path | None, shadow: bool) -> dict:
    """Render one pair with backdrop ``kind`` and align it; a dict of the figures."""
    with forced_backdrop(kind):
        pair = make_pair(seed, size, data_dir=data, kind="mixed" if data else "product",
                         tags={"shadow"} if shadow else None)
    row = {"seed": seed, "kind": kind, "shadow": "shadow" in pair.tags}
    start = time.process_time()
    try:
        alignment = align_plate(pair.photo, pair.plate)
    except Exception as error:  # noqa: BLE001  (a failure is a figure here, not a crash)
        row.update(seconds=time.process_time() - start, method="error", verdict="error",
                   error=f"{type(error).__name__}: {error}", corner=np.inf, gain=np.inf)
        return row
    row["seconds"] = time.process_time() - start
    report = alignment.report
    # the report's gain maps plate to photo; the generator's maps the backdrop in the photo to the plate
    gain_error = float(np.abs(np.asarray(report.gain) * pair.gain - 1.0).max())
    row.update(method=report.method, verdict=report.verdict, corner=corner_error(report.homography,
               pair.homography, pair.photo.shape), gain=gain_error, message=report.message)
    return row


def summarise(name: str, rows: list[dict]) -> str:
    corners = np.array([r["corner"] for r in rows if np.isfinite(r["corner"])])
    gains = np.array([r["gain"] for r in rows if np.isfinite(r["gain"])])
    methods = Counter(r["method"] for r in rows if r["method"] != "error")
    verdicts = Counter(r["verdict"] for r in rows if r["verdict"] != "error")
    failures = sum(r["method"] == "error" for r in rows)
    med = f"{np.median(corners):7.2f}" if corners.size else "    n/a"
    p90 = f"{np.percentile(corners, 90):7.2f}" if corners.size else "    n/a"
    gain = f"{100 * np.median(gains):5.1f}%" if gains.size else "  n/a"
    seconds = np.mean([r["seconds"] for r in rows])
    return (f"{name:<9} {len(rows):>3} {med} {p90} {gain}  {_counts(methods):<34} {_counts(verdicts):<18} "
            f"{failures:>4} {seconds:6.2f}")


def _counts(counter: Counter) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counter.items())) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--size", type=int, nargs=2, default=(768, 1152), metavar=("H", "W"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--kinds", nargs="+", choices=backdrop_kinds(), help="only these backdrop kinds")
    parser.add_argument("--verbose", action="store_true", help="one line per pair")
    args = parser.parse_args()
    data = args.data if args.data and args.data.is_dir() else None
    kinds = [k for k in (args.kinds or backdrop_kinds()) if k != "photo" or data is not None]
    if not kinds:
        parser.error("no backdrop kind to test (\"photo\" needs --data)")
    rows = []
    for seed in range(args.count):
        kind = kinds[seed % len(kinds)]
        row = measure(seed, kind, tuple(args.size), data, shadow=(seed // len(kinds)) % 2 == 0)
        rows.append(row)
        if args.verbose:
            detail = row.get("error") or row.get("message", "")
            print(f"seed {seed:3d} {kind:<8} {row['method']:<9} {row['verdict']:<6} corner {row['corner']:7.2f} "
                  f"gain {100 * row['gain']:5.1f}% {row['seconds']:5.2f}s  {detail}", flush=True)
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    print(f"{args.count} pairs of {args.size[0]}x{args.size[1]}; corner error in plate pixels, CPU seconds")
    print(f"{'backdrop':<9} {'n':>3} {'median':>7} {'p90':>7} {'gain':>6}  {'methods':<34} {'verdicts':<18} "
          f"{'fail':>4} {'cpu s':>6}")
    for kind in kinds:
        if by_kind[kind]:
            print(summarise(kind, by_kind[kind]))
    print(summarise("all", rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
