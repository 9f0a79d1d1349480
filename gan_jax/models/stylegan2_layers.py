"""The layers of StyleGAN2 (Karras et al. 2020), as StyleGAN2-ADA's official code builds them.

Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN",
and NVlabs/stylegan2-ada-pytorch (`training/networks.py` and
`torch_utils/ops/{upfirdn2d,bias_act,conv2d_resample}.py`), the reference for
every detail here, in NHWC (images [batch, height, width, channels]) and with
convolution weights [kernel_h, kernel_w, in, out]:

  - FIR resampling, `upfirdn2d`: upsample by inserting zeros, pad (or crop),
    convolve with a 2D FIR filter (the outer product of [1, 3, 3, 1],
    normalized to sum 1, Zhang 2019's anti-aliasing; computed separably),
    keep every n-th pixel.
  - Equalized learning rate (Karras et al. 2018, section 4.1): parameters
    are stored N(0, 1) / lr_multiplier and scaled at run time by lr_multiplier
    * gain / sqrt(fan_in), biases by lr_multiplier, so that Adam's step moves
    every layer at the same relative rate.
  - `bias_act`: bias, activation ('linear', or leaky ReLU 0.2 with gain
    sqrt(2)), optional clamp to [-clamp, clamp].
  - `modulated_conv2d`: StyleGAN2's modulation and weight demodulation
    (section 2.2, Eq. 1-3), with FIR up-sampling.
  - `minibatch_std`: the minibatch standard deviation layer (Karras et al.
    2018, section 3), in groups.
  - `MappingNetwork`: labels and/or z to w through equalized dense layers
    (G's z -> w; D's label -> cmap).
"""

import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.typing import Dtype
from jax import lax

from gan_jax import errors
from gan_jax.models import conv_transpose

# The reference's resample filter for every up- and down-sampling.
RESAMPLE_TAPS = (1, 3, 3, 1)
LEAKY_RELU_SLOPE = 0.2
# The activations and their default gains (bias_act.activation_funcs): sqrt(2)
# for leaky ReLU keeps the second moment of He-initialized layers (He et al. 2015).
ACTIVATION_GAINS = {'linear': 1.0, 'lrelu': math.sqrt(2.0)}
_NHWC = ('NHWC', 'HWIO', 'NHWC')


def setup_filter(taps=RESAMPLE_TAPS) -> np.ndarray:
  """The FIR filter's 1D taps normalized to sum 1, float32 [k]: the 2D filter is their outer
  product (sum 1 too), as the reference's `upfirdn2d.setup_filter` builds it from [1, 3, 3, 1]."""
  taps = np.asarray(taps, np.float64)
  return (taps / taps.sum()).astype(np.float32)


def _filter_axis(x: jax.Array, taps: np.ndarray, down: int, axis: int) -> jax.Array:
  """The valid true convolution of x with 1D `taps` along `axis`, every down-th output."""
  size = (x.shape[axis] - len(taps)) // down + 1
  limit = lambda start: start + down * (size - 1) + 1
  shifted = lambda k: lax.slice_in_dim(x, k, limit(k), down, axis)
  # A true convolution correlates with the flipped taps; a sum of shifted slices because
  # XLA:CPU runs a depthwise convolution (feature_group_count = channels) ~200x slower.
  return sum(float(tap) * shifted(k) for k, tap in enumerate(taps[::-1]))


def upfirdn2d(
  x: jax.Array, taps: np.ndarray, up: int = 1, down: int = 1, padding=(0, 0, 0, 0), gain=1.0
) -> jax.Array:
  """Upsample, pad, FIR-filter, downsample each channel of x [N, H, W, C] (the reference's
  `upfirdn2d`, as scipy.signal.upfirdn in 2D).

  1. insert up - 1 zeros after each pixel: [N, H * up, W * up, C];
  2. pad with zeros by padding = (x_before, x_after, y_before, y_after),
     negative values cropping;
  3. convolve (a true convolution) with the 2D filter gain * outer(taps, taps),
     keeping only the outputs whose footprint lies inside the padded image;
  4. keep every down-th pixel, from the first.

  Returns [N, (H * up + y_before + y_after - k) // down + 1, ..., C] for k taps.
  """
  px0, px1, py0, py1 = padding
  # lax.pad's interior padding inserts up - 1 zeros between pixels; the high
  # side gets the up - 1 zeros after the last pixel as well.
  x = lax.pad(
    x,
    jnp.zeros((), x.dtype),
    ((0, 0, 0), (py0, py1 + up - 1, up - 1), (px0, px1 + up - 1, up - 1), (0, 0, 0)),
  )
  taps = taps * math.sqrt(gain)  # Half of the gain on each axis.
  return _filter_axis(_filter_axis(x, taps, down, 1), taps, down, 2)


def upsample2d(x: jax.Array, taps: np.ndarray, up: int = 2) -> jax.Array:
  """FIR up-sampling [N, H, W, C] -> [N, H * up, W * up, C] with gain up^2, which keeps the
  mean of the signal (the reference's `upfirdn2d.upsample2d`)."""
  size = len(taps)
  before, after = (size + up - 1) // 2, (size - up) // 2
  return upfirdn2d(x, taps, up=up, padding=(before, after, before, after), gain=up**2)


def downsample2d(x: jax.Array, taps: np.ndarray, down: int = 2) -> jax.Array:
  """FIR down-sampling [N, H, W, C] -> [N, H / down, W / down, C] (`upfirdn2d.downsample2d`)."""
  size = len(taps)
  before, after = (size - down + 1) // 2, (size - down) // 2
  return upfirdn2d(x, taps, down=down, padding=(before, after, before, after))


def conv2d_resample(
  x: jax.Array,
  weight: jax.Array,
  taps: Optional[np.ndarray] = None,
  up: int = 1,
  down: int = 1,
  padding: int = 0,
  groups: int = 1,
  flip_weight: bool = True,
) -> jax.Array:
  """A 2D convolution with FIR up- or down-sampling (the reference's `conv2d_resample`).

  Equal to upfirdn2d(x, taps, up, gain=up^2, padding), then the convolution,
  then upfirdn2d(taps, down), computed as the reference does: up-sampling as a
  transposed (zero-inserting) convolution followed by the FIR filter,
  down-sampling as the FIR filter followed by a strided convolution.

  Args:
    x: [N, H, W, C_in].
    weight: [k, k, C_in / groups, C_out].
    taps: the FIR filter's taps (`setup_filter`), for up or down > 1.
    up, down: integer factors, one of them 1.
    padding: of the up-sampled image, per side (k // 2 keeps the size).
    groups: feature groups (`lax.conv_general_dilated`'s feature_group_count).
    flip_weight: True correlates with weight (torch's conv2d), False convolves
      (the reference's up-sampling layers).

  Returns:
    [N, H * up / down, W * up / down, C_out].
  """
  kernel_size = weight.shape[0]
  if not flip_weight:
    weight = weight[::-1, ::-1]
  conv = lambda inputs, pad, stride=1, dilation=1: lax.conv_general_dilated(
    inputs,
    weight.astype(inputs.dtype),
    window_strides=(stride, stride),
    padding=(pad, pad),
    lhs_dilation=(dilation, dilation),
    dimension_numbers=_NHWC,
    feature_group_count=groups,
  )
  if up > 1:
    size = len(taps)
    before = padding + (size + up - 1) // 2 - (kernel_size - 1)
    after = padding + (size - up) // 2 - (kernel_size - up)
    # The full transposed convolution: [N, (H - 1) * up + k, ...], differentiated fast
    # (`conv_transpose`) when it is not grouped.
    if groups == 1:
      x = conv_transpose.conv_transpose(x, weight.astype(x.dtype), up)
    else:
      x = conv(x, (kernel_size - 1, kernel_size - 1), dilation=up)
    return upfirdn2d(x, taps, padding=(before, after, before, after), gain=up**2)
  if down > 1:
    size = len(taps)
    before = padding + (size - down + 1) // 2
    after = padding + (size - down) // 2
    if kernel_size == 1:  # Down-sample first: fewer pixels to convolve.
      x = upfirdn2d(x, taps, down=down, padding=(before, after, before, after))
      return conv(x, (0, 0))
    x = upfirdn2d(x, taps, padding=(before, after, before, after))
    return conv(x, (0, 0), stride=down)
  return conv(x, (padding, padding))


def bias_act(
  x: jax.Array,
  bias: Optional[jax.Array] = None,
  activation: str = 'linear',
  gain: Optional[float] = None,
  clamp: Optional[float] = None,
) -> jax.Array:
  """(act(x + bias) * gain) clamped to [-clamp, clamp] (the reference's `bias_act`).

  x [..., C], bias [C]; activation 'linear' or 'lrelu' (slope 0.2); gain None
  takes the activation's (1, sqrt(2)); clamp None does not clamp.
  """
  if bias is not None:
    x = x + bias.astype(x.dtype)
  if activation == 'lrelu':
    x = nn.leaky_relu(x, LEAKY_RELU_SLOPE)
  gain = ACTIVATION_GAINS[activation] if gain is None else gain
  if gain != 1:
    x = x * gain
  if clamp is not None:
    x = jnp.clip(x, -clamp, clamp)
  return x


def _standard_normal(lr_multiplier: float = 1.0):
  """N(0, 1) / lr_multiplier: the stored parameter of an equalized layer."""
  return lambda rng, shape, dtype=jnp.float32: jax.random.normal(rng, shape, dtype) / lr_multiplier


class EqualizedDense(nn.Module):
  """A fully connected layer with equalized learning rate (the reference's FullyConnectedLayer).

  y = act(x @ (kernel * lr_multiplier / sqrt(fan_in)) + bias * lr_multiplier),
  with kernel [fan_in, features] stored N(0, 1) / lr_multiplier (so the
  effective weight is N(0, 1 / fan_in) at init) and bias stored bias_init.

  Attributes:
    features: outputs.
    activation: 'linear' or 'lrelu' (with gain sqrt(2)).
    lr_multiplier: the learning-rate multiplier (0.01 in the mapping network).
    bias_init: the stored initial bias (1 for the style affines: styles start at 1).
    use_bias: whether there is a bias.
    dtype: of the computation (the parameters stay float32).
  """

  features: int
  activation: str = 'linear'
  lr_multiplier: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x [..., fan_in] -> [..., features]."""
    fan_in = x.shape[-1]
    kernel = self.param('kernel', _standard_normal(self.lr_multiplier), (fan_in, self.features))
    weight = kernel * (self.lr_multiplier / math.sqrt(fan_in))
    x = x.astype(self.dtype) @ weight.astype(self.dtype)
    bias = None
    if self.use_bias:
      bias = self.param('bias', nn.initializers.constant(self.bias_init), (self.features,))
      bias = bias * self.lr_multiplier
    return bias_act(x, bias, self.activation)


class EqualizedConv(nn.Module):
  """A convolution with equalized learning rate and FIR resampling (the reference's Conv2dLayer).

  y = clamp(act(conv2d_resample(x, kernel / sqrt(fan_in)) + bias) * act_gain * gain,
  conv_clamp * gain), kernel [k, k, in, features] stored N(0, 1), fan_in = in * k^2,
  padding k // 2; up-sampling convolves, the rest correlate, as in the reference.

  Attributes:
    features: output channels.
    kernel_size: k.
    activation: 'linear' or 'lrelu'.
    use_bias: whether there is a bias.
    up, down: resampling factors (at most one above 1).
    conv_clamp: clamp of the output, None for none.
    dtype: of the computation (the parameters stay float32).
  """

  features: int
  kernel_size: int
  activation: str = 'linear'
  use_bias: bool = True
  up: int = 1
  down: int = 1
  conv_clamp: Optional[float] = None
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, gain: float = 1.0) -> jax.Array:
    """x [N, H, W, in] -> [N, H * up / down, W * up / down, features]; `gain` scales the
    output and the clamp (the residual branches' sqrt(0.5))."""
    fan_in = x.shape[-1] * self.kernel_size**2
    shape = (self.kernel_size, self.kernel_size, x.shape[-1], self.features)
    kernel = self.param('kernel', _standard_normal(), shape)
    x = conv2d_resample(
      x.astype(self.dtype),
      (kernel / math.sqrt(fan_in)).astype(self.dtype),
      setup_filter(),
      up=self.up,
      down=self.down,
      padding=self.kernel_size // 2,
      flip_weight=self.up == 1,
    )
    bias = self.param('bias', nn.initializers.zeros, (self.features,)) if self.use_bias else None
    clamp = None if self.conv_clamp is None else self.conv_clamp * gain
    return bias_act(x, bias, self.activation, ACTIVATION_GAINS[self.activation] * gain, clamp)


def modulated_conv2d(
  x: jax.Array,
  weight: jax.Array,
  styles: jax.Array,
  demodulate: bool = True,
  up: int = 1,
  fused: bool = True,
) -> jax.Array:
  """StyleGAN2's modulated convolution (Karras et al. 2020, section 2.2, Eq. 1-3).

  Each sample b convolves with its own weight w'_bijk = s_bi w_ijk (Eq. 1: the
  input channels i scaled by the styles), demodulated (Eq. 3) to w''_bijk =
  w'_bijk / sqrt(sum_ik w'_bijk^2 + 1e-8), which gives unit output variance
  for unit-variance i.i.d. input (Eq. 2). Up-sampling (up=2) is FIR, in the
  order of the reference's `conv2d_resample`, and convolves rather than
  correlates, as there.

  fused=True computes all samples as one grouped convolution (the batch as
  feature groups; the reference's fused_modconv, which it uses outside
  training); fused=False scales the activations before a shared convolution
  and after it (the reference's choice in training). The two are equal.

  Args:
    x: [B, H, W, I].
    weight: [k, k, I, O], as stored (the demodulation makes its scale moot;
      without it the caller scales `styles`).
    styles: [B, I] the per-sample modulation s.
    demodulate: Eq. 3, or not (ToRGB).
    up: 1 or 2.
    fused: grouped convolution, or scaling around a shared one.

  Returns:
    [B, H * up, W * up, O] in x's dtype.
  """
  batch, kernel_size, in_channels = x.shape[0], weight.shape[0], weight.shape[2]
  styles = styles.astype(jnp.float32)
  resample = dict(
    taps=setup_filter(), up=up, padding=kernel_size // 2, flip_weight=up == 1
  )  # The reference's SynthesisLayer/ToRGBLayer arguments.
  demodulation = None
  if demodulate:  # sum_ik (s_i w_ijk)^2 = sum_i s_i^2 sum_k w_ijk^2: no [B, k, k, I, O] w'.
    squared_norms = jnp.sum(jnp.square(weight.astype(jnp.float32)), axis=(0, 1))  # [I, O]
    squares = jnp.dot(jnp.square(styles), squared_norms, precision=lax.Precision.HIGHEST)
    demodulation = lax.rsqrt(squares + 1e-8)  # [B, O]
  if not fused:
    x = x * styles[:, None, None, :].astype(x.dtype)
    x = conv2d_resample(x, weight.astype(x.dtype), **resample)
    if demodulate:
      x = x * demodulation[:, None, None, :].astype(x.dtype)
    return x
  modulated = weight[None] * styles[:, None, None, :, None]  # [B, k, k, I, O]
  if demodulate:
    modulated = modulated * demodulation[:, None, None, None, :]
  # The batch as feature groups: input [1, H, W, B * I], weight [k, k, I, B * O].
  grouped_x = jnp.moveaxis(x, 0, -2).reshape(1, *x.shape[1:3], batch * in_channels)
  grouped_weight = jnp.moveaxis(modulated, 0, -2).reshape(*modulated.shape[1:4], -1)
  y = conv2d_resample(grouped_x, grouped_weight.astype(x.dtype), groups=batch, **resample)
  return jnp.moveaxis(y.reshape(*y.shape[1:3], batch, -1), -2, 0)


def minibatch_std(x: jax.Array, group_size: Optional[int], num_channels: int = 1) -> jax.Array:
  """The minibatch standard deviation layer (Karras et al. 2018, section 3; the reference's
  MinibatchStdLayer): x [N, H, W, C] -> [N, H, W, C + num_channels].

  The batch splits into groups of G = min(group_size, N) samples (sample i in
  group i mod N / G; None: one group of all N), the channels into
  num_channels groups; each new channel is, for its group of samples, the
  mean over pixels and the channel group of the standard deviation over the
  samples (sqrt(variance + 1e-8), variance with 1/G), computed in float32.
  """
  batch, height, width, channels = x.shape
  group = batch if group_size is None else min(group_size, batch)
  if batch % group:
    raise errors.ConfigError(
      f'The minibatch standard deviation layer splits the batch of {batch} into groups of '
      f'{group}; make the per-device batch a multiple of model.minibatch_std_group_size.'
    )
  y = x.astype(jnp.float32).reshape(
    group, -1, height, width, num_channels, channels // num_channels
  )
  y = y - jnp.mean(y, axis=0)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)  # [N / G, H, W, F, C / F]
  y = jnp.mean(y, axis=(1, 2, 4))  # [N / G, F]
  y = jnp.tile(y, (group, 1))  # Sample i reads the statistics of its group, i mod N / G.
  y = jnp.broadcast_to(y[:, None, None, :], (batch, height, width, num_channels))
  return jnp.concatenate([x, y.astype(x.dtype)], axis=-1)


def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  """x [B, d] / sqrt(mean_d x^2 + eps)."""
  return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


class MappingNetwork(nn.Module):
  """z [B, z_dim] and/or labels [B] -> w [B, w_dim] (the reference's MappingNetwork).

  The normalized z and the normalized embedding of one_hot(labels) (an
  equalized dense layer, when num_classes > 0) are concatenated and go
  through `num_layers` equalized leaky-ReLU dense layers of w_dim features
  with `lr_multiplier`. Float32.
  """

  w_dim: int
  num_layers: int
  lr_multiplier: float
  num_classes: int = 0

  @nn.compact
  def __call__(self, z: Optional[jax.Array], labels: Optional[jax.Array] = None) -> jax.Array:
    inputs = [] if z is None else [normalize_2nd_moment(z.astype(jnp.float32))]
    if self.num_classes > 0:
      if labels is None:
        raise ValueError('This StyleGAN2 is class-conditional and needs labels.')
      embedding = EqualizedDense(self.w_dim, name='embed')(jax.nn.one_hot(labels, self.num_classes))
      inputs.append(normalize_2nd_moment(embedding))
    x = jnp.concatenate(inputs, axis=-1)
    for index in range(self.num_layers):
      x = EqualizedDense(self.w_dim, 'lrelu', lr_multiplier=self.lr_multiplier, name=f'fc{index}')(
        x
      )
    return x
