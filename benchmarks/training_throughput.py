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


def progan_step(trainer, level: int, device):
    """A training step in the stable phase at the level-th resolution, and its batch size."""
    settings = trainer.settings
    shown = 2 * level * settings.images_per_phase
    batch = settings.batch_sizes[settings.resolutions()[level]]
    real = torch.rand(batch, 3, settings.resolution, settings.resolution, device=device) * 2 - 1
    step = lambda: trainer.step(shown, lambda n: real[:n], lambda n: torch.randn(n, settings.latent_dim, device=device),  # noqa: E731
                                lambda n: torch.rand(n, device=device))
    return step, batch


def progan_seconds_per_image(settings, device, steps: int) -> dict:
    """Seconds per real image of a stable-phase training step at each resolution."""
    trainer = ProGANTrainer(settings, device)
    seconds_per_image = {}
    for level, resolution in enumerate(settings.resolutions()):
        step, batch = progan_step(trainer, level, device)
        seconds = timed(step, steps, device)
        seconds_per_image[resolution] = seconds / batch
        report(stage="progan_train_step", device=device.type, resolution=resolution, batch=batch,
               images_per_s=round(batch / seconds, 1))
    return seconds_per_image


def progan_training(device, steps: int, size: int) -> None:
    settings = make_settings("progan", {"resolution": size})
    hours = schedule_seconds(settings, progan_seconds_per_image(settings, device, steps)) / 3600
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


def schedule_seconds(settings, seconds_per_image) -> float:
    total, shown, chunk = 0.0, 0, 10_000
    while shown < settings.total_images:
        resolution, _ = settings.schedule(shown)
        total += chunk * seconds_per_image[resolution]
        shown += chunk
    return total


def alternating_rate(arch: str, values: dict, device, steps: int):
    """Real images per second of an SNGAN, CramerGAN or MMDGAN iteration (critic steps + one
    generator step) with the given settings, and the settings."""
    trainer = make_trainer(arch, values, device)
    settings = trainer.settings
    size = settings.resolution
    real = torch.rand(settings.batch_size, 3, size, size, device=device) * 2 - 1
    drawn = []

    def step():
        trainer.step(0, lambda n: drawn.append(n) or real[:n], lambda n: torch.randn(n, settings.latent_dim, device=device),
                     lambda n: torch.rand(n, device=device))

    seconds = timed(step, steps, device)
    rate = sum(drawn) / (steps + 1) / seconds
    report(stage="gan_train_iteration", arch=arch, device=device.type, batch=settings.batch_size,
           critic_steps=settings.critic_steps, iterations_per_s=round(1 / seconds, 2), real_images_per_s=round(rate, 1),
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
