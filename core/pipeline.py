"""The one pipeline used by the GUI, the CLI and batch mode.

``Pipeline.run`` = ``align`` (plate -> photo frame) then ``matte`` (coarse mask,
alpha, foreground, quality score). The GUI calls the two halves separately so
that a manual nudge of the plate re-runs only what follows alignment. The
pipeline is the only caller of the networks; it loads them lazily, once.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Iterator, Mapping, Optional

import cv2
import numpy as np

from .align import Alignment, AlignmentReport, AlignOptions, align_plate
from .classical import ClassicalOptions, matte_classical
from .errors import MattingError, ModelError
from .foreground import estimate_foreground
from .jobs import CancelToken, ProgressFn, check, report
from .quality import QualityScore, pick_candidate, rank_candidates, score_matte
from .specks import SPECK_SHARE, drop_specks
from .transmission import relevel_see_through
from .working import make_small_view, resize_to, scale_to_megapixels

#: auto: the networks when their shipped weights are marked as beating the
#: classical path, else classical; hybrid: the network's coarse mask seeds the
#: classical GrabCut and soft-edge solve; best: every available candidate,
#: the one the quality judge scores highest.
METHODS = ("auto", "network", "classical", "hybrid", "best")


@dataclass(frozen=True)
class MatteOptions:
    """How to cut one photo.

    method: one of METHODS (see there).
    max_megapixels: work at most at this resolution (None = full resolution);
        the GUI's quick preview uses e.g. 1.0, the final run None.
    plate_offset: manual nudge (dx, dy) of the aligned plate, in pixels of the
        working resolution, applied after alignment.
    speck_share: pieces of the network's matte lying apart from the product
        with less than this share of the largest piece's alpha mass are cleared
        (``core.specks``: where the scene changed between photo and plate);
        0 keeps every piece.
    see_through: re-level the network's see-through areas (glass, film) from
        the backdrop texture seen through them (``core.transmission``); only
        where the backdrop has texture the photo and plate both show.
    """

    method: str = "auto"
    max_megapixels: Optional[float] = None
    align: AlignOptions = field(default_factory=AlignOptions)
    plate_offset: tuple = (0.0, 0.0)
    classical: ClassicalOptions = field(default_factory=ClassicalOptions)
    speck_share: float = SPECK_SHARE
    see_through: bool = True

    def __post_init__(self):
        if self.method not in METHODS:
            raise MattingError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not 0.0 <= self.speck_share < 1.0:
            raise MattingError(f"speck_share is a share of the largest piece from 0 to below 1, got {self.speck_share}")


@dataclass(frozen=True)
class MatteResult:
    """Everything one run produced, all at the working resolution (the photo's
    unless options.max_megapixels reduced it).

    photo, aligned_plate, foreground: HxWx3 float32 RGB [0, 1].
    valid: HxW bool (where the aligned plate covers the photo).
    coarse_mask, alpha: HxW float32 [0, 1].
    timings: stage name -> seconds, in the order the stages ran.
    method: the method that made this result ("network", "classical", "hybrid").
    notes: sentences for the user about how the result was made (a fallback, a pick).
    candidates: (method, quality score) of every candidate made, in order.
    """

    photo: np.ndarray
    aligned_plate: np.ndarray
    valid: np.ndarray
    alignment: AlignmentReport
    coarse_mask: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    quality: QualityScore
    timings: Mapping[str, float]
    method: str
    notes: tuple = ()
    candidates: tuple = ()


NOTED_SPECKS = 0.001  # cleared specks holding this share of the matte are worth a note (noise specks are not)


def check_image(image: np.ndarray, what: str) -> None:
    """Raise a MattingError unless ``image`` is HxWx3 float32 (the core convention)."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise MattingError(f"the {what} must be an RGB image (HxWx3), got shape {getattr(image, 'shape', None)}")
    if image.dtype != np.float32:
        raise MattingError(f"the {what} must be float32 in [0, 1], got {image.dtype}")
    if min(image.shape[:2]) < 16:
        raise MattingError(f"the {what} is only {image.shape[1]}x{image.shape[0]} pixels; use a real photo")


def shift_alignment(alignment: Alignment, offset: tuple) -> Alignment:
    """The alignment with the aligned plate moved by ``offset`` (dx, dy) pixels; borders become invalid."""
    dx, dy = float(offset[0]), float(offset[1])
    if dx == 0 and dy == 0:
        return alignment
    h, w = alignment.valid.shape
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    plate = cv2.warpAffine(alignment.aligned_plate, matrix, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    valid = cv2.warpAffine(alignment.valid.astype(np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    # Photo (x, y) now sees plate content from (x - dx, y - dy) of the old frame.
    move = np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]], np.float64)
    report_ = replace(alignment.report, homography=alignment.report.homography @ move,
                      message=f"{alignment.report.message}; nudged by ({dx:+g}, {dy:+g}) px")
    return Alignment(aligned_plate=plate, valid=valid, report=report_)


def downscale_pair(photo: np.ndarray, plate: np.ndarray, max_megapixels: Optional[float]):
    """Photo and plate scaled by the same factor so the photo has at most ``max_megapixels``."""
    if max_megapixels is None:
        return photo, plate
    scale = scale_to_megapixels(photo.shape, max_megapixels)
    if scale >= 1.0:
        return photo, plate

    def shrink(image):
        h, w = image.shape[:2]
        return resize_to(image, (max(16, round(w * scale)), max(16, round(h * scale))))

    return shrink(photo), shrink(plate)


class _Timer:
    def __init__(self):
        self.timings: dict = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


class Pipeline:
    """Owns the loaded models (lazily, once) and chains the stages.

    device: "cuda", "mps", "cpu" or None (the best available).
    """

    def __init__(self, device: Optional[str] = None):
        self.device = device

    # -- networks -------------------------------------------------------------------------
    @staticmethod
    def networks_available() -> bool:
        """True when both networks' weights ship with this installation."""
        try:
            from .models import registry
        except ImportError:  # torch missing: the classical path still works
            return False
        return registry.is_available("coarse") and registry.is_available("matting")

    @staticmethod
    def networks_recommended() -> bool:
        """True when the shipped weights are marked as beating the classical path on
        the dev set (the model card's figures); only then does "auto" use them."""
        from .models import registry

        return all(getattr(registry.get_spec(name), "recommended", False) for name in ("coarse", "matting"))

    def candidate_methods(self, method: str) -> tuple:
        """The methods to run for an options.method: one, or all available ones for "best"."""
        networks = self.networks_available()
        if method in ("network", "hybrid") and not networks:
            raise ModelError("the network weights are not installed; reinstall Matting Studio "
                             "or use --method classical")
        if method == "best":
            return ("classical", "hybrid", "network") if networks else ("classical",)
        if method == "auto":
            return ("network",) if networks and self.networks_recommended() else ("classical",)
        return (method,)

    # -- stages ---------------------------------------------------------------------------
    def align(self, photo: np.ndarray, plate: np.ndarray, options: MatteOptions = MatteOptions(),
              progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None) -> Alignment:
        """Validate the inputs, reduce them to the working resolution and align the plate."""
        check_image(photo, "photo")
        check_image(plate, "plate")
        photo, plate = downscale_pair(photo, plate, options.max_megapixels)

        def align_progress(stage, fraction):
            report(progress, "align", 0.3 * fraction)

        return align_plate(photo, plate, options.align, progress=align_progress, cancel=cancel)

    def matte(self, photo: np.ndarray, alignment: Alignment, options: MatteOptions = MatteOptions(),
              progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None,
              timings: Optional[Mapping[str, float]] = None) -> MatteResult:
        """Coarse mask, alpha, foreground and quality score for an aligned pair.

        ``photo`` may be at full resolution; it is reduced to ``alignment``'s size.
        With method "best" every available candidate is made and scored, and
        the one the quality judge scores highest is returned (``candidates``
        lists them all, ``notes`` says which was picked and why).
        """
        timer = _Timer()
        timer.timings.update(timings or {})
        h, w = alignment.valid.shape
        photo = resize_to(photo, (w, h))
        alignment = shift_alignment(alignment, options.plate_offset)
        plate, valid = alignment.aligned_plate, alignment.valid
        methods = self.candidate_methods(options.method)
        with timer.stage("prepare"):
            small = make_small_view(photo, plate, valid, options.classical.solve_megapixels)
        check(cancel)
        notes, made, shared = [], [], {}
        for k, method in enumerate(methods):
            def stage_progress(stage, fraction, k=k):
                report(progress, stage, 0.3 + 0.65 * (k + fraction) / len(methods))

            try:
                coarse, alpha, foreground = self._candidate(method, photo, plate, valid, small, options,
                                                            stage_progress, cancel, timer, shared)
            except ModelError as err:
                if options.method in ("network", "hybrid"):
                    raise
                if options.method == "best":  # the classical candidate is already made
                    notes.append(f"skipped the {method} candidate: {err}")
                    continue
                notes.append(f"used the classical method: {err}")
                method = "classical"
                coarse, alpha, foreground = self._candidate(method, photo, plate, valid, small, options,
                                                            stage_progress, cancel, timer, shared)
            check(cancel)
            with timer.stage("quality"):
                # a network's predicted colours are not what the judge tests: it solves its own
                judged = None if method == "network" else foreground
                quality = score_matte(photo, plate, valid, alpha, judged, alignment.report.verdict, small)
            made.append((method, coarse, alpha, foreground, quality))
        ranks = rank_candidates([m[4] for m in made])
        trusted = "network" if len(made) > 1 and self.networks_recommended() else None
        pick = pick_candidate([m[0] for m in made], [m[4] for m in made], trusted)
        method, coarse, alpha, foreground, quality = made[pick]
        candidates = tuple((m[0], m[4].score) for m in made)
        if len(made) > 1:
            others = ", ".join(f"{m[0]} {r:.2f}" for k, (m, r) in enumerate(zip(made, ranks)) if k != pick)
            why = " (the networks are trusted unless another matte ranks clearly higher)" if trusted else ""
            notes.append(f"picked the {method} matte (compared on one product area: {ranks[pick]:.2f}, "
                         f"over {others}; its quality score is {quality.score:.2f}){why}")
        if method == "network" and shared.get("specks", 0.0) >= NOTED_SPECKS:
            notes.append(f"cleared specks lying apart from the product, {shared['specks']:.1%} of the matte "
                         "(where the scene changed between photo and plate)")
        if method == "network" and shared.get("see_through"):
            levels = ", ".join(f"{m.before:.2f} -> {m.after:.2f}" for m in shared["see_through"])
            notes.append(f"re-levelled see-through areas from the backdrop texture seen through them "
                         f"(mean alpha {levels})")
        coarse = resize_to(coarse.astype(np.float32), (w, h), cv2.INTER_LINEAR)
        report(progress, "done", 1.0)
        return MatteResult(photo=photo, aligned_plate=plate, valid=valid, alignment=alignment.report,
                           coarse_mask=coarse, alpha=alpha, foreground=foreground, quality=quality,
                           timings=dict(timer.timings), method=method, notes=tuple(notes),
                           candidates=candidates)

    def _candidate(self, method, photo, plate, valid, small, options, progress, cancel, timer, shared):
        """(coarse, alpha, foreground) by one method; coarse may be at any resolution.

        shared: a dict kept across one photo's candidates (the network's coarse mask is made once).
        """
        prior = None
        if method in ("network", "hybrid"):
            from .models import inference

            progress("coarse", 0.0)
            if "prior" not in shared:
                with timer.stage("coarse"):
                    shared["prior"] = inference.predict_coarse_mask(photo, plate, device=self.device)
            prior = shared["prior"]
            check(cancel)
        if method == "network":
            progress("refine", 0.3)
            with timer.stage("refine"):
                refined = inference.refine_matte(photo, plate, prior, device=self.device,
                                                 progress=lambda s, f: progress("refine", 0.3 + 0.7 * f),
                                                 cancel=cancel)
            alpha = refined.alpha
            if options.see_through:
                with timer.stage("see-through"):
                    alpha, shared["see_through"] = relevel_see_through(photo, plate, alpha, valid)
            alpha, shared["specks"] = drop_specks(alpha, options.speck_share)
            return prior, alpha, refined.foreground
        progress("matte", 0.3)
        with timer.stage("matte"):
            coarse, alpha = matte_classical(photo, plate, valid, options.classical, cancel=cancel, small=small,
                                            prior=prior)
        check(cancel)
        progress("foreground", 0.8)
        with timer.stage("foreground"):
            foreground = estimate_foreground(photo, plate, alpha, valid, small=small)
        return (prior if prior is not None else coarse), alpha, foreground

    def run(self, photo: np.ndarray, plate: np.ndarray, options: MatteOptions = MatteOptions(),
            progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None) -> MatteResult:
        """Align, then matte. See ``MatteResult`` for what comes back."""
        timer = _Timer()
        with timer.stage("align"):
            alignment = self.align(photo, plate, options, progress, cancel)
        return self.matte(photo, alignment, options, progress, cancel, timer.timings)
