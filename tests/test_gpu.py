"""Every stage on a CUDA device (fp32 with TF32 where allowed, strict fp32 sampling,
channels_last, deterministic kernels).
Skipped where no GPU is present; run on one with `pytest tests/test_gpu.py`."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganprint.attribution.evaluation import evaluate_attribution
from ganprint.attribution.training import OptimiserSettings, train_attribution
from ganprint.data.real import prepare_real
from ganprint.gans.sampling import sample_gan
from ganprint.storage import load_checkpoint

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

GAN = dict(resolution=16, latent_dim=16, fmap_base=64, fmap_max=32, images_per_phase=512,
           total_images=3072, batch_sizes={4: 32, 8: 32, 16: 32})


def test_all_stages_on_the_gpu(tmp_path):
    prepare_real("embedded", tmp_path / "real.npy", 16, 1000, seed=0)
    for name, seed in (("a", 1), ("a_twin", 1), ("b", 2)):  # separate processes, as workflow jobs are
        subprocess.run([sys.executable, "-m", "ganprint", "--quiet", "train-gan", "--arch", "progan",
                        "--settings", json.dumps(GAN), "--images", str(tmp_path / "real.npy"), "--seed", str(seed),
                        "--output", str(tmp_path / f"{name}.pt")], check=True)
    first, twin = load_checkpoint(tmp_path / "a.pt")["generator"], load_checkpoint(tmp_path / "a_twin.pt")["generator"]
    assert all(torch.equal(first[k], twin[k]) for k in first)

    for name, seed in (("a", 11), ("b", 12)):
        sample_gan(str(tmp_path / f"{name}.pt"), {tmp_path / f"{name}_train.npy": 300, tmp_path / f"{name}_test.npy": 100}, seed)
    real = np.load(tmp_path / "real.npy")
    np.save(tmp_path / "r_train.npy", real[:300])
    np.save(tmp_path / "r_test.npy", real[300:400])

    names = ["r", "a", "b"]
    optimiser = OptimiserSettings(learning_rate=1e-3, epochs=3, lr_schedule="linear")
    train_attribution([str(tmp_path / f"{n}_train.npy") for n in names], names, tmp_path / "model.pt", optimiser,
                      fmap_base=128, fmap_max=64)
    metrics = evaluate_attribution(tmp_path / "model.pt", [str(tmp_path / f"{n}_test.npy") for n in names],
                                   tmp_path / "m.json", tmp_path / "f.npz", tmp_path / "c.csv", {})
    assert metrics["accuracy"] > 60
    assert np.load(tmp_path / "f.npz")["features"].shape == (300, 64)


@pytest.mark.parametrize("arch", ["progan", "mmdgan"])
def test_gpu_sampling_is_fp32_and_independent_of_the_batch(tmp_path, arch):
    """Strict fp32 on the GPU: the same bytes for the same batch size, and within one grey
    level (on a few pixels) of another batch size and of the CPU. cuDNN picks its kernels by
    shape, so bytes can differ across batch sizes on a GPU; on the CPU they cannot."""
    from unittest import mock

    from ganprint.gans import make_generator
    from ganprint.storage import save_checkpoint

    torch.manual_seed(0)
    generator = make_generator(arch, {"resolution": 32})
    save_checkpoint(tmp_path / "g.pt", {"arch": arch, "settings": {"resolution": 32}, "generator": generator.state_dict()})

    def sample(name, batch):
        sample_gan(str(tmp_path / "g.pt"), {tmp_path / f"{name}_train.npy": 100, tmp_path / f"{name}_test.npy": 36}, 3, batch, 4)
        return np.load(tmp_path / f"{name}_train.npy").astype(int)

    small, large, again = sample("small", 8), sample("large", 256), sample("again", 256)
    with mock.patch("torch.cuda.is_available", return_value=False):
        on_cpu = sample("cpu", 64)
    assert np.array_equal(large, again)
    for other in (small, on_cpu):
        assert np.abs(large - other).max() <= 1 and np.mean(large != other) < 0.002


def test_baselines_searches_and_attacks_on_the_gpu_agree_with_the_cpu():
    from ganprint.artifact_free import nearest_real
    from ganprint.attacks import AttackSettings, attack_batch
    from ganprint.baselines import knn
    from ganprint.names import ATTACKS
    from ganprint.baselines.inputs import pixel_vectors
    from ganprint.perceptual import LpipsEmbedding, lpips_network

    rng = np.random.default_rng(0)
    references = rng.integers(0, 256, size=(300, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 3, size=300)
    queries = rng.integers(0, 256, size=(50, 32, 32, 3), dtype=np.uint8)

    def knn_predictions(device):
        neighbours = knn.neighbour_labels(lambda p: pixel_vectors(queries[p], device), 50,
                                          lambda p: pixel_vectors(references[p], device), labels, 5)
        return knn.vote(neighbours, 5, 3)

    assert np.array_equal(knn_predictions(torch.device("cuda")), knn_predictions(torch.device("cpu")))
    torch.manual_seed(0)
    embedding = LpipsEmbedding(lpips_network("alex"))
    on_cpu = nearest_real(embedding, queries, references, torch.device("cpu"))
    on_gpu = nearest_real(embedding.cuda(), queries, references, torch.device("cuda"))
    assert np.array_equal(on_cpu[1], on_gpu[1])
    np.testing.assert_allclose(on_cpu[0], on_gpu[0], rtol=1e-3)
    for name in ATTACKS:
        cpu = attack_batch(name, queries, 3, 0, AttackSettings(), "cpu").astype(int)
        gpu = attack_batch(name, queries, 3, 0, AttackSettings(), torch.device("cuda")).astype(int)
        assert np.mean(np.abs(cpu - gpu) > 1) < 0.01, name  # float rounding may move a few pixels by one level


def test_prnu_chain_on_the_gpu_matches_the_cpu():
    from ganprint.baselines import prnu

    images = np.random.default_rng(0).integers(0, 256, size=(16, 128, 128, 3), dtype=np.uint8)
    noise = {device: prnu.colour_noise(images, 5.0, 4, device).cpu() for device in ("cpu", "cuda")}
    torch.testing.assert_close(noise["cuda"], noise["cpu"], rtol=0, atol=1e-9 * noise["cpu"].abs().max().item())
    residuals = {device: prnu.noise_residuals(images, 5.0, 4, device).cpu() for device in ("cpu", "cuda")}
    torch.testing.assert_close(residuals["cuda"], residuals["cpu"], rtol=1e-5, atol=1e-5)
