"""Progress reporting and cooperative cancellation shared by every stage."""
from __future__ import annotations

import threading
from typing import Callable, Optional

#: ``progress(stage, fraction)``: ``stage`` is a short name ("align", "coarse",
#: "refine", ...), ``fraction`` the overall completion in [0, 1].
ProgressFn = Callable[[str, float], None]


class Cancelled(Exception):
    """Raised inside a job when its ``CancelToken`` was set; not an error."""


class CancelToken:
    """A flag a job checks between stages and patches; thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check(cancel: Optional[CancelToken]) -> None:
    """Raise ``Cancelled`` if ``cancel`` is set (``None`` never cancels)."""
    if cancel is not None:
        cancel.raise_if_cancelled()


def report(progress: Optional[ProgressFn], stage: str, fraction: float) -> None:
    """Call ``progress`` if given, with ``fraction`` clipped to [0, 1]."""
    if progress is not None:
        progress(stage, min(1.0, max(0.0, float(fraction))))
