"""Time the shipped networks on a large synthetic pair: ``python -m core.train.bench [--megapixels 24] [--threads 2]``.

Prints wall and process-CPU seconds for the coarse mask, the matting base (with
its upsampling) and the patch refinement, so speed claims in the model card can
be re-measured on any machine.
"""
from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    import cv2
    import torch

    from core.models import inference, registry
    from core.synth import make_large_pair

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    pair = make_large_pair(args.seed, args.megapixels)
    photo, plate = pair.photo, pair.aligned_plate
    registry.load_model("coarse", "cpu")
    registry.load_model("matting", "cpu")
    print(f"photo {photo.shape[1]}x{photo.shape[0]}, {args.threads} thread(s)")
    for _ in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        coarse = inference.predict_coarse_mask(photo, plate, device="cpu")
        coarse_wall, coarse_cpu = time.perf_counter() - wall, time.process_time() - cpu
        marks = {}

        def progress(stage: str, fraction: float) -> None:
            if fraction >= 0.2 and "base" not in marks:
                marks["base"] = (time.perf_counter() - wall, time.process_time() - cpu)

        wall, cpu = time.perf_counter(), time.process_time()
        result = inference.refine_matte(photo, plate, coarse, device="cpu", progress=progress)
        total_wall, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
        base_wall, base_cpu = marks["base"]
        print(
            f"coarse {coarse_wall:.2f} s (cpu {coarse_cpu:.2f})  base {base_wall:.2f} s (cpu {base_cpu:.2f})  "
            f"refine {total_wall - base_wall:.2f} s (cpu {total_cpu - base_cpu:.2f}) over {result.refined_tiles} tiles"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
