"""Matting Studio core: image I/O, plate alignment, matting and export.

Pure numpy / OpenCV / PyTorch; never imports Qt. Heavy submodules are imported
lazily so that ``import core`` (and ``matting-studio --version``) stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it (PEP 562 lazy attributes)
_LAZY = {
    "Pipeline": "core.pipeline",
    "MatteOptions": "core.pipeline",
    "MatteResult": "core.pipeline",
    "CancelToken": "core.jobs",
    "Cancelled": "core.jobs",
    "MattingError": "core.errors",
    "load_image": "core.imageio",
    "align_plate": "core.align",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["__version__", *_LAZY]
