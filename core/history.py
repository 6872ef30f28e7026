"""Undo / redo as grouped edit records that store only the changed region.

One user action (a stroke, an applied touch-up) is one ``EditRecord`` holding
one ``Patch`` per array it changed: the region's pixels before and after. The
history writes those crops back into the caller's arrays in place, so undoing an
edit on a 24 MP matte copies a few kilobytes, not whole images. Small non-array
state (e.g. which region still waits to be applied) travels in ``meta_before`` /
``meta_after``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Mapping, MutableMapping, Optional

import numpy as np

#: (x0, y0, x1, y1) in pixels, x1/y1 exclusive.
Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class Patch:
    """The pixels of ``layer`` inside ``region`` before and after one edit.

    before, after: the crop ``layer[y0:y1, x0:x1]`` (same shape and dtype as the layer's crop).
    """

    layer: str
    region: Region
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)


@dataclass(frozen=True)
class EditRecord:
    """One undo step: every patch one user action produced."""

    label: str
    patches: tuple[Patch, ...]
    meta_before: Mapping = field(default_factory=dict)
    meta_after: Mapping = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.patches)

    @property
    def region(self) -> Optional[Region]:
        """The union of the patches' regions (None for a record without patches)."""
        if not self.patches:
            return None
        boxes = np.array([p.region for p in self.patches])
        return (int(boxes[:, 0].min()), int(boxes[:, 1].min()),
                int(boxes[:, 2].max()), int(boxes[:, 3].max()))


def crop(array: np.ndarray, region: Region) -> np.ndarray:
    """A copy of ``array[y0:y1, x0:x1]``."""
    x0, y0, x1, y1 = region
    return array[y0:y1, x0:x1].copy()


def make_patch(layer: str, before: np.ndarray, after: np.ndarray, region: Region) -> Patch:
    """A patch from two full-size arrays (only the region is kept)."""
    if before.shape != after.shape:
        raise ValueError(f"Layer {layer!r} changed shape ({before.shape} -> {after.shape}); "
                         "an edit must keep the image size.")
    return Patch(layer, tuple(int(v) for v in region), crop(before, region), crop(after, region))


def write_patch(layers: MutableMapping[str, np.ndarray], patch: Patch, which: str) -> None:
    """Write the patch's ``which`` ("before" or "after") crop into ``layers[patch.layer]`` in place."""
    x0, y0, x1, y1 = patch.region
    layers[patch.layer][y0:y1, x0:x1] = getattr(patch, which)


class EditHistory:
    """A capped undo/redo stack of ``EditRecord``.

    max_steps: at most this many undo steps are kept (the oldest are dropped).
    max_bytes: and at most this much patch memory (at least the newest step is kept).
    Pushing a new record clears the redo stack.
    """

    def __init__(self, max_steps: int = 50, max_bytes: int = 512 * 2**20):
        if max_steps < 1:
            raise ValueError("The undo history needs room for at least one step (max_steps >= 1).")
        self.max_steps = int(max_steps)
        self.max_bytes = int(max_bytes)
        self._undo: deque[EditRecord] = deque()
        self._redo: list[EditRecord] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_steps(self) -> int:
        return len(self._undo)

    @property
    def redo_steps(self) -> int:
        return len(self._redo)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self._undo) + sum(r.nbytes for r in self._redo)

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    def push(self, record: EditRecord) -> None:
        """Record an edit that has already been applied to the layers."""
        self._undo.append(record)
        self._redo.clear()
        while len(self._undo) > self.max_steps:
            self._undo.popleft()
        while len(self._undo) > 1 and self.nbytes > self.max_bytes:
            self._undo.popleft()

    def undo(self, layers: MutableMapping[str, np.ndarray]) -> Optional[EditRecord]:
        """Restore the newest step's "before" pixels into ``layers``; returns the record (None if empty)."""
        if not self._undo:
            return None
        record = self._undo.pop()
        for patch in reversed(record.patches):
            write_patch(layers, patch, "before")
        self._redo.append(record)
        return record

    def redo(self, layers: MutableMapping[str, np.ndarray]) -> Optional[EditRecord]:
        """Re-apply the newest undone step's "after" pixels into ``layers``; returns it (None if none)."""
        if not self._redo:
            return None
        record = self._redo.pop()
        for patch in record.patches:
            write_patch(layers, patch, "after")
        self._undo.append(record)
        return record
