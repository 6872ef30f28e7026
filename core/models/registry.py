"""The one registry and loader of network weights.

Models are data (:class:`ModelSpec`): a name, a weights file in
``resources/models`` (or ``$MATTING_STUDIO_MODELS``), its sha256, the
architecture that reads it, the input size and normalisation. ``load_model``
checks the checksum, builds the architecture, loads the state dict, and caches
the result per (name, device, file). Nothing here ever downloads anything: a
missing or damaged file raises :class:`core.errors.ModelError` and the
classical path stays available.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.errors import ModelError

ENV_MODELS_DIR = "MATTING_STUDIO_MODELS"


@dataclass(frozen=True)
class ModelSpec:
    """One network's weights file and how to use it.

    input_size: the long side, in pixels, at which the network runs.
    normalisation: what the inputs are (the networks normalise internally).
    recommended: True once the model card's dev-set figures show these weights
        beating the classical path; the pipeline's "auto" method uses the
        networks only then.
    """

    name: str
    filename: str
    sha256: str
    architecture: str
    input_size: int
    normalisation: str
    description: str
    recommended: bool = False


def _build_coarse_u2netp_s4():
    from core.models.u2net import CoarseU2Net

    return CoarseU2Net(mid=16, out=64, stem_stride=4)


def _build_bgm_small():
    from core.models.matting import MattingNetwork

    return MattingNetwork(hidden=8, patch=16)


#: the wider base grown from bgm-small by core.train.widen (1.19 M parameters; see the model card)
WIDE_MATTING = {"widths": (32, 48, 96, 128), "decoder": (64, 48, 24), "full_res_blocks": 1}


def _build_bgm_wide():
    from core.models.matting import MattingNetwork

    return MattingNetwork(hidden=8, patch=16, **WIDE_MATTING)


#: MattingNetwork arguments by architecture name (``python -m core.train matting --architecture``)
MATTING_ARCHITECTURES = {"bgm-small-h8-p16": {}, "bgm-wide-h8-p16": WIDE_MATTING}

ARCHITECTURES: dict[str, Callable] = {
    "u2netp-stem4": _build_coarse_u2netp_s4,
    "bgm-small-h8-p16": _build_bgm_small,
    "bgm-wide-h8-p16": _build_bgm_wide,
}

REGISTRY: dict[str, ModelSpec] = {
    "coarse": ModelSpec(
        name="coarse",
        filename="coarse_u2netp.pt",
        sha256="3e3073203f499582532a0def3a2d055a6fb57c25e460d8b6397c17a43bc7beba",
        architecture="u2netp-stem4",
        input_size=320,
        normalisation="photo RGB + aligned plate RGB in [0, 1]; (x - 0.5) / 0.25 and |photo - plate| inside the network",
        description="coarse-mask",
        recommended=True,  # session 8 weights: better than classical on every dev-set metric (model card)
    ),
    "matting": ModelSpec(
        name="matting",
        filename="matting_bgm.pt",
        sha256="b8336abb1f02c46365cde6be8a3f671df032f61f593aad3064f42c0ed36a276c",
        architecture="bgm-wide-h8-p16",  # since session 14 (the model card's Status says why); before: bgm-small-h8-p16
        input_size=384,
        normalisation="photo, aligned plate RGB and coarse mask in [0, 1]; normalised inside the network",
        description="matting",
        recommended=True,
    ),
}


def models_dir() -> Path:
    """Where weights live: ``$MATTING_STUDIO_MODELS`` if set, else ``resources/models`` beside the package."""
    override = os.environ.get(ENV_MODELS_DIR)
    if override:
        return Path(override)
    import core

    return Path(core.__file__).resolve().parents[1] / "resources" / "models"


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"there is no network called {name!r}; known networks: {', '.join(REGISTRY)}.") from None


def weights_path(name: str) -> Path:
    """The weights file of network ``name`` (it may not exist)."""
    return models_dir() / get_spec(name).filename


def is_available(name: str) -> bool:
    """True if the weights file exists (its checksum is verified when it is loaded)."""
    return name in REGISTRY and weights_path(name).is_file()


def default_device() -> str:
    """"cuda" if available, then "mps", then "cpu"."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_CACHE: dict[tuple, object] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every loaded model (tests; after replacing weights files)."""
    with _LOCK:
        _CACHE.clear()


def _damaged(spec: ModelSpec, path: Path, why: str) -> ModelError:
    return ModelError(
        f"{spec.description} weights {path} are missing or damaged ({why}); "
        "reinstall Matting Studio or use --method classical.",
    )


def load_model(name: str, device: str | None = None):
    """The network ``name`` in eval mode on ``device`` (default :func:`default_device`), loaded once and cached.

    Float16 on CUDA, float32 elsewhere. Raises ModelError if the file is missing,
    its sha256 differs from the registry's, or it does not fit the architecture.
    """
    import torch

    spec = get_spec(name)
    device = device or default_device()
    path = weights_path(name)
    key = (name, device, str(path))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not path.is_file():
            raise _damaged(spec, path, "file not found")
        if spec.sha256 and file_sha256(path) != spec.sha256:
            raise _damaged(spec, path, "checksum mismatch")
        if not spec.sha256:
            raise _damaged(spec, path, "no checksum is registered for it")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = ARCHITECTURES[spec.architecture]()
            model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem for the user
            raise _damaged(spec, path, f"unreadable: {type(exc).__name__}") from exc
        model.eval()
        if device == "cuda":
            model.half()
        model.to(device)
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        _CACHE[key] = model
        return model
