"""Render the main window with the bundled sample cut, to a PNG.

    python tools/screenshot.py docs/screenshot.png [--page cutout|masks|alignment] [--size 1500x950]

Runs offscreen by default (QT_QPA_PLATFORM=offscreen); under Xvfb use
``xvfb-run -a python tools/screenshot.py OUT.png`` with QT_QPA_PLATFORM=xcb.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sample_pair(folder: Path) -> tuple[Path, Path]:
    from studio.gui.files import find_plate_candidate, is_image_path, looks_like_plate

    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p)) if folder.is_dir() else []
    for photo in files:
        if looks_like_plate(photo) or any(w in photo.stem.lower() for w in ("alpha", "matte")):
            continue
        plate = find_plate_candidate(photo, files)
        if plate is not None:
            return photo, plate
    raise SystemExit(f"No photo/plate pair in {folder}; pass --photo and --plate.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--page", choices=("cutout", "masks", "alignment"), default="cutout")
    parser.add_argument("--size", default="1500x950", help="window size WIDTHxHEIGHT")
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--plate", type=Path)
    parser.add_argument("--method", default="auto", choices=("auto", "network", "classical"))
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from studio.gui.app import create_main_window, ensure_application

    if args.photo and args.plate:
        photo, plate = args.photo, args.plate
    else:
        photo, plate = _sample_pair(ROOT / "resources" / "samples")
    app = ensure_application()
    with tempfile.TemporaryDirectory() as tmp:
        window = create_main_window(Path(tmp) / "screenshot.ini")  # never the user's settings
        width, height = (int(v) for v in args.size.lower().split("x"))
        window.resize(width, height)
        window.show()
        window.actions_.method[args.method].trigger()
        window.show_page(args.page)
        window.open_pair(photo, plate)
        deadline = time.monotonic() + args.timeout
        while window.run_job is not None or window.session is None:
            if window.last_error or time.monotonic() > deadline:
                print(f"no result: {window.last_error or 'timed out'}", file=sys.stderr)
                window.close()
                return 1
            app.processEvents()
            time.sleep(0.01)
        window.actions_.fit.trigger()
        for _ in range(30):  # let layouts and repaints settle
            app.processEvents()
            time.sleep(0.01)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.output))
        window.close()
    print(f"wrote {args.output}" if ok else f"could not write {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
