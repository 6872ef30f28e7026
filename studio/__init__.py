"""Matting Studio, the application: the ``matting-studio`` command (``studio.cli``)
and the desktop app (``studio.gui``, the only package that imports Qt)."""
