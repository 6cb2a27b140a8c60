"""ganprint: learn GAN fingerprints and attribute images to the model that made them."""

__version__ = "0.1.0"

from . import cpu_kernels as _cpu_kernels
from .errors import GanprintError

# Before anything imports torch or numpy: their kernels are chosen when they load.
CPU_ISA = _cpu_kernels.pin()

__all__ = ["CPU_ISA", "GanprintError", "__version__"]
