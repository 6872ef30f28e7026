"""Quick held-out figures for the exported networks: ``python -m core.train.evaluate --data ../shared/data``.

Renders the evaluation seeds 0..count-1 with ``core.synth.make_pair`` (never
used for training), runs the registry's weights through the inference
wrappers, and prints the coarse mask's IoU and MAE and the matte's alpha MAE
overall and inside the unknown band (pixels within 8 px of a soft or edge
value). This is a training-progress check; the product's evaluation is
``matting-studio eval``.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np


def _band(alpha: np.ndarray, radius: int = 8) -> np.ndarray:
    unknown = ((alpha > 0.02) & (alpha < 0.98)).astype(np.uint8)
    edges = cv2.morphologyEx((alpha > 0.5).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return cv2.dilate(unknown | edges, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)).astype(bool)


def evaluate(data_dir: str | None, count: int, size: int, kind: str = "mixed", refine: bool = True) -> dict[str, float]:
    """Mean figures over eval seeds 0..count-1 at size x size (``refine=False``: base only, no patches)."""
    from core.models import inference
    from core.models.inference import predict_coarse_mask, refine_matte
    from core.synth import make_pair

    if not refine:
        inference.MAX_REFINED_PIXELS = 0

    rows = []
    for seed in range(count):
        pair = make_pair(seed, size=(size, size), data_dir=data_dir, kind=kind)
        truth = pair.alpha
        coarse = predict_coarse_mask(pair.photo, pair.aligned_plate, device="cpu")
        matte = refine_matte(pair.photo, pair.aligned_plate, coarse, device="cpu")
        hard, predicted = truth > 0.5, coarse > 0.5
        band = _band(truth)
        rows.append({
            "coarse_iou": (hard & predicted).sum() / max(1, (hard | predicted).sum()),
            "coarse_mae": np.abs(coarse - truth).mean(),
            "alpha_mae": np.abs(matte.alpha - truth).mean(),
            "alpha_mae_band": np.abs(matte.alpha - truth)[band].mean() if band.any() else 0.0,
            "alpha_iou": (hard & (matte.alpha > 0.5)).sum() / max(1, (hard | (matte.alpha > 0.5)).sum()),
        })
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--kind", default="mixed", choices=["mixed", "product", "real"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-refine", action="store_true", help="skip the patch refiner (to measure what it adds)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    figures = evaluate(args.data, args.count, args.size, args.kind, refine=not args.no_refine)
    label = "base only" if args.no_refine else "refined"
    print(f"eval seeds 0..{args.count - 1} at {args.size} px ({args.kind}, {label}): " + "  ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
