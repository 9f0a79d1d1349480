"""Tests of StyleGAN2's layers against scipy, per-sample convolutions and closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal
from jax import lax

from gan_jax import errors
from gan_jax.models import stylegan2_layers as layers

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _direct_upfirdn2d(x, filt, up, down, padding, gain):
  """The definition of upfirdn2d, one image and channel at a time with scipy.signal.convolve2d."""
  px0, px1, py0, py1 = padding
  batch, height, width, channels = x.shape
  upsampled = np.zeros((batch, height * up, width * up, channels), np.float64)
  upsampled[:, ::up, ::up] = x
  padded = np.pad(
    upsampled, ((0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)), (0, 0))
  )
  padded = padded[:, max(-py0, 0) : padded.shape[1] - max(-py1, 0)]
  padded = padded[:, :, max(-px0, 0) : padded.shape[2] - max(-px1, 0)]
  out = [
    [
      scipy.signal.convolve2d(padded[b, :, :, c], filt * gain, mode='valid')
      for c in range(channels)
    ]
    for b in range(batch)
  ]
  return np.moveaxis(np.asarray(out), 1, -1)[:, ::down, ::down]


@pytest.mark.parametrize(
  'up, down, padding',
  [(1, 1, (1, 2, 2, 1)), (2, 1, (2, 1, 3, 0)), (1, 2, (1, 1, 2, 1)), (2, 1, (-1, 2, 1, -2))],
)
def test_upfirdn2d_equals_the_direct_computation(up, down, padding):
  x = np.random.RandomState(0).randn(2, 6, 7, 3).astype(np.float32)
  taps = layers.setup_filter()
  ours = layers.upfirdn2d(jnp.asarray(x), taps, up=up, down=down, padding=padding, gain=up**2)
  direct = _direct_upfirdn2d(x, np.outer(taps, taps), up, down, padding, up**2)
  np.testing.assert_allclose(ours, direct, atol=1e-5)


def test_fir_taps_are_1_3_3_1_normalized():
  np.testing.assert_allclose(layers.setup_filter(), np.array([1, 3, 3, 1]) / 8)


def test_upsample_and_downsample_equal_scipy_upfirdn():
  """scipy.signal.upfirdn(h, x, up, down) zero-inserts, convolves fully, keeps every down-th
  output; the reference's padding keeps the [offset, offset + size) window of that."""
  x = np.random.RandomState(1).randn(2, 8, 8, 3).astype(np.float32)
  taps = np.array([1.0, 3.0, 3.0, 1.0]) / 8
  taps = layers.setup_filter()

  def scipy_2d(h, signal, **kwargs):
    return scipy.signal.upfirdn(
      h, scipy.signal.upfirdn(h, signal, axis=1, **kwargs), axis=2, **kwargs
    )

  # Up: padding (2, 1) of the 4-tap filter starts one sample into the full convolution.
  up = scipy_2d(2 * taps, x, up=2)[:, 1:17, 1:17]
  np.testing.assert_allclose(layers.upsample2d(jnp.asarray(x), taps), up, atol=1e-6)
  # Down: padding (1, 1), the full convolution's samples 2, 4, ... from index 2.
  full = scipy_2d(taps, x)
  np.testing.assert_allclose(
    layers.downsample2d(jnp.asarray(x), taps), full[:, 2:-1:2, 2:-1:2], atol=1e-6
  )
  # The filter keeps constants: a constant image stays constant inside.
  ones = jnp.ones((1, 8, 8, 1))
  np.testing.assert_allclose(layers.upsample2d(ones, taps)[0, 2:-2, 2:-2], 1.0, rtol=1e-6)
  np.testing.assert_allclose(layers.downsample2d(ones, taps)[0, 1:-1, 1:-1], 1.0, rtol=1e-6)


@pytest.mark.parametrize('kernel_size', [1, 3])
def test_down_sampling_convolution_equals_filter_then_convolution_then_decimation(kernel_size):
  """conv2d_resample's fast paths equal the reference's generic path: upfirdn2d (pad), conv, keep
  every other pixel."""
  rng = np.random.RandomState(2)
  x = jnp.asarray(rng.randn(2, 8, 8, 3), jnp.float32)
  weight = jnp.asarray(rng.randn(kernel_size, kernel_size, 3, 5), jnp.float32)
  taps = layers.setup_filter()
  padding = kernel_size // 2
  before, after = padding + 1, padding + 1  # (f - down + 1) // 2 and (f - down) // 2 for f = 4.
  filtered = layers.upfirdn2d(x, taps, padding=(before, after, before, after))
  generic = lax.conv_general_dilated(filtered, weight, (1, 1), 'VALID', dimension_numbers=_NHWC)
  ours = layers.conv2d_resample(x, weight, taps, down=2, padding=padding)
  np.testing.assert_allclose(ours, generic[:, ::2, ::2], atol=1e-5)


def _per_sample_modulated_conv(x, weight, styles, demodulate, up):
  """Each sample's own weight s_i w_ijk (demodulated), and its own lax convolution; up-sampling
  as the reference's generic path: upfirdn2d(up=2, gain 4) then a true convolution."""
  outputs = []
  for sample, style in zip(x, styles):
    w = weight * style[None, None, :, None]
    if demodulate:
      w = w / jnp.sqrt(jnp.sum(jnp.square(w), axis=(0, 1, 2)) + 1e-8)
    sample = sample[None]
    if up == 2:
      sample = layers.upfirdn2d(sample, layers.setup_filter(), up=2, padding=(3, 2, 3, 2), gain=4)
      out = lax.conv_general_dilated(
        sample, w[::-1, ::-1], (1, 1), 'VALID', dimension_numbers=_NHWC
      )
    else:
      out = lax.conv_general_dilated(sample, w, (1, 1), 'SAME', dimension_numbers=_NHWC)
    outputs.append(out[0])
  return jnp.stack(outputs)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize(
  'kernel_size, demodulate, up',
  [(3, True, 1), (3, False, 1), (3, True, 2), (3, False, 2), (1, False, 1)],
)
def test_modulated_convolution_equals_per_sample_convolutions(kernel_size, demodulate, up, fused):
  rng = np.random.RandomState(3)
  x = jnp.asarray(rng.randn(3, 5, 5, 4), jnp.float32)
  weight = jnp.asarray(rng.randn(kernel_size, kernel_size, 4, 6), jnp.float32)
  styles = jnp.asarray(1 + 0.5 * rng.randn(3, 4), jnp.float32)
  ours = layers.modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up, fused=fused)
  reference = _per_sample_modulated_conv(x, weight, styles, demodulate, up)
  assert ours.shape == (3, 5 * up, 5 * up, 6)
  np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)


def test_demodulation_gives_unit_output_variance():
  """Eq. 2-3: with i.i.d. unit-variance input an output pixel away from the border is
  sum_ik w''_ik x_ik ~ N(0, sum_ik w''_ik^2) = N(0, 1 - O(1e-8)) whatever the styles.

  One interior pixel per sample (3x3 input), each sample its own styles: the n values of an
  output channel are i.i.d. N(0, 1), so their mean square has standard deviation sqrt(2 / n);
  every channel must be within 5 of those of 1, and without demodulation far from it.
  """
  batch, in_channels, out_channels = 16384, 8, 4
  rng = np.random.RandomState(6)
  x = jnp.asarray(rng.randn(batch, 3, 3, in_channels), jnp.float32)
  weight = jnp.asarray(rng.randn(3, 3, in_channels, out_channels), jnp.float32)
  styles = jnp.asarray(1 + rng.randn(batch, in_channels), jnp.float32)
  center = lambda y: y[:, 1, 1, :]
  mean_square = jnp.mean(
    jnp.square(center(layers.modulated_conv2d(x, weight, styles, fused=False))), 0
  )
  np.testing.assert_array_less(jnp.abs(mean_square - 1), 5 * math.sqrt(2 / batch))
  raw = layers.modulated_conv2d(x, weight, styles, demodulate=False, fused=False)
  assert jnp.all(jnp.mean(jnp.square(center(raw)), 0) > 10)


def test_equalized_dense_scales_its_stored_weight_at_run_time():
  """Stored kernel ~ N(0, 1) / lr_multiplier, bias = bias_init; the layer uses kernel *
  lr_multiplier / sqrt(fan_in) and bias * lr_multiplier, so the effective weight is
  N(0, 1 / fan_in) whatever the multiplier."""
  fan_in, features, lr_multiplier = 512, 256, 0.01
  layer = layers.EqualizedDense(features, lr_multiplier=lr_multiplier, bias_init=0.5)
  params = layer.init(jax.random.key(0), jnp.zeros((1, fan_in)))['params']
  # The layer's output on the basis vectors: its effective weight plus its effective bias.
  effective = layer.apply({'params': params}, jnp.eye(fan_in)) - layer.apply(
    {'params': params}, jnp.zeros((1, fan_in))
  )
  np.testing.assert_allclose(
    effective, params['kernel'] * lr_multiplier / math.sqrt(fan_in), rtol=1e-5, atol=1e-8
  )
  np.testing.assert_allclose(params['bias'], 0.5)
  np.testing.assert_allclose(
    layer.apply({'params': params}, jnp.zeros((1, fan_in))), 0.005, rtol=1e-6
  )
  # Sample std of n = fan_in * features N(0, s^2) values: relative standard error 1 / sqrt(2 n).
  tolerance = 5 / math.sqrt(2 * effective.size)
  np.testing.assert_allclose(jnp.std(effective) * math.sqrt(fan_in), 1.0, rtol=tolerance)
  np.testing.assert_allclose(jnp.std(params['kernel']) * lr_multiplier, 1.0, rtol=tolerance)


def test_equalized_conv_is_a_he_scaled_convolution_with_gain_and_clamp():
  """y = clamp(lrelu(conv(x, kernel / sqrt(in k^2)) + b) * sqrt(2) * gain, clamp * gain)."""
  rng = np.random.RandomState(4)
  x = jnp.asarray(rng.randn(2, 6, 6, 8), jnp.float32)
  layer = layers.EqualizedConv(16, 3, 'lrelu', conv_clamp=1.5)
  shapes = jax.eval_shape(layer.init, jax.random.key(1), x)['params']
  assert shapes['kernel'].shape == (3, 3, 8, 16) and shapes['bias'].shape == (16,)
  params = {
    'kernel': jnp.asarray(rng.randn(3, 3, 8, 16), jnp.float32),
    'bias': jnp.asarray(rng.randn(16), jnp.float32),
  }
  gain = math.sqrt(0.5)
  conv = lax.conv_general_dilated(
    x, params['kernel'] / math.sqrt(8 * 9), (1, 1), 'SAME', dimension_numbers=_NHWC
  )
  pre = np.asarray(conv + params['bias'])
  expected = np.clip(
    np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2) * gain, -1.5 * gain, 1.5 * gain
  )
  np.testing.assert_allclose(layer.apply({'params': params}, x, gain=gain), expected, atol=1e-5)
  assert np.any(np.abs(expected) == 1.5 * gain)  # The clamp was exercised.


def _numpy_minibatch_std(x, group_size, num_channels):
  batch, height, width, channels = x.shape
  group = batch if group_size is None else min(group_size, batch)
  groups = batch // group
  out = np.zeros((batch, height, width, num_channels))
  for i in range(batch):
    members = x[[j for j in range(batch) if j % groups == i % groups]].astype(np.float64)
    std = np.sqrt(members.var(axis=0) + 1e-8)  # [H, W, C], variance with 1 / G.
    for f in range(num_channels):
      size = channels // num_channels
      out[i, :, :, f] = std[:, :, f * size : (f + 1) * size].mean()
  return np.concatenate([x, out], axis=-1)


@pytest.mark.parametrize(
  'batch, group_size, num_channels', [(8, 4, 1), (8, 2, 2), (6, None, 1), (2, 4, 1)]
)
def test_minibatch_std_equals_its_formula(batch, group_size, num_channels):
  x = np.random.RandomState(5).randn(batch, 4, 4, 6).astype(np.float32)
  ours = layers.minibatch_std(jnp.asarray(x), group_size, num_channels)
  np.testing.assert_allclose(ours, _numpy_minibatch_std(x, group_size, num_channels), rtol=1e-5)


def test_minibatch_std_refuses_a_batch_that_does_not_split_into_groups():
  with pytest.raises(errors.ConfigError, match='minibatch_std_group_size'):
    layers.minibatch_std(jnp.zeros((6, 4, 4, 2)), 4)


def test_bias_act_is_bias_leaky_relu_gain_clamp():
  x = jnp.asarray([[-2.0, -0.5, 0.5, 3.0]])
  bias = jnp.asarray([0.0, 1.0, -1.0, 0.0])
  pre = np.asarray(x + bias)
  expected = np.clip(np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2), -2.0, 2.0)
  np.testing.assert_allclose(layers.bias_act(x, bias, 'lrelu', clamp=2.0), expected, rtol=1e-6)
  np.testing.assert_allclose(layers.bias_act(x, bias), pre)
