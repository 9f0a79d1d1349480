"""Fully connected generator and discriminator (Goodfellow et al. 2014).

The defaults are the MNIST networks of Aakash's GAN-variants slides:
  G: z (64) -> 256 -> 256 -> 784, ReLU between layers, tanh output;
  D: 784 -> 256 -> 256 -> 1 logit, LeakyReLU(0.2) between layers.
The discriminator returns a logit; the sigmoid of the slides' listing is folded
into the losses (`gan_jax.losses`), which is the stable way to compute it.
Both players can be class-conditional (`gan_jax.models.conditioning`),
normalize their hidden layers as named in `layers.GENERATOR_NORMALIZATIONS`
(G) and `layers.NORMALIZATIONS` (D; 'batch' excepted), and compute in `dtype`
(bfloat16: mixed precision, see `gan_jax.models`).
"""

import functools
import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype

from gan_jax.models import conditioning
from gan_jax.models import layers
from gan_jax.models.conditioning import DiscriminatorLogits


class Generator(nn.Module):
  """MLP generator: latent vectors (and labels) to images in [-1, 1].

  Attributes:
    image_shape: (height, width, channels) of the generated images.
    hidden_sizes: width of each hidden layer.
    normalization: of the hidden layers, one of
      `layers.GENERATOR_NORMALIZATIONS`; 'none' in Aakash's slides.
    reference_batch_size: size of the fixed reference batch of 'virtual_batch'.
    batch_axis_name: mesh axis of 'batch' normalization's statistics.
    num_classes, conditioning: see `gan_jax.models.conditioning`.
    dtype: of the hidden computation (parameters and batch statistics stay
      float32); the images come out in float32 whatever it is.
  """

  image_shape: tuple[int, int, int]
  hidden_sizes: Sequence[int] = (256, 256)
  normalization: str = 'none'
  reference_batch_size: int = 64
  batch_axis_name: Optional[str] = None
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] (and labels [batch]) to images [batch, *image_shape]."""
    batch_size = z.shape[0]
    if self.normalization == 'virtual_batch':
      z, labels = layers.with_reference_batch(
        z, labels, self.reference_batch_size, self.num_classes
      )
    h = conditioning.generator_input(z, labels, self.num_classes, self.conditioning)
    batch_norm = functools.partial(
      nn.BatchNorm,
      use_running_average=not train,
      momentum=0.9,
      axis_name=self.batch_axis_name,
      dtype=self.dtype,
    )
    virtual_batch_norm = functools.partial(
      layers.VirtualBatchNorm, reference_size=self.reference_batch_size, dtype=self.dtype
    )
    dense = functools.partial(nn.Dense, dtype=self.dtype)
    for width in self.hidden_sizes:
      h = layers.spectrally_normalized(dense(width), self.normalization, train)(h)
      h = layers.feature_normalization(
        self.normalization, batch_norm, virtual_batch_norm, dtype=self.dtype
      )(h)
      h = nn.relu(h)
    output_layer = dense(math.prod(self.image_shape))
    h = layers.spectrally_normalized(output_layer, self.normalization, train)(h)
    h = h[-batch_size:]  # Without the reference batch of 'virtual_batch'.
    # Images in float32, like the real images the losses and penalties compare them with.
    return jnp.tanh(h.astype(jnp.float32)).reshape((batch_size, *self.image_shape))


class Discriminator(nn.Module):
  """MLP discriminator: images to one real/fake logit each.

  Attributes:
    hidden_sizes: width of each hidden layer.
    dropout_rate: dropout after each hidden activation in training (Strakhov's
      blog post regularizes D this way); needs a 'dropout' rng when non-zero.
    normalization: 'none', 'layer' (LayerNorm after each hidden layer) or
      'spectral' (every dense layer spectrally normalized).
    num_classes, conditioning: see `gan_jax.models.conditioning`.
    dtype: of the computation and the logits (parameters stay float32).
  """

  hidden_sizes: Sequence[int] = (256, 256)
  dropout_rate: float = 0.0
  normalization: str = 'none'
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(
    self, x: jax.Array, labels: Optional[jax.Array] = None, *, train: bool
  ) -> DiscriminatorLogits:
    """Maps images x [batch, H, W, C] (and labels [batch]) to D's output.

    The output holds logits [batch], and class_logits [batch, num_classes]
    for conditioning='auxiliary'.
    """
    h = conditioning.discriminator_input(
      x.reshape((x.shape[0], -1)), labels, self.num_classes, self.conditioning
    )
    dense = functools.partial(nn.Dense, dtype=self.dtype)
    for width in self.hidden_sizes:
      h = layers.spectrally_normalized(dense(width), self.normalization, train)(h)
      h = layers.feature_normalization(self.normalization, batch_norm=None, dtype=self.dtype)(h)
      h = nn.leaky_relu(h, negative_slope=0.2)
      h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    logits = layers.spectrally_normalized(dense(1), self.normalization, train)(h)[:, 0]
    output = conditioning.DiscriminatorOutput(self.num_classes, self.conditioning, dtype=self.dtype)
    return output(h, logits, labels)
