"""Normalizations: spectral norm against numpy's SVD, virtual batch norm against its closed form.

That every choice trains, in both players and both families, is in test_combinations.py.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import dcgan_faces
from configs import gan_mnist
from gan_jax import assembly
from gan_jax import errors
from gan_jax import models
from gan_jax.models import layers


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


def test_unknown_normalization_names_the_valid_ones():
  config = gan_mnist.get_config('tiny')
  config.model.discriminator_normalization = 'batch'
  with pytest.raises(errors.ConfigError, match=r"mlp discriminator's: none, layer, spectral"):
    assembly.build(config, (28, 28, 1))


def test_virtual_batch_norm_uses_the_reference_batch_plus_the_example():
  reference_size, batch_size, features = 5, 3, 4
  h = np.random.default_rng(0).normal(2.0, 3.0, (reference_size + batch_size, features))
  norm = layers.VirtualBatchNorm(reference_size=reference_size, epsilon=1e-5)
  out = np.asarray(norm.apply(norm.init(jax.random.PRNGKey(0), h), h))  # Scale 1, bias 0.
  ref = h[:reference_size]
  np.testing.assert_allclose(
    out[:reference_size], (ref - ref.mean(0)) / np.sqrt(ref.var(0) + 1e-5), rtol=1e-4, atol=1e-5
  )
  for i in range(reference_size, reference_size + batch_size):
    union = np.concatenate([ref, h[i : i + 1]])  # R reference rows and the example.
    expected = (h[i] - union.mean(0)) / np.sqrt(union.var(0) + 1e-5)
    np.testing.assert_allclose(out[i], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('normalization', ['virtual_batch', 'batch'])
def test_virtual_batch_norm_makes_each_sample_independent_of_its_batch(normalization):
  config = dcgan_faces.get_config('tiny')
  config.model.generator_normalization = normalization
  config.model.reference_batch_size = 8
  generator, _ = models.get_models(config.model, (32, 32, 3))  # No mesh axis.
  z = jax.random.normal(jax.random.PRNGKey(1), (4, config.model.latent_dim))
  variables = generator.init(jax.random.PRNGKey(0), z, train=False)

  def training_mode(z):  # Batch norm normalizes with the batch in training.
    return generator.apply(variables, z, train=True, mutable=['batch_stats'])[0]

  alone, in_batch = np.asarray(training_mode(z[:1])), np.asarray(training_mode(z))[:1]
  if normalization == 'virtual_batch':
    np.testing.assert_allclose(alone, in_batch, rtol=1e-5, atol=1e-6)
  else:
    assert np.abs(alone - in_batch).max() > 1e-2


def test_virtual_batch_norm_is_for_the_generator_only():
  config = dcgan_faces.get_config('tiny')
  config.model.discriminator_normalization = 'virtual_batch'
  with pytest.raises(errors.ConfigError, match=r"dcgan discriminator's: batch, layer, spectral"):
    assembly.build(config, (32, 32, 3))
