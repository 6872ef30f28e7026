"""Contact sheet of synthetic pairs, to look at: ``python -m core.synth.preview OUT.png --count 24``.

Each row is one pair: photo | plate | aligned plate | alpha | shadow, labelled
with its seed, kind and tags. Rows cycle through product, real (when the data
folder is there) and mixed pairs, and through the forced subsets.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from . import make_pair

_SUBSETS = (None, ("shadow",), ("close_colour",), ("transparent",), ("thin",), ("fuzzy",), ("blur",))


def default_data_dir() -> Path:
    """The shared data folder beside the repository (MATTING_STUDIO_DATA overrides)."""
    env = os.environ.get("MATTING_STUDIO_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def render_sheet(count: int, size: tuple[int, int], data_dir: Path | None, first_seed: int = 0,
                 tile_width: int = 256) -> np.ndarray:
    """The contact sheet as an HxWx3 uint8 RGB image."""
    kinds = ["product", "real", "mixed"] if data_dir is not None and data_dir.is_dir() else ["product", "mixed"]
    rows = []
    for i in range(count):
        seed = first_seed + i
        kind = kinds[i % len(kinds)]
        subset = _SUBSETS[(i // len(kinds)) % len(_SUBSETS)] if kind == "product" else None
        pair = make_pair(seed, size, data_dir=data_dir, kind=kind, tags=subset)
        grey = lambda a: np.repeat(a[..., None], 3, 2)  # noqa: E731
        panels = [pair.photo, pair.plate, pair.aligned_plate, grey(pair.alpha), grey(pair.shadow)]
        th = int(round(size[0] * tile_width / size[1]))
        tiles = [cv2.resize(p, (tile_width, th), interpolation=cv2.INTER_AREA) for p in panels]
        row = (np.clip(np.hstack(tiles), 0, 1) * 255).astype(np.uint8)
        label = f"seed {seed} {kind}: " + ", ".join(sorted(pair.tags))
        bar = np.full((18, row.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        rows += [bar, row]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--count", type=int, default=24, help="number of pairs (rows)")
    parser.add_argument("--size", default="384x512", help="HEIGHTxWIDTH of each pair")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    data = args.data or default_data_dir()
    sheet = render_sheet(args.count, (h, w), data if data.is_dir() else None, args.seed)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"{args.out}: could not write the contact sheet.")
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
