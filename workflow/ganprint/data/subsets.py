"""Index sets over a real image array: the real_subset_diff_#i sets and the real class split."""

import numpy as np

from .. import GanprintError


def _permutation(total: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(total)


def subset_diff(total: int, base_size: int, difference: int, seed: int) -> np.ndarray:
    """Indices of real_subset_diff_#i in training order: the base subset (#0) with its first
    `difference` entries replaced by images outside it. Every other entry keeps its position,
    so a GAN trained with the same seed on #0 and on #i draws the very same batches except
    where a swapped image comes up: the runs differ in the i images and nothing else."""
    if base_size <= 0 or base_size > total:
        raise GanprintError(f"subsets.base_size must be in 1..{total} (the real set's size), got {base_size}")
    if difference < 0 or difference > min(base_size, total - base_size):
        raise GanprintError(
            f"subset difference {difference} must be in 0..{min(base_size, total - base_size)} "
            f"for {total} real images and a base subset of {base_size}"
        )
    order = _permutation(total, seed)
    rows = order[:base_size].copy()
    rows[:difference] = order[base_size : base_size + difference]
    return rows


def real_split(total: int, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint train and test indices of the real class (or of a folder source)."""
    if n_train <= 0 or n_test <= 0:
        raise GanprintError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    if n_train + n_test > total:
        raise GanprintError(f"the image set holds {total} images, fewer than {n_train} train + {n_test} test")
    order = _permutation(total, seed)
    return np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_test])
