"""Generators for the toy studies of Strakhov's blog post (2018), on vectors [batch, d].

  LinearGenerator  G(z) = a z + b with z ~ N(0, I): p_g = N(b, a^T a), so a
                   GAN can recover N(mu, sigma) exactly (|a| = sigma, b = mu)
                   but can give a bimodal p_data only one bell curve.
  MLPGenerator     z -> ReLU MLP (the blog post's: two hidden layers of 256) -> x,
                   with a linear output, since toy data are not bounded.

Their discriminator is `gan_jax.models.mlp.Discriminator` with three hidden
layers ("a fully-connected neural net with three layers with a binary
classifier on top", the blog post), optionally with dropout.
"""

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class LinearGenerator(nn.Module):
  """G(z) = a z + b: an affine map of z [batch, latent_dim] to x [batch, d].

  p_g = N(b, a^T a). In 1-D (latent_dim = d = 1) this is the blog post's generator:
  p_g = N(b, |a|^2), so a GAN can recover N(mu, sigma) exactly (|a| = sigma,
  b = mu). a starts as the identity (as much of it as fits [latent_dim, d])
  and b at 0, i.e. p_g = N(0, I) when latent_dim >= d, as in the blog post.

  Attributes:
    example_shape: the shape of one sample, e.g. (1,) or (2,).
  """

  example_shape: tuple[int, ...]

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] to samples [batch, *example_shape]."""
    del labels, train  # Unconditional; no layer behaves differently in training.
    identity = lambda rng, shape, dtype=jnp.float32: jnp.eye(*shape, dtype=dtype)
    # kernel a [latent_dim, d], bias b [d].
    x = nn.Dense(math.prod(self.example_shape), kernel_init=identity, name='affine')(z)
    return jnp.reshape(x, (z.shape[0], *self.example_shape))


def linear_generator_params(mean: float, std: float) -> dict:
  """The params of a 1-D `LinearGenerator` with p_g = N(mean, std^2): a = std, b = mean."""
  return {'affine': {'kernel': jnp.full((1, 1), std), 'bias': jnp.full((1,), mean)}}


class MLPGenerator(nn.Module):
  """A ReLU MLP generator with a linear output.

  Attributes:
    example_shape: the shape of one sample, e.g. (1,) or (2,).
    hidden_sizes: the width of each hidden layer.
  """

  example_shape: tuple[int, ...]
  hidden_sizes: Sequence[int] = (256, 256)

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] to samples [batch, *example_shape]."""
    del labels, train  # Unconditional; no layer behaves differently in training.
    h = z
    for width in self.hidden_sizes:
      h = nn.relu(nn.Dense(width)(h))
    x = nn.Dense(math.prod(self.example_shape))(h)
    return jnp.reshape(x, (z.shape[0], *self.example_shape))
