"""Tests of `conv_transpose` against its scatter definition and XLA's own derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gan_jax.models.conv_transpose import conv_transpose

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _scattered(x, weight, stride):
  """The definition: input pixel (i, j) adds x[i, j] @ weight[k-1-a, k-1-b] at output pixel
  (stride * i + a, stride * j + b), in float64."""
  batch, height, width, _ = x.shape
  size = weight.shape[0]
  out = np.zeros(
    (batch, (height - 1) * stride + size, (width - 1) * stride + size, weight.shape[3])
  )
  for i in range(height):
    for j in range(width):
      for a in range(size):
        for b in range(size):
          out[:, stride * i + a, stride * j + b] += x[:, i, j] @ weight[size - 1 - a, size - 1 - b]
  return out


def _dilated(x, weight, stride):
  """The same function as XLA's input-dilated convolution, differentiated by JAX's own rules."""
  size = weight.shape[0]
  return lax.conv_general_dilated(
    x, weight, (1, 1), ((size - 1, size - 1),) * 2, lhs_dilation=(stride, stride),
    dimension_numbers=_NHWC,
  )  # fmt: skip


_CASES = [(2, 3, (5, 4)), (2, 4, (3, 3)), (3, 3, (2, 5)), (2, 1, (4, 4)), (1, 3, (4, 3))]


def _arguments(stride, size, spatial, seed=0):
  rng = np.random.RandomState(seed)
  x = rng.randn(2, *spatial, 3).astype(np.float32)
  weight = rng.randn(size, size, 3, 5).astype(np.float32)
  return x, weight


@pytest.mark.parametrize('stride, size, spatial', _CASES)
def test_output_is_the_scatter_of_every_input_pixel(stride, size, spatial):
  x, weight = _arguments(stride, size, spatial)
  np.testing.assert_allclose(
    conv_transpose(x, weight, stride), _scattered(x, weight, stride), rtol=1e-5, atol=1e-4
  )


@pytest.mark.parametrize('stride, size, spatial', _CASES)
def test_gradients_equal_those_of_the_dilated_convolution(stride, size, spatial):
  x, weight = _arguments(stride, size, spatial)
  cotangent = np.random.RandomState(1).randn(*_scattered(x, weight, stride).shape)
  cotangent = cotangent.astype(np.float32)
  ours = jax.vjp(lambda x, w: conv_transpose(x, w, stride), x, weight)[1](cotangent)
  xla = jax.vjp(lambda x, w: _dilated(x, w, stride), x, weight)[1](cotangent)
  for ours_gradient, xla_gradient in zip(ours, xla):
    np.testing.assert_allclose(ours_gradient, xla_gradient, rtol=1e-4, atol=1e-4)


def test_second_derivatives_equal_those_of_the_dilated_convolution():
  """A path-length-like penalty: the squared input gradient, differentiated by both arguments."""
  x, weight = _arguments(2, 3, (4, 5))
  noise = np.random.RandomState(2).randn(*_scattered(x, weight, 2).shape).astype(np.float32)

  def penalty(layer):
    def of(x, weight):
      input_gradient = jax.grad(lambda x: jnp.sum(jnp.tanh(layer(x, weight, 2)) * noise))(x)
      return jnp.sum(jnp.square(input_gradient))

    return jax.grad(of, argnums=(0, 1))(x, weight)

  for ours, xla in zip(penalty(conv_transpose), penalty(_dilated)):
    np.testing.assert_allclose(ours, xla, rtol=1e-4, atol=1e-4)
