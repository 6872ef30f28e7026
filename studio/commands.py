"""Headless commands behind ``matting-studio``: argument handling and terminal output only.

All pixel work is in ``core``; this module turns parsed arguments into core
calls, checks outputs before doing any work, and prints one line per problem.
"""
from __future__ import annotations

import argparse
import sys
import time

from studio.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, matte_options


class TerminalProgress:
    """``progress(stage, fraction)`` drawn as one updating line on a terminal (silent otherwise)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.last = ""

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        filled = int(fraction * 30)
        line = f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {stage:<12}"
        if line != self.last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.last = line

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * len(self.last) + "\r")
            sys.stderr.flush()


def _refuse_existing(paths: list, force: bool) -> None:
    from core.errors import ImageWriteError

    for path in paths:
        if path is None:
            continue
        if path.exists() and not force:
            raise ImageWriteError("already exists; pass --force to overwrite it or choose another name", path)
        if not path.parent.exists():
            raise ImageWriteError(f"the folder {path.parent} does not exist; create it first", path)


def run_cut(args: argparse.Namespace) -> int:
    from core.errors import MattingError
    from core.jobs import Cancelled

    progress = TerminalProgress(not args.quiet)
    try:
        return _cut(args, progress)
    except MattingError as err:
        progress.close()
        print(f"matting-studio: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except (KeyboardInterrupt, Cancelled):
        progress.close()
        print("matting-studio: interrupted; no partial files were left", file=sys.stderr)
        return EXIT_INTERRUPTED


def _cut(args: argparse.Namespace, progress: TerminalProgress) -> int:
    from core.errors import AlignmentError, MattingError
    from core.export import ExportOptions, export_matte, output_format
    from core.imageio import load_image
    from core.pipeline import Pipeline

    started = time.perf_counter()
    outputs = [args.output, args.alpha, args.mask]
    _refuse_existing(outputs, args.force)
    if len({p.resolve() for p in outputs if p is not None}) < len([p for p in outputs if p is not None]):
        raise MattingError("the output, --alpha and --mask must be different files")
    for source in (args.photo, args.plate):
        if any(p is not None and p.resolve() == source.resolve() for p in outputs):
            raise MattingError("an output would overwrite an input; choose another output name", source)
    export = ExportOptions(format=args.format, crop=args.crop, padding=args.padding, background=args.background)
    output_format(args.output, export)  # reject a bad --format before the slow part

    photo = load_image(args.photo)
    plate = load_image(args.plate)
    progress("load", 0.0)
    try:
        result = Pipeline().run(photo.pixels, plate.pixels, matte_options(args), progress=progress)
    except AlignmentError as err:
        raise err.with_path(args.plate) from None
    progress.close()

    written = [export_matte(args.output, photo, result.alpha, result.foreground, export, force=args.force)]
    crop_only = ExportOptions(crop=args.crop, padding=args.padding, alpha_only=True, bit_depth=8)
    if args.alpha is not None:
        written.append(export_matte(args.alpha, photo, result.alpha, result.foreground, crop_only, force=args.force))
    if args.mask is not None:
        written.append(export_matte(args.mask, photo, result.coarse_mask, result.foreground, crop_only,
                                    force=args.force))
    if not args.quiet:
        q = result.quality
        verdict = "NEEDS REVIEW" if q.needs_review else "ok"
        print(f"{args.photo.name}: {result.method} matte, quality {q.score:.2f} ({verdict}); "
              f"alignment {result.alignment.verdict}: {result.alignment.message}")
        for note in result.notes:
            print(f"  note: {note}")
        for reason in q.reasons:
            print(f"  review: {reason}")
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
        print(f"  {stages}; total {time.perf_counter() - started:.1f}s")
        for path in written:
            print(f"  wrote {path}")
    return EXIT_OK
