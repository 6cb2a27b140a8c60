"""Exact k-nearest-neighbour search under squared Euclidean distance, as matrix products.

||q - r||^2 = ||q||^2 + ||r||^2 - 2 q.r, and ||q||^2 does not change the ranking of a
query's neighbours, so each block of distances is one GEMM. The reference set is streamed
in chunks (each converted once) and the query set in chunks under it, so memory stays
bounded by the chunk sizes whatever the size of either set; a running top-k per query is
merged with every block.
"""

from typing import Callable

import numpy as np
import torch

Vectors = Callable[[np.ndarray], torch.Tensor]


def nearest_neighbours(query_vectors: Vectors, n_queries: int, reference_vectors: Vectors, n_references: int,
                       k: int, query_chunk: int = 4096, reference_chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances and indices (n_queries x k, nearest first) of each query's k nearest
    references. `*_vectors(rows)` return the float32 vectors of those rows on the device used."""
    k = min(k, n_references)
    best_distances = best_indices = None
    for reference_start in range(0, n_references, reference_chunk):
        reference_rows = np.arange(reference_start, min(reference_start + reference_chunk, n_references))
        references = reference_vectors(reference_rows)
        reference_norms = references.square().sum(dim=1)
        block_best = [
            _block_top_k(query_vectors(np.arange(start, min(start + query_chunk, n_queries))),
                         references, reference_norms, reference_start, k)
            for start in range(0, n_queries, query_chunk)
        ]
        distances = torch.cat([d for d, _ in block_best])
        indices = torch.cat([i for _, i in block_best])
        if best_distances is None:
            best_distances, best_indices = distances, indices
        else:
            best_distances, best_indices = _merge(best_distances, best_indices, distances, indices, k)
    return best_distances, best_indices


def _block_top_k(queries, references, reference_norms, offset, k):
    partial = reference_norms.unsqueeze(0) - 2.0 * (queries @ references.T)
    distances, indices = torch.topk(partial, min(k, references.shape[0]), dim=1, largest=False, sorted=True)
    query_norms = queries.square().sum(dim=1, keepdim=True)
    return (distances + query_norms).clamp_(min=0.0), indices + offset


def _merge(distances, indices, new_distances, new_indices, k):
    all_distances = torch.cat([distances, new_distances], dim=1)
    all_indices = torch.cat([indices, new_indices], dim=1)
    distances, order = torch.topk(all_distances, min(k, all_distances.shape[1]), dim=1, largest=False, sorted=True)
    return distances, torch.gather(all_indices, 1, order)
