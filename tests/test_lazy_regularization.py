"""Lazy regularization (Karras et al. 2020b, section 3.1) and the EMA half-life in the step."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import step_helpers

from configs import gan_mnist
from gan_jax import assembly
from gan_jax import errors
from gan_jax import generator_ema
from gan_jax import penalties

IMAGE_SHAPE = (28, 28, 1)


def _config(**penalty):
  config = gan_mnist.get_config('tiny')  # An MLP D without normalization: R1 applies.
  config.penalty.update({'name': 'r1', 'weight': 1.0, **penalty})
  sgd = dict(name='sgd', learning_rate=0.05, momentum=0.0)
  config.optimizer.generator.update(sgd)
  config.optimizer.discriminator.update(sgd)
  return config


def test_the_lazy_penalty_is_due_at_every_nth_d_update():
  # Two D updates a step, every 3rd update: updates 0, 3, 6, 9 are steps 0, 1, 3, 4.
  config = _config(every=3)
  config.train.discriminator_steps = 2
  state, step = step_helpers.data_parallel_step(config, IMAGE_SHAPE, jax.local_devices())
  replicated = step.replicate(state)
  batch = step_helpers.random_batch(16, IMAGE_SHAPE, discriminator_steps=2)
  penalties_logged = []
  for _ in range(6):
    replicated, metrics = step(replicated, batch)
    penalties_logged.append(float(metrics['d_penalty']))
  assert [p > 0 for p in penalties_logged] == [True, True, False, True, True, False]


def test_a_due_update_is_the_main_update_then_the_penalty_update_with_n_times_the_weight():
  every, weight, learning_rate = 4, 3.0, 0.05
  batch = step_helpers.random_batch(16, IMAGE_SHAPE)
  after = {}
  for name, config in (
    ('main', _config(weight=0.0)),
    ('lazy', _config(weight=weight, every=every)),
  ):
    state, step = step_helpers.data_parallel_step(config, IMAGE_SHAPE, jax.local_devices())
    after[name] = step_helpers.host(step(step.replicate(state), batch)[0].discriminator.params)
    gan = step.gan

  def logits_fn(params, images):
    return gan.discriminator.apply({'params': params}, images, None, train=True).logits

  real = jnp.asarray(batch[0])
  grads = jax.grad(lambda p: penalties.r1(logits_fn, p, real, real, None))(after['main'])
  expected = jax.tree.map(lambda p, g: p - learning_rate * every * weight * g, after['main'], grads)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), after['lazy'], expected
  )


def test_the_ema_half_life_and_its_ramp_up_follow_stylegan2_ada():
  gan = types.SimpleNamespace(
    generator_ema_decay=0.0, generator_ema_half_life_images=10_000.0, generator_ema_rampup=0.0
  )
  decay = lambda step: float(generator_ema.decay(gan, jnp.int32(step), 64))
  assert decay(0) == pytest.approx(0.5 ** (64 / 10_000), rel=1e-6)
  gan.generator_ema_rampup = 0.05
  assert decay(0) == 0.0  # Nothing seen yet: the EMA starts as G.
  assert decay(10) == pytest.approx(0.5 ** (64 / (640 * 0.05)), rel=1e-6)  # h capped at 32.
  assert decay(10_000) == pytest.approx(0.5 ** (64 / 10_000), rel=1e-6)  # Cap above h.
  gan.generator_ema_half_life_images = 0.0
  gan.generator_ema_decay = 0.999
  assert generator_ema.decay(gan, jnp.int32(5), 64) == 0.999


def test_the_ramped_up_ema_starts_as_the_generator():
  config = _config(weight=0.0)
  config.train.update(generator_ema_half_life_kimg=10.0, generator_ema_rampup=0.05)
  state, step = step_helpers.data_parallel_step(config, IMAGE_SHAPE, jax.local_devices())
  replicated, _ = step(step.replicate(state), step_helpers.random_batch(16, IMAGE_SHAPE))
  host = step_helpers.host(replicated)
  jax.tree.map(np.testing.assert_array_equal, host.generator_ema, host.generator.params)


def test_path_length_needs_a_mapping_network():
  config = _config(path_length_weight=2.0)
  with pytest.raises(errors.ConfigError, match=r'path_length_weight=2.0.*model.name=stylegan2'):
    assembly.build(config, IMAGE_SHAPE)
