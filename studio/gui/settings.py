"""Remembered settings (QSettings): folders, recent pairs, export options, view mode, geometry."""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8
ORGANISATION, APPLICATION = "MattingStudio", "Matting Studio"


def open_settings(path: Optional[str | Path] = None) -> QSettings:
    """The app's settings: an explicit ini file (tests, portable use) or the user's default store."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


class Settings:
    """Typed access to the few values the app remembers."""

    def __init__(self, qsettings: QSettings):
        self.q = qsettings

    def _get(self, key: str, default: Any, kind: type = str) -> Any:
        value = self.q.value(key, default)
        if value is None:
            return default
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return kind(value)
        except (TypeError, ValueError):
            return default

    def sync(self) -> None:
        self.q.sync()

    # folders
    def last_folder(self, role: str) -> str:
        return self._get(f"folders/{role}", str(Path.home()))

    def set_last_folder(self, role: str, folder: str | Path) -> None:
        self.q.setValue(f"folders/{role}", str(folder))

    # recent (photo, plate) pairs, newest first
    def recent_pairs(self) -> list[tuple[str, str]]:
        try:
            pairs = json.loads(self._get("recent/pairs", "[]"))
        except json.JSONDecodeError:
            return []
        return [(str(a), str(b)) for a, b in pairs if a and b][:MAX_RECENT]

    def add_recent_pair(self, photo: str | Path, plate: str | Path) -> None:
        pair = (str(photo), str(plate))
        pairs = [pair] + [p for p in self.recent_pairs() if p != pair]
        self.q.setValue("recent/pairs", json.dumps(pairs[:MAX_RECENT]))

    def clear_recent(self) -> None:
        self.q.setValue("recent/pairs", "[]")

    # view
    def view_mode(self) -> str:
        return self._get("view/mode", "cutout")

    def set_view_mode(self, mode: str) -> None:
        self.q.setValue("view/mode", mode)

    def backdrop(self) -> dict:
        try:
            return json.loads(self._get("view/backdrop", "{}"))
        except json.JSONDecodeError:
            return {}

    def set_backdrop(self, value: dict) -> None:
        self.q.setValue("view/backdrop", json.dumps(value))

    def brush_radius(self) -> float:
        return self._get("touchup/brush_radius", 12.0, float)

    def set_brush_radius(self, radius: float) -> None:
        self.q.setValue("touchup/brush_radius", float(radius))

    # export options (a dict of core.export.ExportOptions fields plus the dialog's own)
    def export_options(self) -> dict:
        try:
            return json.loads(self._get("export/options", "{}"))
        except json.JSONDecodeError:
            return {}

    def set_export_options(self, options: dict) -> None:
        self.q.setValue("export/options", json.dumps(options))

    # window
    def geometry(self) -> Optional[QByteArray]:
        value = self.q.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> Optional[QByteArray]:
        value = self.q.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)


def dataclass_to_dict(obj) -> dict:
    return asdict(obj)


def dataclass_from_dict(cls, data: dict):
    """Build ``cls`` from the keys of ``data`` it knows, ignoring the rest (settings from older versions)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
