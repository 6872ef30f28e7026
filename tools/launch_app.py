"""Entry script of the packaged app (see build.spec): the same ``matting-studio`` command as a pip install.

No arguments open the desktop app; with arguments it runs ``cut``, ``bench``, ``--version``...
"""
import multiprocessing
import sys

if __name__ == "__main__":
    # `bench` runs each size in a spawned process; a frozen executable must recognise that re-launch
    # of itself instead of parsing the child's arguments as a command line.
    multiprocessing.freeze_support()

    from studio.cli import main

    sys.exit(main())
