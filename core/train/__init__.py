"""Training of the coarse-mask and matting networks (CPU-friendly, resumable). See ``core.train.cli``."""
