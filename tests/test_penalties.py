"""Penalties on D against closed forms, and one train step with each."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import step_helpers

from configs import dcgan_faces
from configs import gan_mnist
from configs import wgan_mnist
from gan_jax import assembly
from gan_jax import errors
from gan_jax import penalties
from gan_jax import regularizers

IMAGE_SHAPE = (4, 4, 1)  # Small images for the closed-form tests.
MNIST_SHAPE = (28, 28, 1)


def _linear_critic(norm):
  """D(x) = w.x with ||w||_2 = `norm`: its input gradient is w everywhere."""
  w = jax.random.normal(jax.random.PRNGKey(0), IMAGE_SHAPE)
  w = norm * w / jnp.linalg.norm(w)
  discriminator_fn = lambda params, images: jnp.sum(images * params['w'], axis=(1, 2, 3))
  return discriminator_fn, {'w': w}


def _batches():
  rng = np.random.default_rng(0)
  real = rng.uniform(-1, 1, (8, *IMAGE_SHAPE)).astype(np.float32)
  fake = rng.uniform(-1, 1, (8, *IMAGE_SHAPE)).astype(np.float32)
  return real, fake


def _penalty(name, norm):
  discriminator_fn, params = _linear_critic(norm)
  real, fake = _batches()
  return float(
    penalties.get_penalty(name)(discriminator_fn, params, real, fake, jax.random.PRNGKey(1))
  )


@pytest.mark.parametrize('name', ['gradient_penalty', 'dragan'])
@pytest.mark.parametrize('norm', [0.5, 1.0, 2.0])
def test_two_sided_penalties_are_the_squared_distance_of_the_norm_to_1(name, norm):
  # Gulrajani et al. 2017: 0 exactly for a 1-Lipschitz linear critic.
  np.testing.assert_allclose(_penalty(name, norm), (norm - 1.0) ** 2, atol=1e-5)


@pytest.mark.parametrize('norm', [0.5, 1.0, 2.0])
def test_one_sided_penalty_only_penalizes_norms_above_1(norm):
  np.testing.assert_allclose(
    _penalty('one_sided_gradient_penalty', norm), max(0.0, norm - 1.0) ** 2, atol=1e-5
  )


def test_one_sided_and_two_sided_differ_below_norm_1():
  assert _penalty('one_sided_gradient_penalty', 0.5) == 0.0
  np.testing.assert_allclose(_penalty('gradient_penalty', 0.5), 0.25, rtol=1e-5)


@pytest.mark.parametrize('name', ['r1', 'r2'])
@pytest.mark.parametrize('norm', [0.5, 2.0])
def test_r1_and_r2_are_half_the_squared_gradient_norm(name, norm):
  np.testing.assert_allclose(_penalty(name, norm), 0.5 * norm**2, rtol=1e-5)


def test_r1_sees_only_real_data_and_r2_only_generated_data():
  # D(x) = 1/2 sum x^2 has input gradient x: R1 = 1/2 E||x||^2, R2 = 1/2 E||G(z)||^2.
  discriminator_fn = lambda params, images: 0.5 * jnp.sum(images**2, axis=(1, 2, 3))
  real, fake = _batches()
  fake = 3.0 * fake
  expected = lambda x: 0.5 * np.mean(np.sum(x**2, axis=(1, 2, 3)))
  rng = jax.random.PRNGKey(0)
  np.testing.assert_allclose(
    penalties.r1(discriminator_fn, {}, real, fake, rng), expected(real), rtol=1e-5
  )
  np.testing.assert_allclose(
    penalties.r2(discriminator_fn, {}, real, fake, rng), expected(fake), rtol=1e-5
  )


def test_gradient_penalty_is_evaluated_between_real_and_fake():
  # D(x) = 1/2 sum x^2: ||grad|| = ||x_hat||. With real = fake = x, x_hat = x
  # whatever eps, so the penalty is E[(||x|| - 1)^2].
  discriminator_fn = lambda params, images: 0.5 * jnp.sum(images**2, axis=(1, 2, 3))
  real, _ = _batches()
  norms = np.linalg.norm(real.reshape(8, -1), axis=-1)
  np.testing.assert_allclose(
    penalties.gradient_penalty(discriminator_fn, {}, real, real, jax.random.PRNGKey(0)),
    np.mean((norms - 1.0) ** 2),
    rtol=1e-5,
  )


def test_l2_is_half_the_sum_of_squared_kernels_only():
  params = {
    'Dense_0': {'kernel': jnp.array([[1.0, 2.0]]), 'bias': jnp.array([100.0, 100.0])},
    'Dense_1': {'kernel': jnp.array([[3.0], [-1.0]]), 'bias': jnp.array([100.0])},
  }
  value = penalties.l2(None, params, None, None, None)
  np.testing.assert_allclose(value, 0.5 * (1 + 4 + 9 + 1))


def test_none_is_zero():
  assert _penalty('none', 3.0) == 0.0


def test_unknown_penalty_lists_the_valid_names():
  with pytest.raises(errors.ConfigError, match=r"Unknown penalty 'gp'; valid names: dragan, "):
    penalties.get_penalty('gp')


@pytest.mark.parametrize('name', sorted(penalties.PENALTIES))
def test_one_step_with_every_penalty(name):
  config = gan_mnist.get_config('tiny')
  config.loss.name = 'wasserstein'
  config.penalty.name = name
  state, step = step_helpers.data_parallel_step(config, MNIST_SHAPE)
  new_state, metrics = step(step.replicate(state), step_helpers.random_batch(16, MNIST_SHAPE))
  assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
  # pmean'd: one value on every device.
  shards = [np.asarray(s.data) for s in metrics['d_penalty'].addressable_shards]
  assert len(shards) == 8 and all(shard == shards[0] for shard in shards)
  penalty = float(metrics['d_penalty'])
  if name == 'none':
    assert penalty == 0.0
  elif name == 'one_sided_gradient_penalty':
    assert penalty >= 0.0  # The initial critic's gradients are shorter than 1.
  else:
    assert penalty > 0.0
  # Every kernel moves; the critic's output bias has zero gradient under the
  # wasserstein loss, and no input-gradient penalty depends on it.
  for layer, variables in state.discriminator.params.items():
    new_kernel = np.asarray(new_state.discriminator.params[layer]['kernel'])
    assert not np.array_equal(variables['kernel'], new_kernel), layer


def test_penalty_weight_changes_the_discriminator_update():
  updates = []
  for weight in (0.0, 10.0):
    config = gan_mnist.get_config('tiny')
    config.penalty.update(name='gradient_penalty', weight=weight)
    state, step = step_helpers.data_parallel_step(config, MNIST_SHAPE)
    new_state, _ = step(step.replicate(state), step_helpers.random_batch(16, MNIST_SHAPE))
    updates.append(np.asarray(new_state.discriminator.params['Dense_0']['kernel']))
  assert not np.allclose(updates[0], updates[1])


def test_weight_clipping_bounds_every_critic_parameter():
  config = wgan_mnist.get_config('tiny')
  config.optimizer.discriminator.learning_rate = 1e3  # Every step leaves [-c, c] unclipped.
  state, step = step_helpers.data_parallel_step(config, MNIST_SHAPE)
  new_state, metrics = step(
    step.replicate(state),
    step_helpers.random_batch(16, MNIST_SHAPE, discriminator_steps=5),
  )
  assert np.isfinite(np.asarray(metrics['d_loss'])).all()
  leaves = jax.tree.leaves(new_state.discriminator.params)
  assert max(np.abs(np.asarray(leaf)).max() for leaf in leaves) <= 0.01
  # The bound is hit: without clipping these weights would be far larger.
  assert max(np.abs(np.asarray(leaf)).max() for leaf in leaves) == pytest.approx(0.01)


@pytest.mark.parametrize('name', sorted(penalties.INPUT_GRADIENT_PENALTIES))
def test_input_gradient_penalties_reject_a_batch_norm_discriminator(name):
  config = dcgan_faces.get_config('tiny')
  config.penalty.name = name
  with pytest.raises(errors.ConfigError, match=r'batch norm couples the examples'):
    assembly.build(config, (64, 64, 3))
  config.model.discriminator_normalization = 'layer'  # The WGAN-GP critic's choice.
  assembly.build(config, (64, 64, 3))


def test_l2_and_clipping_work_with_a_batch_norm_discriminator():
  config = dcgan_faces.get_config('tiny')
  config.penalty.update(name='l2', clip_weights=0.01)
  gan = assembly.build(config, (64, 64, 3))
  assert gan.penalty is penalties.l2 and gan.clip_weights == 0.01


def test_negative_weight_is_a_config_error():
  config = gan_mnist.get_config('tiny')
  config.penalty.weight = -1.0
  with pytest.raises(errors.ConfigError, match=r'penalty.weight must be a finite number >= 0'):
    assembly.build(config, MNIST_SHAPE)


def test_orthogonal_regularization_adds_its_gradient_to_the_generators_update():
  # With plain SGD at learning rate 1, G's update is minus its gradient, so the
  # update with the regularizer minus the one without is minus R_beta's gradient.
  beta = 0.01
  images = step_helpers.random_batch(16, MNIST_SHAPE)
  generator_params, metrics = {}, {}
  for weight in (0.0, beta):
    config = gan_mnist.get_config('tiny')
    config.optimizer.generator.update(name='sgd', learning_rate=1.0, momentum=0.0)
    config.penalty.generator_orthogonal = weight
    state, train_step = step_helpers.data_parallel_step(config, MNIST_SHAPE)
    initial_params = state.generator.params
    new_state, metrics[weight] = train_step(train_step.replicate(state), images)
    generator_params[weight] = step_helpers.host(new_state.generator.params)
  expected = jax.grad(regularizers.orthogonal_regularization)(initial_params, beta)
  difference = jax.tree.map(np.subtract, generator_params[beta], generator_params[0.0])
  jax.tree.map(
    lambda got, want: np.testing.assert_allclose(got, -want, atol=1e-6), difference, expected
  )
  assert 'g_orthogonal' not in metrics[0.0]
  np.testing.assert_allclose(
    metrics[beta]['g_orthogonal'],
    regularizers.orthogonal_regularization(initial_params, beta),
    rtol=1e-6,
  )
