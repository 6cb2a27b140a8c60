"""Eigenface: principal components of pixel vectors, then a linear classifier."""

import dataclasses

import torch


@dataclasses.dataclass
class PrincipalComponents:
    mean: torch.Tensor        # D
    components: torch.Tensor  # n x D, orthonormal rows, by decreasing variance
    variances: torch.Tensor   # n

    def project(self, vectors: torch.Tensor, n_components: int | None = None) -> torch.Tensor:
        return (vectors - self.mean) @ self.components[:n_components].T

    def reconstruct(self, coordinates: torch.Tensor) -> torch.Tensor:
        return coordinates @ self.components[: coordinates.shape[1]] + self.mean


def fit_pca(vectors: torch.Tensor, max_components: int) -> PrincipalComponents:
    """Exact PCA of the rows of `vectors` through the smaller of the two Gram matrices
    (D x D, or N x N when there are fewer rows than dimensions), eigen-decomposed in float64."""
    mean = vectors.mean(dim=0)
    centred = (vectors - mean).double()
    if centred.shape[0] >= centred.shape[1]:
        variances, vectors_d = torch.linalg.eigh(centred.T @ centred)
        components = vectors_d.flip(1).T
    else:
        variances, vectors_n = torch.linalg.eigh(centred @ centred.T)
        components = (centred.T @ vectors_n.flip(1)).T
        components = components / components.norm(dim=1, keepdim=True).clamp(min=1e-12)
    variances = variances.flip(0).clamp(min=0.0) / max(len(centred) - 1, 1)
    n = min(max_components, int((variances > variances[0] * 1e-10).sum()) if variances[0] > 0 else 1)
    return PrincipalComponents(mean, components[:n].float().contiguous(), variances[:n].float())
