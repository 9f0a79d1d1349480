"""Tests of SAGAN's self-attention block (Zhang et al. 2019) against its formula."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.models import attention

# BigGAN-PyTorch's `layers.Attention(ch)` (ajbrock/BigGAN-PyTorch, layers.py, commit
# 98459431a5d618d644d54cd1e9fceb1e5045648d): four bias-free 1x1 convolutions
# ch -> ch/8 (theta), ch -> ch/8 (phi), ch -> ch/2 (g), ch/2 -> ch (o) and the
# scalar gamma; its SNConv2d keeps u and sigma as buffers, not parameters. Counted by
# formula from that code: 2 * ch^2/8 + ch^2/2 + ch^2/2 + 1.
REFERENCE_PARAMETERS = {
  64: 2 * 64 * 8 + 64 * 32 + 32 * 64 + 1,
  256: 2 * 256 * 32 + 2 * 256 * 128 + 1,
}


def _init(block, x):
  return block.init(jax.random.key(1), x, train=False)


def _with_gamma(variables, gamma):
  params = dict(variables['params'], gamma=jnp.asarray(gamma, jnp.float32))
  return dict(variables, params=params)


def _reference(x, kernels, gamma):
  """The block as BigGAN-PyTorch computes it, in NumPy on [batch, C, H, W] maps."""
  x = np.transpose(np.asarray(x, np.float64), (0, 3, 1, 2))
  batch, channels, height, width = x.shape

  def conv1x1(h, kernel):  # kernel [in, out], as the dense layers store it.
    return np.einsum('bihw,io->bohw', h, np.asarray(kernel, np.float64))

  def max_pool(h):
    return h.reshape(batch, h.shape[1], height // 2, 2, width // 2, 2).max(axis=(3, 5))

  theta = conv1x1(x, kernels['theta']).reshape(batch, channels // 8, height * width)
  phi = max_pool(conv1x1(x, kernels['phi'])).reshape(batch, channels // 8, -1)
  g = max_pool(conv1x1(x, kernels['g'])).reshape(batch, channels // 2, -1)
  scores = np.einsum('bcq,bck->bqk', theta, phi)
  beta = np.exp(scores - scores.max(-1, keepdims=True))
  beta /= beta.sum(-1, keepdims=True)
  attended = np.einsum('bck,bqk->bcq', g, beta).reshape(batch, channels // 2, height, width)
  out = x + gamma * conv1x1(attended, kernels['output'])
  return np.transpose(out, (0, 2, 3, 1))


def _kernels(params):
  return {name: params[name]['kernel'] for name in ('theta', 'phi', 'g', 'output')}


def test_gamma_zero_is_identity():
  """gamma starts at 0 (Zhang et al. 2019, Eq. 3): the block is exactly the identity."""
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 16))
  block = attention.SelfAttention()
  variables = _init(block, x)
  assert float(variables['params']['gamma']) == 0.0
  output, _ = block.apply(variables, x, train=True, mutable=['batch_stats'])
  np.testing.assert_array_equal(np.asarray(output), np.asarray(x))


@pytest.mark.parametrize('height, width', [(8, 8), (4, 6)])
def test_equals_formula(height, width):
  x = jax.random.normal(jax.random.key(0), (2, height, width, 16))
  block = attention.SelfAttention(spectral_norm=False)
  variables = _with_gamma(_init(block, x), 0.7)
  output = block.apply(variables, x, train=True)
  expected = _reference(x, _kernels(variables['params']), 0.7)
  np.testing.assert_allclose(np.asarray(output), expected, rtol=1e-5, atol=1e-5)


def test_spectral_norm_divides_each_kernel_by_its_top_singular_value():
  """With the power iteration's u at the top singular vector, the kernels are W / sigma_max(W)."""
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16))
  block = attention.SelfAttention(kernel_init=jax.nn.initializers.normal(1.0))
  variables = _with_gamma(_init(block, x), 1.3)
  kernels = _kernels(variables['params'])
  batch_stats = dict(variables['batch_stats'])
  normalized = {}
  for name, kernel in kernels.items():
    _, singular_values, right_vectors = np.linalg.svd(np.asarray(kernel, np.float64))
    stats_name = f'SpectralNorm_{list(kernels).index(name)}'
    stats = dict(batch_stats[stats_name])
    stats[f'{name}/kernel/u'] = jnp.asarray(right_vectors[:1], jnp.float32)
    batch_stats[stats_name] = stats
    normalized[name] = np.asarray(kernel, np.float64) / singular_values[0]
  output = block.apply(dict(variables, batch_stats=batch_stats), x, train=False)
  np.testing.assert_allclose(np.asarray(output), _reference(x, normalized, 1.3), atol=1e-4)


@pytest.mark.parametrize('channels', sorted(REFERENCE_PARAMETERS))
def test_parameter_count_equals_biggan_pytorch(channels):
  params = jax.eval_shape(lambda: _init(attention.SelfAttention(), jnp.zeros((1, 4, 4, channels))))[
    'params'
  ]
  count = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))
  assert count == REFERENCE_PARAMETERS[channels] == 1.25 * channels**2 + 1


def test_bfloat16():
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16)).astype(jnp.bfloat16)
  block = attention.SelfAttention(dtype=jnp.bfloat16)
  variables = _with_gamma(_init(block, x), 0.5)
  output, _ = block.apply(variables, x, train=True, mutable=['batch_stats'])
  assert output.dtype == jnp.bfloat16
  assert jax.tree.leaves(variables['params'])[0].dtype == jnp.float32
  assert np.all(np.isfinite(np.asarray(output, np.float32)))


def test_rejects_odd_maps():
  with pytest.raises(ValueError, match='even'):
    _init(attention.SelfAttention(), jnp.zeros((1, 5, 4, 16)))
