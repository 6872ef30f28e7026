"""The ``matting-studio`` command: the desktop app with no arguments, headless with a subcommand.

Heavy libraries (torch, OpenCV, Qt) are imported only inside the subcommands, so
``--version`` and ``--help`` answer at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from core import __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_export_arguments(p: argparse.ArgumentParser,
                         force_help: str = "overwrite existing output files") -> None:
    """The export and method options shared by ``cut`` and ``batch``."""
    p.add_argument("--format", choices=("png", "webp", "tiff"),
                   help="output format (default: from OUT's suffix, else png)")
    p.add_argument("--crop", action="store_true", help="trim to the product's bounding box")
    p.add_argument("--padding", default="0", metavar="PX|PCT%",
                   help="with --crop: margin in pixels (40) or percent of the product's size (5%%)")
    p.add_argument("--background", metavar="COLOR|IMAGE",
                   help="write an opaque composite over a colour (#ffffff) or an image instead of transparency")
    p.add_argument("--method", choices=("auto", "network", "classical", "hybrid", "best"), default="auto",
                   help="auto (default): the networks where their shipped weights beat the classical solve, "
                        "else classical; hybrid: the network's coarse mask seeds the classical solve; "
                        "best: make every candidate and keep the one the quality judge scores highest")
    p.add_argument("--trust-plate", action="store_true",
                   help="use the plate even when the scene check says it shows another scene (a product "
                        "filling the frame on plain paper); blank plates and impossible warps are still "
                        "refused, and the alignment is marked 'check'")
    p.add_argument("--keep-specks", action="store_true",
                   help="keep every piece of the network's matte; by default pieces lying apart from the product "
                        "with under 1%% of the largest piece's alpha are cleared (where the scene changed between "
                        "photo and plate)")
    p.add_argument("--no-see-through", action="store_true",
                   help="keep the network's opacity for see-through areas (glass, film); by default it is "
                        "re-measured from the backdrop texture seen through them where the backdrop has texture")
    p.add_argument("--force", action="store_true", help=force_help)


def matte_options(args: argparse.Namespace):
    """The ``core.pipeline.MatteOptions`` of ``cut`` and ``batch`` (imports the core on call)."""
    from core.align import AlignOptions
    from core.pipeline import MatteOptions
    from core.specks import SPECK_SHARE

    return MatteOptions(method=args.method, align=AlignOptions(trust_plate=args.trust_plate),
                        speck_share=0.0 if args.keep_specks else SPECK_SHARE,
                        see_through=not args.no_see_through)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matting-studio",
        description="Cut products out of studio photos using a plate (the backdrop shot without the product). "
                    "With no command, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"matting-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cut = sub.add_parser("cut", help="cut one photo out against its plate",
                         description="Cut PHOTO out against PLATE and write a transparent image to OUT.")
    cut.add_argument("photo", type=Path, metavar="PHOTO")
    cut.add_argument("--plate", type=Path, required=True, help="the backdrop shot without the product")
    cut.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="the cut-out to write")
    cut.add_argument("--alpha", type=Path, metavar="ALPHA.png", help="also write the alpha as a grey PNG")
    cut.add_argument("--mask", type=Path, metavar="MASK.png", help="also write the coarse mask as a grey PNG")
    cut.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    add_export_arguments(cut)

    bench = sub.add_parser("bench", help="time the pipeline on generated photos and print the figures")
    bench.add_argument("--megapixels", type=float, nargs="+", default=[12.0, 24.0])
    bench.add_argument("--method", choices=("auto", "network", "classical", "hybrid", "best"), default="auto")
    bench.add_argument("--repeat", type=int, default=1, help="runs per size (the best is reported)")
    bench.add_argument("--batch", type=int, nargs="?", const=20, metavar="N",
                       help="time `batch` on N generated photos sharing one plate (default 20, first --megapixels)")

    from studio.batch_command import add_arguments as add_batch_arguments

    add_batch_arguments(sub.add_parser("batch", help="cut a folder of photos and write a report",
                                       description="Cut every photo in INPUT_DIR out against its plate, write "
                                                   "OUT_DIR/NAME.png and report.csv / report.html."))

    ev = sub.add_parser("eval", help="score the methods on the dev set and write a contact sheet")
    ev.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data",
                    help="the shared data folder (real masks and real pairs); default ../shared/data")
    ev.add_argument("--count", type=int, default=40, help="synthetic dev items (default 40)")
    ev.add_argument("--methods", nargs="+", choices=("classical", "network", "hybrid", "best"),
                    default=["classical", "network", "hybrid", "best"])
    ev.add_argument("--sheet", type=Path, default=Path("eval-contact-sheet.png"), help="contact sheet PNG to write")
    ev.add_argument("--scale", type=float, default=1.0,
                    help="render the synthetic items this many times larger than 512x384 (3: 1536x1152, "
                         "nearer a real photo, where the refiner works; default 1)")
    ev.add_argument("--first-seed", type=int, default=0, metavar="SEED",
                    help="the first synthetic item's seed: 0 (the default) is the dev set; another start "
                         "draws fresh items of the same kinds, to check a choice made on the dev set")

    try:
        from core.train import cli as train_cli
    except ImportError:
        train_cli = None
    if train_cli is not None and hasattr(train_cli, "add_arguments"):
        train = sub.add_parser("train", help="train a network (coarse or matting) on synthetic and shared data")
        train_cli.add_arguments(train)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from studio.gui.app import main as app_main

        return app_main([])
    args = build_parser().parse_args(argv)
    if args.command is None:
        from studio.gui.app import main as app_main

        return app_main([])
    try:
        if args.command == "cut":
            from studio.commands import run_cut

            return run_cut(args)
        if args.command == "batch":
            from studio.batch_command import run_batch_command

            return run_batch_command(args)
        if args.command == "bench" and args.batch:
            from core.bench_batch import run_batch_bench

            return run_batch_bench(args.batch, megapixels=args.megapixels[0], method=args.method)
        if args.command == "bench":
            from core.bench import run_bench

            return run_bench(args.megapixels, method=args.method, repeat=args.repeat)
        if args.command == "eval":
            from core.evaluate import run_eval

            return run_eval(args.data, args.count, args.methods, args.sheet, args.scale, args.first_seed)
        if args.command == "train":
            from core.train import cli as train_cli

            return train_cli.run(args)
    except KeyboardInterrupt:
        print("matting-studio: interrupted; no partial files were left", file=sys.stderr)
        return EXIT_INTERRUPTED
    build_parser().error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
