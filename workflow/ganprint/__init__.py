"""ganprint: learn GAN fingerprints and attribute images to the model that made them."""

__version__ = "0.1.0"


class GanprintError(Exception):
    """An error caused by bad input or configuration; the message names the file or key."""


from . import cpu_kernels as _cpu_kernels  # noqa: E402  (it raises GanprintError)

# Before anything imports torch or numpy: their kernels are chosen when they load.
CPU_ISA = _cpu_kernels.pin()
