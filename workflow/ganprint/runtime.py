"""Process-wide settings: threads, determinism, device."""

import os
import random

import numpy as np
import torch


def configure(threads: int, seed: int | None = None, deterministic: bool = True) -> torch.device:
    """Set torch threads, denormal flushing and deterministic kernels; return the device to use.

    CPU results depend on the thread count (reductions are split differently), so every
    stage that must be bit-reproducible takes its thread count explicitly. On CUDA,
    deterministic mode needs cuBLAS's fixed workspace (CUBLAS_WORKSPACE_CONFIG) and
    disables cuDNN autotuning, at some cost in speed.
    """
    torch.set_num_threads(max(1, threads))
    torch.set_flush_denormal(True)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    if seed is not None:
        seed_everything(seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A private random stream, so that results do not depend on who else draws numbers."""
    stream = torch.Generator(device=device)
    stream.manual_seed(seed)
    return stream


def autocast(device: torch.device):
    """bf16 autocast on GPU; a no-op context on CPU (keeps CPU results exact)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
