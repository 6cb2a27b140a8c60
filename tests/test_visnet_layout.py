"""visNet's layers against the authors' classifier_visNet (networks.py: EG with their config's
latent_res = 4, D_patch with its default minibatch stddev), and its model fingerprints'
equalised scale."""

import math

import pytest
import torch

from ganprint.attribution.network import AttributionNetwork, AttributionSettings
from ganprint.attribution.optimiser import OptimiserSettings
from ganprint.attribution.visnet import VisNet, VisNetLoss, VisNetTrainer
from ganprint.layers import EqualConv2d


def authors_eg_convolutions(resolution, fmap_base, fmap_max):
    """(side, in, out, kernel) of every convolution of the authors' EG, in order: per
    resolution above 4 Conv0 to nf(res-1) and Conv1 to nf(res-2), then a 2x2 pool; E_4x4
    Conv0 and Conv1 to nf(1); G_4x4 Conv0 and Conv1 to nf(1); per resolution above 4 (after
    a 2x upscale) Conv0 and Conv1 to nf(res-1); Conv_toRGB, 3x3, to 3 channels."""
    nf = lambda stage: min(int(fmap_base / 2.0**stage), fmap_max)  # noqa: E731
    top = int(math.log2(resolution))
    layers, channels = [], 3
    for res in range(top, 2, -1):
        layers += [(2**res, channels, nf(res - 1), 3), (2**res, nf(res - 1), nf(res - 2), 3)]
        channels = nf(res - 2)
    layers += [(4, channels, nf(1), 3), (4, nf(1), nf(1), 3), (4, nf(1), nf(1), 3), (4, nf(1), nf(1), 3)]
    channels = nf(1)
    for res in range(3, top + 1):
        layers += [(2**res, channels, nf(res - 1), 3), (2**res, nf(res - 1), nf(res - 1), 3)]
        channels = nf(res - 1)
    return layers + [(resolution, channels, 3, 3)]


def traced_convolutions(model, images):
    """(name, side, in, out, kernel, scale, output) of each convolution run by `model(images)`."""
    calls = []
    hooks = [module.register_forward_hook(
        lambda module, inputs, output, name=name: calls.append(
            (name, inputs[0].shape[-1], *module.weight.shape[1::-1], module.weight.shape[-1], module.scale, output)))
        for name, module in model.named_modules() if isinstance(module, EqualConv2d)]
    with torch.no_grad():
        result = model(images)
    for hook in hooks:
        hook.remove()
    return calls, result


@pytest.mark.parametrize(("resolution", "fmap_base", "fmap_max"), [(16, 64, 32), (128, 1024, 512)])
def test_encoder_and_decoder_run_the_authors_convolutions(resolution, fmap_base, fmap_max):
    torch.manual_seed(0)
    model = VisNet(AttributionSettings(resolution=resolution, n_classes=2, fmap_base=fmap_base, fmap_max=fmap_max))
    calls, (_, reconstructions) = traced_convolutions(model, torch.rand(1, 3, resolution, resolution) * 2 - 1)
    assert [call[1:5] for call in calls] == authors_eg_convolutions(resolution, fmap_base, fmap_max)
    at_4x4 = [call[0] for call in calls if call[1] == 4]
    assert at_4x4 == ["encoder.final_conv", "encoder.second_conv", "decoder.base_convs.0", "decoder.base_convs.1"]
    for name, _, in_channels, _, kernel, scale, _ in calls:  # every layer, toRGB too, has He's gain sqrt(2)
        assert scale == pytest.approx(math.sqrt(2) / math.sqrt(in_channels * kernel * kernel)), name
    name, *_, to_rgb_output = calls[-1]
    assert name == "decoder.to_rgb" and model.decoder.to_rgb.padding_mode == "reflect"
    torch.testing.assert_close(reconstructions, torch.tanh(to_rgb_output))


def scores_after_changing_the_first_image(critic, images):
    """Per image of the batch, whether any of its outputs changes when image 0 is negated."""
    with torch.no_grad():
        before = critic(images)
        changed = images.clone()
        changed[0] = -changed[0]
        after = critic(changed)
    return (after != before).any(dim=1).tolist()


def test_the_critic_sees_the_minibatch_deviation_in_groups_of_four():
    """D_patch: minibatch_stddev_layer (group 4) before its 4x4 Conv0. Image i of a batch of 8
    shares its group with the images j = i mod 2: changing image 0 changes the scores of
    images 0, 2, 4, 6 only; the classifier (C_patch, no minibatch stddev) scores each image alone."""
    torch.manual_seed(0)
    settings = AttributionSettings(resolution=16, n_classes=3, fmap_base=64, fmap_max=32)
    trainer = VisNetTrainer(settings, "cpu", OptimiserSettings(), 1, VisNetLoss())
    assert trainer.critic.final_conv.weight.shape[:2] == (32, 32 + 1)
    images = torch.rand(8, 3, 16, 16) * 2 - 1
    assert scores_after_changing_the_first_image(trainer.critic, images) == [True, False] * 4
    assert scores_after_changing_the_first_image(trainer.critic, images[:4]) == [True] * 4
    classifier = AttributionNetwork(settings)
    assert scores_after_changing_the_first_image(classifier, images) == [True] + [False] * 7


def test_model_fingerprints_are_unit_normal_variables_at_the_equalised_scale():
    """Conv_fingerprints: get_weight of a size x size x 3 valid convolution with gain 1 and
    use_wscale: the variable is N(0, 1), its run-time weight the variable / sqrt(3 size^2); so
    Adam's first step (betas (0, 0.99)) moves every run-time value by the learning rate times
    that scale, the same step relative to the pattern's spread as the authors'."""
    torch.manual_seed(0)
    size = 32
    model = VisNet(AttributionSettings(resolution=size, n_classes=3, fmap_base=64, fmap_max=32))
    variables = model.fingerprint_variables.detach()
    assert abs(variables.std().item() - 1) < 0.03 and abs(variables.mean().item()) < 0.03
    scale = 1 / math.sqrt(3 * size * size)
    torch.testing.assert_close(model.model_fingerprints.detach(), variables * scale, rtol=0, atol=0)

    optimiser = torch.optim.Adam([model.fingerprint_variables], lr=1e-3, betas=(0.0, 0.99))
    logits, _ = model(torch.rand(4, 3, size, size) * 2 - 1)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    before = model.model_fingerprints.detach()
    optimiser.step()
    steps = (model.model_fingerprints.detach() - before).abs()
    assert steps.max().item() == pytest.approx(1e-3 * scale, rel=1e-3)
    assert steps.median().item() == pytest.approx(1e-3 * scale, rel=0.05)
