"""Errors a user can act on.

Every error raised for bad input is a ``MattingError`` (a ``ValueError``) whose
message is one sentence naming the file (when there is one) and what to do.
"""
from __future__ import annotations

from pathlib import Path


class MattingError(ValueError):
    """Bad input or a failed stage; ``str(err)`` is a message for the user."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)

    def with_path(self, path: str | Path) -> "MattingError":
        """The same error, naming ``path`` (used when a pure function did not know the file)."""
        if self.path is not None:
            return self
        message = self.args[0] if self.args else ""
        return type(self)(message, path)


class ImageReadError(MattingError):
    """A file could not be read as an image (missing, corrupt, unsupported)."""


class ImageWriteError(MattingError):
    """An output could not be written (exists, folder missing, disk full)."""


class AlignmentError(MattingError):
    """The plate could not be aligned to the photo (another scene, blank plate...)."""


class SceneCheckError(AlignmentError):
    """The plate does not seem to show the photo's backdrop; ``AlignOptions(trust_plate=True)`` overrides it."""


class ModelError(MattingError):
    """Network weights are missing, corrupt or do not fit the architecture."""
