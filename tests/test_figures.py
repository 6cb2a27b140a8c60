import numpy as np
import pytest

from ganprint import GanprintError
from ganprint.figures import sample_grid, sample_strip
from tiny_workflow import assert_figure


def test_sample_strip_places_images_side_by_side():
    images = np.stack([np.full((4, 4, 3), value, np.uint8) for value in (10, 20, 30)])
    strip = sample_strip(images, 3, gap=1)
    assert strip.shape == (4, 14, 3)
    assert strip[0, 0, 0] == 10 and strip[0, 4, 0] == 255 and strip[0, 5, 0] == 20 and strip[0, 13, 0] == 30


def test_sample_grid_draws_a_row_per_source_and_names_bad_input(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8))
    output = tmp_path / "figure.png"
    sample_grid([str(tmp_path / "a.npy"), str(tmp_path / "b.npy")], ["real", "gan"], str(output), per_source=4)
    assert_figure(output, (580, 262))  # two rows of four 16 px images, each shown at 96 px
    with pytest.raises(GanprintError, match="12 images per source"):
        sample_grid([str(tmp_path / "a.npy")], ["real"], str(tmp_path / "bad.png"), per_source=12)
    with pytest.raises(GanprintError, match="labels"):
        sample_grid([str(tmp_path / "a.npy")], ["real", "gan"], str(tmp_path / "bad.png"))
    assert not (tmp_path / "bad.png").exists()


def test_the_fingerprint_map_separates_separable_features(tmp_path):
    """Features of three well-separated clusters keep their clusters in the t-SNE map; pixels
    carry nothing (noise), and the figure shows both maps."""
    from ganprint.maps import chosen_rows, embed, fingerprint_map

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    features = rng.normal(size=(120, 8)) + 6 * np.eye(8)[labels]
    points = embed(features, seed=0)
    centres = np.stack([points[labels == label].mean(0) for label in range(3)])
    nearest = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(1)
    assert (nearest == labels).mean() > 0.95
    paths = []
    for label in range(3):
        np.save(tmp_path / f"{label}.npy", rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8))
        paths.append(str(tmp_path / f"{label}.npy"))
    np.savez(tmp_path / "features.npz", features=features.astype(np.float32), labels=labels)
    fingerprint_map(str(tmp_path / "features.npz"), paths, ["a", "b", "c"], str(tmp_path / "map.png"), per_source=30)
    assert_figure(tmp_path / "map.png", (1040, 440))
    assert np.bincount(labels[chosen_rows(labels, 30, 0)]).tolist() == [30, 30, 30]
    with pytest.raises(GanprintError, match="does not hold the features"):
        fingerprint_map(str(tmp_path / "features.npz"), paths[:2], ["a", "b"], str(tmp_path / "bad.png"))
    assert not (tmp_path / "bad.png").exists()
