"""Fully connected generator and discriminator (Goodfellow et al. 2014).

The defaults are seed 004's MNIST networks:
  G: z (64) -> 256 -> 256 -> 784, ReLU between layers, tanh output;
  D: 784 -> 256 -> 256 -> 1 logit, LeakyReLU(0.2) between layers.
The discriminator returns a logit; the sigmoid of seed 004's listing is folded
into the losses (`gan_jax.losses`), which is the stable way to compute it.
"""

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import layers


class Generator(nn.Module):
  """MLP generator: latent vectors to images in [-1, 1].

  Attributes:
    image_shape: (height, width, channels) of the generated images.
    hidden_sizes: width of each hidden layer.
  """

  image_shape: tuple[int, int, int]
  hidden_sizes: Sequence[int] = (256, 256)

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] to images [batch, *image_shape]."""
    del labels, train  # Unconditional, and no layer behaves differently in training.
    h = z
    for width in self.hidden_sizes:
      h = nn.relu(nn.Dense(width)(h))
    h = nn.Dense(math.prod(self.image_shape))(h)
    return jnp.tanh(h).reshape((z.shape[0], *self.image_shape))


class Discriminator(nn.Module):
  """MLP discriminator: images to one real/fake logit each.

  Attributes:
    hidden_sizes: width of each hidden layer.
    dropout_rate: dropout after each hidden activation in training (seed 002
      regularizes D this way); needs a 'dropout' rng when non-zero.
    normalization: 'none', 'layer' (LayerNorm after each hidden layer) or
      'spectral' (every dense layer spectrally normalized).
  """

  hidden_sizes: Sequence[int] = (256, 256)
  dropout_rate: float = 0.0
  normalization: str = 'none'

  @nn.compact
  def __call__(self, x: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps images x [batch, H, W, C] to logits [batch]."""
    del labels  # Unconditional.
    h = x.reshape((x.shape[0], -1))
    for width in self.hidden_sizes:
      h = layers.spectrally_normalized(nn.Dense(width), self.normalization, train)(h)
      h = layers.feature_normalization(self.normalization, batch_norm=None)(h)
      h = nn.leaky_relu(h, negative_slope=0.2)
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    return layers.spectrally_normalized(nn.Dense(1), self.normalization, train)(h)[:, 0]
