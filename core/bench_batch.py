"""``matting-studio bench --batch``: images per minute of ``run_batch`` on a tripod set-up.

Generates N distinct shots that share ONE plate, as on a tripod: one backdrop
rendered once, a different procedural product (and shadow) per shot, all
photos in the same camera frame, and the plate captured once from a slightly
moved camera (which alignment must still undo). Everything is written as JPEG
(quality 95) beforehand, untimed. The batch then runs end to end in a fresh
process, whose peak resident memory (ru_maxrss) is its own; wall time and CPU
time (``time.process_time``: every thread of that process) are both reported,
so a figure taken on a loaded machine can be read against its CPU share.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import resource
import sys
import tempfile
import time
from pathlib import Path


def write_tripod_set(folder: Path, count: int, megapixels: float, seed: int = 11) -> tuple[list, Path]:
    """Write ``count`` photos and one plate (JPEG q95) and the true alphas (1/4 size, .npy).

    Returns (photo paths, plate path). The backdrop and its fine texture come from
    ``seed``, each product from its own seed, so the shots differ but the plate is shared.
    """
    import cv2
    import numpy as np

    from .synth.capture import add_tiled_noise
    from .synth.large import large_size
    from .synth.pairs import Scene, capture_pair, compose_scene, motion_margins

    h, w = large_size(megapixels)
    sh, sw = large_size(min(1.0, megapixels))  # the scene is rendered at ~1 MP, as make_large_pair does
    s = w / sw
    margin = int(np.ceil(motion_margins(h, w)[0] / s)) + 1
    rng = np.random.default_rng(seed)
    backdrop = compose_scene(rng, sh, sw, None, False, frozenset(), margin=margin)
    big_m = int(round(backdrop.margin * s))
    canvas = cv2.resize(backdrop.canvas, (w + 2 * big_m, h + 2 * big_m), interpolation=cv2.INTER_LINEAR)
    add_tiled_noise(canvas, 0.003, rng)
    del backdrop

    def save(path: Path, image) -> Path:
        bgr = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        return path

    photos, plate = [], None
    for i in range(count):
        shot_rng = np.random.default_rng([seed, i + 1])
        small = compose_scene(shot_rng, sh, sw, None, False, frozenset(), margin=margin)
        fg = cv2.resize(small.foreground, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = np.clip(cv2.resize(small.alpha, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
        np.clip(add_tiled_noise(fg, 0.01, shot_rng), 0, 1, out=fg)
        shadow = cv2.resize(small.shadow, (w, h), interpolation=cv2.INTER_LINEAR)
        pair = capture_pair(Scene(canvas, big_m, fg, alpha, shadow, small.tags), shot_rng, h, w, large=True)
        photos.append(save(folder / f"shot_{i + 1:03d}.jpg", pair.photo))
        if plate is None:  # one plate for the whole set: the first capture's
            plate = save(folder / "plate.jpg", pair.plate)
        np.save(folder / f"shot_{i + 1:03d}_alpha.npy",
                (cv2.resize(alpha, (w // 4, h // 4), interpolation=cv2.INTER_AREA) * 255).astype(np.uint8))
        del pair, small, fg, alpha, shadow
    return photos, plate


def _mean_iou(photos: list, out_dir: Path) -> float:
    """Mean IoU (alpha > 0.5) of the written cut-outs against the true alphas, at 1/4 size."""
    import cv2
    import numpy as np

    scores = []
    for photo in photos:
        out = out_dir / (photo.stem + ".png")
        image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED) if out.is_file() else None
        if image is None or image.ndim != 3 or image.shape[2] != 4:
            continue
        truth = np.load(photo.with_name(photo.stem + "_alpha.npy")) > 127
        cut = cv2.resize(image[..., 3], truth.shape[::-1], interpolation=cv2.INTER_AREA) > 127
        scores.append((truth & cut).sum() / max((truth | cut).sum(), 1))
    return float(np.mean(scores)) if scores else float("nan")


def _run_child(folder: str, plate: str, out_dir: str, method: str, queue) -> None:
    """Child process: plan and run the batch, report (figures...) or ("error", message)."""
    try:
        from .batch import plan_batch, run_batch
        from .export import ExportOptions
        from .pipeline import MatteOptions, Pipeline

        export = ExportOptions(format="png")
        jobs = plan_batch(folder, plate=plate, pattern="shot_*.jpg", output_dir=out_dir, export=export)
        warm = time.perf_counter()
        pipeline = Pipeline()
        pipeline.candidate_methods(method)  # imports (torch for the weights registry) are not throughput
        warm = time.perf_counter() - warm
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_batch(jobs, options=MatteOptions(method=method), export=export, force=True, pipeline=pipeline)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        statuses = {}
        for item in result.items:
            statuses[item.status] = statuses.get(item.status, 0) + 1
        errors = [item.error for item in result.items if item.error]
        methods = sorted({item.method for item in result.items if item.method})
        queue.put(("ok", wall, cpu, peak_mb, statuses, errors[:3], methods, len(jobs), warm))
    except BaseException as err:  # report any failure to the parent instead of hanging it
        queue.put(("error", f"{type(err).__name__}: {err}"))


def time_batch(folder: Path, plate: Path, out_dir: Path, method: str = "auto") -> tuple:
    """Run the batch on ``folder``'s shot_*.jpg in a fresh process: ("ok", wall, cpu, peak MB,
    {status: count}, first errors, methods used, jobs, start-up seconds) or ("error", message)."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    proc = context.Process(target=_run_child, args=(str(folder), str(plate), str(out_dir), method, queue))
    proc.start()
    while True:  # a child that dies without reporting (killed, out of memory) must not hang the bench
        try:
            outcome = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                return ("error", f"the batch process ended with exit code {proc.exitcode} without a result")
    proc.join()
    return outcome


def format_figures(outcome: tuple, iou: float) -> list[str]:
    _, wall, cpu, peak_mb, statuses, errors, methods, jobs, warm = outcome
    done = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return [f"  {jobs} photos ({done}; {'/'.join(methods) or '-'}): wall {wall:.1f}s = "
            f"{60 * jobs / wall:.1f} images/min, {wall / jobs:.2f} s/image; peak memory {peak_mb / 1024:.2f} GB; "
            f"mean IoU {iou:.3f}",
            f"  CPU {cpu:.1f}s = {cpu / jobs:.2f} CPU-s/image: on an idle 2-core machine "
            f"{60 * jobs / cpu:.1f} (one core busy) to {120 * jobs / cpu:.1f} (both busy) images/min",
            f"  (start-up before the first photo, not included: {warm:.1f}s)"]


def run_batch_bench(count: int = 20, megapixels: float = 12.0, method: str = "auto", seed: int = 11) -> int:
    """Print images per minute, seconds per image (wall and CPU) and peak memory; returns an exit code."""
    count = max(1, int(count))
    print(f"matting-studio bench --batch: {count} photos of {megapixels:g} MP sharing one plate "
          f"(tripod set-up), method={method}, JPEG q95 in, PNG out")
    with tempfile.TemporaryDirectory(prefix="ms-bench-batch-") as tmp:
        folder = Path(tmp) / "shots"
        folder.mkdir()
        start = time.perf_counter()
        photos, plate = write_tripod_set(folder, count, megapixels, seed)
        print(f"  generated in {time.perf_counter() - start:.0f}s (not timed)", flush=True)
        outcome = time_batch(folder, plate, Path(tmp) / "out", method)
        if outcome[0] != "ok":
            print(f"batch bench failed: {outcome[1]}", file=sys.stderr)
            return 1
        print("\n".join(format_figures(outcome, _mean_iou(photos, Path(tmp) / "out"))))
    for error in outcome[5]:
        print(f"  error: {error}", file=sys.stderr)
    return 0 if outcome[4].get("failed", 0) == 0 else 1
