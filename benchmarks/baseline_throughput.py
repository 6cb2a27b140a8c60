"""Throughput of the kNN and PRNU attribution baselines, in test images attributed per second.

kNN: the chunked-GEMM search of ganprint.neighbours over uint8 images held in memory (as the
workflow holds its memory-mapped arrays), against scikit-learn's brute-force
KNeighborsClassifier on the same data where it is installed (the ratio). PRNU: wavelet noise
residuals + normalised cross-correlation with the fingerprints, batched on the device, against
the same code called one image at a time (the ratio). One JSON line per measurement.

    python benchmarks/baseline_throughput.py            # 32x32 and 128x128; GPU too when present
    python benchmarks/baseline_throughput.py --quick    # smaller sets
"""

import json
import time

import numpy as np
import torch

from ganprint.costs import knn_attribution, prnu_attribution, random_images
from harness import configure

N_CLASSES = 5


def report(**fields):
    print(json.dumps(fields), flush=True)


def synchronise(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_knn(resolution, n_references, n_queries, device, k=5, compare=True):
    rng = np.random.default_rng(0)
    references, queries = random_images(rng, n_references, resolution), random_images(rng, n_queries, resolution)
    labels = rng.integers(0, N_CLASSES, size=n_references)
    knn_attribution(references[:256], labels[:256], queries[:64], k, N_CLASSES, device)  # warm-up
    synchronise(device)
    started = time.perf_counter()
    predictions = knn_attribution(references, labels, queries, k, N_CLASSES, device)
    synchronise(device)
    seconds = time.perf_counter() - started
    fields = dict(stage="knn", device=device.type, resolution=resolution, n_references=n_references,
                  n_queries=n_queries, k=k, seconds=round(seconds, 3), images_per_s=round(n_queries / seconds, 1),
                  pairs_per_s=float(f"{n_queries * n_references / seconds:.3g}"))
    if compare:
        fields.update(_sklearn_reference(references, labels, queries, k, predictions, seconds))
    report(**fields)
    return n_queries * n_references / seconds


def _sklearn_reference(references, labels, queries, k, predictions, seconds):
    try:
        from sklearn.neighbors import KNeighborsClassifier
    except ImportError:
        return {"sklearn": "not installed"}
    started = time.perf_counter()
    classifier = KNeighborsClassifier(n_neighbors=k, algorithm="brute", n_jobs=1)
    expected = classifier.fit(references.reshape(len(references), -1) / 255.0, labels).predict(
        queries.reshape(len(queries), -1) / 255.0)
    reference_seconds = time.perf_counter() - started
    return {"sklearn_brute_seconds": round(reference_seconds, 3), "speedup_vs_sklearn": round(reference_seconds / seconds, 2),
            "same_predictions_as_sklearn": float(np.mean(expected == predictions))}


def bench_prnu(resolution, n_images, device, batch=256, n_naive=64):
    rng = np.random.default_rng(1)
    images = random_images(rng, n_images, resolution)
    fingerprints = torch.randn(N_CLASSES, resolution, resolution, device=device)
    prnu_attribution(images[:8], fingerprints, device)
    synchronise(device)
    started = time.perf_counter()
    for start in range(0, n_images, batch):
        prnu_attribution(images[start : start + batch], fingerprints, device)
    synchronise(device)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    for index in range(n_naive):
        prnu_attribution(images[index : index + 1], fingerprints, device)
    synchronise(device)
    naive_rate = n_naive / (time.perf_counter() - started)
    rate = n_images / seconds
    report(stage="prnu", device=device.type, resolution=resolution, n_images=n_images, batch=batch,
           images_per_s=round(rate, 1), one_at_a_time_images_per_s=round(naive_rate, 1),
           speedup_vs_one_at_a_time=round(rate / naive_rate, 2))
    return rate


def main():
    scale, devices = configure(__doc__)
    for device in devices:
        gpu = device.type == "cuda"
        bench_knn(32, (100000 if gpu else 20000) // scale, (10000 if gpu else 2500) // scale, device,
                  compare=not gpu)
        bench_knn(128, (100000 if gpu else 20000) // scale, (10000 if gpu else 500) // scale, device,
                  compare=not gpu)
        bench_prnu(32, 4096 // scale, device)
        bench_prnu(128, 1024 // scale, device)


if __name__ == "__main__":
    main()
