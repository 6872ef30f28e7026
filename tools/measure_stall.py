"""Measure how long the desktop app's event loop stalls while a large photo is cut and inspected.

    python tools/measure_stall.py [--size 6000x4000] [--method classical] [--screenshot OUT.png]
                                  [--trace-stalls FILE] [--handoff SECONDS]

Writes a seeded synthetic pair of the given size (24 MP by default) to a temp folder,
opens it in the real main window and, with a 10 ms QTimer ticking throughout, goes
through: the preview result, the full-resolution result, 100% zoom (detail tiles),
a pan at 100%, the masks page (two synchronised views), fit to window. It prints the
longest gap between ticks per phase and what the GUI thread was doing in the long ones
(timed slots and paints, the GUI thread's CPU time; --trace-stalls dumps every thread's
stack when a gap passes 80 ms). --handoff 0 turns off the worker's wait for the preview
to show, for comparison. Runs offscreen unless DISPLAY
is set (e.g. xvfb-run -a -s "-screen 0 1600x1000x24" python tools/measure_stall.py ...).
"""
from __future__ import annotations

import argparse
import faulthandler
import functools
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICK_MS = 10
PHASES = ("window shown, idle", "loading + preview pass", "preview shown", "full resolution running", "full result shown",
          "zoom to 100% (tiles)", "pan at 100% (tiles)", "masks page at 100% (tiles)", "fit to window")


def write_pair(folder: Path, width: int, height: int) -> tuple[Path, Path]:
    """A product with one-pixel stripes on a blotchy paper backdrop, and the plate; PNG, fast compression."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(3)
    blotches = cv2.resize(rng.random((12, 18), dtype=np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    plate = np.empty((height, width, 3), np.float32)
    plate[..., 0] = 0.75 - 0.2 * ramp + 0.08 * blotches
    plate[..., 1] = 0.72 - 0.1 * ramp + 0.05 * blotches
    plate[..., 2] = 0.55
    photo = plate.copy()
    y0, y1, x0, x1 = height // 4, 3 * height // 4, width // 3, 2 * width // 3
    photo[y0:y1, x0:x1, 0] = 0.2
    photo[y0:y1, x0:x1, 1] = 0.1 + 0.7 * (np.arange(x0, x1) % 2)[None, :]
    photo[y0:y1, x0:x1, 2] = 0.35
    paths = []
    for name, image in (("stall_photo.png", photo), ("stall_plate.png", plate)):
        path = folder / name
        cv2.imwrite(str(path), cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])
        paths.append(path)
    return paths[0], paths[1]


class Timings:
    """Wall time of instrumented GUI-thread calls, so a long gap can be attributed."""

    def __init__(self):
        self.calls: list[tuple[float, float, str]] = []  # (start, seconds, name)
        self.before: dict = {}  # name -> a hook called first (starts the profiler)

    def wrap(self, owner, name: str) -> None:
        original = getattr(owner, name)
        label = f"{owner.__name__}.{name}"

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if label in self.before:
                self.before[label]()
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.calls.append((start, time.perf_counter() - start, label))

        setattr(owner, name, timed)

    def during(self, start: float, end: float) -> dict:
        totals: dict = defaultdict(float)
        for t, seconds, label in self.calls:
            if t < end and t + seconds > start:
                totals[label] += seconds
        return dict(totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6000x4000", help="photo size WIDTHxHEIGHT")
    parser.add_argument("--method", default="classical", choices=("auto", "network", "classical"))
    parser.add_argument("--window", default="1400x900", help="window size WIDTHxHEIGHT")
    parser.add_argument("--screenshot", type=Path, help="save the window at 100%% zoom (after the tile) here")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--trace-stalls", type=Path, metavar="FILE",
                        help="append every thread's Python stack to FILE whenever a gap passes 80 ms")
    parser.add_argument("--handoff", type=float, help="override worker.PREVIEW_HANDOFF_S (0: off)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the GUI thread from the preview result to 1.5 s after it")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QPointF, Qt, QTimer

    from studio.gui import alignment_panel, main_window, result_panel, settings, views, worker
    from studio.gui import canvas as canvas_module
    from studio.gui.app import create_main_window, ensure_application

    if args.handoff is not None:
        worker.PREVIEW_HANDOFF_S = args.handoff
    timings = Timings()
    for owner, name in ((main_window.MainWindow, "_on_result"), (views.ViewStack, "set_images"),
                        (views.ViewStack, "fit"), (views.DetailTiles, "_on_detail"),
                        (canvas_module.ImageLayerItem, "paint"), (canvas_module.ImageCanvas, "drawBackground"),
                        (canvas_module.ImageCanvas, "_request_detail"), (main_window.MainWindow, "_on_progress"),
                        (main_window.MainWindow, "_refresh_state"), (main_window.MainWindow, "_fill_recent"),
                        (main_window.MainWindow, "_show_status"), (settings.Settings, "add_recent_pair"),
                        (alignment_panel.AlignmentPanel, "set_report"), (result_panel.ResultPanel, "set_result")):
        timings.wrap(owner, name)

    width, height = (int(v) for v in args.size.lower().split("x"))
    app = ensure_application()
    # phase -> [(gap seconds, end time, GUI-thread CPU seconds in the gap)]
    gaps: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    state = {"phase": PHASES[0], "last": time.perf_counter(), "t0": time.perf_counter(), "cpu": time.thread_time()}

    trace = open(args.trace_stalls, "a") if args.trace_stalls else None  # noqa: SIM115 (open for the run)

    def tick() -> None:
        if trace is not None:
            # a C watchdog thread (no GIL needed) dumps all stacks if the next tick is late
            faulthandler.dump_traceback_later(0.08, file=trace)
        now, cpu = time.perf_counter(), time.thread_time()
        gaps[state["phase"]].append((now - state["last"], now, cpu - state["cpu"]))
        state["last"], state["cpu"] = now, cpu

    def enter(phase: str) -> None:
        state["phase"] = phase
        print(f"{time.perf_counter() - state['t0']:7.1f} s  {phase}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        print(f"writing a {width}x{height} pair...", flush=True)
        photo, plate = write_pair(Path(tmp), width, height)
        window = create_main_window(Path(tmp) / "stall.ini")
        w, h = (int(v) for v in args.window.lower().split("x"))
        window.resize(w, h)
        window.show()
        window.actions_.method[args.method].trigger()
        window.show_page("cutout")
        canvas = window.views.cutout.canvas
        ticker = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=TICK_MS)
        ticker.timeout.connect(tick)
        script: list = []

        def later(ms: int, step) -> None:
            timer = QTimer(singleShot=True, interval=ms)
            timer.timeout.connect(step)
            timer.start()
            script.append(timer)

        def on_result(out) -> None:
            if not out.final:
                enter(PHASES[2])
                later(1500, lambda: enter(PHASES[3]) if state["phase"] == PHASES[2] else None)
                if profiler is not None:
                    state["profiled"] = True
                    later(1500, profiler.disable)
                return
            enter(PHASES[4])
            later(1500, zoom)

        def zoom() -> None:
            enter(PHASES[5])
            window.views.set_zoom(1.0)
            canvas.centerOn(QPointF(width / 3, height / 2))  # the product's left edge
            later(2500, shoot_and_pan)

        def shoot_and_pan() -> None:
            if args.screenshot is not None:
                window.grab().save(str(args.screenshot))
                print(f"screenshot: {args.screenshot} (tile shown: {canvas.has_detail()})", flush=True)
                state["last"], state["cpu"] = time.perf_counter(), time.thread_time()  # not the app's own time
            enter(PHASES[6])
            bar = canvas.horizontalScrollBar()
            for k in range(1, 31):  # a 30-frame drag of 600 px
                later(16 * k, lambda: bar.setValue(bar.value() + 20))
            later(16 * 30 + 2500, masks)

        def masks() -> None:
            enter(PHASES[7])
            window.show_page("masks")
            later(2500, fit)

        def fit() -> None:
            enter(PHASES[8])
            window.views.fit()
            later(1500, app.quit)

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()  # profiles the GUI thread only
            timings.before["MainWindow._on_result"] = lambda: profiler.enable() if not state.get("profiled") else None
            state["profiled"] = False
        window.resultShown.connect(on_result)
        window.errorShown.connect(lambda message: (print("error:", message), app.quit()))
        later(int(args.timeout * 1000), app.quit)
        state["last"], state["t0"], state["cpu"] = time.perf_counter(), time.perf_counter(), time.thread_time()
        ticker.start()
        later(1000, lambda: (enter(PHASES[1]), window.open_pair(photo, plate)))
        app.exec()
        ticker.stop()
        if trace is not None:
            faulthandler.cancel_dump_traceback_later()
            trace.close()
        window.close()

    print(f"\nlongest gaps between {TICK_MS} ms ticks (GUI thread), photo {width}x{height}, "
          f"window {args.window}, method {args.method}:")
    for phase in PHASES:
        if not gaps.get(phase):
            continue
        values = gaps[phase]
        worst, end, cpu = max(values)
        over = sum(1 for g, _, _ in values if g > 0.05)
        busy = timings.during(end - worst, end)
        where = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sorted(busy.items(), key=lambda kv: -kv[1]) if v > 0.002)
        print(f"  {phase:30s} max {worst * 1000:6.1f} ms (GUI thread on CPU {cpu * 1000:4.0f} ms)   "
              f"gaps > 50 ms: {over:3d}   in it: {where or '-'}")
    if args.profile:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
