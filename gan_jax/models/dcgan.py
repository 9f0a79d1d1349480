"""DCGAN generator and discriminator (Radford et al. 2015, arXiv:1511.06434).

At the defaults (64x64 RGB, base width 64) these are the networks of the
PyTorch reference implementation (pytorch/examples `dcgan`):
  G: z -> ConvT 4x4 VALID -> 512 @ 4x4, then 4x4 stride-2 ConvT (PyTorch
     padding 1) to 256 @ 8x8, 128 @ 16x16, 64 @ 32x32, 3 @ 64x64; BatchNorm
     and ReLU after every layer but the last, tanh output.
  D: 4x4 stride-2 Conv (padding 1) 3 -> 64 -> 128 -> 256 -> 512 down to 4x4,
     BatchNorm after all but the first, LeakyReLU(0.2) after each; a 4x4 VALID
     Conv to one logit (the reference's sigmoid lives in `gan_jax.losses`).
No layer has a bias (BatchNorm's shift replaces it); weights are drawn from
N(0, 0.02) as in the paper, BatchNorm scales from N(1, 0.02) as in the
reference.

The same family makes 32x32 (CIFAR-10) and 28x28 (MNIST) images by
configuration: the first map is 4x4 (7x7 for 28x28, from a 7x7 kernel) and
there is one stride-2 stage fewer per halving of the image size; the widths are
base_width * 2^i counted from the full-resolution end, and D mirrors G.

BatchNorm keeps its statistics in the 'batch_stats' collection (momentum 0.9 =
PyTorch's 0.1, epsilon 1e-5; flax averages the biased batch variance where
PyTorch averages the unbiased one). In training each call normalizes with its own
batch, averaged over the mesh axis `batch_axis_name` if given, so D called on
a real and on a fake batch normalizes each separately, as the reference does.
With train=False the running averages are used.

Both players can be class-conditional (`gan_jax.models.conditioning`); G can
replace BatchNorm by virtual batch norm, layer norm or spectral normalization
(`generator_normalization`), D by layer norm or spectral normalization. Both
compute in `dtype` (bfloat16: mixed precision, see `gan_jax.models`).
"""

import functools
import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype

from gan_jax.models import conditioning
from gan_jax.models import layers
from gan_jax.models.conditioning import DiscriminatorLogits

# Image size -> side of G's first feature map (and of D's last).
_FIRST_MAP_SIZES = {28: 7, 32: 4, 64: 4}
IMAGE_SIZES = tuple(sorted(_FIRST_MAP_SIZES))

_weight_init = nn.initializers.normal(stddev=0.02)


def _batch_norm_scale_init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
  """N(1, 0.02), the reference's BatchNorm scale initialization."""
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _stages(image_size: int) -> tuple[int, int]:
  """(first map size, number of stride-2 stages) for `image_size`."""
  if image_size not in _FIRST_MAP_SIZES:
    raise ValueError(f'DCGAN makes images of size {sorted(_FIRST_MAP_SIZES)}, not {image_size}.')
  first_map_size = _FIRST_MAP_SIZES[image_size]
  return first_map_size, int(math.log2(image_size // first_map_size))


def _batch_norm(train: bool, batch_axis_name: Optional[str], dtype: Dtype) -> functools.partial:
  # Flax computes the batch statistics and keeps the running ones in float32
  # whatever `dtype`, the dtype of the normalized output.
  return functools.partial(
    nn.BatchNorm,
    use_running_average=not train,
    momentum=0.9,
    epsilon=1e-5,
    scale_init=_batch_norm_scale_init,
    axis_name=batch_axis_name,
    dtype=dtype,
  )


class Generator(nn.Module):
  """DCGAN generator: latent vectors to images in [-1, 1].

  Attributes:
    image_size: height and width of the images, one of 28, 32, 64.
    channels: channels of the images.
    base_width: channels of the last hidden map; each earlier map has twice
      the channels of the next.
    batch_axis_name: mesh axis over which BatchNorm averages batch statistics
      in training, or None outside a data-parallel map.
    normalization: of the hidden layers, one of
      `layers.GENERATOR_NORMALIZATIONS`: 'batch' (the paper), 'virtual_batch'
      (Salimans et al. 2016), 'layer', 'spectral' (every layer), 'none'.
    reference_batch_size: size of the fixed reference batch of 'virtual_batch'.
    num_classes, conditioning: see `gan_jax.models.conditioning`.
    dtype: of the hidden computation (parameters stay float32); the images
      come out in float32 whatever it is.
  """

  image_size: int = 64
  channels: int = 3
  base_width: int = 64
  batch_axis_name: Optional[str] = None
  normalization: str = 'batch'
  reference_batch_size: int = 64
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] (and labels [batch]) to images [batch, size, size, channels]."""
    batch_size = z.shape[0]
    if self.normalization == 'virtual_batch':
      z, labels = layers.with_reference_batch(
        z, labels, self.reference_batch_size, self.num_classes
      )
    z = conditioning.generator_input(z, labels, self.num_classes, self.conditioning)
    first_map_size, num_stages = _stages(self.image_size)
    normalization = functools.partial(
      layers.feature_normalization,
      self.normalization,
      _batch_norm(train, self.batch_axis_name, self.dtype),
      functools.partial(
        layers.VirtualBatchNorm,
        reference_size=self.reference_batch_size,
        scale_init=_batch_norm_scale_init,
        dtype=self.dtype,
      ),
      dtype=self.dtype,
    )
    spectral = functools.partial(
      layers.spectrally_normalized, normalization=self.normalization, train=train
    )
    # The fast forms of the transposed convolutions: see `layers`.
    h = spectral(
      layers.ConvTransposeFromVector(
        self.base_width * 2 ** (num_stages - 1),
        size=first_map_size,
        kernel_init=_weight_init,
        dtype=self.dtype,
      )
    )(z)
    h = nn.relu(normalization()(h))
    # The names of the layers G was first written with (SubPixelConvTranspose_0,
    # ...) keep checkpoints interchangeable.
    upsample = lambda features, index: layers.StridedConvTranspose(
      features, kernel_init=_weight_init, dtype=self.dtype, name=f'SubPixelConvTranspose_{index}'
    )
    for index, stage in enumerate(reversed(range(num_stages - 1))):
      h = nn.relu(normalization()(spectral(upsample(self.base_width * 2**stage, index))(h)))
    last = upsample(self.channels, num_stages - 1)
    h = spectral(last)(h)[-batch_size:]  # Without the reference batch of 'virtual_batch'.
    # Images in float32, like the real images the losses and penalties compare them with.
    return jnp.tanh(h.astype(jnp.float32))


class Discriminator(nn.Module):
  """DCGAN discriminator: images to one real/fake logit each.

  Attributes:
    image_size: height and width of the images, one of 28, 32, 64.
    channels: channels of the images.
    base_width: channels of the first hidden map; each later map has twice
      the channels of the previous.
    batch_axis_name: mesh axis over which BatchNorm averages batch statistics
      in training, or None outside a data-parallel map.
    normalization: of the hidden layers, one of `layers.NORMALIZATIONS`:
      'batch' (the paper), 'layer' (a WGAN-GP critic), 'spectral' (SNGAN,
      every convolution), 'none'.
    num_classes, conditioning: see `gan_jax.models.conditioning`.
    dtype: of the computation and the logits (parameters stay float32).
  """

  image_size: int = 64
  channels: int = 3
  base_width: int = 64
  batch_axis_name: Optional[str] = None
  normalization: str = 'batch'
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(
    self, x: jax.Array, labels: Optional[jax.Array] = None, *, train: bool
  ) -> DiscriminatorLogits:
    """Maps images x [batch, size, size, channels] (and labels [batch]) to D's output.

    The output holds logits [batch], and class_logits [batch, num_classes]
    for conditioning='auxiliary'.
    """
    expected_shape = (self.image_size, self.image_size, self.channels)
    if x.shape[1:] != expected_shape:
      raise ValueError(f'DCGAN discriminator expects images {expected_shape}, got {x.shape[1:]}.')
    last_map_size, num_stages = _stages(self.image_size)
    batch_norm = _batch_norm(train, self.batch_axis_name, self.dtype)
    h = conditioning.discriminator_input(x, labels, self.num_classes, self.conditioning)
    for stage in range(num_stages):
      # nn.Conv's function, in a form with a faster input gradient; the names
      # Conv_0, Conv_1, ... of the nn.Conv layers D was first written with keep
      # checkpoints interchangeable.
      conv = layers.StridedConv(
        self.base_width * 2**stage, kernel_init=_weight_init, dtype=self.dtype, name=f'Conv_{stage}'
      )
      h = layers.spectrally_normalized(conv, self.normalization, train)(h)
      if stage > 0:  # As in the paper: no normalization of D's input layer.
        h = layers.feature_normalization(self.normalization, batch_norm, dtype=self.dtype)(h)
      h = nn.leaky_relu(h, negative_slope=0.2)
    last = nn.Conv(
      1,
      (last_map_size, last_map_size),
      padding='VALID',
      use_bias=False,
      kernel_init=_weight_init,
      dtype=self.dtype,
      name=f'Conv_{num_stages}',
    )
    logits = layers.spectrally_normalized(last, self.normalization, train)(h).reshape(x.shape[0])
    # phi(x) of the projection and auxiliary heads: the last hidden map, flattened,
    # which the last convolution (a dense layer of it) reads too.
    features = h.reshape(x.shape[0], -1)
    return conditioning.DiscriminatorOutput(self.num_classes, self.conditioning, dtype=self.dtype)(
      features, logits, labels
    )
