"""Index sets over a real image array: the real_subset_diff_#i sets and the real class split."""

import numpy as np

from ..errors import GanprintError


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


def real_split(total: int, n_train: int, n_test: int, n_val: int, seed: int) -> tuple[np.ndarray, ...]:
    """Disjoint train, test and validation indices of the real class (or of a folder source);
    train and test rows do not depend on n_val."""
    if min(n_train, n_test, n_val) <= 0:
        raise GanprintError(f"n_train, n_test and n_val must be positive, got {n_train}, {n_test} and {n_val}")
    if n_train + n_test + n_val > total:
        raise GanprintError(f"the image set holds {total} images, fewer than {n_train} train + {n_test} test"
                            f" + {n_val} validation")
    ends = np.cumsum([n_train, n_test, n_val])
    order = _permutation(total, seed)
    return tuple(np.sort(order[end - count : end]) for end, count in zip(ends, (n_train, n_test, n_val)))
