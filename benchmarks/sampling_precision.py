"""How far GPU sampling moves generated pixels from a CPU run of the same generator.

For each architecture at the paper's settings (128x128, random weights, seeded), samples the
same latents on the CPU in fp32 and on the GPU in fp32 (TF32 off: what `sample-gan` does),
with TF32 matmuls and convolutions, and under bf16 autocast; prints one JSON line per
comparison: the largest and mean difference in grey levels (0-255) and the share of pixels
that differ; and how far GPU fp32 samples move between batch sizes (cuDNN picks kernels by
shape) and between two runs at the same batch size (deterministic kernels: not at all).
Needs a CUDA device; prints nothing else without one.

    python benchmarks/sampling_precision.py [--images 256]
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from ganprint import runtime
from ganprint.gans import ARCHITECTURES, make_generator
from ganprint.gans.sampling import write_samples


def sample(generator, count: int, batch: int, device, bf16: bool = False) -> np.ndarray:
    """The first `count` images of seed 0, as `sample-gan` writes them."""
    with tempfile.TemporaryDirectory() as folder, torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        path = Path(folder) / "images.npy"
        write_samples(generator.to(device), path, 0, count, 0, batch, device)
        return np.load(path)


def difference(reference, other) -> dict:
    delta = np.abs(reference.astype(int) - other.astype(int))
    return {"max_levels": int(delta.max()), "mean_levels": round(float(delta.mean()), 4),
            "pixels_differing": round(float((delta > 0).mean()), 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        return
    gpu = torch.device("cuda")
    runtime.configure(args.threads, tf32=False)
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__}), flush=True)
    for name in ARCHITECTURES:
        torch.manual_seed(0)
        generator = make_generator(name, {}).eval().requires_grad_(False)
        on_cpu = sample(generator, args.images, 64, torch.device("cpu"))
        fp32 = sample(generator, args.images, 64, gpu)
        for batch in (64, 32, 256):
            print(json.dumps({"arch": name, "gpu_mode": "fp32", "batch": batch, "vs": "gpu_fp32_batch_64",
                              **difference(fp32, sample(generator, args.images, batch, gpu))}), flush=True)
        runtime.set_tf32(True)
        tf32 = sample(generator, args.images, 64, gpu)
        runtime.set_tf32(False)
        bf16 = sample(generator, args.images, 64, gpu, bf16=True)
        for mode, images in (("fp32", fp32), ("tf32", tf32), ("bf16_autocast", bf16)):
            print(json.dumps({"arch": name, "gpu_mode": mode, "vs": "cpu_fp32", **difference(on_cpu, images)}), flush=True)


if __name__ == "__main__":
    main()
