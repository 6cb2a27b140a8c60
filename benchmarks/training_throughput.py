"""Throughput of the heavy stages with the paper's networks (128x128 by default).

Prints one JSON line per measurement: ProGAN training steps per resolution (images/s and
the projected hours of the authors' 12M-image schedule), the top-resolution step as the
workflow runs it against one that reads its losses every step with unfused Adam, each with
and without deterministic kernels; SNGAN / CramerGAN / MMDGAN iterations (and the
hours of the authors' run lengths), generator sampling, and the attribution network's
training and inference in fp32, with TF32 and under bf16 autocast (ratios to fp32).
Determinism of same-seed twins on a GPU is checked by tests/test_gpu.py.

    python benchmarks/training_throughput.py            # GPU when present, else CPU
    python benchmarks/training_throughput.py --quick    # fewer steps
"""

import argparse
import json

import torch

from ganprint import costs, runtime
from ganprint.costs import progan_step, timed
from ganprint.attribution.network import AttributionNetwork, AttributionSettings
from ganprint.gans import make_settings
from ganprint.gans.progan import ProGANGenerator, ProGANTrainer


def report(**fields):
    print(json.dumps(fields), flush=True)


def progan_seconds_per_image(settings, device, steps: int) -> dict:
    """Seconds per real image of a stable-phase step at each resolution, each reported."""
    seconds_per_image = costs.progan_seconds_per_image(settings, device, steps)
    for resolution, seconds in seconds_per_image.items():
        batch = settings.batch_sizes[resolution]
        report(stage="progan_train_step", device=device.type, resolution=resolution, batch=batch,
               images_per_s=round(1 / seconds, 1))
    return seconds_per_image


def progan_training(device, steps: int, size: int) -> None:
    settings = make_settings("progan", {"resolution": size})
    hours = costs.schedule_seconds(settings, progan_seconds_per_image(settings, device, steps)) / 3600
    report(stage="progan_schedule_projection", device=device.type, total_images=settings.total_images, hours=round(hours, 2))


def progan_loop_variants(device, steps: int, size: int) -> None:
    """The top-resolution ProGAN step as the workflow runs it (losses left on the device, fused
    Adam on a GPU) against the same step reading its losses every step with the unfused
    Adam, each with and without deterministic kernels: the training loop's own cost, measured
    in one run on one device."""
    settings = make_settings("progan", {"resolution": size})
    rates = {}
    for fused, read_losses in ((False, True), (device.type == "cuda", False)):
        for deterministic in (True, False):
            trainer = ProGANTrainer(settings, device)
            for name, network in (("generator_optimiser", trainer.generator), ("discriminator_optimiser", trainer.discriminator)):
                old = getattr(trainer, name)
                setattr(trainer, name, torch.optim.Adam(network.parameters(), **{**old.defaults, "fused": fused}))
            step, batch = progan_step(trainer, len(settings.resolutions()) - 1, device)
            timed_step = (lambda: [value.item() for value in step().values() if torch.is_tensor(value)]) if read_losses else step
            torch.use_deterministic_algorithms(deterministic, warn_only=True)
            torch.backends.cudnn.benchmark = device.type == "cuda" and not deterministic
            key = ("workflow" if not read_losses else "losses_read_each_step") + ("_deterministic" if deterministic else "_free")
            rates[key] = batch / timed(timed_step, steps, device)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    report(stage="progan_loop_variants", device=device.type, resolution=size,
           **{f"{key}_images_per_s": round(rate, 1) for key, rate in rates.items()},
           speedup_twins=round(rates["workflow_deterministic"] / rates["losses_read_each_step_deterministic"], 2),
           speedup_free=round(rates["workflow_free"] / rates["losses_read_each_step_deterministic"], 2))


def alternating_rate(arch: str, values: dict, device, steps: int):
    """costs.training_rate, reported."""
    rate, settings = costs.training_rate(arch, values, device, steps)
    report(stage="gan_train_iteration", arch=arch, device=device.type, batch=settings.batch_size,
           critic_steps=settings.critic_steps, real_images_per_s=round(rate, 1),
           projected_hours=round(settings.total_images / rate / 3600, 2))
    return rate, settings


def alternating_training(device, steps: int, size: int) -> None:
    """The three alternating GANs with the papers' settings."""
    for arch in ("sngan", "cramergan", "mmdgan"):
        alternating_rate(arch, {"resolution": size}, device, steps)


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


PRECISIONS = ("fp32", "tf32", "bf16")  # bf16: autocast over TF32-off fp32


def set_precision(precision: str) -> bool:
    """Set TF32 for `precision`; whether bf16 autocast applies."""
    runtime.set_tf32(precision == "tf32")
    return precision == "bf16"


def attribution(device, steps: int, size: int) -> None:
    network = AttributionNetwork(AttributionSettings(resolution=size, n_classes=11)).to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3, betas=(0.0, 0.99))
    rates = {}
    for precision in PRECISIONS if device.type == "cuda" else PRECISIONS[:1]:
        enabled = set_precision(precision)
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
    for precision in rates.keys() - {"fp32"}:
        report(stage=f"attribution_{precision}_speedup", train=round(rates[precision][0] / rates["fp32"][0], 2),
               inference=round(rates[precision][1] / rates["fp32"][1], 2))
    set_precision("tf32")


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
    progan_loop_variants(device, steps, args.resolution)
    alternating_training(device, steps, args.resolution)
    progan_sampling(device, steps, args.resolution)
    attribution(device, steps, args.resolution)


if __name__ == "__main__":
    main()
