"""Process-wide settings: threads, determinism, device."""

import os
import random

import numpy as np
import torch

from . import cpu_kernels


def configure(threads: int, seed: int | None = None, deterministic: bool = True, tf32: bool = True) -> torch.device:
    """Set torch's and the BLAS's threads, denormal flushing, deterministic kernels and TF32;
    return the device to use.

    CPU results depend on the thread count (reductions are split differently), so every
    stage that must be bit-reproducible takes its thread count explicitly. On CUDA,
    deterministic mode needs cuBLAS's fixed workspace (CUBLAS_WORKSPACE_CONFIG) and
    disables cuDNN autotuning, at some cost in speed; without it cuDNN autotunes. On the
    CPU the kernels ganprint uses are deterministic already, and PyTorch's deterministic
    mode would cost every process about 2.5 s of imports (it loads torch._inductor), so it
    is set on CUDA only.
    Everything runs in fp32; `tf32` lets CUDA matmuls and convolutions round their inputs
    to TF32 (10-bit mantissa). Sampling turns it off: generated pixels must not move by the
    size of a fingerprint.
    """
    from threadpoolctl import threadpool_limits

    cpu_kernels.warn_if_missed()
    torch.set_num_threads(max(1, threads))
    threadpool_limits(max(1, threads))  # numpy's BLAS too, as Snakemake's jobs have it: hand runs give the same bits
    torch.set_flush_denormal(True)
    set_tf32(tf32)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
        torch.backends.cudnn.benchmark = not deterministic
    if seed is not None:
        seed_everything(seed)
    return device


def set_tf32(enabled: bool) -> None:
    """Whether CUDA matmuls and convolutions may round their inputs to TF32."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def to_device(tensor: torch.Tensor, device) -> torch.Tensor:
    """A CPU tensor on `device`; to a GPU through pinned memory without waiting for the copy
    (the GPU orders it before the work that reads it), so that the host runs ahead."""
    if torch.device(device).type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A private random stream, so that results do not depend on who else draws numbers."""
    stream = torch.Generator(device=device)
    stream.manual_seed(seed)
    return stream

