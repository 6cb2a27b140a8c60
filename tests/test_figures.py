import numpy as np
import pytest
from PIL import Image

from ganprint import GanprintError
from ganprint.figures import sample_grid, sample_strip


def test_sample_strip_places_images_side_by_side():
    images = np.stack([np.full((4, 4, 3), value, np.uint8) for value in (10, 20, 30)])
    strip = sample_strip(images, 3, gap=1)
    assert strip.shape == (4, 14, 3)
    assert strip[0, 0, 0] == 10 and strip[0, 4, 0] == 255 and strip[0, 5, 0] == 20 and strip[0, 13, 0] == 30


def test_sample_grid_writes_a_png_and_names_bad_input(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8))
    output = tmp_path / "figure.png"
    sample_grid([str(tmp_path / "a.npy"), str(tmp_path / "b.npy")], ["real", "gan"], str(output), per_source=4)
    assert Image.open(output).format == "PNG"
    with pytest.raises(GanprintError, match="12 images per source"):
        sample_grid([str(tmp_path / "a.npy")], ["real"], str(tmp_path / "bad.png"), per_source=12)
    with pytest.raises(GanprintError, match="labels"):
        sample_grid([str(tmp_path / "a.npy")], ["real", "gan"], str(tmp_path / "bad.png"))
    assert not (tmp_path / "bad.png").exists()
