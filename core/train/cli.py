"""``python -m core.train`` / ``matting-studio train``: train, resume and export the networks.

    python -m core.train coarse --data ../shared/data --out runs/coarse [--steps N] [--resume] ...
    python -m core.train export coarse --out runs/coarse --half --register   # resources/models/<file> + its sha256
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training options to ``parser`` (also mounted as ``matting-studio train``)."""
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
    parser.add_argument("--bf16", action="store_true", help="coarse: bfloat16 autocast on CPU (AMX/AVX512-BF16 machines)")
    parser.add_argument("--no-channels-last", action="store_true", help="keep NCHW tensors (channels-last is faster here)")
    parser.add_argument("--no-hybrid", action="store_true", help="coarse: BCE only, without BASNet's SSIM + IoU")
    parser.add_argument("--adversarial", action="store_true", help="matting: LSGAN stage on real pairs (not implemented)")
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
        export_weights(args.export_network, Path(args.out), args.models_dir, half=args.half, register=args.register)
        return 0
    if args.adversarial:
        print("--adversarial (LSGAN on real pairs) is not implemented yet; train without it.", file=sys.stderr)
        return 2
    from core.train.tasks import get_task
    from core.train.trainer import train

    task = get_task(args.network)
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
        "channels_last": False if args.no_channels_last else None,
        "data": args.data,
        "mirror": args.mirror,
        "init_weights": args.init_weights,
    }
    train(task, config, Path(args.out), args.data, args.resume)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
