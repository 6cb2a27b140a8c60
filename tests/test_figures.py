import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganprint import GanprintError
from ganprint.figures import sample_grid, sample_strip, strip_grid
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
    assert_figure(output, (482, 237))  # two rows of four 16 px images, each shown at 96 px
    with pytest.raises(GanprintError, match="12 images per source"):
        sample_grid([str(tmp_path / "a.npy")], ["real"], str(tmp_path / "bad.png"), per_source=12)
    with pytest.raises(GanprintError, match="labels"):
        sample_grid([str(tmp_path / "a.npy")], ["real", "gan"], str(tmp_path / "bad.png"))
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("size", [16, 32, 128])
def test_strip_labels_and_titles_fit_in_the_figure_at_every_image_size(tmp_path, size):
    """The longest names a workflow makes (a GAN on a 100000-image subset, seed 10, a twin) and
    a long title: nothing drawn reaches the figure's edge, and every label is drawn left of
    the images (its text's dark pixels in the margin)."""
    labels = ["real", "cramergan_diff100000_s10_run2", "stable-diffusion-2-1-base\nnot selected"]
    rng = np.random.default_rng(0)
    strips = [sample_strip(rng.integers(0, 256, (4, size, size, 3), dtype=np.uint8), 4) for _ in labels]
    output = tmp_path / "strips.png"
    strip_grid(strips, labels, str(output), title="Figure 5: artifact-free test images (LPIPS backbone: alex)")
    pixels = np.asarray(Image.open(output).convert("L")).astype(int)
    edges = np.concatenate([pixels[:, :2].ravel(), pixels[:, -2:].ravel(), pixels[:2].ravel(), pixels[-2:].ravel()])
    assert edges.min() == 255, "something is drawn at the figure's edge: a label or the title is cut"
    image_columns = np.flatnonzero((pixels < 250).mean(axis=0) > 0.5)  # the strips' columns
    margin = pixels[:, : image_columns.min()]
    rows_with_text = np.flatnonzero((margin < 128).any(axis=1))
    assert len(rows_with_text) > 3 * 6, "the labels are not drawn in the left margin"


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


def test_the_training_length_axis_follows_the_curves_and_coinciding_curves_stay_visible(tmp_path, monkeypatch):
    """Two methods at 100% throughout (as DCT and ours in the demo) are both seen, and the
    axis spans the curves' 93-100%, not 0-100; chance (25%) is named in the legend."""
    from ganprint import figures

    accuracies = {"dct": [100.0, 100.0], "knn": [99.5, 93.3], "ours": [100.0, 100.0]}
    rows = [{"dataset": "d", "images_shown": shown, "method": method, "accuracy": accuracy, "n_classes": 4}
            for method, values in accuracies.items() for shown, accuracy in zip((1000, 2000), values)]
    pd.DataFrame(rows).to_csv(tmp_path / "length.csv", index=False)
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda figure, output: drawn.append(figure))
    figures.training_length_curves(str(tmp_path / "length.csv"), "d", str(tmp_path / "length.png"))
    axis = drawn[0].axes[0]
    low, high = axis.get_ylim()
    assert 92 < low < 93.3 and 100 < high < 101
    curves = {line.get_label(): line for line in axis.lines if line.get_label() in accuracies}
    assert len({line.get_marker() for line in curves.values()}) == 3
    assert len({line.get_linestyle() for line in curves.values()}) == 3
    # ours is drawn first and widest, so that DCT's line on top leaves it showing at both edges
    assert curves["ours"].get_zorder() < curves["dct"].get_zorder()
    assert curves["ours"].get_linewidth() > curves["dct"].get_linewidth() + 1
    assert "chance (25%)" in [text.get_text() for text in axis.get_legend().get_texts()]
    figures.plt.close(drawn[0])


def test_the_accuracy_axis_reaches_chance_only_where_a_curve_comes_near_it():
    from ganprint.figures import accuracy_limits

    assert accuracy_limits([93.3, 100.0], 25.0) == pytest.approx((92.8, 100.5))  # the least margin, half a point
    low, high = accuracy_limits([40.0, 90.0], 33.3)
    assert low < 33.3 and 90 < high < 94
    assert accuracy_limits([100.0, 100.0], 50.0) == (99.5, 100.5)
