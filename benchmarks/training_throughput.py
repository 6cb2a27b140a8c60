"""Throughput of the heavy stages with the paper's networks (128x128 by default).

Prints one JSON line per measurement: ProGAN training steps per resolution (images/s and
the projected hours of the authors' 12M-image schedule), SNGAN / CramerGAN / MMDGAN
iterations (and hours per 12M real images), generator sampling, and the
attribution network's training and inference, in bf16 autocast against fp32 (the ratio).
Determinism of same-seed twins on a GPU is checked by tests/test_gpu.py.

    python benchmarks/training_throughput.py            # GPU when present, else CPU
    python benchmarks/training_throughput.py --quick    # fewer steps
"""

import argparse
import json
import time

import torch

from ganprint import runtime
from ganprint.attribution.network import AttributionNetwork, AttributionSettings
from ganprint.gans import make_settings, make_trainer
from ganprint.gans.progan import ProGANGenerator, ProGANTrainer


def report(**fields):
    print(json.dumps(fields), flush=True)


def timed(function, repeats: int, device) -> float:
    function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def progan_training(device, steps: int, size: int) -> None:
    settings = make_settings("progan", {"resolution": size})
    trainer = ProGANTrainer(settings, device)
    seconds_per_image = {}
    for level, resolution in enumerate(settings.resolutions()):
        shown = 2 * level * settings.images_per_phase  # start of the stable phase at this resolution
        batch = settings.batch_sizes[resolution]
        real = torch.rand(batch, 3, size, size, device=device) * 2 - 1
        step = lambda: trainer.step(shown, lambda n: real[:n], lambda n: torch.randn(n, 512, device=device),  # noqa: E731
                                    lambda n: torch.rand(n, device=device))
        seconds = timed(step, steps, device)
        seconds_per_image[resolution] = seconds / batch
        report(stage="progan_train_step", device=device.type, resolution=resolution, batch=batch,
               images_per_s=round(batch / seconds, 1))
    hours = _schedule_seconds(settings, seconds_per_image) / 3600
    report(stage="progan_schedule_projection", device=device.type, total_images=settings.total_images, hours=round(hours, 2))


def _schedule_seconds(settings, seconds_per_image) -> float:
    total, shown, chunk = 0.0, 0, 10_000
    while shown < settings.total_images:
        resolution, _ = settings.schedule(shown)
        total += chunk * seconds_per_image[resolution]
        shown += chunk
    return total


def alternating_training(device, steps: int, size: int) -> None:
    """SNGAN, CramerGAN and MMDGAN iterations (critic steps + one generator step) with the
    papers' settings, and the projected hours of a 12M-real-image run."""
    for arch in ("sngan", "cramergan", "mmdgan"):
        trainer = make_trainer(arch, {"resolution": size}, device)
        settings = trainer.settings
        real = torch.rand(settings.batch_size, 3, size, size, device=device) * 2 - 1
        drawn = []

        def step():
            trainer.step(0, lambda n: drawn.append(n) or real[:n], lambda n: torch.randn(n, settings.latent_dim, device=device),
                         lambda n: torch.rand(n, device=device))

        seconds = timed(step, steps, device)
        real_per_step = sum(drawn) / (steps + 1)
        report(stage="gan_train_iteration", arch=arch, device=device.type, batch=settings.batch_size,
               critic_steps=settings.critic_steps, iterations_per_s=round(1 / seconds, 2),
               real_images_per_s=round(real_per_step / seconds, 1),
               projected_hours=round(settings.total_images / (real_per_step / seconds) / 3600, 2))


def progan_sampling(device, steps: int, size: int) -> None:
    generator = ProGANGenerator(make_settings("progan", {"resolution": size})).to(device).eval()
    z = torch.randn(256, 512, device=device)
    for precision in ("fp32", "bf16"):
        enabled = precision == "bf16" and device.type == "cuda"

        @torch.no_grad()
        def sample():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
                generator(z)

        seconds = timed(sample, steps, device)
        report(stage="progan_sampling", device=device.type, precision=precision, images_per_s=round(256 / seconds, 1))
        if device.type != "cuda":
            break


def attribution(device, steps: int, size: int) -> None:
    network = AttributionNetwork(AttributionSettings(resolution=size, n_classes=11)).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3, betas=(0.0, 0.99))
    rates = {}
    for precision in ("fp32", "bf16"):
        if precision == "bf16" and device.type != "cuda":
            continue
        enabled = precision == "bf16"
        images = torch.rand(32, 3, size, size, device=device) * 2 - 1
        labels = torch.randint(0, 11, (32,), device=device)

        def train_step():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
                logits = network(images)
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

        batch = 512 if device.type == "cuda" else 64
        inputs = torch.rand(batch, 3, size, size, device=device) * 2 - 1

        @torch.no_grad()
        def inference():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
                network.features(inputs)

        rates[precision] = (32 / timed(train_step, steps, device), batch / timed(inference, steps, device))
        report(stage="attribution", device=device.type, precision=precision,
               train_images_per_s=round(rates[precision][0], 1), inference_images_per_s=round(rates[precision][1], 1))
    if "bf16" in rates:
        report(stage="attribution_bf16_speedup", train=round(rates["bf16"][0] / rates["fp32"][0], 2),
               inference=round(rates["bf16"][1] / rates["fp32"][1], 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resolution", type=int, default=128, help="image size of the paper-scale networks")
    args = parser.parse_args()
    device = runtime.configure(args.threads, seed=0)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    report(stage="device", device=name, torch=torch.__version__, threads=args.threads)
    steps = 3 if args.quick else (20 if device.type == "cuda" else 3)
    progan_training(device, steps, args.resolution)
    alternating_training(device, steps, args.resolution)
    progan_sampling(device, steps, args.resolution)
    attribution(device, steps, args.resolution)


if __name__ == "__main__":
    main()
