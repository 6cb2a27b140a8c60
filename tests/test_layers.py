"""The ProGAN building blocks (Karras et al. 2018, the authors' networks.py) against plain loops:
minibatch standard deviation, pixel norm, the equalised learning rate, the fused convolution
and downscaling, and 2x upsampling."""

import math

import numpy as np
import pytest
import torch

from ganprint.layers import EqualConv2d, EqualConvDownscale2d, EqualLinear, minibatch_stddev, pixel_norm, upsample2x


def stddev_by_loops(x, group_size=4):
    """The authors' minibatch_stddev_layer: the batch split into groups of `group_size`, image i
    in group i mod (N / group_size); per group the population standard deviation of every
    feature (+1e-8 under the root), averaged over features and pixels, appended as a channel."""
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    groups = batch // group
    result = np.empty((batch, channels + 1, height, width))
    result[:, :channels] = x
    for i in range(batch):
        members = [j for j in range(batch) if j % groups == i % groups]
        deviations = []
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    values = [x[j, c, h, w] for j in members]
                    mean = sum(values) / len(values)
                    deviations.append(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values) + 1e-8))
        result[i, channels] = sum(deviations) / len(deviations)
    return result


@pytest.mark.parametrize("batch", [8, 4, 3])
def test_minibatch_stddev_is_the_authors_grouped_deviation(batch):
    x = np.random.default_rng(batch).normal(size=(batch, 3, 2, 2)) * np.arange(1, batch + 1)[:, None, None, None]
    result = minibatch_stddev(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(result, stddev_by_loops(x), rtol=1e-12)


def test_pixel_norm_scales_each_pixels_features_to_unit_mean_square():
    x = np.random.default_rng(0).normal(size=(2, 5, 3, 4)) * 7.0
    expected = np.empty_like(x)
    for n in range(2):
        for h in range(3):
            for w in range(4):
                features = x[n, :, h, w]
                expected[n, :, h, w] = features / math.sqrt(sum(f * f for f in features) / len(features) + 1e-8)
    np.testing.assert_allclose(pixel_norm(torch.from_numpy(x)).numpy(), expected, rtol=1e-12)


def conv_by_loops(x, weight, bias):
    """A stride-1 'same' convolution with zero padding, one output pixel at a time."""
    kernel = weight.shape[-1]
    padded = np.pad(x, ((0, 0), (0, 0), (kernel // 2,) * 2, (kernel // 2,) * 2))
    batch, _, height, width = x.shape
    out = np.empty((batch, weight.shape[0], height, width))
    for n in range(batch):
        for o in range(weight.shape[0]):
            for i in range(height):
                for j in range(width):
                    out[n, o, i, j] = bias[o] + (weight[o] * padded[n, :, i : i + kernel, j : j + kernel]).sum()
    return out


def test_equalised_conv_draws_unit_normal_weights_and_scales_them_at_run_time():
    torch.manual_seed(0)
    layer = EqualConv2d(64, 32, 3)
    assert abs(layer.weight.std().item() - 1.0) < 0.02 and abs(layer.weight.mean().item()) < 0.02
    assert torch.count_nonzero(layer.bias) == 0
    small = EqualConv2d(3, 4, 3, gain=1.7).double()
    with torch.no_grad():
        small.bias.copy_(torch.arange(4.0))
    x = np.random.default_rng(1).normal(size=(2, 3, 5, 5))
    scale = 1.7 / math.sqrt(3 * 3 * 3)  # gain / sqrt(fan_in)
    weight, bias = small.weight.detach().numpy(), small.bias.detach().numpy()
    output = small(torch.from_numpy(x))
    np.testing.assert_allclose(output.detach().numpy(), conv_by_loops(x, scale * weight, bias), rtol=1e-10)
    # the raw weights' gradient is the effective weights' times the scale: their learning rate is equalised
    upstream = np.random.default_rng(2).normal(size=output.shape)
    (output * torch.from_numpy(upstream)).sum().backward()
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros_like(weight)
    for i in range(5):
        for j in range(5):
            expected += np.einsum("no,nckl->ockl", upstream[:, :, i, j], padded[:, :, i : i + 3, j : j + 3])
    np.testing.assert_allclose(small.weight.grad.numpy(), scale * expected, rtol=1e-10)


def test_fused_conv_downscale_is_the_convolution_then_2x2_average_then_the_bias():
    """The authors' conv2d_downscale2d: 3x3 kernel, stride 2 over the kernel averaged with its
    shifts; by loops, the unbiased 3x3 convolution, each 2x2 block averaged, the bias added."""
    layer = EqualConvDownscale2d(3, 4, 3).double()
    with torch.no_grad():
        layer.bias.copy_(torch.arange(4.0) - 1.5)
    x = np.random.default_rng(4).normal(size=(2, 3, 6, 6))
    weight, bias = layer.scale * layer.weight.detach().numpy(), layer.bias.detach().numpy()
    convolved = conv_by_loops(x, weight, np.zeros(4))
    pooled = convolved.reshape(2, 4, 3, 2, 3, 2).mean(axis=(3, 5)) + bias[None, :, None, None]
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), pooled, rtol=1e-10)


def test_equalised_dense_layer_scales_by_gain_over_root_fan_in():
    layer = EqualLinear(6, 3).double()
    x = np.random.default_rng(3).normal(size=(4, 6))
    weight = layer.weight.detach().numpy()
    expected = [[sum(math.sqrt(2) / math.sqrt(6) * weight[o, i] * row[i] for i in range(6)) for o in range(3)] for row in x]
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("channels_last", [False, True])
def test_upsample2x_repeats_each_pixel_and_its_backward_sums_each_block(channels_last):
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    output = upsample2x(x)
    values = x.detach().numpy()
    expected = np.empty((2, 3, 8, 10))
    for i in range(8):
        for j in range(10):
            expected[:, :, i, j] = values[:, :, i // 2, j // 2]
    np.testing.assert_array_equal(output.detach().numpy(), expected)

    upstream = torch.randn(2, 3, 8, 10, dtype=torch.float64)
    (gradient,) = torch.autograd.grad(output, x, upstream)
    g = upstream.numpy()
    adjoint = np.empty((2, 3, 4, 5))
    for i in range(4):
        for j in range(5):
            adjoint[:, :, i, j] = sum(g[:, :, 2 * i + a, 2 * j + b] for a in (0, 1) for b in (0, 1))
    np.testing.assert_allclose(gradient.numpy(), adjoint, rtol=1e-12)
    # the adjoint identity <up(x), g> = <x, up*(g)>, and the same bits on every backward pass
    assert (output * upstream).sum().item() == pytest.approx((x * gradient).sum().item(), rel=1e-12)
    for _ in range(3):
        assert torch.equal(torch.autograd.grad(upsample2x(x), x, upstream)[0], gradient)
