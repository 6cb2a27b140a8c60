"""The fingerprint visualisation network (visNet, Yu et al. ICCV 2019, Sec. 3.3).

An autoencoder, the authors' EG (classifier_visNet/networks.py, with their config's
latent_res = 4). Its encoder is the attribution network's convolutional part (down to its
4x4 map) plus a second 3x3 convolution at 4x4 (E_4x4: Conv0, Conv1). Its decoder mirrors
it: two 3x3 convolutions at 4x4 (G_4x4: Conv0, Conv1), then per resolution a nearest 2x
upsampling and two 3x3 convolutions (widths nf(r): 512-256-128-64-32-16 at 128x128 with the
paper's widths), then a 3x3 convolution to RGB (gain sqrt(2), as Conv_toRGB) and tanh;
leaky ReLU after each convolution before it, no normalisation, reflect padding. The image
fingerprint is the input minus its reconstruction. One learnable model fingerprint per
source, image-sized: the authors' Conv_fingerprints weight, a size x size valid convolution
with gain 1, stored N(0, 1) and scaled at run time by 1 / sqrt(3 size^2). The logit of
source y is the correlation of the image fingerprint with model fingerprint y, both made
zero-mean and unit-norm (the paper's definition; the released code used an unnormalised
inner product), times a learnable temperature: correlations lie in [-1, 1], and softmax
cross-entropy needs a scale to become confident. The correlation ignores the run-time
scale; what the authors' scaling still sets is the pace of the fingerprints: Adam moves the
unit-variance variables by about the learning rate per step, as in the released code.

Training (`VisNetTrainer.step`): 1.0 x cross-entropy + 20 x L1 reconstruction + 0.1 x the
WGAN generator term of a critic on reconstructions; the critic (the authors' D_patch: the
attribution network with one output and a minibatch standard deviation channel, groups of
4, before its 4x4 convolution) is trained with WGAN-GP (penalty 10, drift 0.001) against
the inputs. Adam 1e-3, betas (0, 0.99); an exponential moving average (0.999) of the
autoencoder and the fingerprints is what evaluation uses (the `visnet` config block holds
these).

Its features for FD ratios and maps (`predict`) are the image fingerprints projected on
as many seeded random Gaussian directions as the classifier's fingerprint has dimensions
(Johnson-Lindenstrauss): the raw fingerprint has 3 x size^2 dimensions, more than any test
set has images, and a Frechet distance needs fewer dimensions than samples.
"""

import copy
import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..gans.losses import wgan_gp_critic_loss, wgan_generator_loss
from ..gans.progan import update_ema
from ..layers import EqualConv2d, channels_at, equalised_scale, leaky_relu, log2_resolution, upsample2x
from ..runtime import to_device
from ..settings import defaults_from_schema
from .network import AttributionNetwork, AttributionSettings, Encoder
from .optimiser import OptimiserSettings, scheduled_adam

INITIAL_TEMPERATURE = 10.0
PROJECTION_SEED = 0
CRITIC_MINIBATCH_GROUP = 4  # D_patch's mbstd_group_size


@dataclasses.dataclass
@defaults_from_schema("visnet")
class VisNetLoss:
    classification: float
    reconstruction: float
    adversarial: float
    gp_weight: float
    drift_weight: float
    ema_beta: float


def _conv3x3(in_channels: int, out_channels: int) -> EqualConv2d:
    return EqualConv2d(in_channels, out_channels, 3, padding_mode="reflect")


class VisNetEncoder(Encoder):
    """The attribution network's convolutional part, then a second 3x3 convolution at 4x4
    (the authors' E_4x4 with latent_res = 4: Conv0, Conv1, each with leaky ReLU)."""

    def __init__(self, settings: AttributionSettings):
        super().__init__(settings)
        nf4 = channels_at(4, settings.fmap_base, settings.fmap_max)
        self.second_conv = _conv3x3(nf4, nf4)

    def encode(self, images: torch.Tensor, block_statistics: list | None = None) -> torch.Tensor:
        return leaky_relu(self.second_conv(super().encode(images, block_statistics)))


class Decoder(nn.Module):
    """The authors' G blocks: two 3x3 convolutions at 4x4 (G_4x4), per resolution 2x upsampling
    and two 3x3 convolutions, each with leaky ReLU; then Conv_toRGB, a 3x3 convolution with
    gain sqrt(2), and tanh."""

    def __init__(self, settings: AttributionSettings):
        super().__init__()
        nf = lambda res: channels_at(res, settings.fmap_base, settings.fmap_max)  # noqa: E731
        in_channels = nf(4)
        self.base_convs = nn.ModuleList([_conv3x3(in_channels, in_channels), _conv3x3(in_channels, in_channels)])
        self.blocks = nn.ModuleList()
        for level in range(3, log2_resolution(settings.resolution) + 1):
            width = nf(2**level)
            self.blocks.append(nn.ModuleList([_conv3x3(in_channels, width), _conv3x3(width, width)]))
            in_channels = width
        self.to_rgb = _conv3x3(in_channels, 3)

    def forward(self, x):
        for conv in self.base_convs:
            x = leaky_relu(conv(x))
        for block in self.blocks:
            x = upsample2x(x)
            for conv in block:
                x = leaky_relu(conv(x))
        return torch.tanh(self.to_rgb(x))


def unit_patterns(patterns: torch.Tensor) -> torch.Tensor:
    """Each pattern (first axis) flattened, made zero-mean and unit-norm."""
    flat = patterns.flatten(1)
    centred = flat - flat.mean(dim=1, keepdim=True)
    return centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-12)


class VisNet(nn.Module):
    architecture = "visnet"

    def __init__(self, settings: AttributionSettings):
        super().__init__()
        if settings.variant != "full":
            raise ValueError("visNet is built on the full attribution network")
        self.settings = settings
        self.encoder = VisNetEncoder(settings)
        self.decoder = Decoder(settings)
        size = settings.resolution
        self.fingerprint_variables = nn.Parameter(torch.randn(settings.n_classes, 3, size, size))
        self.fingerprint_scale = equalised_scale(3 * size * size, gain=1.0)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(INITIAL_TEMPERATURE)))
        self._projection = None

    @property
    def model_fingerprints(self) -> torch.Tensor:
        """Sources x 3 x size x size: the stored N(0, 1) variables times their equalised scale
        (the run-time weights of the authors' Conv_fingerprints)."""
        return self.fingerprint_variables * self.fingerprint_scale

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder.encode(images))

    def correlations(self, image_fingerprints: torch.Tensor) -> torch.Tensor:
        """N x sources correlations of image fingerprints with the model fingerprints, in [-1, 1]."""
        return unit_patterns(image_fingerprints) @ unit_patterns(self.model_fingerprints).T

    def logits(self, image_fingerprints: torch.Tensor) -> torch.Tensor:
        return self.correlations(image_fingerprints) * self.log_temperature.exp()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and reconstructions."""
        reconstructions = self.reconstruct(images)
        return self.logits(images - reconstructions), reconstructions

    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the descriptors of every layer that open-set rejection measures: the
        encoder's block statistics, then the image fingerprints' random projections (the
        features tables and maps are made of; see the module's doc)."""
        layers = []
        fingerprints = (images - self.decoder(self.encoder.encode(images, layers))).flatten(1)
        return self.logits(fingerprints), layers + [fingerprints @ self.projection(fingerprints.device)]

    def projection(self, device) -> torch.Tensor:
        if self._projection is None:
            dimensions = 3 * self.settings.resolution**2
            directions = channels_at(4, self.settings.fmap_base, self.settings.fmap_max)
            stream = torch.Generator().manual_seed(PROJECTION_SEED)
            self._projection = torch.randn(dimensions, directions, generator=stream) / math.sqrt(directions)
        self._projection = self._projection.to(device)
        return self._projection


class VisNetTrainer:
    """visNet, its critic, their optimisers and the averaged visNet used for evaluation;
    the attribution loop's learner for network 'visnet'."""

    architecture = VisNet.architecture

    def __init__(self, settings: AttributionSettings, device, optimiser: OptimiserSettings, total_steps: int,
                 loss: VisNetLoss):
        self.loss = loss
        self.model = VisNet(settings).to(device)
        self.average = copy.deepcopy(self.model).requires_grad_(False)
        self.critic = AttributionNetwork(dataclasses.replace(settings, n_classes=1),
                                         minibatch_group=CRITIC_MINIBATCH_GROUP).to(device)
        self.optimiser, self.scheduler = scheduled_adam(self.model.parameters(), optimiser, total_steps)
        self.critic_optimiser, self.critic_scheduler = scheduled_adam(self.critic.parameters(), optimiser, total_steps)

    def step(self, images: torch.Tensor, labels: torch.Tensor, stream: torch.Generator):
        """One critic update, then one visNet update; the loss and logits of the batch."""
        score = lambda x: self.critic(x).squeeze(1)  # noqa: E731
        uniform = to_device(torch.rand(len(images), generator=stream), images.device)
        with torch.no_grad():
            reconstructions = self.model.reconstruct(images)
        critic_loss = wgan_gp_critic_loss(score, images, reconstructions, uniform, self.loss.gp_weight,
                                          self.loss.drift_weight)
        self.critic_optimiser.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimiser.step()
        self.critic_scheduler.step()

        logits, reconstructions = self.model(images)
        classification = F.cross_entropy(logits, labels)
        reconstruction = (reconstructions - images).abs().mean()
        adversarial = wgan_generator_loss(score(reconstructions))
        total = (self.loss.classification * classification + self.loss.reconstruction * reconstruction
                 + self.loss.adversarial * adversarial)
        self.optimiser.zero_grad(set_to_none=True)
        total.backward()
        self.optimiser.step()
        self.scheduler.step()
        update_ema(self.average, self.model, self.loss.ema_beta)
        return total.detach(), logits.detach()

    @property
    def learning_rate(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def trained_model(self) -> VisNet:
        return self.average

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "average": self.average.state_dict(),
                "critic": self.critic.state_dict(), "optimiser": self.optimiser.state_dict(),
                "critic_optimiser": self.critic_optimiser.state_dict(), "scheduler": self.scheduler.state_dict(),
                "critic_scheduler": self.critic_scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.average.load_state_dict(state["average"])
        self.critic.load_state_dict(state["critic"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.critic_optimiser.load_state_dict(state["critic_optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.critic_scheduler.load_state_dict(state["critic_scheduler"])


@torch.no_grad()
def fingerprint_panels(model: VisNet, images: torch.Tensor) -> dict:
    """What Figure 7 shows of images in [-1, 1]: their reconstructions, image fingerprints,
    and responses (the element-wise products of the unit image fingerprint with each unit
    model fingerprint, summed over colour; each response map sums to the correlation)."""
    reconstructions = model.reconstruct(images)
    fingerprints = images - reconstructions
    unit_images = unit_patterns(fingerprints).reshape(fingerprints.shape)
    unit_models = unit_patterns(model.model_fingerprints).reshape(model.model_fingerprints.shape)
    responses = (unit_images[:, None] * unit_models[None]).sum(dim=2)
    return {"reconstructions": reconstructions, "fingerprints": fingerprints, "responses": responses,
            "correlations": model.correlations(fingerprints)}
