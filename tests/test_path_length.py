"""Tests of StyleGAN2's path length penalty (Karras et al. 2020, Eq. 4) on a linear G."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import regularizers
from gan_jax.models import stylegan2

BATCH, NUM_WS, W_DIM, SIDE, CHANNELS = 4, 3, 5, 4, 2
DECAY = 0.01


def _linear_generator(matrix):
  """images = ws A: ws [B, num_ws, w_dim] flattened, A [num_ws * w_dim, H * W * C]."""
  return lambda ws: (ws.reshape(ws.shape[0], -1) @ matrix).reshape(BATCH, SIDE, SIDE, CHANNELS)


@pytest.fixture
def problem():
  rng = np.random.RandomState(0)
  matrix = rng.randn(NUM_WS * W_DIM, SIDE * SIDE * CHANNELS)
  ws = rng.randn(BATCH, NUM_WS, W_DIM)
  return jnp.asarray(matrix, jnp.float32), jnp.asarray(ws, jnp.float32), jax.random.key(7)


def _closed_form(matrix, rng, running_mean):
  """With J^T y = A y for images = ws A: lengths_b = ||A y_b|| / sqrt(num_ws), the mean over the
  num_ws rows of each row's squared norm; y = N(0, I) / sqrt(H W), drawn as the penalty draws it."""
  noise = jax.random.normal(rng, (BATCH, SIDE, SIDE, CHANNELS)) / math.sqrt(SIDE * SIDE)
  y = np.asarray(noise, np.float64).reshape(BATCH, -1)
  a = np.asarray(matrix, np.float64)
  projected = y @ a.T  # [B, num_ws * w_dim], row b = A y_b.
  lengths = np.linalg.norm(projected, axis=1) / math.sqrt(NUM_WS)
  new_mean = running_mean + DECAY * (lengths.mean() - running_mean)
  penalty = np.mean((lengths - new_mean) ** 2)
  # dP/dA = mean_b 2 (l_b - m) (dl_b/dA - dm/dA), dl_b/dA = A y_b y_b^T / (num_ws l_b),
  # dm/dA = decay * mean_b dl_b/dA (the running mean is differentiable, as in the reference).
  length_grads = np.einsum('bi,bj->bij', projected, y) / (NUM_WS * lengths[:, None, None])
  mean_grad = DECAY * length_grads.mean(0)
  grad = np.mean(2 * (lengths - new_mean)[:, None, None] * (length_grads - mean_grad), axis=0)
  return lengths, new_mean, penalty, grad


def test_penalty_and_running_mean_equal_the_closed_form_of_a_linear_generator(problem):
  matrix, ws, rng = problem
  running_mean = jnp.float32(2.0)
  penalty, new_mean = regularizers.path_length_penalty(
    _linear_generator(matrix), ws, rng, running_mean, DECAY
  )
  _, expected_mean, expected_penalty, _ = _closed_form(matrix, rng, 2.0)
  np.testing.assert_allclose(new_mean, expected_mean, rtol=1e-5)
  np.testing.assert_allclose(penalty, expected_penalty, rtol=1e-4)
  # From a running mean of 0 (the start of training) the first mean is decay * mean(lengths).
  _, first_mean = regularizers.path_length_penalty(
    _linear_generator(matrix), ws, rng, jnp.float32(0.0), DECAY
  )
  lengths, *_ = _closed_form(matrix, rng, 0.0)
  np.testing.assert_allclose(first_mean, DECAY * lengths.mean(), rtol=1e-5)


def test_penalty_is_differentiable_through_the_generator(problem):
  """Double backpropagation: d penalty / d A through the VJP inside, against the closed form."""
  matrix, ws, rng = problem

  def penalty_of(matrix):
    return regularizers.path_length_penalty(
      _linear_generator(matrix), ws, rng, jnp.float32(2.0), DECAY
    )[0]

  grad = jax.grad(penalty_of)(matrix)
  np.testing.assert_allclose(grad, _closed_form(matrix, rng, 2.0)[3], rtol=1e-3, atol=1e-6)
  # The new running mean is a constant: no gradient flows into the stored state.
  mean_grad = jax.grad(
    lambda m: regularizers.path_length_penalty(_linear_generator(m), ws, rng, 2.0, DECAY)[1]
  )(matrix)
  assert not np.any(mean_grad)


def test_running_mean_is_averaged_over_the_batch_axis(problem):
  """Two replicas with different ws and noise keep one running mean: that of all lengths."""
  matrix, ws, _ = problem
  generator = _linear_generator(matrix)
  rngs = jax.random.split(jax.random.key(3), 2)
  other_ws = ws[::-1] * 2
  stacked = jnp.stack([ws, other_ws])
  penalties, means = jax.vmap(
    lambda ws, rng: regularizers.path_length_penalty(generator, ws, rng, 1.0, DECAY, 'batch'),
    axis_name='batch',
  )(stacked, rngs)
  lengths = [_closed_form(matrix, rng, 1.0)[0] for rng in rngs]
  expected_mean = 1.0 + DECAY * (np.concatenate(lengths).mean() - 1.0)
  np.testing.assert_allclose(means, [expected_mean] * 2, rtol=1e-5)
  for penalty, replica_lengths in zip(penalties, lengths):
    np.testing.assert_allclose(penalty, np.mean((replica_lengths - expected_mean) ** 2), rtol=1e-4)


def test_penalty_of_stylegan2_synthesis_has_finite_parameter_gradients():
  """As the step will use it: G's synthesis in training mode, its parameters differentiated."""
  generator = stylegan2.Generator(8, 3, w_dim=8, mapping_layers=1, channel_base=32, channel_max=8)
  rng = jax.random.key(0, impl='rbg')
  shapes = jax.eval_shape(lambda: generator.init(rng, jnp.zeros((2, 8)), train=False))
  numpy_rng = np.random.RandomState(1)
  variables = jax.tree.map(
    lambda leaf: jnp.asarray(numpy_rng.randn(*leaf.shape), leaf.dtype), shapes
  )
  ws = jnp.asarray(numpy_rng.randn(2, stylegan2.num_ws(8), 8), jnp.float32)

  def penalty_of(params):
    synthesize = lambda ws: generator.apply(
      {**variables, 'params': params}, ws, train=True, method='synthesis', rngs={'noise': rng}
    )
    return regularizers.path_length_penalty(synthesize, ws, rng, jnp.float32(0.0), DECAY)[0]

  penalty, grads = jax.jit(jax.value_and_grad(penalty_of))(variables['params'])
  assert penalty > 0 and all(jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(grads))
  assert jnp.any(grads['synthesis_network']['b8']['conv0']['kernel'] != 0)
