"""Networks (coarse mask, matting), their registry/loader and inference wrappers.

Import submodules explicitly (``core.models.registry``, ``core.models.inference``);
this package imports nothing heavy itself.
"""
