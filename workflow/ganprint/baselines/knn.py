"""k-nearest-neighbour attribution on raw pixels, k chosen on held-out training images."""

import numpy as np
import torch

from ..errors import GanprintError
from ..neighbours import Vectors, nearest_neighbours


def vote_counts(neighbour_labels: torch.Tensor, k: int, n_classes: int) -> np.ndarray:
    """How many of each row's first k neighbours have each label."""
    return torch.nn.functional.one_hot(neighbour_labels[:, :k], n_classes).sum(dim=1).cpu().numpy()


def vote(neighbour_labels: torch.Tensor, k: int, n_classes: int) -> np.ndarray:
    """Majority label among each row's first k neighbours; ties go to the smallest label."""
    return vote_counts(neighbour_labels, k, n_classes).argmax(1)


def neighbour_labels(query_vectors: Vectors, n_queries: int, reference_vectors: Vectors,
                     reference_labels: np.ndarray, k: int) -> torch.Tensor:
    _, indices = nearest_neighbours(query_vectors, n_queries, reference_vectors, len(reference_labels), k)
    return torch.from_numpy(reference_labels).to(indices.device)[indices]


def choose_k(validation_neighbours: torch.Tensor, validation_labels: np.ndarray, k_values: list[int],
             n_classes: int) -> tuple[int, dict]:
    """The k of best validation accuracy (smallest k on ties) and the accuracy of each k."""
    usable = sorted(k for k in set(k_values) if k <= validation_neighbours.shape[1])
    if not usable:
        raise GanprintError(f"knn.k_values {k_values}: none is at most the {validation_neighbours.shape[1]} references")
    accuracy = {k: float(np.mean(vote(validation_neighbours, k, n_classes) == validation_labels)) for k in usable}
    best = max(usable, key=lambda k: (accuracy[k], -k))
    return best, accuracy
