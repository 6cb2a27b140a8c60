"""Figure 1 of the paper: 2-D t-SNE maps of test images, by their learned fingerprint
features and by their raw pixels, coloured by source."""

import numpy as np

from .errors import GanprintError
from .attribution.data import LabelledImages

PIXEL_COMPONENTS = 50  # principal components of the pixels before t-SNE (the usual practice)


def embed(points: np.ndarray, seed: int, threads: int = 1) -> np.ndarray:
    """A 2-D t-SNE embedding (perplexity 30, PCA initialisation) on `threads` threads."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = min(30.0, (len(points) - 1) / 3)
    with threadpool_limits(threads):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                    n_jobs=threads).fit_transform(np.asarray(points, np.float64))


def chosen_rows(labels: np.ndarray, per_source: int, seed: int) -> np.ndarray:
    """Up to `per_source` random rows of each label, sorted."""
    rng = np.random.default_rng(seed)
    rows = [rng.permutation(np.flatnonzero(labels == label))[:per_source] for label in np.unique(labels)]
    return np.sort(np.concatenate(rows))


def pixel_points(data: LabelledImages, rows: np.ndarray, seed: int) -> np.ndarray:
    """The chosen rows of the labelled test images as pixels reduced by PCA."""
    from sklearn.decomposition import PCA

    images, _ = data.gather(rows)
    pixels = images.reshape(len(rows), -1)
    components = min(PIXEL_COMPONENTS, *pixels.shape)
    return PCA(n_components=components, random_state=seed).fit_transform(pixels / 255.0)


def fingerprint_map(features_path: str, image_paths: list[str], sources: list[str], output: str,
                    per_source: int = 500, seed: int = 0, threads: int = 1, title: str = "") -> None:
    """t-SNE of the fingerprint features of an evaluation (features.npz) beside t-SNE of the
    same test images' pixels."""
    from .figures import scatter_maps

    stored = np.load(features_path)
    features, labels = stored["features"], stored["labels"]
    if len(sources) != len(image_paths):
        raise GanprintError(f"{len(image_paths)} test sets but {len(sources)} source names")
    data = LabelledImages(image_paths)
    if not np.array_equal(data.labels, labels):
        raise GanprintError(f"{features_path} does not hold the features of the test sets given, in their order")
    rows = chosen_rows(labels, per_source, seed)
    maps = {"learned fingerprint features": embed(features[rows], seed, threads),
            "raw pixels": embed(pixel_points(data, rows, seed), seed, threads)}
    scatter_maps(maps, labels[rows], sources, output, title)
