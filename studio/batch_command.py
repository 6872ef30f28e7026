"""``matting-studio batch``: cut a folder of photos, show progress, write the report.

Terminal only: the work is ``core.batch.run_batch`` and the report ``core.report``.
Output: a progress bar with ETA on stderr (when it is a terminal), one line per
photo on stdout, one line per failure on stderr, and a final summary line; with
-q only the failures and the summary. The first Ctrl+C stops after the current
stage (abandoning that photo), a second one at once; either way the report of
what was done is written and the exit code is 130.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from studio.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, add_export_arguments, matte_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input_dir", type=Path, nargs="?", metavar="INPUT_DIR",
                   help="the folder of photos (optional with --pairs-csv)")
    p.add_argument("--plate", type=Path, help="one plate for every photo (tripod set-up); without it each "
                   "NAME.jpg uses NAME_plate.*, NAME-plate.* or NAME_back.* beside it")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT_DIR",
                   help="the folder for the cut-outs (created if needed): OUT_DIR/NAME.png")
    p.add_argument("--pattern", help="which files are photos, e.g. '*.jpg' (default: every JPEG, PNG, TIFF, "
                   "WebP and BMP; case-insensitive)")
    p.add_argument("--pairs-csv", type=Path, metavar="MAP.csv", help="pair photos and plates by a CSV with the "
                   "header photo,plate[,output] (paths relative to the CSV, outputs to OUT_DIR)")
    add_export_arguments(p, force_help="redo photos whose output exists (default: skip them)")
    p.add_argument("--report-dir", type=Path, metavar="DIR",
                   help="where to write report.csv and report.html (default OUT_DIR)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary line")


class BatchDisplay:
    """The ``progress`` callback of ``run_batch``: bar on a terminal, a line per finished photo."""

    def __init__(self, quiet: bool, cancel=None):
        self.quiet, self.cancel = quiet, cancel
        self.bar = not quiet and sys.stderr.isatty()
        self.drawn = ""
        self.told_stopping = False

    def __call__(self, p) -> None:
        if p.last is not None:
            self._report(p.last)
        if self.cancel is not None and self.cancel.cancelled and not self.told_stopping:
            self.told_stopping = True
            self._print("stopping after the current step (Ctrl+C again stops at once)...", sys.stderr)
        if self.bar:
            self._draw(p)

    def _report(self, item) -> None:
        from core.batch import FAILED, SKIPPED

        name = item.job.photo.name
        if item.status == FAILED:
            self._print(f"matting-studio: error: {item.error}", sys.stderr)
        elif self.quiet:
            return
        elif item.status == SKIPPED:
            self._print(f"{name}: skipped: {item.error}", sys.stdout)
        else:
            q, a = item.quality, item.alignment
            line = f"{name}: {item.status}, {item.method}, quality {q.score:.2f}, alignment {a.verdict}, " \
                   f"{item.seconds:.1f}s"
            reasons = "; ".join(q.reasons)
            self._print(line + (f" ({reasons})" if reasons else ""), sys.stdout)

    def _draw(self, p) -> None:
        from core.report import format_duration

        filled = int(p.fraction * 24)
        eta = f"ETA {format_duration(p.eta)}" if p.eta is not None else "ETA --"
        current = (p.current or "")[:28]
        line = f"\r[{'#' * filled}{'.' * (24 - filled)}] {p.done}/{p.total} {eta:<11} {current:<28} {p.stage:<10}"
        if line != self.drawn:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.drawn = line

    def _print(self, text: str, stream) -> None:
        self.clear()
        print(text, file=stream, flush=True)

    def clear(self) -> None:
        if self.bar and self.drawn:
            sys.stderr.write("\r" + " " * (len(self.drawn) - 1) + "\r")
            sys.stderr.flush()
            self.drawn = ""


@contextmanager
def ctrl_c_cancels(cancel) -> Iterator[None]:
    """While inside: the first Ctrl+C sets ``cancel``, the second raises KeyboardInterrupt as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()  # printing here could re-enter a stream write; the display tells the user

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_export(export) -> None:
    """Reject a bad --padding or --background before any photo is cut."""
    from core.errors import MattingError
    from core.export import parse_colour, parse_padding

    parse_padding(export.padding, 100)
    if export.background is not None and parse_colour(export.background) is None:
        if not Path(export.background).expanduser().is_file():
            raise MattingError(f"--background {export.background!r} is neither a colour (#ffffff, white, "
                               "255,255,255) nor an image file")


def run_batch_command(args: argparse.Namespace) -> int:
    from core.batch import FAILED, plan_batch, run_batch
    from core.errors import MattingError
    from core.export import ExportOptions
    from core.jobs import CancelToken
    from core.report import summarize, write_report

    export = ExportOptions(format=args.format, crop=args.crop, padding=args.padding, background=args.background)
    cancel = CancelToken()
    display = BatchDisplay(args.quiet, cancel)
    try:
        _check_export(export)
        jobs = plan_batch(args.input_dir, plate=args.plate, pattern=args.pattern, pairs_csv=args.pairs_csv,
                          output_dir=args.output, export=export)
        with ctrl_c_cancels(cancel):
            result = run_batch(jobs, options=matte_options(args), export=export, force=args.force,
                               progress=display, cancel=cancel)
        display.clear()
        csv_path, html_path = write_report(result, args.report_dir or args.output)
    except MattingError as err:
        display.clear()
        print(f"matting-studio: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    failed = result.count(FAILED)
    if result.cancelled:
        print(f"batch interrupted: {summarize(result)}; report: {html_path}")
        print("matting-studio: interrupted; no partial files were left", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"batch: {summarize(result)}; report: {html_path}")
    return EXIT_ERROR if failed else EXIT_OK
