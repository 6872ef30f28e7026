"""``python -m core.train`` / ``matting-studio train``: train, resume and export the networks.

    python -m core.train coarse --data ../shared/data --out runs/coarse [--steps N] [--resume] ...
    python -m core.train matting --adversarial --init-weights resources/models/matting_bgm.pt --out runs/matting-adv [--real DIR]
    python -m core.train export coarse --out runs/coarse --half --register   # resources/models/<file> + its sha256
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


#: options that are shares in [0, 1] (None = as saved when resuming, else the default), in help order;
#: each lands in the run config under its name with "_" (see ``core.train.data.DATA_SHARES``)
SHARE_OPTIONS = {
    "--filled-masks": "matting: share of coarse-mask inputs whose gaps and holes are filled, as the coarse "
                      "network fills them between stems or inside handles (default 0.3 for new runs)",
    "--binary-masks": "matting: share of degraded coarse-mask inputs made from the thresholded alpha, so that "
                      "the mask does not say how transparent glass is (default 0: off, no gain measured yet)",
    "--refraction": "share of the glass in training scenes that refracts the backdrop behind it, "
                    "mirrored or magnified as a filled glass does (default 0: glass is a flat tint)",
    "--glass-close": "share of the glass samples forced by --hard-fraction that are also forced into close "
                     "colours (clear glass on a backdrop of its own colour; default 0)",
    "--occlusion": "share of training scenes whose backdrop is shaded around and between the object's "
                   "parts, as a bouquet shades the backdrop seen between its stems (default 0)",
    "--plants": "share of procedural training scenes whose product is cut flowers or foliage: thin "
                "stems, leaves and petals with the backdrop between them (default 0)",
    "--coarse-net": "matting: share of samples whose coarse-mask input is the shipped coarse network's mask "
                    "rather than a degraded true alpha (default 0.5 for new runs)",
}


def _key(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training options to ``parser`` (also mounted as ``matting-studio train``)."""
    from core.models.registry import MATTING_ARCHITECTURES

    parser.add_argument("network", choices=["coarse", "matting", "export"], help="network to train, or 'export'")
    parser.add_argument("export_network", nargs="?", choices=["coarse", "matting"], help="with 'export': which network")
    parser.add_argument("--data", default=None, help="shared data folder (real masks and backdrop photos)")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, log.csv, loss.png")
    parser.add_argument("--steps", type=int, default=None, help="total optimiser steps (the LR schedule spans them)")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--size", type=int, default=None, help="training crop size in pixels")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared: 1 by default)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader worker processes rendering pairs")
    parser.add_argument("--checkpoint-every-min", type=float, default=5.0)
    parser.add_argument("--mirror", default=None, help="also copy last.pt/log.csv here at every checkpoint; --resume falls back to it")
    parser.add_argument("--init-weights", default=None, help="with no checkpoint to resume: start from this exported weights file")
    parser.add_argument("--swa", action="store_true", help="average weights over the last quarter of the steps")
    parser.add_argument("--hard-fraction", type=float, default=None,
                        help="share of samples forced into a hard subset: shadow, close colour, glass, thin, fuzzy "
                             "(default 0.5)")
    parser.add_argument("--full-scale", type=int, default=None, metavar="F",
                        help="matting: render pairs F times --size; the base still sees them at --size or less, "
                             "so the refiner trains on F-3F times upsampling (default 1)")
    for flag, text in SHARE_OPTIONS.items():
        parser.add_argument(flag, type=float, default=None, metavar="SHARE", help=text)
    parser.add_argument("--ema", type=float, default=None, metavar="DECAY",
                        help="keep a moving average of the weights (e.g. 0.998 per step); export writes it")
    parser.add_argument("--raw", action="store_true", help="export: the last weights, not the moving average")
    parser.add_argument("--average-with", default=None, metavar="WEIGHTS",
                        help="export: write the mean of the run's weights and this weights file's "
                             "(WiSE-FT, e.g. the file the run was fine-tuned from)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CPU (AMX/AVX512-BF16 machines; "
                        "matting: the base network only)")
    parser.add_argument("--architecture", default=None, choices=sorted(MATTING_ARCHITECTURES),
                        help="matting: the network's shape (default: the shipped network's, as the registry "
                             "names it; a resumed run keeps its own). "
                             "With --init-weights of a narrower network, the weights are widened so that training "
                             "starts from what they compute (core.train.widen)")
    parser.add_argument("--no-channels-last", action="store_true", help="keep NCHW tensors (channels-last is faster here)")
    parser.add_argument("--no-hybrid", action="store_true", help="coarse: BCE only, without BASNet's SSIM + IoU")
    parser.add_argument("--adversarial", action="store_true",
                        help="matting: fine-tune adversarially (LSGAN, as Background Matting) on unlabeled real pairs")
    parser.add_argument("--real", action="append", default=None, metavar="DIR",
                        help="--adversarial: folder of real pairs NAME.jpg + NAME_plate.jpg (or one plate.jpg); "
                             "repeatable; default: the shared data's bgm-v1-handheld and flowers-triangulation")
    parser.add_argument("--teacher", default=None, metavar="PATH",
                        help="--adversarial: fixed teacher weights (default: the --init-weights file; a resumed run keeps its own)")
    parser.add_argument("--adv-weight", type=float, default=None,
                        help="--adversarial: weight of the real-pair loss against the supervised one (default 0.1)")
    parser.add_argument("--teacher-weight", type=float, default=None,
                        help="--adversarial: weight of the teacher self-supervision in the real-pair loss (default 0.05)")
    parser.add_argument("--real-batch", type=int, default=None, help="--adversarial: real crops per step (default 2)")
    parser.add_argument("--models-dir", default=None, help="export: destination folder (default resources/models)")
    parser.add_argument("--half", action="store_true", help="export: store float16 weights")
    parser.add_argument("--register", action="store_true", help="export: write the new sha256 into core/models/registry.py")


def run(args: argparse.Namespace) -> int:
    """Run the command described by ``args``; returns a process exit code."""
    if args.network == "export":
        from core.train.export import export_weights

        if args.export_network is None:
            print("export needs a network: coarse or matting", file=sys.stderr)
            return 2
        export_weights(args.export_network, Path(args.out), args.models_dir, half=args.half, register=args.register,
                       raw=args.raw, average_with=args.average_with)
        return 0
    stage_options = {"--real": args.real, "--teacher": args.teacher, "--adv-weight": args.adv_weight,
                     "--teacher-weight": args.teacher_weight, "--real-batch": args.real_batch}
    given = [flag for flag, value in stage_options.items() if value is not None]
    if given and not args.adversarial:
        what = "is an option" if len(given) == 1 else "are options"
        print(f"{', '.join(given)} {what} of the adversarial stage; add --adversarial.", file=sys.stderr)
        return 2
    if args.adversarial and args.network != "matting":
        print("--adversarial trains the matting network only; run it as: python -m core.train matting --adversarial ...",
              file=sys.stderr)
        return 2
    if args.full_scale is not None and not 1 <= args.full_scale <= 8:
        print(f"--full-scale is a whole factor from 1 to 8, got {args.full_scale}.", file=sys.stderr)
        return 2
    shares = {_key(flag): getattr(args, _key(flag)) for flag in SHARE_OPTIONS}
    for flag in SHARE_OPTIONS:
        share = shares[_key(flag)]
        if share is not None and not 0.0 <= share <= 1.0:
            print(f"{flag} is a share between 0 and 1, got {share}.", file=sys.stderr)
            return 2
    if args.architecture is not None and args.network != "matting":
        print("--architecture chooses the matting network's shape; the coarse network has one.", file=sys.stderr)
        return 2
    if args.ema is not None and not 0.0 <= args.ema < 1.0:
        print(f"--ema is a decay per step between 0 and 1 (e.g. 0.998), got {args.ema}.", file=sys.stderr)
        return 2
    from core.errors import MattingError
    from core.train.tasks import get_task
    from core.train.trainer import train

    task = get_task(args.network)
    stage = None
    if args.adversarial:
        from core.train.adversarial import STUDENT_LR, AdversarialStage, find_real_pairs

        try:
            if args.real:
                find_real_pairs(args.real, args.data)  # fail before any network or checkpoint is loaded
        except MattingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        task = dataclasses.replace(task, default_lr=STUDENT_LR)  # fine-tuning; a resumed run keeps its saved lr
        stage = AdversarialStage()
    # None = "as saved in the checkpoint when resuming, else the task's default" (see trainer.resolve_config)
    config = {
        "size": args.size,
        "batch": args.batch,
        "lr": args.lr,
        "steps": args.steps,
        "threads": args.threads,
        "workers": args.workers,
        "checkpoint_every_min": args.checkpoint_every_min,
        "swa": args.swa or None,
        "hybrid": False if args.no_hybrid else None,
        "bf16": args.bf16 or None,
        "hard_fraction": args.hard_fraction,
        "ema": args.ema,
        "full_scale": args.full_scale,
        **shares,
        "architecture": args.architecture,
        "channels_last": False if args.no_channels_last else None,
        "data": args.data,
        "mirror": args.mirror,
        "init_weights": args.init_weights,
        # --adversarial only (None = the stage's default, or the resumed run's value)
        "adversarial": args.adversarial or None,
        "real": [str(Path(d).expanduser().resolve()) for d in args.real] if args.real else None,
        "teacher": args.teacher,
        "adv_weight": args.adv_weight,
        "teacher_weight": args.teacher_weight,
        "real_batch": args.real_batch,
    }
    try:
        train(task, config, Path(args.out), args.data, args.resume, stage=stage)
    except MattingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
