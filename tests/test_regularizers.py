"""Tests of BigGAN's orthogonal regularization (Brock et al. 2019, Eq. 3)."""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import regularizers


def _orthonormal_columns(rows, columns, seed=0):
  matrix = np.random.default_rng(seed).normal(size=(rows, columns))
  return np.linalg.qr(matrix)[0].astype(np.float32)


def test_orthogonal_filters_give_zero():
  """Orthonormal filters (columns of [fan_in, fan_out]) have W^T W = I: no off-diagonal term."""
  dense = _orthonormal_columns(12, 5)
  conv = _orthonormal_columns(3 * 3 * 4, 6, seed=1).reshape(3, 3, 4, 6)
  params = {'dense': {'kernel': 3.0 * dense}, 'conv': {'kernel': conv}}
  value = regularizers.orthogonal_regularization(params)
  assert abs(float(value)) < 1e-9, value


def test_closed_form_value():
  """W = [[1, 1], [0, 1]]: filters (1, 0) and (1, 1), W^T W = [[1, 1], [1, 2]], R = beta * 2."""
  kernel = jnp.array([[1.0, 1.0], [0.0, 1.0]])
  value = regularizers.orthogonal_regularization({'kernel': kernel}, beta=0.5)
  np.testing.assert_allclose(float(value), 0.5 * 2.0, rtol=1e-6)


def test_both_gram_forms_agree_with_the_definition():
  """Wide and tall kernels (the smaller Gram is formed) equal beta ||W^T W (1 - I)||_F^2."""
  rng = np.random.default_rng(0)
  for shape in [(3, 7), (7, 3), (2, 2, 3, 5)]:
    kernel = rng.normal(size=shape)
    matrix = kernel.reshape(-1, shape[-1])
    gram = matrix.T @ matrix
    expected = 1e-4 * np.sum((gram * (1 - np.eye(shape[-1]))) ** 2)
    value = regularizers.orthogonal_regularization({'kernel': jnp.asarray(kernel, jnp.float32)})
    np.testing.assert_allclose(float(value), expected, rtol=1e-4)


def test_gradient_equals_the_analytic_one():
  """d/dW beta ||W^T W (1 - I)||^2 = 4 beta W (W^T W (1 - I)), twice BigGAN-PyTorch's step."""
  rng = np.random.default_rng(1)
  kernel = rng.normal(size=(6, 4)).astype(np.float32)
  beta = 1e-2
  gradient = jax.grad(lambda k: regularizers.orthogonal_regularization({'kernel': k}, beta=beta))(
    jnp.asarray(kernel)
  )
  off_diagonal = (kernel.T @ kernel) * (1 - np.eye(4))
  np.testing.assert_allclose(np.asarray(gradient), 4 * beta * kernel @ off_diagonal, rtol=1e-4)
  # BigGAN-PyTorch's utils.ortho adds 2 beta (w w^T (1 - I)) w to w = kernel^T [out, in].
  w = kernel.T
  reference_update = 2 * beta * ((w @ w.T) * (1 - np.eye(4))) @ w
  np.testing.assert_allclose(np.asarray(gradient), 2 * reference_update.T, rtol=1e-4)


def test_skips_embeddings_biases_and_scalars():
  """Only 'kernel' leaves with two or more axes count, as BigGAN-PyTorch skips the rest."""
  kernel = jnp.array([[1.0, 1.0], [0.0, 1.0]])
  params = {
    'shared_embedding': {'embedding': jnp.ones((10, 4))},
    'linear': {'kernel': kernel, 'bias': jnp.ones(2)},
    'BatchNorm_0': {'scale': jnp.ones(3), 'bias': jnp.ones(3)},
    'SelfAttention_0': {'gamma': jnp.ones(())},
  }
  value = regularizers.orthogonal_regularization(params, beta=1.0)
  np.testing.assert_allclose(float(value), 2.0, rtol=1e-6)
