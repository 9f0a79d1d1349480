"""BigGAN generator and discriminator (Brock et al. 2019, section 3 and appendix B).

The networks of the paper's Table 4 at 128x128, and of BigGAN-PyTorch (the
authors' PyTorch code, ajbrock/BigGAN-PyTorch, `BigGAN.py`) at 32x32, whose
parameter counts they match (tests/test_biggan.py):

  G: z is split into equal chunks, one per G block plus one (hierarchical
     latents, section 3 and appendix B.1): the first chunk goes through a
     linear layer to a 4x4 map of 16ch (128x128) or 4ch (32x32) channels;
     each residual block up (BN, ReLU, nearest 2x upsampling, 3x3 conv, BN,
     ReLU, 3x3 conv, plus a 1x1 conv of the upsampled input) reads
     [shared class embedding (128), its own z chunk] through its two
     conditional batch norms; then BN, ReLU, 3x3 conv to the image, tanh.
     128x128: 16ch -> 16ch -> 8ch -> 4ch -> 2ch -> 1ch at 8 ... 128;
     32x32: 4ch at 8, 16, 32.
  D: residual blocks down ('wide': both 3x3 convs have the block's output
     width; 2x2 average pooling after them; a 1x1 conv shortcut when the
     width or the size changes; ReLU before the first conv except in the
     first block), ReLU, global sum pooling, a linear layer to one logit,
     plus the projection <embed(y), h> (Miyato & Koyama 2018).
     128x128: ch, 2ch, 4ch, 8ch, 16ch down to 4x4, then 16ch at 4x4;
     32x32: 4ch down to 16x16, 4ch down to 8x8, two 4ch blocks at 8x8.
  Self-attention (Zhang et al. 2019; `attention.SelfAttention`) after the G
  block and the D block(s) whose output has side `attention_resolution`
  (the paper: 64 at 128x128; BigGAN-PyTorch's CIFAR runs: none).

Every convolution and linear layer of both players, the conditional batch
norms' gain and bias projections included, is spectrally normalized (Miyato et
al. 2018; section 4 of the paper); the shared class embedding is not (as in
BigGAN-PyTorch, whose note says spectral norm on it "seems to randomly
cripple G"), the projection embedding of D is. Weights are initialised
orthogonally (Saxe et al. 2014), the paper's choice (appendix B).

The conditional batch norm's gain is 1 + a learned linear function of the
block's condition, so a zero-mean function gives gains around 1: with that
function and the bias's at zero the layer is plain batch norm without an
affine part (tested). Batch statistics are averaged over the mesh axis
`batch_axis_name` in training, as in `dcgan` (momentum 0.9 = PyTorch's 0.1,
epsilon 1e-5). Both players compute in `dtype` (bfloat16: mixed precision,
see `gan_jax.models`).
"""

import functools
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype

from gan_jax.models import attention
from gan_jax.models import conditioning
from gan_jax.models import layers
from gan_jax.models.conditioning import DiscriminatorLogits

# Image size -> channels of G's 4x4 map and of each block's output, in units of base_width.
_GENERATOR_WIDTHS = {32: (4, 4, 4, 4), 128: (16, 16, 8, 4, 2, 1)}
# Image size -> (output channels in units of base_width, halves the size?) of each D block.
_DISCRIMINATOR_BLOCKS = {
  32: ((4, True), (4, True), (4, False), (4, False)),
  128: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
}
IMAGE_SIZES = tuple(sorted(_GENERATOR_WIDTHS))
_FIRST_MAP_SIZE = 4

_kernel_init = nn.initializers.orthogonal()


def generator_resolutions(image_size: int) -> tuple[int, ...]:
  """The sides of G's block outputs, where self-attention may go: (8, 16, ..., image_size)."""
  return tuple(
    _FIRST_MAP_SIZE * 2 ** (i + 1) for i in range(len(_GENERATOR_WIDTHS[image_size]) - 1)
  )


def latent_chunks(image_size: int) -> int:
  """How many chunks z is split into: one for the first layer, one per G block."""
  return len(_GENERATOR_WIDTHS[image_size])


def _check_image_size(image_size: int) -> None:
  if image_size not in _GENERATOR_WIDTHS:
    raise ValueError(f'BigGAN makes images of side {IMAGE_SIZES}, not {image_size}.')


def _spectral(layer: nn.Module, spectral_norm: bool, train: bool):
  return layers.spectrally_normalized(layer, 'spectral' if spectral_norm else 'none', train)


def _conv(features: int, size: int, dtype: Dtype, name: Optional[str] = None) -> nn.Conv:
  return nn.Conv(
    features, (size, size), padding='SAME', kernel_init=_kernel_init, dtype=dtype, name=name
  )


def _upsample(x: jax.Array) -> jax.Array:
  """Nearest-neighbour 2x upsampling of [batch, H, W, C] to [batch, 2H, 2W, C]."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _downsample(x: jax.Array) -> jax.Array:
  """2x2 average pooling of [batch, H, W, C] to [batch, H/2, W/2, C]."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class ConditionalBatchNorm(nn.Module):
  """Batch norm whose per-channel gain and bias are linear functions of a condition.

  y = BN(x) * (1 + condition W_gain) + condition W_bias (Brock et al. 2019,
  section 3; de Vries et al. 2017, Dumoulin et al. 2017): BN without an affine
  part, the gain parameterised around 1 so that the layer is plain batch norm
  when the learned terms are 0. W_gain and W_bias have no bias (the 1 and the
  BN supply it), as BigGAN-PyTorch's `ccbn` with a shared embedding.

  Attributes:
    batch_axis_name: mesh axis over which the batch statistics are averaged
      in training, or None outside a data-parallel map.
    spectral_norm: spectrally normalize W_gain and W_bias.
    dtype: of the output (the statistics are float32, as flax computes them).
  """

  batch_axis_name: Optional[str] = None
  spectral_norm: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array, *, train: bool) -> jax.Array:
    """Normalizes x [batch, H, W, C] given condition [batch, d]; same shape out."""
    features = x.shape[-1]
    normalized = nn.BatchNorm(
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      use_scale=False,
      use_bias=False,
      axis_name=self.batch_axis_name,
      dtype=self.dtype,
    )(x)

    def projection(name: str) -> jax.Array:
      dense = nn.Dense(
        features, use_bias=False, kernel_init=_kernel_init, dtype=self.dtype, name=name
      )
      return _spectral(dense, self.spectral_norm, train)(condition)[:, None, None, :]

    return normalized * (1 + projection('gain')) + projection('bias')


class GeneratorBlock(nn.Module):
  """BigGAN's residual block up (Brock et al. 2019, Figure 15(b)): doubles H and W.

  h = conv(ReLU(cBN(conv(up(ReLU(cBN(x)))))) + conv1x1(up(x)), the 3x3 and
  1x1 convolutions with biases, all spectrally normalized.

  Attributes:
    features: output channels.
    batch_axis_name, dtype: as `ConditionalBatchNorm`'s.
  """

  features: int
  batch_axis_name: Optional[str] = None
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, condition: jax.Array, *, train: bool) -> jax.Array:
    """Maps x [batch, H, W, in], condition [batch, d] to [batch, 2H, 2W, features]."""
    batch_norm = functools.partial(
      ConditionalBatchNorm, batch_axis_name=self.batch_axis_name, dtype=self.dtype
    )
    spectral = functools.partial(_spectral, spectral_norm=True, train=train)
    h = nn.relu(batch_norm()(x, condition, train=train))
    h = spectral(_conv(self.features, 3, self.dtype))(_upsample(h))
    h = nn.relu(batch_norm()(h, condition, train=train))
    h = spectral(_conv(self.features, 3, self.dtype))(h)
    shortcut = spectral(_conv(self.features, 1, self.dtype, name='shortcut'))(_upsample(x))
    return h + shortcut


class DiscriminatorBlock(nn.Module):
  """BigGAN's residual block down (Brock et al. 2019, Figure 15(c)), BigGAN-PyTorch's `DBlock`.

  h = pool(conv(ReLU(conv(ReLU(x))))) + shortcut(x): both 3x3 convolutions
  output `features` channels ('wide' D); the shortcut is x itself when the
  block keeps the width and the size, else a 1x1 convolution, applied after
  the pooling in the first block and before it in the others (where it
  reads the pre-activation x). The first block has no ReLU before its first
  convolution: it reads the image.

  Attributes:
    features: output channels.
    downsample: halve H and W by 2x2 average pooling.
    preactivation: ReLU before the first convolution (all blocks but the first).
    spectral_norm: spectrally normalize the convolutions.
    dtype: of the computation and the output.
  """

  features: int
  downsample: bool = True
  preactivation: bool = True
  spectral_norm: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """Maps x [batch, H, W, in] to [batch, H', W', features], H' = H/2 if downsample."""
    spectral = functools.partial(_spectral, spectral_norm=self.spectral_norm, train=train)
    pool = _downsample if self.downsample else (lambda h: h)
    h = nn.relu(x) if self.preactivation else x
    h = spectral(_conv(self.features, 3, self.dtype))(h)
    h = pool(spectral(_conv(self.features, 3, self.dtype))(nn.relu(h)))
    if x.shape[-1] == self.features and not self.downsample:
      return h + x
    shortcut_conv = spectral(_conv(self.features, 1, self.dtype, name='shortcut'))
    shortcut = pool(shortcut_conv(x)) if self.preactivation else shortcut_conv(pool(x))
    return h + shortcut


def _check_attention_resolution(image_size: int, attention_resolution: int) -> None:
  valid = generator_resolutions(image_size)
  if attention_resolution and attention_resolution not in valid:
    raise ValueError(
      f'BigGAN at {image_size}x{image_size} can attend at resolution {valid} (or 0 for '
      f'none), not {attention_resolution}.'
    )


class Generator(nn.Module):
  """BigGAN generator: latent vectors (and labels) to images in [-1, 1].

  Attributes:
    image_size: height and width of the images, one of `IMAGE_SIZES`.
    channels: channels of the images.
    base_width: ch of the paper (96 at 128x128; BigGAN-PyTorch's CIFAR runs 64).
    shared_embedding_dim: size of the class embedding shared by all blocks.
    attention_resolution: side of the G block output followed by
      self-attention, one of `generator_resolutions(image_size)`; 0 for none.
    batch_axis_name: mesh axis over which batch norm averages batch statistics
      in training, or None outside a data-parallel map.
    num_classes: classes of the labels.
    conditioning: 'none' (each block's condition is its z chunk alone),
      'projection' or 'auxiliary' (the shared class embedding of the label,
      then the z chunk).
    dtype: of the hidden computation (parameters stay float32); the images
      come out in float32 whatever it is.
  """

  image_size: int = 128
  channels: int = 3
  base_width: int = 96
  shared_embedding_dim: int = 128
  attention_resolution: int = 0
  batch_axis_name: Optional[str] = None
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """Maps z [batch, latent_dim] (and labels [batch]) to images [batch, size, size, channels].

    latent_dim must divide by `latent_chunks(image_size)` (e.g. 120 = 6 x 20 at 128x128).
    """
    _check_image_size(self.image_size)
    _check_attention_resolution(self.image_size, self.attention_resolution)
    widths = [self.base_width * multiple for multiple in _GENERATOR_WIDTHS[self.image_size]]
    num_chunks = latent_chunks(self.image_size)
    if z.shape[-1] % num_chunks:
      raise ValueError(
        f'BigGAN at {self.image_size}x{self.image_size} splits z into {num_chunks} equal chunks; '
        f'latent_dim {z.shape[-1]} does not divide by {num_chunks}.'
      )
    first_chunk, *block_chunks = jnp.split(z, num_chunks, axis=-1)
    if self.conditioning != 'none':
      if labels is None:
        raise ValueError('This BigGAN generator is class-conditional and needs labels.')
      shared = nn.Embed(
        self.num_classes,
        self.shared_embedding_dim,
        embedding_init=_kernel_init,
        dtype=self.dtype,
        name='shared_embedding',
      )(labels)
      block_chunks = [jnp.concatenate([shared, chunk], axis=-1) for chunk in block_chunks]
    spectral = functools.partial(_spectral, spectral_norm=True, train=train)
    linear = nn.Dense(
      _FIRST_MAP_SIZE**2 * widths[0], kernel_init=_kernel_init, dtype=self.dtype, name='linear'
    )
    h = spectral(linear)(first_chunk).reshape(z.shape[0], _FIRST_MAP_SIZE, _FIRST_MAP_SIZE, -1)
    for width, condition in zip(widths[1:], block_chunks):
      h = GeneratorBlock(width, self.batch_axis_name, self.dtype)(
        h, condition.astype(self.dtype), train=train
      )
      if h.shape[1] == self.attention_resolution:
        h = attention.SelfAttention(dtype=self.dtype)(h, train=train)
    h = nn.BatchNorm(
      use_running_average=not train,
      momentum=0.9,
      epsilon=1e-5,
      axis_name=self.batch_axis_name,
      dtype=self.dtype,
    )(h)
    h = spectral(_conv(self.channels, 3, self.dtype, name='output'))(nn.relu(h))
    # Images in float32, like the real images the losses and penalties compare them with.
    return jnp.tanh(h.astype(jnp.float32))


class Discriminator(nn.Module):
  """BigGAN discriminator: images (and labels) to one logit each.

  Attributes:
    image_size: height and width of the images, one of `IMAGE_SIZES`.
    channels: channels of the images.
    base_width: ch of the paper (96 at 128x128; BigGAN-PyTorch's CIFAR runs 64).
    attention_resolution: self-attention follows every D block whose output
      has this side (at 32x32: the three blocks at 8x8 for 8, the first block
      for 16, none for 32); 0 for none. BigGAN-PyTorch's `D_arch` labels all
      four 32x32 blocks 16, so its attention at 16 follows every block.
    spectral_norm: spectrally normalize every layer (the paper), or none.
    num_classes: classes of the labels.
    conditioning: 'projection' (the paper: the SN embedding's projection
      <embed(y), h> added to the logit), 'auxiliary' (AC-GAN's classifier on
      h, `conditioning.DiscriminatorOutput`) or 'none'.
    dtype: of the computation and the logits (parameters stay float32).
  """

  image_size: int = 128
  channels: int = 3
  base_width: int = 96
  attention_resolution: int = 0
  spectral_norm: bool = True
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
    _check_image_size(self.image_size)
    _check_attention_resolution(self.image_size, self.attention_resolution)
    expected_shape = (self.image_size, self.image_size, self.channels)
    if x.shape[1:] != expected_shape:
      raise ValueError(f'BigGAN discriminator expects images {expected_shape}, got {x.shape[1:]}.')
    spectral = functools.partial(_spectral, spectral_norm=self.spectral_norm, train=train)
    h = x.astype(self.dtype)
    for index, (multiple, downsample) in enumerate(_DISCRIMINATOR_BLOCKS[self.image_size]):
      h = DiscriminatorBlock(
        self.base_width * multiple,
        downsample=downsample,
        preactivation=index > 0,
        spectral_norm=self.spectral_norm,
        dtype=self.dtype,
      )(h, train=train)
      if h.shape[1] == self.attention_resolution:
        h = attention.SelfAttention(spectral_norm=self.spectral_norm, dtype=self.dtype)(
          h, train=train
        )
    # Global sum pooling (SNGAN's, Miyato et al. 2018), summed in float32.
    features = jnp.sum(nn.relu(h).astype(jnp.float32), axis=(1, 2)).astype(self.dtype)
    linear = nn.Dense(1, kernel_init=_kernel_init, dtype=self.dtype, name='linear')
    logits = spectral(linear)(features).reshape(x.shape[0])
    if self.conditioning != 'projection':
      return conditioning.DiscriminatorOutput(
        self.num_classes, self.conditioning, dtype=self.dtype
      )(features, logits, labels)
    if labels is None:
      raise ValueError('This BigGAN discriminator is class-conditional and needs labels.')
    embedding = nn.Embed(
      self.num_classes,
      features.shape[-1],
      embedding_init=_kernel_init,
      dtype=self.dtype,
      name='projection',
    )
    projection = jnp.sum(spectral(embedding)(labels) * features, axis=-1)
    return DiscriminatorLogits(logits + projection)
