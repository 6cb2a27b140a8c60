"""ganprint: learn GAN fingerprints and attribute images to the model that made them."""

__version__ = "0.1.0"


class GanprintError(Exception):
    """An error caused by bad input or configuration; the message names the file or key."""
