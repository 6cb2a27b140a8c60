"""The golden check: a tiny GAN, a batch sampled from it, a tiny classifier, Eigenface and
PRNU on the same images, each reduced to a SHA-256 of its bytes. Any x86-64 machine with
AVX2 and the library versions recorded in golden.json gives the hashes there (the CPU
kernels are pinned to AVX2, ganprint.cpu_kernels; another release of torch or numpy may
ship other kernels, so the versions are part of the check).

    python tests/golden.py            # this machine's hashes as JSON (and whether they match)
    pytest tests/test_cpu_kernels.py  # the same, as a test

Run under GANPRINT_CPU_ISA=native to see what the pinning changes on a given machine.
"""

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import ganprint  # noqa: F401  (first: it pins the kernels before numpy and torch load)
import numpy as np
import torch

GOLDEN = Path(__file__).with_name("golden.json")
PROGAN = dict(resolution=16, latent_dim=16, fmap_base=32, fmap_max=16, images_per_phase=64,
              total_images=448, batch_sizes={4: 16, 8: 16, 16: 16}, learning_rate=0.002, ema_beta=0.9)


def digest(*arrays) -> str:
    hasher = hashlib.sha256()
    for array in arrays:
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()[:16]


def weights_digest(state: dict) -> str:
    return digest(*(state[name].numpy() for name in sorted(state)))


def golden_hashes() -> dict[str, str]:
    from ganprint.attribution.training import OptimiserSettings, train_attribution
    from ganprint.baselines import eigenface, prnu
    from ganprint.data.procedural import write_dead_leaves
    from ganprint.gans.sampling import sample_gan
    from ganprint.gans.training import train_gan
    from ganprint.storage import load_checkpoint, load_images

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_dead_leaves(folder / "real.npy", size=16, count=256, seed=0)
        train_gan("progan", PROGAN, folder / "real.npy", folder / "gan.pt", seed=1, threads=1)
        sample_gan(folder / "gan.pt", {folder / "fake.npy": 128}, seed=2)
        real, fake = load_images(folder / "real.npy")[:128], load_images(folder / "fake.npy")
        optimiser = OptimiserSettings(learning_rate=3e-3, batch_size=32, epochs=2, lr_schedule="linear")
        train_attribution([folder / "real.npy", folder / "fake.npy"], ["real", "fake"], folder / "classifier.pt",
                          optimiser, fmap_base=64, fmap_max=16, seed=0, threads=1)
        pixels = torch.from_numpy(np.concatenate([real, fake]).reshape(256, -1)).float()
        return {
            "real_images": digest(real),
            "gan_weights": weights_digest(load_checkpoint(folder / "gan.pt")["generator"]),
            "sampled_batch": digest(fake),
            "classifier_weights": weights_digest(load_checkpoint(folder / "classifier.pt")["model"]),
            "eigenfaces": digest(eigenface.fit_pca(pixels, 16).components.numpy()),
            "prnu_residuals": digest(prnu.noise_residuals(fake[:32]).numpy()),
        }


def library_versions() -> dict[str, str]:
    import importlib.metadata

    return {name: importlib.metadata.version(name) for name in ("torch", "numpy")}


def committed_hashes() -> dict[str, str]:
    return json.loads(GOLDEN.read_text())["hashes"]


def committed_versions() -> dict[str, str]:
    return json.loads(GOLDEN.read_text())["versions"]


if __name__ == "__main__":
    hashes = golden_hashes()
    print(json.dumps({"cpu_isa": ganprint.CPU_ISA, "versions": library_versions(), "hashes": hashes,
                      "match": hashes == committed_hashes(), "versions_match": library_versions() == committed_versions()},
                     indent=1))
    sys.exit(0)
