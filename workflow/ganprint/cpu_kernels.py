"""One instruction-set level for every library that picks its CPU kernels by processor.

PyTorch's ATen loops, oneDNN (convolutions), MKL (torch's matrix products), OpenBLAS (numpy's
and scipy's) and numpy's own loops each choose, when they load, the widest kernels the
processor runs. Kernels of different widths round differently, and GAN training amplifies the
difference into other models: the same seed gives other numbers on an AVX-512 machine than on
an AVX2 one. Pinning every library to one level gives the same bits on every x86-64 processor
that has it. The libraries read these variables when they load, so `pin` runs when the package
is imported (ganprint/__init__.py), before torch and numpy are: every stage, run by Snakemake
or by hand, and the tests, get the same kernels.

The level is the environment variable GANPRINT_CPU_ISA (the workflow's `cpu_isa` setting sets
it for every job): `avx2` (the default: any x86-64 processor of the last decade, Intel or
AMD), `avx512`, `sse42` (older processors), or `native` (each library's own choice, as
without ganprint).
Not pinned, because they do not choose by processor or are exact whichever they choose:
scipy's FFT, ndimage and PyWavelets (compiled for the baseline instruction set only),
Pillow's resampling (integer arithmetic), libjpeg-turbo's default integer DCT (bit-exact
across its SIMD paths). Off x86-64 (aarch64, Apple silicon) the levels do not apply: the
variables name x86 instruction sets, and aarch64 builds choose between their own kernels.
"""

import importlib.metadata
import os
import sys
import warnings

from .errors import GanprintError

ENVIRONMENT_VARIABLE = "GANPRINT_CPU_ISA"
# The variables the last `pin` set, so that a process started by a pinned one (a workflow job
# started by Snakemake, which imported ganprint) can choose another level, `native` included.
PINNED_BY_GANPRINT = "GANPRINT_PINNED_VARIABLES"

# numpy's dispatch targets above each level, as numpy >= 2.4 names them and as older numpy did
_NUMPY_TARGETS_ABOVE = {
    "avx2": ("X86_V4 AVX512_ICL AVX512_SPR",
             "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"),
    "sse42": ("X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
              "AVX F16C FMA3 AVX2 AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL "
              "AVX512_ICL AVX512_SPR"),
}

LEVELS = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_CBWR": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell",
        "NPY_DISABLE_CPU_FEATURES": _NUMPY_TARGETS_ABOVE["avx2"],
    },
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
        "MKL_CBWR": "AVX512",
        "OPENBLAS_CORETYPE": "SkylakeX",
    },
    "sse42": {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_CBWR": "SSE4_2",
        "OPENBLAS_CORETYPE": "Nehalem",
        "NPY_DISABLE_CPU_FEATURES": _NUMPY_TARGETS_ABOVE["sse42"],
    },
    "native": {},
}


def _numpy_names(targets: tuple[str, str]) -> str:
    try:
        major, minor = (int(part) for part in importlib.metadata.version("numpy").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return targets[0]
    return targets[0] if (major, minor) >= (2, 4) else targets[1]


def variables(level: str) -> dict[str, str]:
    """The environment variables that pin every kernel library to `level`."""
    if level not in LEVELS:
        raise GanprintError(f"{ENVIRONMENT_VARIABLE}={level!r}: not a CPU instruction-set level; "
                            f"use one of {', '.join(LEVELS)}")
    return {name: _numpy_names(value) if isinstance(value, tuple) else value for name, value in LEVELS[level].items()}


def pin(level: str | None = None) -> str:
    """Set the variables of `level` (default: GANPRINT_CPU_ISA, else the schema's `cpu_isa`)
    and return the level. They take effect only in libraries not loaded yet: MISSED names the
    others."""
    if not level and not os.environ.get(ENVIRONMENT_VARIABLE):
        from .settings import schema_default

        level = schema_default("cpu_isa")
    level = level or os.environ[ENVIRONMENT_VARIABLE]
    chosen = variables(level)
    if any(os.environ.get(name) != value for name, value in chosen.items()):
        MISSED.extend(loaded_too_early())
    for name in os.environ.pop(PINNED_BY_GANPRINT, "").split():
        os.environ.pop(name, None)
    os.environ.update(chosen)
    os.environ[PINNED_BY_GANPRINT] = " ".join(chosen)
    os.environ[ENVIRONMENT_VARIABLE] = level
    return level


def loaded_too_early() -> list[str]:
    """The kernel libraries loaded already (torch, numpy, scipy)."""
    return [name for name in ("torch", "numpy", "scipy") if name in sys.modules]


# The libraries that were loaded before `pin` changed a variable: the pinning missed them.
MISSED: list[str] = []


def warn_if_missed() -> None:
    if MISSED:
        warnings.warn(f"{', '.join(dict.fromkeys(MISSED))} imported before ganprint: the CPU kernels "
                      f"are not pinned to {os.environ[ENVIRONMENT_VARIABLE]}, so results can differ from "
                      "other machines' in the last bits; import ganprint before torch and numpy",
                      stacklevel=3)
        MISSED.clear()
