"""The PySide6 desktop app. All Qt lives in this package; pixel work stays in ``core``."""
