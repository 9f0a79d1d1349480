"""ResNet generator and discriminator of SNGAN (Miyato et al. 2018; Miyato & Koyama 2018).

The networks of Miyato et al. 2018 (Spectral Normalization for GANs, Appendix
B.4, Figure 8 and Tables 4 and 5) and of the authors' code (pfnet-research
`sngan_projection`, whose `resnet_64.py` and `snresnet_64.py` give the 64x64
layout), here with the torch_mimicry port's `SNGAN{Generator,Discriminator}
{32,48,64}` as the parameter-count reference (`tests/test_resnet.py`):

  G: z -> dense -> first map (4x4, 6x6 at 48) -> up ResBlocks (BN, ReLU,
     nearest 2x upsample, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upsample,
     1x1 conv) -> BN, ReLU, 3x3 conv to the image channels, tanh.
  D: optimized block (3x3 conv, ReLU, 3x3 conv, 2x2 average pool; shortcut:
     average pool, 1x1 conv) -> ResBlocks (ReLU, 3x3 conv, ReLU, 3x3 conv,
     maybe average pool; shortcut: 1x1 conv and the same pool where the
     channels or the size change, else the identity) -> ReLU, global SUM
     pooling -> dense -> logit. Spectral normalization of every layer.

  image  G: first map, channels of each up block     D: channels of each block (down?)
  32     4x4 x 256; 256, 256, 256                    128 v, 128 v, 128, 128
  48     6x6 x 512; 256, 128, 64                     64 v, 128 v, 256 v, 512 v, 1024
  64     4x4 x 1024; 512, 256, 128, 64               64 v, 128 v, 256 v, 512 v, 1024 v

`Generator.width` is the channels of G's first map and `Discriminator.width`
those of D's last block (torch_mimicry's ngf and ndf); 0 takes the table's.
Every convolution and dense layer has a bias, as in torch_mimicry and the
authors' 64x64 code (their 32x32 D's output layer has none: one parameter);
weights are Glorot-uniform with gain sqrt(2) in the residual branches and 1
elsewhere, as in the authors' code.

Class conditioning (`gan_jax.models.conditioning` names):
  'none'        unconditional G(z) and D(x).
  'projection'  the cGAN of Miyato & Koyama 2018 (section 3 and their code):
                G's batch norms take a per-class gain and bias (categorical
                conditional BN, `ClassConditionalBatchNorm`); D adds
                embed(y)^T phi(x) to its logit, phi(x) the pooled features,
                embed spectrally normalized like every D layer.
  'embedding'   G as for 'projection'; D reads one_hot(y) as extra input
                channels (the concatenation cGAN).
  'auxiliary'   G as for 'projection'; D's AC-GAN classifier reads phi(x).

`attention_resolution` > 0 inserts SAGAN's self-attention block (Zhang et al.
2019, `gan_jax.models.attention`) after G's block and D's first block whose
output map has that side; spectral normalization of G (`Generator.spectral_norm`)
with it gives SAGAN's networks.

Batch norm (G only; D has none) averages its statistics over the mesh axis
`batch_axis_name` in training and keeps running averages (momentum 0.9,
epsilon 2e-5 as in the authors' code) in 'batch_stats', with spectral
normalization's power-iteration state. Both networks compute in `dtype`
(bfloat16: mixed precision, see `gan_jax.models`).
"""

from typing import NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype

from gan_jax import errors
from gan_jax.models import attention
from gan_jax.models import conditioning
from gan_jax.models import layers
from gan_jax.models.conditioning import DiscriminatorLogits


class Layout(NamedTuple):
  """The blocks of one image size: G's first map's side and the paper's widths (G's first
  map's channels, D's last block's); G's up block i and D's block i (0: the optimized one)
  output width // divisor_i channels; D's block i halves its map if downsamples_i."""

  first_map_size: int
  generator_width: int
  generator_divisors: tuple[int, ...]
  discriminator_width: int
  discriminator_divisors: tuple[int, ...]
  discriminator_downsamples: tuple[bool, ...]


LAYOUTS = {
  32: Layout(4, 256, (1, 1, 1), 128, (1, 1, 1, 1), (True, True, False, False)),
  48: Layout(6, 512, (2, 4, 8), 1024, (16, 8, 4, 2, 1), (True, True, True, True, False)),
  64: Layout(4, 1024, (2, 4, 8, 16), 1024, (16, 8, 4, 2, 1), (True,) * 5),
}
IMAGE_SIZES = tuple(sorted(LAYOUTS))
# D's normalizations: SNGAN's, or none (e.g. for a gradient-penalty critic).
DISCRIMINATOR_NORMALIZATIONS = ('spectral', 'none')

_BATCH_NORM_EPSILON = 2e-5  # Chainer's default, which the authors' code keeps.
_glorot = nn.initializers.xavier_uniform()
_glorot_relu = nn.initializers.variance_scaling(2.0, 'fan_avg', 'uniform')  # Gain sqrt(2).


def layout(image_size: int) -> Layout:
  """The layout of `image_size`; ConfigError naming the sizes there are otherwise."""
  if image_size not in LAYOUTS:
    raise errors.ConfigError(
      f'The resnet family makes square images of side {", ".join(map(str, IMAGE_SIZES))}, '
      f'not {image_size}; set --config.data.image_size to one of those.'
    )
  return LAYOUTS[image_size]


def _generator_blocks(image_size: int, width: int) -> list[tuple[int, int]]:
  """(output side, channels) of each up block of G."""
  plan = layout(image_size)
  width = width or plan.generator_width
  return [
    (plan.first_map_size * 2 ** (index + 1), width // divisor)
    for index, divisor in enumerate(plan.generator_divisors)
  ]


def _discriminator_blocks(image_size: int, width: int) -> list[tuple[int, int, bool]]:
  """(output side, channels, halves its map) of each block of D."""
  plan = layout(image_size)
  width = width or plan.discriminator_width
  blocks, side = [], image_size
  for divisor, downsample in zip(plan.discriminator_divisors, plan.discriminator_downsamples):
    side //= 2 if downsample else 1
    blocks.append((side, width // divisor, downsample))
  return blocks


def _attended_maps(image_size: int, generator_width: int, discriminator_width: int):
  """{side: (G's channels there, D's)} at the sides where both have a block output."""
  generator = dict(_generator_blocks(image_size, generator_width))
  discriminator = {}
  for side, channels, _ in _discriminator_blocks(image_size, discriminator_width):
    discriminator.setdefault(side, channels)  # Attention follows D's first block of that side.
  return {
    side: (generator[side], discriminator[side]) for side in generator if side in discriminator
  }


def attention_resolutions(image_size: int) -> tuple[int, ...]:
  """The sides at which both G and D have a block output, where attention may go."""
  return tuple(sorted(_attended_maps(image_size, 0, 0)))


def check(
  image_size: int, generator_width: int, discriminator_width: int, attention_resolution: int
) -> None:
  """Raises ConfigError unless the family can be built with these fields."""
  plan = layout(image_size)
  for player, width, divisors in (
    ('generator', generator_width, plan.generator_divisors),
    ('discriminator', discriminator_width, plan.discriminator_divisors),
  ):
    if width < 0 or width % max(divisors):
      raise errors.ConfigError(
        f"model.{player}_width={width} must be 0 (the paper's) or a positive multiple of "
        f'{max(divisors)} at {image_size}x{image_size} (its blocks have width / '
        f'{", ".join(map(str, sorted(set(divisors))))} channels).'
      )
  if attention_resolution == 0:
    return
  maps = _attended_maps(image_size, generator_width, discriminator_width)
  if attention_resolution not in maps:
    raise errors.ConfigError(
      f'model.attention_resolution={attention_resolution} is not a map side of both players at '
      f'{image_size}x{image_size}; use 0 (no attention) or one of '
      f'{", ".join(map(str, sorted(maps)))}.'
    )
  for player, channels in zip(('generator', 'discriminator'), maps[attention_resolution]):
    if channels % 8:
      raise errors.ConfigError(
        f'Self-attention at {attention_resolution}x{attention_resolution} needs channels '
        f"divisible by 8, but the {player}'s map there has {channels}; raise "
        f'model.{player}_width.'
      )


def _upsample(h: jax.Array) -> jax.Array:
  """Nearest-neighbour 2x upsampling of [batch, H, W, C] (Chainer's unpooling_2d)."""
  return jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)


def _downsample(h: jax.Array) -> jax.Array:
  """2x2 average pooling of [batch, H, W, C]."""
  return nn.avg_pool(h, (2, 2), strides=(2, 2))


def _conv(features: int, size: int, kernel_init, dtype: Dtype, name: str) -> nn.Conv:
  return nn.Conv(
    features, (size, size), padding='SAME', kernel_init=kernel_init, dtype=dtype, name=name
  )


class ClassConditionalBatchNorm(nn.Module):
  """Batch norm with a gain and a bias per channel, or per class and channel.

  With num_classes = 0 this is batch norm (Ioffe & Szegedy 2015). Else the
  gain and bias of example i are rows y_i of [num_classes, C] tables:
  categorical conditional batch norm (Dumoulin et al. 2017; de Vries et al.
  2017), G's conditioning in Miyato & Koyama 2018. Gains start at 1 and
  biases at 0, as in the authors' code, so every class starts as plain batch
  norm. The statistics and the running averages are float32.

  num_classes: rows of the gain and bias tables (0: one shared row); train:
  normalize with the batch's statistics (averaged over the mesh axis
  `batch_axis_name`, if any) and update the running ones, else use those;
  dtype: of the output.
  """

  num_classes: int
  train: bool
  batch_axis_name: Optional[str] = None
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, h: jax.Array, labels: Optional[jax.Array]) -> jax.Array:
    """Normalizes h [batch, H, W, C] per channel; labels [batch] when num_classes > 0."""
    normalized = nn.BatchNorm(
      use_running_average=not self.train,
      momentum=0.9,
      epsilon=_BATCH_NORM_EPSILON,
      use_scale=False,
      use_bias=False,
      axis_name=self.batch_axis_name,
      name='statistics',
    )(h.astype(jnp.float32))
    rows = (max(self.num_classes, 1), h.shape[-1])
    gain = self.param('gain', nn.initializers.ones, rows)
    bias = self.param('bias', nn.initializers.zeros, rows)
    if self.num_classes:
      gain = gain[labels][:, None, None, :]
      bias = bias[labels][:, None, None, :]
    else:
      gain, bias = gain[0], bias[0]
    return (normalized * gain + bias).astype(self.dtype)


class GeneratorBlock(nn.Module):
  """G's up ResBlock (Miyato et al. 2018, Figure 8): [batch, H, W, in] -> [batch, 2H, 2W, features].

  features: output (and hidden) channels; num_classes > 0: class-conditional
  batch norm; spectral_norm, batch_axis_name, dtype: as in `Generator`.
  """

  features: int
  num_classes: int = 0
  spectral_norm: bool = False
  batch_axis_name: Optional[str] = None
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, labels: Optional[jax.Array], *, train: bool) -> jax.Array:
    normalization = 'spectral' if self.spectral_norm else 'none'

    def conv(size, kernel_init, name):
      layer = _conv(self.features, size, kernel_init, self.dtype, name)
      return layers.spectrally_normalized(layer, normalization, train)

    def batch_norm(name):
      norm = ClassConditionalBatchNorm(
        self.num_classes, train, self.batch_axis_name, self.dtype, name=name
      )
      return lambda h: norm(h, labels)

    h = nn.relu(batch_norm('norm_0')(x))
    h = conv(3, _glorot_relu, 'conv_0')(_upsample(h))
    h = nn.relu(batch_norm('norm_1')(h))
    h = conv(3, _glorot_relu, 'conv_1')(h)
    return h + conv(1, _glorot, 'shortcut')(_upsample(x.astype(self.dtype)))


class DiscriminatorBlock(nn.Module):
  """D's ResBlock (Miyato et al. 2018, Figure 8): [batch, H, W, in] -> [batch, H', W', features].

  The hidden map has `in` channels; `downsample` halves the map. `first` is
  the authors' optimized first block: no ReLU on the image, `features` hidden
  channels, the shortcut pooled before its 1x1 conv (fewer operations).
  normalization ('spectral' or 'none') and dtype: as in `Discriminator`.
  """

  features: int
  downsample: bool = True
  first: bool = False
  normalization: str = 'spectral'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    def conv(features, size, kernel_init, name):
      layer = _conv(features, size, kernel_init, self.dtype, name)
      return layers.spectrally_normalized(layer, self.normalization, train)

    hidden_features = self.features if self.first else x.shape[-1]
    h = x if self.first else nn.relu(x)
    h = conv(hidden_features, 3, _glorot_relu, 'conv_0')(h)
    h = conv(self.features, 3, _glorot_relu, 'conv_1')(nn.relu(h))
    if self.downsample:
      h = _downsample(h)
    shortcut = x.astype(self.dtype)
    if self.first:
      shortcut = conv(self.features, 1, _glorot, 'shortcut')(_downsample(shortcut))
    elif self.downsample or x.shape[-1] != self.features:
      shortcut = conv(self.features, 1, _glorot, 'shortcut')(shortcut)
      if self.downsample:
        shortcut = _downsample(shortcut)
    return h + shortcut


class Generator(nn.Module):
  """SNGAN's ResNet generator: latent vectors to images in [-1, 1].

  Attributes:
    image_size: height and width of the images, one of `IMAGE_SIZES`.
    channels: channels of the images.
    width: channels of the first map; 0 takes the paper's (`LAYOUTS`).
    attention_resolution: side of the map after which SAGAN's self-attention
      goes (one of `attention_resolutions(image_size)`); 0 for none.
    spectral_norm: spectrally normalize every layer of G too (SAGAN, Zhang et
      al. 2019, section 4); SNGAN's G has none.
    batch_axis_name: mesh axis over which batch norm averages batch statistics
      in training, or None outside a data-parallel map.
    num_classes, conditioning: see the module docstring; any conditioning
      but 'none' makes the batch norms class-conditional.
    dtype: of the hidden computation (parameters stay float32); the images
      come out in float32 whatever it is.
  """

  image_size: int = 32
  channels: int = 3
  width: int = 0
  attention_resolution: int = 0
  spectral_norm: bool = False
  batch_axis_name: Optional[str] = None
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] (and labels [batch]) to images [batch, size, size, channels]."""
    check(self.image_size, self.width, 0, self.attention_resolution)
    num_classes = 0 if self.conditioning == 'none' else self.num_classes
    if num_classes and labels is None:
      raise ValueError('This generator is class-conditional (conditioning != "none"): pass labels.')
    plan = layout(self.image_size)
    width = self.width or plan.generator_width
    normalization = 'spectral' if self.spectral_norm else 'none'
    side = plan.first_map_size
    dense = nn.Dense(side * side * width, kernel_init=_glorot, dtype=self.dtype, name='input')
    h = layers.spectrally_normalized(dense, normalization, train)(z)
    h = h.reshape(z.shape[0], side, side, width)
    for index, (side, features) in enumerate(_generator_blocks(self.image_size, self.width)):
      h = GeneratorBlock(
        features,
        num_classes,
        self.spectral_norm,
        self.batch_axis_name,
        self.dtype,
        name=f'block_{index}',
      )(h, labels, train=train)
      if side == self.attention_resolution:
        h = attention.SelfAttention(self.spectral_norm, dtype=self.dtype, name='attention')(
          h, train=train
        )
    # The output batch norm is unconditional, as in both references.
    norm = ClassConditionalBatchNorm(0, train, self.batch_axis_name, self.dtype, name='output_norm')
    h = nn.relu(norm(h, None))
    last = _conv(self.channels, 3, _glorot, self.dtype, 'output_conv')
    h = layers.spectrally_normalized(last, normalization, train)(h)
    # Images in float32, like the real images the losses and penalties compare them with.
    return jnp.tanh(h.astype(jnp.float32))


class Discriminator(nn.Module):
  """SNGAN's ResNet discriminator: images to one real/fake logit each.

  Attributes:
    image_size: height and width of the images, one of `IMAGE_SIZES`.
    channels: channels of the images.
    width: channels of the last block, the size of phi(x); 0 takes the
      paper's (`LAYOUTS`).
    attention_resolution: side of the map after whose first block SAGAN's
      self-attention goes; 0 for none.
    normalization: 'spectral' (SNGAN: every layer, the attention's and the
      class embedding or classifier's too) or 'none'.
    num_classes, conditioning: see the module docstring.
    dtype: of the computation and the logits (parameters stay float32).
  """

  image_size: int = 32
  channels: int = 3
  width: int = 0
  attention_resolution: int = 0
  normalization: str = 'spectral'
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
    check(self.image_size, 0, self.width, self.attention_resolution)
    if self.normalization not in DISCRIMINATOR_NORMALIZATIONS:
      raise errors.ConfigError(
        f'model.discriminator_normalization={self.normalization!r} is not one of the resnet '
        f"discriminator's: {', '.join(DISCRIMINATOR_NORMALIZATIONS)}."
      )
    expected_shape = (self.image_size, self.image_size, self.channels)
    if x.shape[1:] != expected_shape:
      raise ValueError(f'ResNet discriminator expects images {expected_shape}, got {x.shape[1:]}.')
    spectral = self.normalization == 'spectral'
    h = conditioning.discriminator_input(x, labels, self.num_classes, self.conditioning)
    attended = False
    blocks = _discriminator_blocks(self.image_size, self.width)
    for index, (side, features, downsample) in enumerate(blocks):
      h = DiscriminatorBlock(
        features, downsample, index == 0, self.normalization, self.dtype, name=f'block_{index}'
      )(h, train=train)
      if side == self.attention_resolution and not attended:
        h = attention.SelfAttention(spectral, dtype=self.dtype, name='attention')(h, train=train)
        attended = True
    # phi(x): global sum pooling, in float32 as it adds every position.
    features = jnp.sum(nn.relu(h).astype(jnp.float32), axis=(1, 2)).astype(self.dtype)
    dense = nn.Dense(1, kernel_init=_glorot, dtype=self.dtype, name='output')
    logits = layers.spectrally_normalized(dense, self.normalization, train)(features)[:, 0]
    head = conditioning.DiscriminatorOutput(
      self.num_classes, self.conditioning, dtype=self.dtype, name='conditioning'
    )
    if spectral and self.conditioning in ('projection', 'auxiliary'):
      # The class embedding [num_classes, d] (as in both references) or the
      # classifier's kernel, like D's other layers.
      return nn.SpectralNorm(head)(features, logits, labels, update_stats=train)
    return head(features, logits, labels)
