"""GAN losses, each named after the paper that defines it."""

import torch


def interpolate_gradient(critic, real, fake, uniform):
    """The critic's gradient at random interpolates x_hat = real + u (fake - real), kept in
    the graph so that a penalty on it trains the critic."""
    mixed = torch.lerp(real, fake, uniform.reshape(-1, 1, 1, 1)).requires_grad_(True)
    (gradient,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return gradient


def gradient_penalty(critic, real, fake, uniform, target: float = 1.0):
    """WGAN-GP (Gulrajani et al. 2017): (||grad critic(x_hat)|| - target)^2 on random interpolates."""
    norms = interpolate_gradient(critic, real, fake, uniform).flatten(1).norm(dim=1)
    return (norms - target).pow(2).mean()


def wgan_gp_critic_loss(critic, real, fake, uniform, gp_weight: float, drift_weight: float):
    """Critic loss of ProGAN (Karras et al. 2018): WGAN-GP plus the drift term eps * D(real)^2."""
    real_scores = critic(real)
    fake_scores = critic(fake)
    wasserstein = fake_scores.mean() - real_scores.mean()
    drift = real_scores.pow(2).mean()
    return wasserstein + gp_weight * gradient_penalty(critic, real, fake, uniform) + drift_weight * drift


def wgan_generator_loss(fake_scores):
    return -fake_scores.mean()


def hinge_critic_loss(real_scores, fake_scores):
    """SNGAN (Miyato et al. 2018) hinge loss of D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return torch.relu(1.0 - real_scores).mean() + torch.relu(1.0 + fake_scores).mean()


def hinge_generator_loss(fake_scores):
    """SNGAN generator loss: -E[D(G(z))]."""
    return -fake_scores.mean()


CODE_BASE_EPSILON = 1e-5  # added under the square root of every norm in the MMD-GAN code base


def safer_norm(x, dim):
    return (x.pow(2).sum(dim) + CODE_BASE_EPSILON).sqrt()


def column_gradient_penalty(critic, real, fake, uniform):
    """The gradient penalty of the MMD-GAN code base, as written there: the norm of the gradient
    is taken along image rows only (axis 1 of its NHWC tensors), so every column of every
    channel is pushed to norm 1, then averaged; (WGAN-GP takes the norm over whole images.)"""
    gradient = interpolate_gradient(critic, real, fake, uniform)
    return (safer_norm(gradient, dim=2) - 1).pow(2).mean()


def cramer_surrogate(features, reference_features):
    """CramerGAN (Bellemare et al. 2017, Algorithm 1) surrogate critic
    f(x) = ||h(x) - h(x_g)|| - ||h(x)||, with x_g a generated batch."""
    return safer_norm(features - reference_features, dim=1) - safer_norm(features, dim=1)


def cramer_generator_loss(real_features, fake_features, fake2_features):
    """CramerGAN generator loss (energy distance of the critic features):
    E||h(x_r) - h(x_g)|| + E||h(x_r) - h(x_g')|| - E||h(x_g) - h(x_g')||."""
    distance = lambda a, b: safer_norm(a - b, dim=1).mean()  # noqa: E731
    return distance(real_features, fake_features) + distance(real_features, fake2_features) - distance(fake_features, fake2_features)


def cramer_critic_loss(critic, real, fake, fake2, uniform, gp_weight: float):
    """CramerGAN critic loss as in the code base: -(E f(x_r) - E f(x_g')) with the surrogate
    taken against the batch x_g, plus the gradient penalty of f at interpolates of x_r and x_g."""
    real_features, fake_features, fake2_features = critic(torch.cat([real, fake, fake2])).split(len(real))
    surrogate = cramer_surrogate(real_features, fake_features).mean() - cramer_surrogate(fake2_features, fake_features).mean()
    penalised = lambda x: cramer_surrogate(critic(x), fake_features)  # noqa: E731
    return -surrogate + gp_weight * column_gradient_penalty(penalised, real, fake, uniform)


def mix_rq_dot_kernel(x, y, alphas):
    """MMD GAN (Binkowski et al. 2018) kernel: a mixture of rational-quadratic kernels
    sum_a (1 + ||x - y||^2 / (2a))^-a plus the dot-product kernel x.y (the code base's
    `mix_rq_1dot`)."""
    dot = x @ y.T
    squared = ((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * dot).clamp_min(0)
    return dot + sum((1 + squared / (2 * a)).pow(-a) for a in alphas)


def mmd2_constant_diagonal(k_xx, k_yy, k_xy, diagonal: float):
    """MMD^2 as the MMD-GAN code base estimates it (`_mmd2` with its kernel's constant diagonal):
    each within-set sum less `diagonal` per image, over m(m - 1) pairs. For `mix_rq_1dot` the
    constant is the number of rational-quadratic terms (each 1 at zero distance), so the RQ part
    is the unbiased estimate while the dot kernel's diagonal |x|^2 stays in."""
    m, n = k_xx.shape[0], k_yy.shape[0]
    within_x = (k_xx.sum() - m * diagonal) / (m * (m - 1))
    within_y = (k_yy.sum() - n * diagonal) / (n * (n - 1))
    return within_x + within_y - 2 * k_xy.mean()


def mmd_generator_loss(real_features, fake_features, alphas):
    """MMD GAN generator loss: MMD^2 between critic features of real and generated images."""
    kernel = lambda a, b: mix_rq_dot_kernel(a, b, alphas)  # noqa: E731
    return mmd2_constant_diagonal(kernel(real_features, real_features), kernel(fake_features, fake_features),
                                  kernel(real_features, fake_features), diagonal=len(alphas))


def mmd_critic_loss(critic, real, fake, uniform, alphas, gp_weight: float, l2_weight: float):
    """MMD GAN critic loss as in the code base: -MMD^2, plus the gradient penalty on the witness
    function f(x) = E_r k(h(x), h(x_r)) - E_g k(h(x), h(x_g)) at interpolates, plus an L2
    penalty on every critic layer: the mean square of each layer's output per image, summed
    over layers, averaged over the real and over the generated batch, and added."""
    layers = critic.layers(torch.cat([real, fake]))
    real_features, fake_features = layers[-1].split(len(real))
    mmd2 = mmd_generator_loss(real_features, fake_features, alphas)

    def witness(x):
        features = critic(x)
        return mix_rq_dot_kernel(features, real_features, alphas).mean(1) - mix_rq_dot_kernel(features, fake_features, alphas).mean(1)

    l2 = sum(layer.pow(2).flatten(1).mean(1).sum() for layer in layers) / len(real)
    return -mmd2 + gp_weight * column_gradient_penalty(witness, real, fake, uniform) + l2_weight * l2
