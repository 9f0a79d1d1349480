"""Discriminator normalizations: spectral norm against numpy's SVD; every choice trains."""

import flax.jax_utils
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import dcgan_faces
from configs import gan_mnist
from gan_jax import errors
from gan_jax import train

from gan_jax.models import layers

import step_helpers


class _SpectralDense(nn.Module):
  @nn.compact
  def __call__(self, x, *, train):
    dense = nn.Dense(7, use_bias=False, kernel_init=nn.initializers.normal(1.0))
    return layers.spectrally_normalized(dense, 'spectral', train)(x)


def test_spectral_norm_brings_the_largest_singular_value_to_one():
  module = _SpectralDense()
  x = jnp.ones((1, 5))
  variables = module.init(jax.random.PRNGKey(0), x, train=False)
  for _ in range(50):  # Power iterations, one per training call.
    _, updates = module.apply(variables, x, train=True, mutable=['batch_stats'])
    variables = {**variables, **updates}
  kernel = np.asarray(variables['params']['Dense_0']['kernel'])
  sigma = np.linalg.svd(kernel, compute_uv=False)[0]
  assert abs(sigma - 1.0) > 0.05  # The raw kernel is not normalized.
  # The normalized layer is the raw kernel / sigma: its largest singular value is 1.
  eye = jnp.eye(5)
  normalized = np.asarray(module.apply(variables, eye, train=False))  # Rows: kernel / sigma.
  np.testing.assert_allclose(np.linalg.svd(normalized, compute_uv=False)[0], 1.0, rtol=1e-4)
  np.testing.assert_allclose(normalized, kernel / sigma, rtol=1e-4)


def _one_step(config, image_shape):
  state, step = step_helpers.pmapped_step(config, image_shape)
  batch = step_helpers.random_device_batch(config.train.batch_size, image_shape)
  return step(flax.jax_utils.replicate(state), batch)


@pytest.mark.parametrize(
  'family, normalization',
  [
    ('mlp', 'layer'),
    ('mlp', 'spectral'),
    ('dcgan', 'layer'),
    ('dcgan', 'spectral'),
    ('dcgan', 'none'),
  ],
)
def test_one_train_step_with_each_normalization(family, normalization):
  if family == 'mlp':
    config, image_shape = gan_mnist.get_config('tiny'), (28, 28, 1)
  else:
    config, image_shape = dcgan_faces.get_config('tiny'), (32, 32, 3)
  config.model.discriminator_normalization = normalization
  state, metrics = _one_step(config, image_shape)
  assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
  has_stats = 'batch_stats' in state.discriminator.model_state
  assert has_stats == (normalization == 'spectral')  # u and sigma of the power iteration.


def test_unknown_normalization_names_the_valid_ones():
  config = gan_mnist.get_config('tiny')
  config.model.discriminator_normalization = 'batch'
  with pytest.raises(errors.ConfigError, match=r"mlp discriminator's: none, layer, spectral"):
    train.build(config, (28, 28, 1))
