"""StyleGAN2's generator and discriminator (Karras et al. 2020), as StyleGAN2-ADA's code builds them.

Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"
(config E/F: section 2 and 4, Figure 7), with NVlabs/stylegan2-ada-pytorch
(`training/networks.py`, `training/loss.py`) as the reference for every
detail and for the parameter counts (tests/test_stylegan2.py); the layers are
in `stylegan2_layers`. Images are NHWC. Channels at resolution r:
min(channel_base // r, channel_max). Square images of side 2^k, 8 to 1024
(`IMAGE_SIZES`; the reference's G also makes 4x4, but its D needs a block
above its 4x4 epilogue, and its largest configs are 1024).

  G: mapping network z -> w (z normalized by its second moment; a class
     embedding, also normalized, concatenated; `mapping_layers` fully
     connected leaky-ReLU layers with learning-rate multiplier 0.01), w
     broadcast to the num_ws = 2 log2(side) - 2 inputs of the synthesis
     network: a learned 4x4 constant, then per resolution two modulated 3x3
     convolutions (the first up-sampling, FIR), each followed by per-pixel
     noise with a learned strength (initially 0), bias, leaky ReLU * sqrt(2),
     clamp; the 'skip' output: each resolution's ToRGB (a modulated 1x1
     convolution without demodulation) added to the FIR-upsampled image so
     far. ToRGB of resolution r reads the w of the next resolution's first
     convolution, as in the reference. No tanh on the output, as there.
  D: FromRGB (1x1) at the top resolution, then per resolution two 3x3
     convolutions, the second down-sampling (FIR then stride 2), with
     'resnet' a 1x1 down-sampling skip (no bias) and both branches scaled by
     sqrt(0.5) (config E/F), or 'orig' without it; at 4x4 the epilogue:
     minibatch standard deviation, 3x3 convolution, fully connected layer,
     output layer. 'projection' conditioning maps the label through D's own
     mapping network (8 layers, as the reference's defaults) to cmap and
     outputs <out(x), cmap> / sqrt(cmap_dim) (the reference's epilogue).

Training (G.styles with train=True): the running average of w (beta 0.995,
in the 'w_average' collection, averaged over `batch_axis_name`) and style
mixing regularization (Karras et al. 2019, section 3.1: with probability
`style_mixing_probability` the w's from a random cutoff on come from a second
z, drawn per batch as the reference's `run_G`); noise inputs and mixing draw
from the 'noise' rng stream. Outside training: no mixing, the truncation trick
w_avg + psi (w - w_avg), and each layer's constant noise map (the 'noise_const'
collection, drawn at init; the reference's noise_mode='const').

Both players compute their convolutions in `dtype` around float32 parameters;
the mapping networks, styles, demodulation coefficients, images and D's
epilogue are float32 (the reference's epilogue and mapping are float32 too).
"""

import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype
from jax import lax

from gan_jax.models import stylegan2_layers as layers
from gan_jax.models.conditioning import DiscriminatorLogits

IMAGE_SIZES = tuple(2**k for k in range(3, 11))
CONDITIONINGS = ('none', 'projection')
DISCRIMINATOR_ARCHITECTURES = ('resnet', 'orig')
W_AVERAGE_BETA = 0.995  # The reference's w_avg_beta.
DISCRIMINATOR_MAPPING_LAYERS = 8  # D's label mapping: the reference's MappingNetwork defaults.
DISCRIMINATOR_MAPPING_LR_MULTIPLIER = 0.01


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
  """Feature maps at `resolution`: min(channel_base // resolution, channel_max)."""
  return min(channel_base // resolution, channel_max)


def num_ws(image_size: int) -> int:
  """The synthesis network's w inputs: two per resolution above 4, one at 4, one for the last
  ToRGB."""
  return 2 * int(math.log2(image_size)) - 2


class LatentAverage(nn.Module):
  """The running average of w, w_avg [w_dim] in the 'w_average' collection (zeros at init)."""

  w_dim: int
  beta: float = W_AVERAGE_BETA
  batch_axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, w: Optional[jax.Array] = None) -> jax.Array:
    """With w [B, w_dim]: w_avg <- mean_B(w) + beta (w_avg - mean_B(w)), the batch mean
    averaged over `batch_axis_name` so replicas agree. Returns w_avg."""
    average = self.variable('w_average', 'w_avg', jnp.zeros, (self.w_dim,), jnp.float32)
    if w is not None and not self.is_initializing():
      batch_mean = jnp.mean(lax.stop_gradient(w), axis=0)
      if self.batch_axis_name is not None:
        batch_mean = lax.pmean(batch_mean, self.batch_axis_name)
      average.value = batch_mean + self.beta * (average.value - batch_mean)
    return average.value


class SynthesisLayer(nn.Module):
  """Modulated 3x3 convolution, noise, bias, leaky ReLU * sqrt(2), clamp (SynthesisLayer)."""

  features: int
  resolution: int
  up: int = 1
  conv_clamp: Optional[float] = None
  fused_modulation: bool = False
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array, *, train: bool) -> jax.Array:
    """x [B, r / up, r / up, in], w [B, w_dim] -> [B, r, r, features]."""
    styles = layers.EqualizedDense(x.shape[-1], bias_init=1.0, name='affine')(w)
    shape = (3, 3, x.shape[-1], self.features)
    weight = self.param('kernel', nn.initializers.normal(1.0), shape)
    x = layers.modulated_conv2d(
      x.astype(self.dtype), weight, styles, up=self.up, fused=self.fused_modulation
    )
    strength = self.param('noise_strength', nn.initializers.zeros, ())
    side = (self.resolution, self.resolution)
    if train:
      noise = jax.random.normal(self.make_rng('noise'), (x.shape[0], *side, 1))
    else:
      constant = self.variable(
        'noise_const', 'noise', lambda: jax.random.normal(self.make_rng('params'), side)
      )
      noise = constant.value[None, :, :, None]
    x = x + (noise * strength).astype(x.dtype)
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    return layers.bias_act(x, bias, 'lrelu', clamp=self.conv_clamp)


class ToRGB(nn.Module):
  """Modulated 1x1 convolution without demodulation, bias, clamp (the reference's ToRGBLayer)."""

  channels: int
  conv_clamp: Optional[float] = None
  fused_modulation: bool = False
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    """x [B, r, r, in], w [B, w_dim] -> float32 [B, r, r, channels]."""
    # Equalized lr through the styles: the weight's gain 1 / sqrt(fan_in) scales them.
    styles = layers.EqualizedDense(x.shape[-1], bias_init=1.0, name='affine')(w)
    styles = styles / math.sqrt(x.shape[-1])
    weight = self.param('kernel', nn.initializers.normal(1.0), (1, 1, x.shape[-1], self.channels))
    x = layers.modulated_conv2d(
      x.astype(self.dtype), weight, styles, demodulate=False, fused=self.fused_modulation
    )
    bias = self.param('bias', nn.initializers.zeros, (self.channels,))
    return layers.bias_act(x.astype(jnp.float32), bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
  """One resolution of the 'skip' synthesis network (the reference's SynthesisBlock).

  At 4x4: the learned constant [4, 4, features] (N(0, 1)), one layer, ToRGB.
  Above: an up-sampling layer, a layer, ToRGB added to the FIR-upsampled image.
  """

  resolution: int
  features: int
  image_channels: int
  conv_clamp: Optional[float] = None
  fused_modulation: bool = False
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, image, ws: jax.Array, *, train: bool):
    """(x [B, r/2, r/2, in] or None at 4x4, image [B, r/2, r/2, C] or None, ws [B, n, w_dim]
    with n = this block's layers + 1) -> (x [B, r, r, features], image [B, r, r, C])."""
    shared = dict(conv_clamp=self.conv_clamp, fused_modulation=self.fused_modulation)
    layer = lambda up, name: SynthesisLayer(
      self.features, self.resolution, up, **shared, dtype=self.dtype, name=name
    )
    if x is None:
      side = (self.resolution, self.resolution)
      constant = self.param('const', nn.initializers.normal(1.0), (*side, self.features))
      x = jnp.broadcast_to(constant.astype(self.dtype), (ws.shape[0], *constant.shape))
      x = layer(1, 'conv1')(x, ws[:, 0], train=train)
    else:
      x = layer(2, 'conv0')(x, ws[:, 0], train=train)
      x = layer(1, 'conv1')(x, ws[:, 1], train=train)
    rgb = ToRGB(self.image_channels, **shared, dtype=self.dtype, name='torgb')(x, ws[:, -1])
    if image is not None:
      rgb = rgb + layers.upsample2d(image, layers.setup_filter())
    return x, rgb


class SynthesisNetwork(nn.Module):
  """ws [B, num_ws, w_dim] -> float32 images [B, side, side, channels] (SynthesisNetwork)."""

  image_size: int
  channels: int
  channel_base: int
  channel_max: int
  conv_clamp: Optional[float] = None
  fused_modulation: bool = False
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, ws: jax.Array, *, train: bool) -> jax.Array:
    x = image = None
    first_w = 0
    for log2 in range(2, int(math.log2(self.image_size)) + 1):
      resolution = 2**log2
      num_conv = 1 if resolution == 4 else 2
      block = SynthesisBlock(
        resolution,
        channels_at(resolution, self.channel_base, self.channel_max),
        self.channels,
        self.conv_clamp,
        self.fused_modulation,
        self.dtype,
        name=f'b{resolution}',
      )
      x, image = block(x, image, ws[:, first_w : first_w + num_conv + 1], train=train)
      first_w += num_conv
    return image


class Generator(nn.Module):
  """StyleGAN2's G: G(z [B, latent_dim], labels [B] or None, *, train) -> float32
  images [B, side, side, channels] (no tanh, as the reference).

  Attributes:
    image_size, channels: of the images.
    w_dim: size of w (z's size is its input's).
    mapping_layers, mapping_lr_multiplier: of the mapping network.
    channel_base, channel_max: the widths (`channels_at`).
    conv_clamp: clamp of every layer's output; None for none.
    style_mixing_probability: of mixing two z's in training; 0 for never.
    truncation_psi: psi of the truncation trick outside training; 1 for none
      (sampling uses `generator.clone(truncation_psi=0.7)`).
    num_classes, conditioning: 'none', or 'projection' (the label's embedding
      enters the mapping network).
    batch_axis_name: the mesh axis over which w_avg's update is averaged, or None.
    fused_modulation: compute each modulated convolution as one grouped
      convolution (the reference's fused_modconv, its choice outside training)
      instead of scaling the activations around a shared one (its choice in
      training). Equal results; XLA:CPU runs the grouped form ~20x slower
      (batch 32, 16x16, 128 channels: 1.6 s against 0.08 s).
    dtype: of the synthesis convolutions (parameters, mapping, images: float32).
  """

  image_size: int
  channels: int
  w_dim: int = 512
  mapping_layers: int = 8
  mapping_lr_multiplier: float = 0.01
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = 256.0
  style_mixing_probability: float = 0.9
  truncation_psi: float = 1.0
  num_classes: int = 0
  conditioning: str = 'none'
  batch_axis_name: Optional[str] = None
  fused_modulation: bool = False
  dtype: Dtype = jnp.float32

  def setup(self):
    classes = self.num_classes if self.conditioning == 'projection' else 0
    self.mapping = layers.MappingNetwork(
      self.w_dim, self.mapping_layers, self.mapping_lr_multiplier, classes
    )
    self.latent_average = LatentAverage(self.w_dim, batch_axis_name=self.batch_axis_name)
    self.synthesis_network = SynthesisNetwork(
      self.image_size,
      self.channels,
      self.channel_base,
      self.channel_max,
      self.conv_clamp,
      self.fused_modulation,
      self.dtype,
    )

  def styles(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool) -> jax.Array:
    """z [B, latent_dim] -> ws [B, num_ws, w_dim], float32.

    train=True updates w_avg (mutable 'w_average') and mixes styles with
    probability `style_mixing_probability` (rng stream 'noise'); train=False
    applies the truncation trick with `truncation_psi`.
    """
    w = self.mapping(z, labels)
    w_avg = self.latent_average(w if train else None)
    count = num_ws(self.image_size)
    ws = jnp.broadcast_to(w[:, None], (w.shape[0], count, self.w_dim))
    if train and self.style_mixing_probability > 0:
      cutoff_rng, coin_rng, z_rng = jax.random.split(self.make_rng('noise'), 3)
      cutoff = jax.random.randint(cutoff_rng, (), 1, count)
      mixing = jax.random.uniform(coin_rng) < self.style_mixing_probability
      cutoff = jnp.where(mixing, cutoff, count)
      # The second z's w leaves w_avg alone, as the reference's skip_w_avg_update.
      mixed = self.mapping(jax.random.normal(z_rng, z.shape, z.dtype), labels)
      ws = jnp.where((jnp.arange(count) >= cutoff)[None, :, None], mixed[:, None], ws)
    if not train and self.truncation_psi != 1:
      ws = w_avg + self.truncation_psi * (ws - w_avg)
    return ws

  def synthesis(self, ws: jax.Array, *, train: bool) -> jax.Array:
    """ws [B, num_ws, w_dim] -> float32 images [B, side, side, channels]; train=True draws the
    noise inputs from rng stream 'noise', train=False reads 'noise_const'."""
    return self.synthesis_network(ws, train=train)

  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None, *, train: bool):
    return self.synthesis(self.styles(z, labels, train=train), train=train)


class DiscriminatorBlock(nn.Module):
  """One resolution of D (the reference's DiscriminatorBlock): [FromRGB,] two 3x3 convs, the
  second down-sampling; 'resnet' adds a 1x1 down-sampling skip, both scaled by sqrt(0.5)."""

  features: int
  out_features: int
  architecture: str = 'resnet'
  conv_clamp: Optional[float] = None
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Optional[jax.Array], image: jax.Array) -> jax.Array:
    """x [B, r, r, features] or None at the top, image [B, r, r, C] -> [B, r/2, r/2, out]."""
    conv = lambda features, size, **kwargs: layers.EqualizedConv(
      features, size, dtype=self.dtype, **kwargs
    )
    activated = dict(activation='lrelu', conv_clamp=self.conv_clamp)
    if x is None:
      x = conv(self.features, 1, **activated, name='fromrgb')(image)
    if self.architecture == 'resnet':
      skip = conv(self.out_features, 1, use_bias=False, down=2, name='skip')
      y = skip(x, gain=math.sqrt(0.5))
      x = conv(self.features, 3, **activated, name='conv0')(x)
      x = conv(self.out_features, 3, down=2, **activated, name='conv1')(x, gain=math.sqrt(0.5))
      return y + x
    x = conv(self.features, 3, **activated, name='conv0')(x)
    return conv(self.out_features, 3, down=2, **activated, name='conv1')(x)


class Discriminator(nn.Module):
  """StyleGAN2's D: D(images [B, side, side, channels], labels [B] or None, *, train) ->
  `DiscriminatorLogits` (logits [B], float32).

  Attributes:
    image_size, channels: of the images.
    channel_base, channel_max: the widths (`channels_at`).
    architecture: 'resnet' (config E/F) or 'orig'.
    minibatch_std_group_size, minibatch_std_channels: of the minibatch
      standard deviation layer (group min(size, batch); 0 channels: none).
    conv_clamp: clamp of the convolutions' outputs; None for none.
    num_classes, conditioning: 'none' or 'projection' (D's mapping network cmap).
    dtype: of the blocks' convolutions (parameters and epilogue: float32).
  """

  image_size: int
  channels: int
  channel_base: int = 32768
  channel_max: int = 512
  architecture: str = 'resnet'
  minibatch_std_group_size: int = 4
  minibatch_std_channels: int = 1
  conv_clamp: Optional[float] = 256.0
  num_classes: int = 0
  conditioning: str = 'none'
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(
    self, images: jax.Array, labels: Optional[jax.Array] = None, *, train: bool
  ) -> DiscriminatorLogits:
    del train  # No dropout, no batch statistics.
    width = lambda resolution: channels_at(resolution, self.channel_base, self.channel_max)
    x, image = None, images.astype(self.dtype)
    for log2 in range(int(math.log2(self.image_size)), 2, -1):
      resolution = 2**log2
      x = DiscriminatorBlock(
        width(resolution),
        width(resolution // 2),
        self.architecture,
        self.conv_clamp,
        self.dtype,
        name=f'b{resolution}',
      )(x, image)
    cmap = None
    if self.conditioning == 'projection':
      cmap = layers.MappingNetwork(
        width(4),
        DISCRIMINATOR_MAPPING_LAYERS,
        DISCRIMINATOR_MAPPING_LR_MULTIPLIER,
        self.num_classes,
        name='mapping',
      )(None, labels)
    epilogue = DiscriminatorEpilogue(
      self.minibatch_std_group_size, self.minibatch_std_channels, self.conv_clamp, name='b4'
    )
    return DiscriminatorLogits(epilogue(x, cmap))


class DiscriminatorEpilogue(nn.Module):
  """D at 4x4 (the reference's DiscriminatorEpilogue, 'resnet'/'orig'), in float32: minibatch
  std, 3x3 conv, fully connected, output; with cmap, <output, cmap> / sqrt(cmap_dim)."""

  minibatch_std_group_size: int
  minibatch_std_channels: int
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, x: jax.Array, cmap: Optional[jax.Array] = None) -> jax.Array:
    """x [B, 4, 4, C], cmap [B, C] or None -> logits [B], float32."""
    x = x.astype(jnp.float32)
    features = x.shape[-1]
    if self.minibatch_std_channels > 0:
      x = layers.minibatch_std(x, self.minibatch_std_group_size, self.minibatch_std_channels)
    x = layers.EqualizedConv(features, 3, 'lrelu', conv_clamp=self.conv_clamp, name='conv')(x)
    # Flattened channel-major, as the reference's NCHW flatten.
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
    x = layers.EqualizedDense(features, 'lrelu', name='fc')(x)
    if cmap is None:
      return layers.EqualizedDense(1, name='out')(x)[:, 0]
    x = layers.EqualizedDense(cmap.shape[-1], name='out')(x)
    return jnp.sum(x * cmap, axis=-1) / math.sqrt(cmap.shape[-1])
