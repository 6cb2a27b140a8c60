"""Training the attribution network (cross-entropy over sources) or visNet, with random
horizontal flips, through one loop.

One JSON line of metrics per epoch; the state is saved after every epoch and a restarted
job continues from the last one with the same result as an uninterrupted run.
"""

import dataclasses
import json
import logging
import math
import time

import torch
import torch.nn.functional as F

from .. import runtime
from ..attacks import FreshAttack
from ..errors import GanprintError
from ..convert import unit_range
from ..names import VISNET, parse_network
from ..settings import schema_default
from ..storage import load_resume_state, resume_path, save_checkpoint, save_resume_state, settings_fingerprint
from ..patches import Preprocessing
from .data import LabelledImages, epoch_batches, read_as
from .evaluation import load_model
from .network import AttributionNetwork, AttributionSettings
from .optimiser import OptimiserSettings, scheduled_adam
from .visnet import VisNetLoss, VisNetTrainer

log = logging.getLogger(__name__)

__all__ = ["OptimiserSettings", "train_attribution"]


def network_settings(data: LabelledImages, fmap_base: int, fmap_max: int, network: str,
                     network_input: str = "image",
                     high_band_input: str = schema_default("components", "high_band_input")) -> AttributionSettings:
    variant, switch_resolution = parse_network(network)
    try:
        return AttributionSettings(resolution=data.resolution, n_classes=len(data.arrays), fmap_base=fmap_base,
                                   fmap_max=fmap_max, variant=variant, switch_resolution=switch_resolution,
                                   input=network_input, high_band_input=high_band_input)
    except ValueError as error:
        raise GanprintError(f"network '{network}' at {data.resolution}px: {error}") from error


class ClassifierLearner:
    """The attribution network and its Adam: one cross-entropy step per batch."""

    architecture = "classifier"

    def __init__(self, settings: AttributionSettings, device, optimiser: OptimiserSettings, total_steps: int):
        self.model = AttributionNetwork(settings).to(device)
        self.adam, self.scheduler = scheduled_adam(self.model.parameters(), optimiser, total_steps)

    def step(self, inputs: torch.Tensor, targets: torch.Tensor, stream: torch.Generator):
        """Loss and logits of the batch, after one update."""
        logits = self.model(inputs)
        loss = F.cross_entropy(logits, targets)
        self.adam.zero_grad(set_to_none=True)
        loss.backward()
        self.adam.step()
        self.scheduler.step()
        return loss.detach(), logits.detach()

    @property
    def learning_rate(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def trained_model(self) -> AttributionNetwork:
        return self.model

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimiser": self.adam.state_dict(),
                "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.adam.load_state_dict(state["optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])


def build_learner(network: str, settings: AttributionSettings, device, optimiser: OptimiserSettings,
                  total_steps: int, loss: VisNetLoss | None):
    if network == VISNET:
        return VisNetTrainer(settings, device, optimiser, total_steps, loss or VisNetLoss())
    return ClassifierLearner(settings, device, optimiser, total_steps)


def flip_randomly(images: torch.Tensor, stream: torch.Generator) -> torch.Tensor:
    flips = runtime.to_device(torch.rand(images.shape[0], generator=stream) < 0.5, images.device)
    return torch.where(flips.reshape(-1, 1, 1, 1), images.flip(3), images)


def train_attribution(train_paths: list[str], sources: list[str], output: str, optimiser: OptimiserSettings,
                      fmap_base: int = schema_default("attribution", "fmap_base"),
                      fmap_max: int = schema_default("attribution", "fmap_max"),
                      seed: int = schema_default("attribution", "seed"), threads: int = 1,
                      initial: str | None = None, network: str = "full", loss: VisNetLoss | None = None,
                      network_input: str = schema_default("attribution", "input"),
                      preprocessing: Preprocessing | None = None, attack: FreshAttack | None = None,
                      high_band_input: str = schema_default("components", "high_band_input")) -> None:
    """Train a classifier (or, for network 'visnet', visNet with `loss`) over the sources;
    `initial` starts from another model's weights (fine-tuning). `preprocessing` says how the
    training images were made (recorded with the model); with a native crop, every epoch
    reads one patch of each image at a position drawn afresh. With `attack`, every epoch
    attacks every training image afresh (before its patch is cut)."""
    if len(sources) != len(train_paths):
        raise GanprintError(f"{len(sources)} source names for {len(train_paths)} training sets")
    device = runtime.configure(threads, seed)
    data = read_as(train_paths, preprocessing)
    preprocessing = preprocessing or Preprocessing(size=data.resolution)
    steps_per_epoch = math.ceil(len(data) / optimiser.batch_size)
    epochs = optimiser.epochs_over(len(data))
    settings = network_settings(data, fmap_base, fmap_max, network, network_input, high_band_input)
    learner = build_learner(network, settings, device, optimiser, epochs * steps_per_epoch, loss)
    if initial is not None:
        _start_from(learner, initial, device)
    stream = runtime.generator(seed)

    state_path = resume_path(output)
    fingerprint = settings_fingerprint(dict(train=list(map(str, train_paths)), optimiser=dataclasses.asdict(optimiser),
                                            fmap=(fmap_base, fmap_max), seed=seed, threads=threads,
                                            initial=str(initial), device=device.type, network=network,
                                            input=network_input, preprocessing=preprocessing.record(),
                                            **({"loss": dataclasses.asdict(loss)} if loss else {}),
                                            **({"attack": dataclasses.asdict(attack)} if attack else {}),
                                            **({"high_band_input": settings.high_band_input}
                                               if settings.high_band_input else {})))
    first_epoch = 0
    state = load_resume_state(state_path, fingerprint)
    if state is not None:
        learner.load_state_dict(state)
        stream.set_state(state["stream"])
        first_epoch = int(state["epoch"])
        log.info("resumed from %s after epoch %d", state_path, first_epoch)

    for epoch in range(first_epoch, epochs):
        perturb = attack.perturbation(epoch, sources, device) if attack else None
        metrics = _train_epoch(learner, data, stream, optimiser, device, perturb)
        log.info(json.dumps({"epoch": epoch + 1, **metrics}))
        save_resume_state(state_path, fingerprint, {**learner.state_dict(), "stream": stream.get_state(),
                                                    "epoch": epoch + 1})

    model = learner.trained_model()
    save_checkpoint(output, {
        "architecture": learner.architecture,
        "settings": dataclasses.asdict(model.settings),
        "model": model.state_dict(),
        "sources": list(sources),
        "preprocessing": preprocessing.record(),
        "optimiser": dataclasses.asdict(optimiser),
        "seed": seed,
        **({"loss": dataclasses.asdict(loss)} if loss else {}),
        **({"attack": dataclasses.asdict(attack)} if attack else {}),
    })


def _start_from(learner, initial: str, device) -> None:
    start = load_model(initial, device, retire_resume=True)
    if start.architecture != learner.architecture:
        raise GanprintError(f"{initial} is a {start.architecture} model; cannot start a {learner.architecture} from it")
    learner.model.load_state_dict(start.state_dict())


def _train_epoch(learner, data, stream, optimiser, device, perturb=None) -> dict:
    learner.model.train()
    started = time.perf_counter()
    order = torch.randperm(len(data), generator=stream).numpy()
    corners = data.random_corners(stream) if data.native else None
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for images, targets in epoch_batches(data, order, optimiser.batch_size, device, corners=corners, perturb=perturb):
        inputs = unit_range(images)
        if optimiser.flip:
            inputs = flip_randomly(inputs, stream)
        loss, logits = learner.step(inputs, targets, stream)
        loss_sum += loss.double() * len(targets)
        correct += (logits.argmax(1) == targets).sum()
    return {
        "loss": round(loss_sum.item() / len(order), 5),
        "train_accuracy": round(100.0 * correct.item() / len(order), 3),
        "lr": learner.learning_rate,
        "seconds": round(time.perf_counter() - started, 1),
    }
