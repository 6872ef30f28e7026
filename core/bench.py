"""``matting-studio bench``: per-stage seconds and peak memory on generated photos.

Each size runs in a fresh process, so its peak resident memory (ru_maxrss) is
its own: load photo and plate from JPEG files, run the pipeline, write the PNG.
The pair is generated beforehand by the synthetic generator and is not timed.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path


def _write_pair(folder: Path, megapixels: float, seed: int) -> tuple:
    import cv2
    import numpy as np

    from .synth import make_large_pair

    pair = make_large_pair(seed, megapixels)
    paths = []
    for name, image in (("photo", pair.photo), ("plate", pair.plate)):
        path = folder / f"{name}-{megapixels:g}mp.jpg"
        bgr = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    alpha_path = folder / f"alpha-{megapixels:g}mp.npy"
    np.save(alpha_path, (pair.alpha * 255).astype(np.uint8))
    return paths[0], paths[1], alpha_path


def _run_once(photo_path: str, plate_path: str, alpha_path: str, out_path: str, method: str, queue) -> None:
    """Child process: time every stage and report (timings, peak MB, IoU)."""
    try:
        import numpy as np

        from .export import export_matte
        from .imageio import load_image
        from .pipeline import MatteOptions, Pipeline

        timings = {}
        start = time.perf_counter()
        photo = load_image(photo_path)
        plate = load_image(plate_path)
        timings["load"] = time.perf_counter() - start
        result = Pipeline().run(photo.pixels, plate.pixels, MatteOptions(method=method))
        timings.update(result.timings)
        t = time.perf_counter()
        export_matte(out_path, photo, result.alpha, result.foreground, force=True)
        timings["export"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start
        truth = np.load(alpha_path) > 127
        cut = result.alpha > 0.5
        iou = float((truth & cut).sum() / max((truth | cut).sum(), 1))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        queue.put(("ok", timings, peak_mb, iou, result.method, photo.pixels.shape))
    except BaseException as err:  # report any failure to the parent instead of hanging it
        queue.put(("error", f"{type(err).__name__}: {err}"))


def run_bench(megapixels_list, method: str = "auto", repeat: int = 1, seed: int = 7) -> int:
    """Print a table of stage timings and peak memory per size; returns an exit code."""
    context = mp.get_context("spawn")
    print(f"matting-studio bench: method={method}, best of {repeat}, 1 process per run")
    with tempfile.TemporaryDirectory(prefix="ms-bench-") as tmp:
        folder = Path(tmp)
        for megapixels in megapixels_list:
            photo, plate, alpha = _write_pair(folder, megapixels, seed)
            best = None
            for _ in range(max(1, repeat)):
                queue = context.Queue()
                proc = context.Process(target=_run_once, args=(str(photo), str(plate), str(alpha),
                                                               str(folder / "out.png"), method, queue))
                proc.start()
                outcome = queue.get()
                proc.join()
                if outcome[0] != "ok":
                    print(f"{megapixels:g} MP: failed: {outcome[1]}", file=sys.stderr)
                    return 1
                if best is None or outcome[1]["total"] < best[1]["total"]:
                    best = outcome
            _, timings, peak_mb, iou, used, shape = best
            stages = "  ".join(f"{k} {v:5.2f}s" for k, v in timings.items() if k != "total")
            print(f"{megapixels:5g} MP ({shape[1]}x{shape[0]}, {used}): total {timings['total']:5.2f}s  "
                  f"peak {peak_mb / 1024:4.2f} GB  IoU {iou:.3f}\n    {stages}")
    return 0
