"""Training the attribution network: cross-entropy over sources, random horizontal flips.

One JSON line of metrics per epoch; the state is saved after every epoch and a restarted
job continues from the last one with the same result as an uninterrupted run.
"""

import dataclasses
import json
import logging
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import GanprintError, runtime
from ..convert import to_unit_range
from ..names import parse_network
from ..settings import defaults_from_schema, schema_default
from ..storage import load_resume_state, save_checkpoint, save_resume_state, settings_fingerprint
from .data import LabelledImages
from .evaluation import load_model
from .network import AttributionNetwork, AttributionSettings

log = logging.getLogger(__name__)

LR_SCHEDULES = ("constant", "linear")


@dataclasses.dataclass
@defaults_from_schema("attribution")
class OptimiserSettings:
    learning_rate: float
    betas: tuple
    batch_size: int
    epochs: int
    lr_schedule: str
    flip: bool

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.lr_schedule not in LR_SCHEDULES:
            raise GanprintError(f"lr_schedule must be one of {LR_SCHEDULES}, got '{self.lr_schedule}'")
        if self.epochs <= 0 or self.batch_size <= 0 or self.learning_rate <= 0:
            raise GanprintError("epochs, batch_size and learning_rate must be positive")


def build_model(data: LabelledImages, fmap_base: int, fmap_max: int, device, network: str = "full") -> AttributionNetwork:
    variant, switch_resolution = parse_network(network)
    try:
        settings = AttributionSettings(resolution=data.resolution, n_classes=len(data.arrays), fmap_base=fmap_base,
                                       fmap_max=fmap_max, variant=variant, switch_resolution=switch_resolution)
    except ValueError as error:
        raise GanprintError(f"network '{network}' at {data.resolution}px: {error}") from error
    return AttributionNetwork(settings).to(device)


def flip_randomly(images: torch.Tensor, stream: torch.Generator) -> torch.Tensor:
    flips = (torch.rand(images.shape[0], generator=stream) < 0.5).to(images.device)
    return torch.where(flips.reshape(-1, 1, 1, 1), images.flip(3), images)


def train_attribution(train_paths: list[str], sources: list[str], output: str, optimiser: OptimiserSettings,
                      fmap_base: int = schema_default("attribution", "fmap_base"),
                      fmap_max: int = schema_default("attribution", "fmap_max"),
                      seed: int = schema_default("attribution", "seed"), threads: int = 1,
                      initial: str | None = None, network: str = "full") -> None:
    """Train a classifier over the sources; `initial` starts from another model's weights (fine-tuning)."""
    if len(sources) != len(train_paths):
        raise GanprintError(f"{len(sources)} source names for {len(train_paths)} training sets")
    device = runtime.configure(threads, seed)
    data = LabelledImages(train_paths)
    model = build_model(data, fmap_base, fmap_max, device, network)
    if initial is not None:
        model.load_state_dict(load_model(initial, device).state_dict())
    adam = torch.optim.Adam(model.parameters(), lr=optimiser.learning_rate, betas=optimiser.betas, eps=1e-8)
    steps_per_epoch = math.ceil(len(data) / optimiser.batch_size)
    total_steps = optimiser.epochs * steps_per_epoch
    decay = (lambda step: 1.0 - step / total_steps) if optimiser.lr_schedule == "linear" else (lambda step: 1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(adam, decay)
    stream = runtime.generator(seed)

    resume_path = Path(output).with_name(Path(output).stem + ".resume.pt")
    fingerprint = settings_fingerprint(dict(train=list(map(str, train_paths)), optimiser=dataclasses.asdict(optimiser),
                                            fmap=(fmap_base, fmap_max), seed=seed, threads=threads,
                                            initial=str(initial), device=device.type, network=network))
    first_epoch = 0
    state = load_resume_state(resume_path, fingerprint)
    if state is not None:
        model.load_state_dict(state["model"])
        adam.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        stream.set_state(state["stream"])
        first_epoch = int(state["epoch"])
        log.info("resumed from %s after epoch %d", resume_path, first_epoch)

    for epoch in range(first_epoch, optimiser.epochs):
        metrics = _train_epoch(model, data, adam, scheduler, stream, optimiser, device)
        log.info(json.dumps({"epoch": epoch + 1, **metrics}))
        if epoch + 1 < optimiser.epochs:
            save_resume_state(resume_path, fingerprint, {
                "model": model.state_dict(), "optimiser": adam.state_dict(), "scheduler": scheduler.state_dict(),
                "stream": stream.get_state(), "epoch": epoch + 1,
            })

    save_checkpoint(output, {
        "settings": dataclasses.asdict(model.settings),
        "model": model.state_dict(),
        "sources": list(sources),
        "optimiser": dataclasses.asdict(optimiser),
        "seed": seed,
    })
    resume_path.unlink(missing_ok=True)


def _train_epoch(model, data, adam, scheduler, stream, optimiser, device) -> dict:
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(data), generator=stream).numpy()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(order), optimiser.batch_size):
        images, labels = data.gather(order[start : start + optimiser.batch_size])
        inputs = to_unit_range(images, device)
        if optimiser.flip:
            inputs = flip_randomly(inputs, stream)
        targets = torch.from_numpy(labels).to(device)
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        scheduler.step()
        loss_sum += loss.item() * len(labels)
        correct += (logits.argmax(1) == targets).sum().item()
    return {
        "loss": round(loss_sum / len(order), 5),
        "train_accuracy": round(100.0 * correct / len(order), 3),
        "lr": scheduler.get_last_lr()[0],
        "seconds": round(time.perf_counter() - started, 1),
    }
