"""Render the bundled sample pair with the project's own generator.

    python tools/make_sample.py [--seed N] [--out resources/samples]

Writes product.jpg (the photo), product_plate.jpg (the plate, re-captured by a
slightly moved camera with drifted exposure) and product_alpha.png (the true
alpha), all 1536x1024. Deterministic for a given seed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.imageio import write_image  # noqa: E402
from core.synth import make_pair  # noqa: E402

SEED = 20261127


def render(out: Path, seed: int = SEED, size=(1024, 1536), force: bool = False) -> list:
    pair = make_pair(seed, size, kind="product", tags={"shadow"})
    out.mkdir(parents=True, exist_ok=True)
    return [write_image(out / "product.jpg", pair.photo, format="jpeg", quality=93, force=force),
            write_image(out / "product_plate.jpg", pair.plate, format="jpeg", quality=93, force=force),
            write_image(out / "product_alpha.png", pair.alpha, force=force)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "samples")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    for path in render(args.out, args.seed, force=args.force):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
