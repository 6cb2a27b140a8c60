import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from ganprint import GanprintError
from ganprint.attribution.network import (
    AttributionNetwork,
    AttributionSettings,
    patch_size,
    receptive_field,
    switch_receptive_field,
)
from ganprint.cli import main
from ganprint.filters import (binomial_kernel, downsample_to, gaussian_kernel, gaussian_upsample,
                              laplacian_band, separable_filter)
from ganprint.names import HIGH_BAND_INPUTS, canonical_network, parse_network
from ganprint.settings import block_schema
from ganprint.tables import band_table, patch_table
from tiny_workflow import assert_figure


def test_binomial_kernel_is_the_papers_5x5_filter():
    kernel = binomial_kernel()
    np.testing.assert_allclose(torch.outer(kernel, kernel) * 256, torch.outer(*[torch.tensor([1., 4, 6, 4, 1])] * 2))


def test_gaussian_downsample_of_a_constant_image_is_that_constant():
    constant = torch.full((2, 3, 32, 32), 0.37)
    for resolution in (16, 8, 4):
        small = downsample_to(constant, resolution)
        assert small.shape == (2, 3, resolution, resolution)
        torch.testing.assert_close(small, torch.full_like(small, 0.37))
    torch.testing.assert_close(gaussian_upsample(torch.full((1, 3, 4, 4), 0.37))[..., 1:-1, 1:-1],
                               torch.full((1, 3, 6, 6), 0.37))


def cosine_image(cycles: float, size: int = 32) -> torch.Tensor:
    position = (torch.arange(size) + 0.5) / size
    wave = torch.cos(2 * math.pi * cycles * position)
    return (wave[:, None] * wave[None, :]).expand(1, 3, size, size).clone()


def test_residual_band_is_near_zero_for_a_smooth_image_and_not_for_a_checkerboard():
    smooth_band = laplacian_band(cosine_image(1.0), 16)
    checkerboard = ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2).float().expand(1, 3, 32, 32) * 2 - 1
    checker_band = laplacian_band(checkerboard, 16)
    assert smooth_band.shape == checker_band.shape == (1, 3, 32, 32)
    # unit amplitudes; the 5-tap filter passes one cycle per image at 98% per pass, so a few % remain
    assert smooth_band.abs().mean() < 0.1 and smooth_band.abs().max() < 0.15
    assert checker_band.abs().mean() > 0.5


def test_opencv_sigma_rule_and_kernel_size_one_is_the_identity():
    assert torch.equal(gaussian_kernel(1), torch.ones(1))
    images = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(separable_filter(images, gaussian_kernel(1)), images)
    # OpenCV's getGaussianKernel(k, 0): fixed kernels up to 7 taps, the 5-tap one binomial
    torch.testing.assert_close(gaussian_kernel(3), torch.tensor([0.25, 0.5, 0.25]))
    torch.testing.assert_close(gaussian_kernel(5), binomial_kernel())
    sigma = 0.3 * (4 - 1) + 0.8
    taps = torch.exp(-torch.arange(-4.0, 5.0) ** 2 / (2 * sigma**2))
    torch.testing.assert_close(gaussian_kernel(9), taps / taps.sum())
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(4)


@pytest.mark.parametrize("variant, switches", [("full", [None]), ("low_band", [32, 16, 8, 4]),
                                              ("high_band", [16, 8, 4]), ("post_pool", [32, 16, 8, 4])])
def test_every_variant_gives_one_logit_per_source_at_every_switch(variant, switches):
    for switch in switches:
        settings = AttributionSettings(resolution=32, n_classes=3, fmap_base=64, fmap_max=32, variant=variant,
                                       switch_resolution=switch)
        network = AttributionNetwork(settings)
        images = torch.rand(2, 3, 32, 32) * 2 - 1
        assert network(images).shape == (2, 3)
        assert network.features(images).shape == (2, 32)
        first_input = network.network_input(images)
        expected_side = {"low_band": switch, "high_band": switch}.get(variant, 32)
        assert first_input.shape[-1] == expected_side
        assert first_input.shape[1] == (12 if variant == "high_band" else 3)


@pytest.mark.parametrize("switch", [16, 8, 4])
def test_the_full_resolution_high_band_takes_the_2r_band_itself_with_one_block_more(switch):
    """At 32 px: the unshuffled band is r x r x 12 with conv blocks from r, the full-resolution
    band 2r x 2r x 3 with conv blocks from 2r, as the low band at 2r has them."""
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    networks = {arrangement: AttributionNetwork(AttributionSettings(
        resolution=32, n_classes=3, fmap_base=64, fmap_max=32, variant="high_band", switch_resolution=switch,
        high_band_input=arrangement)) for arrangement in HIGH_BAND_INPUTS}
    unshuffled, full = networks["unshuffled"], networks["full_resolution"]
    band = laplacian_band(images, switch)
    assert full.network_input(images).shape == (2, 3, 2 * switch, 2 * switch)
    torch.testing.assert_close(full.network_input(images), band)
    assert unshuffled.network_input(images).shape == (2, 12, switch, switch)
    low_at_2r = AttributionSettings(resolution=32, fmap_base=64, fmap_max=32, variant="low_band",
                                    switch_resolution=2 * switch)
    assert full.settings.conv_resolutions() == low_at_2r.conv_resolutions()
    assert len(full.blocks) == len(unshuffled.blocks) + 1
    assert full.blocks[str(2 * switch)][0].weight.shape[1] == 3
    for network in networks.values():
        assert network(images).shape == (2, 3) and network.features(images).shape == (2, 32)


def test_the_high_band_arrangements_are_the_schemas_and_belong_to_the_high_band_only():
    assert list(HIGH_BAND_INPUTS) == block_schema("components", "high_band_input")["enum"]
    assert AttributionSettings(resolution=32, variant="high_band", switch_resolution=8).high_band_input == \
        block_schema("components", "high_band_input")["default"]
    low = AttributionSettings(resolution=32, variant="low_band", switch_resolution=8, high_band_input="full_resolution")
    assert low.high_band_input is None and low.input_resolution() == 8
    with pytest.raises(ValueError, match="high_band_input must be one of"):
        AttributionSettings(resolution=32, variant="high_band", switch_resolution=8, high_band_input="shuffled")


def test_invalid_switches_are_rejected():
    for arrangement in HIGH_BAND_INPUTS:  # the band between 2r and r needs 2r within the image
        with pytest.raises(ValueError, match="power of two"):
            AttributionSettings(resolution=32, variant="high_band", switch_resolution=32, high_band_input=arrangement)
    with pytest.raises(ValueError, match="power of two"):
        AttributionSettings(resolution=32, variant="low_band", switch_resolution=12)


def test_receptive_field_of_a_known_stack_matches_a_hand_count():
    # conv3 (1 -> 3 px), conv3 (-> 5), pool2 (-> 6, jump 2), conv3 (-> 10), conv3 (-> 14), pool2 (-> 16)
    assert receptive_field([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)]) == 16
    assert receptive_field([]) == 1
    networks = [AttributionSettings(resolution=128, variant="post_pool", switch_resolution=r) for r in (128, 64, 32, 16, 8, 4)]
    assert [switch_receptive_field(n) for n in networks] == [1, 6, 16, 36, 76, 128]  # 156 at r = 4, capped
    # the paper's Table 5 series (3, 10, 24, 52, 108 at 128x128): one 3x3 conv at the switch more
    assert [patch_size(n) for n in networks] == [3, 10, 24, 52, 108, 128]


def test_network_names_and_the_variants_that_are_the_full_network():
    assert parse_network("high16") == ("high_band", 16)
    assert parse_network("full") == ("full", None)
    assert canonical_network("low32", 32) == "full" and canonical_network("patch4", 32) == "full"
    assert canonical_network("low16", 32) == "low16"
    with pytest.raises(GanprintError, match="'mid8'"):
        parse_network("mid8")
    low = AttributionNetwork(AttributionSettings(resolution=32, variant="low_band", switch_resolution=32))
    full = AttributionNetwork(AttributionSettings(resolution=32))
    assert [k for k in low.state_dict()] == [k for k in full.state_dict()]


def write_metrics(directory, name, accuracy, resolution=32, dataset="d", **network):
    path = directory / f"{dataset}_{name}.json"
    path.write_text(json.dumps({"dataset": dataset, "accuracy": accuracy,
                                "network": {"resolution": resolution, **network}}))
    return str(path)


def test_tables_4_and_5_from_metrics(tmp_path):
    names = ["low32", "low16", "low8", "high16", "high8"]
    paths = [write_metrics(tmp_path, n, a) for n, a in zip(names, [99.0, 95.0, 80.0, 97.0, 90.0])]
    bands = band_table(paths, names)
    assert bands.resolution.tolist() == [32, 16, 8]
    assert bands.low_band_accuracy.tolist() == [99.0, 95.0, 80.0]
    assert np.isnan(bands.high_band_accuracy[0]) and bands.high_band_accuracy[1:].tolist() == [97.0, 90.0]
    # how the high band entered its networks; metrics written before it was recorded: unshuffled
    assert bands.columns[-1] == "high_band_input" and bands.high_band_input[1:].tolist() == ["unshuffled"] * 2
    full = write_metrics(tmp_path, "high8", 93.0, dataset="e", high_band_input="full_resolution")
    assert band_table([full], ["high8"]).high_band_input.tolist() == ["full_resolution"]
    names = ["patch32", "patch16", "patch8", "patch4"]
    paths = [write_metrics(tmp_path, n, a) for n, a in zip(names, [40.0, 70.0, 90.0, 99.0])]
    patches = patch_table(paths, names)
    assert patches.patch_size.tolist() == [3, 10, 24, 32] and patches.receptive_field.tolist() == [1, 6, 16, 32] and patches.accuracy.tolist() == [40.0, 70.0, 90.0, 99.0]
    assert main(["--quiet", "component-table", "--kind", "bands", "--metrics", *paths[:2], "--networks", "low32",
                 "--output", str(tmp_path / "t.csv")]) == 1


def test_the_band_figure_is_drawn(tmp_path):
    pd.DataFrame({"dataset": ["a", "a", "b", "b"], "resolution": [32, 16, 32, 16],
                  "low_band_accuracy": [99, 90, 98, 85], "high_band_accuracy": [None, 95, None, 93]}).to_csv(
        tmp_path / "table4.csv", index=False)
    output = tmp_path / "bands.png"
    assert main(["--quiet", "figure-components", "--table", str(tmp_path / "table4.csv"), "--kind", "bands",
                 "--output", str(output)]) == 0
    assert_figure(output, (550, 380))
