"""The Inception baseline with its weights in place: a randomly initialised Inception-v3 state
dict stands in for pytorch-fid's file in torch's hub cache (nothing is downloaded), and the
features the baseline hands to the FD ratio are checked against pytorch-fid's own network."""

import numpy as np
import pytest
import torch
import torchvision

from ganprint.baselines import evaluation
from ganprint.baselines.evaluation import evaluate_baseline

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"  # pytorch-fid's FID_WEIGHTS_URL


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory):
    """A TORCH_HOME whose hub cache holds a random Inception-v3 (1008 classes, no auxiliary head:
    the layout of pytorch-fid's weights file)."""
    home = tmp_path_factory.mktemp("torch_home")
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    network = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    torch.save(network.state_dict(), home / "hub" / "checkpoints" / FID_WEIGHTS_FILE)
    return home


def pytorch_fid_pool3(images, monkeypatch):
    """pytorch-fid's InceptionV3 pool3 block on uint8 N x H x W x 3 images; it loads the weights
    from the hub cache itself."""
    from pytorch_fid.inception import InceptionV3

    # its constructor first draws torchvision's truncated-normal initialisation, which the cached
    # weights then replace: skipped, to save a second
    monkeypatch.setattr(torch.nn.init, "trunc_normal_", lambda tensor, *args, **kwargs: tensor)
    network = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True).eval()
    monkeypatch.undo()
    with torch.no_grad():
        (pool3,) = network(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0)
    return pool3.flatten(1).numpy()


def test_cached_weights_give_pytorch_fids_features_to_the_fd_ratio(tmp_path, torch_home, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    rng = np.random.default_rng(0)
    dark, bright = rng.integers(0, 60, (1, 16, 16, 3), dtype=np.uint8), rng.integers(195, 256, (1, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", dark)
    np.save(tmp_path / "b.npy", np.concatenate([bright, dark]))
    handed = {}

    def fd_ratio_entries(features, labels, seed=0):
        handed.update(features=features, labels=labels)
        return original(features, labels, seed)

    original = evaluation.fd_ratio_entries
    monkeypatch.setattr(evaluation, "fd_ratio_entries", fd_ratio_entries)
    metrics = evaluate_baseline("inception", [], [str(tmp_path / "a.npy"), str(tmp_path / "b.npy")], ["a", "b"], {},
                                str(tmp_path / "inception.json"), {"dataset": "tiny"})
    assert metrics["note"] == ""  # the weights were found
    assert handed["labels"].tolist() == [0, 1, 1]
    features = handed["features"]
    expected = pytorch_fid_pool3(np.concatenate([dark, bright, dark]), monkeypatch)
    assert features.shape == (3, 2048)
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert np.array_equal(features[0], features[2]) and np.abs(features[0] - features[1]).max() > 0.1 * np.abs(expected).max()
    # the FD ratio itself needs as many images per half as features (2048): not at this size
    assert metrics["fd_ratio"] is None and metrics["fd_ratio_min_per_half"] == 2048
    assert "fewer than the 2048 feature dimensions" in metrics["fd_ratio_note"]
