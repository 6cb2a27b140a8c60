"""LPIPS nearest-real-image search: the embedding + GEMM search of ganprint.artifact_free against
the `lpips` package's pairwise forward, in LPIPS pairs per second, on the same images.

The pairwise rate is measured on a sample of pairs (batches of pairs, both images through
the network each time, as calling the package pair by pair does); the search covers every
pair of the generated and real sets. Backbones are randomly initialised (the ImageNet
weights are a download); the compute is the same. One JSON line per setting.

    python benchmarks/lpips_search.py            # 32x32 and 128x128; GPU too when present
    python benchmarks/lpips_search.py --quick
"""

import json
import time

import numpy as np
import torch

from ganprint.artifact_free import nearest_real
from ganprint.convert import to_unit_range
from ganprint.perceptual import LpipsEmbedding, lpips_network
from harness import configure


def synchronise(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def pairwise_rate(model, generated, real, device, n_pairs, batch):
    rng = np.random.default_rng(0)
    firsts, seconds = rng.integers(0, len(generated), n_pairs), rng.integers(0, len(real), n_pairs)
    model(to_unit_range(generated[:2], device), to_unit_range(real[:2], device))
    synchronise(device)
    started = time.perf_counter()
    for start in range(0, n_pairs, batch):
        model(to_unit_range(generated[firsts[start : start + batch]], device),
              to_unit_range(real[seconds[start : start + batch]], device))
    synchronise(device)
    return n_pairs / (time.perf_counter() - started)


def search_rate(embedding, generated, real, device, batch):
    nearest_real(embedding, generated[:4], real[:8], device, batch)
    synchronise(device)
    started = time.perf_counter()
    nearest_real(embedding, generated, real, device, batch)
    synchronise(device)
    return len(generated) * len(real) / (time.perf_counter() - started)


def bench(resolution, n_generated, n_real, device, net="alex", n_pairs=512, batch=64):
    rng = np.random.default_rng(1)
    generated = rng.integers(0, 256, size=(n_generated, resolution, resolution, 3), dtype=np.uint8)
    real = rng.integers(0, 256, size=(n_real, resolution, resolution, 3), dtype=np.uint8)
    torch.manual_seed(0)
    model = lpips_network(net).to(device)
    embedding = LpipsEmbedding(model).to(device)
    pairwise = pairwise_rate(model, generated, real, device, n_pairs, batch)
    search = search_rate(embedding, generated, real, device, batch)
    print(json.dumps(dict(device=device.type, net=net, resolution=resolution, n_generated=n_generated, n_real=n_real,
                          pairwise_pairs_per_s=float(f"{pairwise:.4g}"), search_pairs_per_s=float(f"{search:.4g}"),
                          speedup=round(search / pairwise, 1))), flush=True)


def main():
    scale, devices = configure(__doc__)
    for device in devices:
        gpu = device.type == "cuda"
        bench(32, (2000 if gpu else 500) // scale, (20000 if gpu else 5000) // scale, device)
        bench(128, (2000 if gpu else 200) // scale, (20000 if gpu else 2000) // scale, device,
              n_pairs=4096 if gpu else 256, batch=256 if gpu else 64)


if __name__ == "__main__":
    main()
