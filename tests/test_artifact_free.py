import numpy as np
import pytest
import torch
import torchvision

from ganprint import GanprintError
from ganprint.artifact_free import closest_fraction, lpips_embedding, nearest_real, select_artifact_free
from ganprint.convert import to_unit_range
from ganprint.perceptual import LpipsEmbedding, lpips_network

# Backbones are randomly initialised here (the ImageNet weights are a download); both sides
# of every comparison use the same network, with the lpips package's shipped linear heads.


def random_images(seed, count, size):
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("net, size", [("alex", 32), ("alex", 64), ("vgg", 32), ("vgg", 48)])
def test_embedding_distances_equal_the_lpips_forward(net, size):
    torch.manual_seed(0)
    model = lpips_network(net)
    embedding = LpipsEmbedding(model)
    first, second = to_unit_range(random_images(1, 6, size), "cpu"), to_unit_range(random_images(2, 6, size), "cpu")
    with torch.no_grad():
        expected = model(first, second).flatten()
        ours = (embedding(first) - embedding(second)).square().sum(dim=1)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("reference_chunk", [None, 7, 1])
def test_nearest_real_equals_brute_force_whatever_the_chunks(reference_chunk):
    torch.manual_seed(0)
    model = lpips_network("alex")
    embedding = LpipsEmbedding(model)
    real, generated = random_images(3, 40, 32), random_images(4, 12, 32)
    distances, nearest = nearest_real(embedding, generated, real, "cpu", batch=16, reference_chunk=reference_chunk)
    with torch.no_grad():
        pairs = torch.stack([model(to_unit_range(generated[[i] * 40], "cpu"), to_unit_range(real, "cpu")).flatten()
                             for i in range(12)])
    np.testing.assert_array_equal(nearest, pairs.argmin(dim=1).numpy())
    np.testing.assert_allclose(distances, pairs.min(dim=1).values.numpy(), rtol=1e-5)


def bilinear_upsampled(images: np.ndarray, size: int) -> np.ndarray:
    """N x C x H x W -> N x C x size x size by bilinear interpolation written out: output pixel i
    samples the input at (i + 0.5) H / size - 0.5 (pixel centres aligned), clamped at the borders."""
    height, width = images.shape[-2:]

    def taps(index, length):
        position = min(max((index + 0.5) * length / size - 0.5, 0.0), length - 1)
        low = int(np.floor(position))
        return low, min(low + 1, length - 1), position - low

    result = np.empty(images.shape[:2] + (size, size))
    for i in range(size):
        top, bottom, down = taps(i, height)
        for j in range(size):
            left, right, across = taps(j, width)
            upper = (1 - across) * images[..., top, left] + across * images[..., top, right]
            lower = (1 - across) * images[..., bottom, left] + across * images[..., bottom, right]
            result[..., i, j] = (1 - down) * upper + down * lower
    return result


@pytest.mark.parametrize("net, size", [("alex", 16), ("alex", 20)])
def test_images_below_the_backbones_smallest_side_are_upsampled_bilinearly(net, size):
    torch.manual_seed(0)
    embedding = LpipsEmbedding(lpips_network(net))
    small = to_unit_range(random_images(5, 2, size), "cpu")
    side = {"alex": 32, "vgg": 16}[net]
    upsampled = torch.from_numpy(bilinear_upsampled(small.double().numpy(), side)).float()
    with torch.no_grad():
        torch.testing.assert_close(embedding(small), embedding(upsampled), rtol=1e-4, atol=1e-6)


def test_closest_fraction_keeps_the_smallest_distances_in_order():
    distances = np.array([0.5, 0.1, 0.9, 0.2, 0.3, 0.8, 0.7, 0.6, 0.4, 1.0])
    assert closest_fraction(distances, 0.3).tolist() == [1, 3, 4]
    assert closest_fraction(distances, 0.01).tolist() == [1]
    with pytest.raises(GanprintError, match="fraction"):
        closest_fraction(distances, 0.0)


def test_missing_backbone_weights_are_a_clear_error_unless_the_fallback_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    with pytest.raises(GanprintError, match=r"alexnet-owt-7be5be79\.pth.*uncalibrated_fallback"):
        lpips_embedding("alex", None, False, "cpu")
    with pytest.raises(GanprintError, match="does not exist"):
        lpips_embedding("alex", str(tmp_path / "absent.pth"), True, "cpu")
    _, calibrated = lpips_embedding("alex", None, True, "cpu")
    assert calibrated is False


def test_backbone_weights_load_from_a_configured_file(tmp_path):
    reference = torchvision.models.alexnet(weights=None)
    path = tmp_path / "alexnet.pth"
    torch.save(reference.state_dict(), path)
    embedding, calibrated = lpips_embedding("alex", str(path), False, "cpu")
    assert calibrated
    assert torch.equal(embedding.model.net.slice2[1].weight, reference.features[3].weight)


def test_selection_writes_the_closest_images(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    real, generated = random_images(5, 30, 32), random_images(6, 20, 32)
    generated[7] = real[3]  # an exact copy of a real image is the closest of all
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "test.npy", generated)
    select_artifact_free(str(tmp_path / "real.npy"), str(tmp_path / "test.npy"), str(tmp_path / "sel.npz"),
                         str(tmp_path / "kept.npy"), fraction=0.1, uncalibrated_fallback=True)
    selection = np.load(tmp_path / "sel.npz")
    assert len(selection["selected"]) == 2 and 7 in selection["selected"]
    assert selection["nearest_real"][7] == 3 and selection["distances"][7] < 1e-6
    assert not selection["calibrated"]
    np.testing.assert_array_equal(np.load(tmp_path / "kept.npy"), generated[selection["selected"]])
