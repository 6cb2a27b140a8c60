"""Generator architectures by name (the paper's four GANs and a diffusion model): settings
dataclass, trainer and generator."""

import dataclasses

from ..errors import GanprintError
from .cramergan import CramerGANSettings, CramerGANTrainer
from .ddpm import DDPMGenerator, DDPMSettings, DDPMTrainer
from .mmd_code_base import MMDCodeBaseGenerator
from .mmdgan import MMDGANSettings, MMDGANTrainer
from .progan import ProGANGenerator, ProGANSettings, ProGANTrainer
from .resnet import ResNetGenerator
from .sngan import SNGANSettings, SNGANTrainer

ARCHITECTURES = {
    "progan": (ProGANSettings, ProGANTrainer, ProGANGenerator),
    "sngan": (SNGANSettings, SNGANTrainer, ResNetGenerator),
    "cramergan": (CramerGANSettings, CramerGANTrainer, MMDCodeBaseGenerator),
    "mmdgan": (MMDGANSettings, MMDGANTrainer, MMDCodeBaseGenerator),
    "ddpm": (DDPMSettings, DDPMTrainer, DDPMGenerator),
}


def _architecture(name: str):
    if name not in ARCHITECTURES:
        raise GanprintError(f"unknown GAN architecture '{name}'; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name]


def make_settings(name: str, values: dict):
    settings_class = _architecture(name)[0]
    known = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise GanprintError(f"unknown setting(s) {unknown} for GAN '{name}'; known: {sorted(known)}")
    try:
        return settings_class(**values)
    except (TypeError, ValueError) as error:
        raise GanprintError(f"bad settings for GAN '{name}': {error}") from error


def make_trainer(name: str, values: dict, device):
    settings = make_settings(name, values)
    return _architecture(name)[1](settings, device)


def make_generator(name: str, values: dict):
    settings = make_settings(name, values)
    return _architecture(name)[2](settings)
